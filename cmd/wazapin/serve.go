package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on WAZAPIN_PPROF_ADDR
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wazapin/wazapin/internal/obs"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/ratelimit"
	"github.com/wazapin/wazapin/internal/replica"
	"github.com/wazapin/wazapin/internal/secretbox"
	"github.com/wazapin/wazapin/internal/server"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/webhooks"
)

const serveHelp = `usage: wazapin serve

Serves the Contacts API. It applies the migrations first, then listens on WAZAPIN_ADDR.
GET /v1/health is the liveness check, GET /v1/health/ready the readiness check, /docs the API
reference. On SIGTERM or SIGINT readiness turns to 503 while requests are still served for
WAZAPIN_SHUTDOWN_GRACE, then the listener closes and requests in flight get up to
WAZAPIN_SHUTDOWN_TIMEOUT to finish.

environment:
`

// maxProviderTimeout keeps a lookup (it and the database timeout) well inside the server's write
// timeout.
const maxProviderTimeout = 30 * time.Second

// serveConfig is what serve reads from the environment.
type serveConfig struct {
	databaseURL, addr, metricsAddr, pprofAddr string
	logFormat, logLevel                       string
	grace, shutdownTimeout                    time.Duration
	server                                    server.Config
	deprecated                                string // a warning about a setting's former name
	webhooks                                  webhooks.Config
	// replicaURLs are the streaming replicas reads may go to (WAZAPIN_READ_DATABASE_URLS).
	replicaURLs []string
	replicas    replica.Options
}

// config reads serve's settings, naming the variable whose value cannot be used.
func (m *Main) config() (serveConfig, error) {
	c := serveConfig{
		addr:        cmp.Or(m.Getenv("WAZAPIN_ADDR"), "127.0.0.1:8080"),
		metricsAddr: m.Getenv("WAZAPIN_METRICS_ADDR"),
		pprofAddr:   m.Getenv("WAZAPIN_PPROF_ADDR"),
		logFormat:   m.Getenv("WAZAPIN_LOG_FORMAT"),
		logLevel:    m.Getenv("WAZAPIN_LOG_LEVEL"),
	}
	var err error
	if c.databaseURL, err = m.databaseURL(); err != nil {
		return c, err
	}
	durations := []struct {
		name     string
		into     *time.Duration
		def, max time.Duration
	}{
		// At most 30s each, so that a lookup (both together) ends well inside the write timeout.
		{"WAZAPIN_DB_TIMEOUT", &c.server.DBTimeout, 5 * time.Second, 30 * time.Second},
		{"WAZAPIN_SHUTDOWN_GRACE", &c.grace, 5 * time.Second, 5 * time.Minute},
		{"WAZAPIN_SHUTDOWN_TIMEOUT", &c.shutdownTimeout, 30 * time.Second, 10 * time.Minute},
		{"WAZAPIN_PROVIDER_TIMEOUT", &c.server.ProviderTimeout, 5 * time.Second, maxProviderTimeout},
		{"WAZAPIN_MAX_REPLICA_LAG", &c.replicas.MaxLag, time.Second, time.Hour},
		{"WAZAPIN_REPLICA_WAIT", &c.replicas.Wait, 50 * time.Millisecond, 5 * time.Second},
	}
	for _, d := range durations {
		*d.into = d.def
		v := m.Getenv(d.name)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		minimum := time.Millisecond
		if d.name == "WAZAPIN_SHUTDOWN_GRACE" {
			minimum = 0
		}
		if err != nil || parsed < minimum || parsed > d.max {
			return c, fmt.Errorf("%s must be a duration from %s to %s, such as %s, not %q", d.name, minimum, d.max, d.def, v)
		}
		*d.into = parsed
	}
	c.replicaURLs = strings.Fields(m.Getenv("WAZAPIN_READ_DATABASE_URLS"))
	for i, url := range c.replicaURLs {
		if _, err := pg.Config(url, pg.GenericPlans); err != nil {
			return c, fmt.Errorf("WAZAPIN_READ_DATABASE_URLS, URL %d: %w", i+1, err)
		}
	}
	if key := m.Getenv("WAZAPIN_ENCRYPTION_KEY"); key != "" {
		box, err := secretbox.ParseKey(key)
		if err != nil {
			return c, fmt.Errorf("WAZAPIN_ENCRYPTION_KEY: %w", err)
		}
		c.server.Secrets = box
	}
	if c.server.RateLimit, err = m.rateLimit("WAZAPIN_RATE_LIMIT", "100/s burst 200"); err != nil {
		return c, err
	}
	if c.server.AuthFailureLimit, err = m.rateLimit("WAZAPIN_AUTH_FAILURE_LIMIT", "10/s burst 20"); err != nil {
		return c, err
	}
	if c.server.BlockPrivateAddresses, c.deprecated, err = m.blockPrivate(); err != nil {
		return c, err
	}
	c.webhooks = webhooks.Config{Secrets: c.server.Secrets, BlockPrivate: c.server.BlockPrivateAddresses}
	if c.webhooks.Workers, err = m.count("WAZAPIN_WEBHOOK_WORKERS", 10, 0, 1000); err != nil {
		return c, err
	}
	if c.webhooks.Retention, err = m.days("WAZAPIN_EVENT_RETENTION", 30*24*time.Hour, time.Hour, 3650*24*time.Hour); err != nil {
		return c, err
	}
	if c.server.IdempotencyTTL, err = m.days("WAZAPIN_IDEMPOTENCY_TTL", 24*time.Hour, time.Minute, 30*24*time.Hour); err != nil {
		return c, err
	}
	return c, nil
}

// rateLimit reads a token bucket written as ratelimit.Parse reads it, def when unset.
func (m *Main) rateLimit(name, def string) (ratelimit.Limit, error) {
	v := cmp.Or(m.Getenv(name), def)
	l, err := ratelimit.Parse(v)
	if err != nil {
		return l, fmt.Errorf("%s=%q: %w", name, v, err)
	}
	return l, nil
}

// count reads a whole number from lo to hi, def when unset.
func (m *Main) count(name string, def, lo, hi int) (int, error) {
	v := m.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a whole number from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}

// days reads a duration that may also be written in days (30d), from lo to hi, def when unset.
func (m *Main) days(name string, def, lo, hi time.Duration) (time.Duration, error) {
	v := m.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if n, cut := strings.CutSuffix(v, "d"); cut {
		var days int
		days, err = strconv.Atoi(n)
		d = time.Duration(days) * 24 * time.Hour
	}
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%s must be a duration from %s to %dd, such as 30d or 72h, not %q", name, lo, hi/(24*time.Hour), v)
	}
	return d, nil
}

// blockPrivate reads WAZAPIN_BLOCK_PRIVATE_ADDRESSES, or its former name
// WAZAPIN_PROVIDER_BLOCK_PRIVATE (from when it guarded channel providers alone), saying so in
// deprecated. Both set to different values is an error: one of them would be ignored.
func (m *Main) blockPrivate() (block bool, deprecated string, err error) {
	read := func(name string) (set, on bool, err error) {
		switch v := m.Getenv(name); v {
		case "":
			return false, false, nil
		case "0", "false":
			return true, false, nil
		case "1", "true":
			return true, true, nil
		default:
			return true, false, fmt.Errorf("%s must be true or false, not %q", name, v)
		}
	}
	const name, former = "WAZAPIN_BLOCK_PRIVATE_ADDRESSES", "WAZAPIN_PROVIDER_BLOCK_PRIVATE"
	set, on, err := read(name)
	if err != nil {
		return false, "", err
	}
	formerSet, formerOn, err := read(former)
	switch {
	case err != nil:
		return false, "", err
	case formerSet && set && formerOn != on:
		return false, "", fmt.Errorf("%s and %s (its former name) disagree; set only %s", name, former, name)
	case formerSet:
		deprecated = former + " is deprecated: it is read as " + name + ", which also guards webhook endpoints; rename it"
	}
	return on || formerOn, deprecated, nil
}

func (m *Main) serve(ctx context.Context, args []string) error {
	fs := m.flags("serve", serveHelp)
	fs.Usage = func() {
		fmt.Fprint(m.Stdout, serveHelp)
		printSettings(m.Stdout)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve takes no arguments: %q", fs.Arg(0))
	}
	cfg, err := m.config()
	if err != nil {
		return err
	}
	logs := obs.NewBufferedWriter(m.Stderr, 200*time.Millisecond)
	defer logs.Close()
	log, err := obs.NewLogger(logs, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return fmt.Errorf("WAZAPIN_LOG_FORMAT or WAZAPIN_LOG_LEVEL: %w", err)
	}
	cfg.server.Log = log
	if cfg.server.Secrets == nil {
		log.Warn("WAZAPIN_ENCRYPTION_KEY is not set: channels cannot be created or used, nor webhook endpoints created or their secrets rotated")
	}
	if cfg.deprecated != "" {
		log.Warn(cfg.deprecated)
	}
	if err := pg.Migrate(cfg.databaseURL, 0); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if m.Getenv("GOGC") == "" && m.Getenv("GOMEMLIMIT") == "" {
		// The live heap of request traffic is a few MiB; collecting at 3× it instead of 2× cuts GC
		// work, and the soft limit makes the collector work harder, not the heap grow, during
		// bulk imports, keeping the resident set under the 150 MiB it is allowed. A 100,000-line
		// import holds about 80 MiB live at its peak: the nearer the limit to that, the more often
		// the collector runs (at 100 MiB it took a third of the import's server CPU); at 120 MiB
		// the import's resident set peaks near 146 MiB (docs/PERFORMANCE.md).
		debug.SetGCPercent(200)
		debug.SetMemoryLimit(120 << 20)
	}
	pool, planned, err := m.openPools(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	defer planned.Close()
	cfg.server.Metrics = obs.NewMetrics()
	watch, stopWatching := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatching()
	opts := store.Options{Planned: planned}
	if len(cfg.replicaURLs) > 0 {
		cfg.replicas.Log, cfg.replicas.Metrics = log, cfg.server.Metrics
		if opts.Replicas, err = replica.Open(pool, cfg.replicaURLs, cfg.replicas); err != nil {
			return fmt.Errorf("WAZAPIN_READ_DATABASE_URLS: %w", err)
		}
		defer opts.Replicas.Close()
		go opts.Replicas.Run(watch)
		log.Info("reading from replicas", "replicas", len(cfg.replicaURLs),
			"max_replica_lag", cfg.replicas.MaxLag.String(), "replica_wait", cfg.replicas.Wait.String())
	}
	st := store.New(pool, opts)
	api := server.New(st, cfg.server)
	go api.WatchKeys(watch)
	var deliveries *webhooks.Runner
	if cfg.webhooks.Workers > 0 {
		if deliveries, err = m.startWebhooks(ctx, planned, st, cfg, log); err != nil {
			return err
		}
	} else {
		log.Info("webhook deliveries are not run here (WAZAPIN_WEBHOOK_WORKERS=0): run `wazapin worker`")
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	hs := api.HTTPServer()
	side, err := m.sideListeners(cfg, log, cfg.server.Metrics)
	if err != nil {
		ln.Close()
		return err
	}
	defer func() {
		for _, s := range side {
			s.Close()
		}
	}()
	log.Info("serving the Contacts API", "addr", ln.Addr().String(), "version", version(),
		"rate_limit", cfg.server.RateLimit.String(), "auth_failure_limit", cfg.server.AuthFailureLimit.String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case sig := <-m.Signals:
		log.Info("shutting down: readiness answers 503, requests are still served", "signal", sig.String(), "grace", cfg.grace.String())
	case <-ctx.Done():
		log.Info("shutting down: readiness answers 503, requests are still served", "grace", cfg.grace.String())
	}
	api.Drain()
	select {
	case <-time.After(cfg.grace):
	case sig := <-m.Signals:
		log.Info("grace cut short", "signal", sig.String())
	}
	log.Info("closing the listener; waiting for requests in flight", "in_flight", api.InFlight(), "timeout", cfg.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		n := api.InFlight()
		log.Warn("shutdown timed out; closing the requests still in flight", "in_flight", n)
		_ = hs.Close()
		// Exiting non-zero tells a supervisor that requests were cut off.
		return fmt.Errorf("shutdown timed out after %s with %d requests in flight", cfg.shutdownTimeout, n)
	}
	log.Info("shut down: every request in flight was answered")
	return stopWebhooks(deliveries, cfg, log)
}

// startWebhooks runs the webhook deliveries and the event retention in this process, over the
// pool that plans for values (River's job fetches want plans for their values).
func (m *Main) startWebhooks(ctx context.Context, pool *pgxpool.Pool, st *store.Store, cfg serveConfig, log *slog.Logger) (*webhooks.Runner, error) {
	if cfg.webhooks.Secrets == nil {
		log.Warn("WAZAPIN_ENCRYPTION_KEY is not set: webhook deliveries cannot be signed and will fail")
	}
	w := cfg.webhooks
	w.Store, w.Log = st, log
	r, err := webhooks.Start(context.WithoutCancel(ctx), pool, w)
	if err != nil {
		return nil, err
	}
	log.Info("delivering webhooks", "workers", w.Workers, "event_retention", w.Retention.String())
	return r, nil
}

// stopWebhooks lets the deliveries in flight finish, within WAZAPIN_SHUTDOWN_TIMEOUT.
func stopWebhooks(r *webhooks.Runner, cfg serveConfig, log *slog.Logger) error {
	if r == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		log.Warn("webhook deliveries in flight were cut off; they run again elsewhere or on the next start", "err", err)
		return fmt.Errorf("stop webhook deliveries: %w", err)
	}
	log.Info("webhook deliveries stopped")
	return nil
}

// openPools opens the two pools of the store: one whose statements run on generic plans, and one
// whose sessions plan each statement for its values (see pg.Plans).
func (m *Main) openPools(ctx context.Context, cfg serveConfig) (pool, planned *pgxpool.Pool, err error) {
	if pool, err = m.openPool(ctx, cfg, pg.GenericPlans); err != nil {
		return nil, nil, err
	}
	if planned, err = m.openPool(ctx, cfg, pg.CustomPlans); err != nil {
		pool.Close()
		return nil, nil, err
	}
	return pool, planned, nil
}

// openPool connects a pool whose connecting is bounded by the database timeout.
func (m *Main) openPool(ctx context.Context, cfg serveConfig, plans pg.Plans) (*pgxpool.Pool, error) {
	pcfg, err := pg.Config(cfg.databaseURL, plans)
	if err != nil {
		return nil, err
	}
	pcfg.ConnConfig.ConnectTimeout = cfg.server.DBTimeout
	return pg.OpenConfig(ctx, pcfg)
}

// sideListeners serves metrics and pprof on their own addresses, never on the API's: they show
// internals and need no key.
func (m *Main) sideListeners(cfg serveConfig, log *slog.Logger, metrics *obs.Metrics) ([]*http.Server, error) {
	var out []*http.Server
	serve := func(name, addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s listener: %w", name, err)
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: server.ReadHeaderTimeout, IdleTimeout: server.IdleTimeout}
		out = append(out, s)
		log.Info("serving "+name, "addr", ln.Addr().String())
		go func() {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error(name+" listener failed", "err", err)
			}
		}()
		return nil
	}
	if cfg.metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		if err := serve("metrics", cfg.metricsAddr, mux); err != nil {
			return out, err
		}
	}
	if cfg.pprofAddr != "" {
		if err := serve("pprof", cfg.pprofAddr, http.DefaultServeMux); err != nil {
			return out, err
		}
	}
	return out, nil
}
