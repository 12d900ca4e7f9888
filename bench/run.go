package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/db"
	"github.com/wazapin/wazapin/internal/ids"
)

// benchRateLimit is the server's WAZAPIN_RATE_LIMIT in a run: on, so that its cost is measured,
// and far above what any scenario sends.
const benchRateLimit = "1000000/s burst 1000000"

// config is one benchmark run.
type config struct {
	AdminURL    string // a server where the run may create its database; empty: start scripts/pg.sh
	Binary      string // the wazapin binary (BENCH_BINARY), e.g. an older build to compare with
	ServerLog   string // where the server's log goes: its access lines, at info as in production
	Contacts    int
	Seconds     float64
	Warmup      time.Duration
	Concurrency int
	ImportLines int
	Out         string          // where the report goes; empty: nowhere
	Root        string          // the repository
	Only        map[string]bool // scenarios to run (BENCH_SCENARIOS); empty: all
	Database    string          // the database the run makes (and drops) on the server
}

func configFromEnv() (config, error) {
	cfg := config{
		AdminURL: os.Getenv("DATABASE_URL"), Binary: "bin/wazapin", Contacts: 1_000_000, Seconds: 10,
		Warmup: 2 * time.Second, Concurrency: 16, ImportLines: 100_000, Out: "docs/BENCHMARKS.md", Root: ".",
		Database: "wazapin_bench", ServerLog: ".data/bench-server.log",
	}
	if v := os.Getenv("BENCH_BINARY"); v != "" {
		cfg.Binary = v
	}
	for env, dst := range map[string]*int{"BENCH_CONTACTS": &cfg.Contacts, "BENCH_CONCURRENCY": &cfg.Concurrency, "BENCH_IMPORT": &cfg.ImportLines} {
		if v := os.Getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return cfg, fmt.Errorf("%s must be a positive integer, not %q", env, v)
			}
			*dst = n
		}
	}
	if v := os.Getenv("BENCH_SCENARIOS"); v != "" {
		cfg.Only = map[string]bool{}
		for _, name := range strings.Split(v, ",") {
			cfg.Only[strings.TrimSpace(name)] = true
		}
		cfg.Out = "" // a partial run does not replace the report
	}
	if v := os.Getenv("BENCH_SECONDS"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return cfg, fmt.Errorf("BENCH_SECONDS must be a positive number, not %q", v)
		}
		cfg.Seconds = f
	}
	return cfg, nil
}

// row is one line of the report.
type row struct {
	Scenario  string
	APIRPS    float64
	PGTPS     float64
	P50, P99  float64
	RSSMiB    float64
	Errors    int
	APICPU    cpuSplit // CPU per request of the API side
	PGCPU     cpuSplit // CPU per transaction of the pgbench side
	Goal, Met string
	Note      string
}

// run does the whole benchmark and returns its rows.
func run(cfg config) ([]row, error) {
	ctx := context.Background()
	admin := cfg.AdminURL
	if admin == "" {
		out, err := exec.Command(filepath.Join(cfg.Root, "scripts/pg.sh"), "start", filepath.Join(cfg.Root, ".data/pg-bench"), "fast").Output()
		if err != nil {
			return nil, fmt.Errorf("start PostgreSQL: %w", err)
		}
		admin = strings.TrimSpace(string(out))
	}
	dbURL, drop, err := freshDatabase(ctx, admin, cfg.Database)
	if err != nil {
		return nil, err
	}
	if os.Getenv("BENCH_KEEP") == "" {
		defer drop()
	} else {
		defer logf("kept the seeded database for inspection: %s", dbURL)
	}
	env := append(os.Environ(), "DATABASE_URL="+dbURL)
	if out, err := command(env, cfg.Binary, "migrate", "up").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("migrate: %v: %s", err, out)
	}
	out, err := command(env, cfg.Binary, "workspace", "create", "--name", "Bench", "--default-region", "ID").Output()
	if err != nil {
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	var ws struct {
		WorkspaceID string `json:"workspace_id"`
		APIKey      string `json:"api_key"`
	}
	if err := json.Unmarshal(out, &ws); err != nil {
		return nil, err
	}
	wsID, _ := ids.Parse(ids.Workspace, ws.WorkspaceID)

	p := params{n: cfg.Contacts, base: time.Now().Add(-24 * time.Hour).UnixMilli(), deep: max(1, cfg.Contacts-cfg.Contacts*9/10)}
	logf("seeding %d contacts (phone, email and external identities, notes, tags)", cfg.Contacts)
	seeded, err := seed(ctx, dbURL, wsID.String(), p)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	logf("seeded in %s; database %s, data directory %s (at most %s while seeding)", seeded.Total.Round(time.Second),
		mib(seeded.Sizes.Database), mib(seeded.Sizes.DataDir), mib(seeded.PeakDisk))

	m := newMeter(ctx, dbURL)
	logPath := cfg.ServerLog
	if !filepath.IsAbs(logPath) {
		logPath = filepath.Join(cfg.Root, logPath)
	}
	srv, err := startServer(env, cfg.Binary, logPath)
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	queries := db.Queries()
	var rows []row
	for _, sc := range scenarios() {
		if cfg.Only != nil && !cfg.Only[sc.name] {
			continue
		}
		logf("scenario %s", sc.name)
		api, rss, apiCPU, err := srv.load(cfg, m, ws.APIKey, sc, p)
		if err != nil {
			return nil, fmt.Errorf("%s over HTTP: %w", sc.name, err)
		}
		script, err := pgbenchScript(sc, queries)
		if err != nil {
			return nil, err
		}
		tps, pgCPU, err := runPgbench(cfg, m, dbURL, sc, script, wsID.String(), p)
		if err != nil {
			return nil, fmt.Errorf("%s with pgbench: %w", sc.name, err)
		}
		rows = append(rows, row{Scenario: sc.name, APIRPS: api.RPS, PGTPS: tps, P50: api.P50ms, P99: api.P99ms, RSSMiB: rss, Errors: api.Errors, Note: api.ErrorSample,
			APICPU: apiCPU, PGCPU: pgCPU})
	}
	if cfg.Only == nil || cfg.Only["bulk_import"] {
		imp, err := benchImport(ctx, cfg, srv, dbURL, ws.APIKey)
		if err != nil {
			return nil, fmt.Errorf("bulk import: %w", err)
		}
		rows = append(rows, imp)
	}
	judge(rows)
	report := render(cfg, rows, dbURL, seeded)
	fmt.Print(report.table)
	for _, r := range rows {
		fmt.Printf("BENCH scenario=%s api_rps=%.0f pg_tps=%.0f ratio=%.2f p50_ms=%.2f p99_ms=%.2f\n", r.Scenario, r.APIRPS, r.PGTPS, ratio(r), r.P50, r.P99)
	}
	if cfg.Out != "" {
		if err := os.WriteFile(filepath.Join(cfg.Root, cfg.Out), []byte(report.markdown), 0o644); err != nil {
			return nil, err
		}
		logf("wrote %s", cfg.Out)
	}
	return rows, nil
}

func ratio(r row) float64 {
	if r.PGTPS == 0 {
		return 0
	}
	return r.APIRPS / r.PGTPS
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func command(env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	return cmd
}

// freshDatabase (re)creates a database on the admin server and returns its URL and a func that
// drops it.
func freshDatabase(ctx context.Context, admin, name string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	for _, q := range []string{"DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", "CREATE DATABASE " + name} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", nil, err
		}
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		if c, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	}
	return u.String(), drop, nil
}

// server is the API under test, in its own process.
type server struct {
	cmd *exec.Cmd
	url string
}

// startServer runs the server as production would: access lines at info to a file, metrics
// recorded and served on a listener of their own. It needs no shutdown grace: no load balancer
// sends it traffic.
func startServer(env []string, binary, logPath string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	logf("server log: %s", logPath)
	// Rate limits stay on, at a limit no scenario reaches, so that their cost is measured.
	cmd := command(append(env, "WAZAPIN_ADDR="+addr, "WAZAPIN_LOG_LEVEL=info", "WAZAPIN_METRICS_ADDR=127.0.0.1:0",
		"WAZAPIN_SHUTDOWN_GRACE=0s", "WAZAPIN_RATE_LIMIT="+benchRateLimit), binary, "serve")
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, url: "http://" + addr}
	for range 100 {
		if res, err := http.Get(s.url + "/v1/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("the server did not become healthy")
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

// residentKiB reads the server's resident set size.
func (s *server) residentKiB() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// load runs the load generator for one scenario while sampling the server's memory and the CPU
// time each process spends in the measured window.
func (s *server) load(cfg config, m meter, key string, sc scenario, p params) (loadResult, float64, cpuSplit, error) {
	self, err := os.Executable()
	if err != nil {
		return loadResult{}, 0, cpuSplit{}, err
	}
	cmd := exec.Command(self, "loadgen", "-url", s.url, "-key", key, "-scenario", sc.name,
		"-c", strconv.Itoa(sc.clients(cfg)), "-warmup", cfg.Warmup.String(),
		"-duration", time.Duration(cfg.Seconds*float64(time.Second)).String(),
		"-n", strconv.Itoa(p.n), "-base", strconv.FormatInt(p.base, 10), "-deep", strconv.Itoa(p.deep))
	cmd.Stderr = os.Stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	peak := s.watchRSS(100 * time.Millisecond)
	if err := cmd.Start(); err != nil {
		peak()
		return loadResult{}, 0, cpuSplit{}, err
	}
	// CPU times at the start and the end of the measured window (after the warm-up).
	type sample struct {
		server, postgres, client time.Duration
		ok, clientOK             bool
	}
	take := func() sample {
		// The load generator first: it exits a few milliseconds after the window.
		client, okClient := onCPU(cmd.Process.Pid)
		server, okServer := onCPU(s.cmd.Process.Pid)
		return sample{server, m.postgres(), client, okServer, okClient}
	}
	window := make(chan [2]sample, 1)
	go func() {
		time.Sleep(cfg.Warmup)
		from := take()
		time.Sleep(time.Duration(cfg.Seconds * float64(time.Second)))
		window <- [2]sample{from, take()}
	}()
	err = cmd.Wait()
	rss := peak()
	if err != nil {
		return loadResult{}, 0, cpuSplit{}, err // without waiting for the window (its channel is buffered)
	}
	w := <-window
	if !w[1].clientOK {
		// On a busy machine the load generator may have exited before the window's end was
		// read: its whole CPU time, which the window's end would have read, is in its state.
		w[1].client = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	var res loadResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, 0, cpuSplit{}, err
	}
	var cpu cpuSplit
	if m.ok() && w[0].ok && w[0].clientOK && w[1].ok {
		n := float64(res.Requests)
		cpu = cpuSplit{Server: perOp(w[1].server-w[0].server, n), Postgres: perOp(w[1].postgres-w[0].postgres, n), Client: perOp(w[1].client-w[0].client, n)}
	}
	return res, rss, cpu, nil
}

// watchRSS samples the server's resident set every interval until the returned func is called,
// which answers the highest sample in MiB.
func (s *server) watchRSS(every time.Duration) (peak func() float64) {
	high := watchPeak(every, s.residentKiB)
	return func() float64 { return float64(high()) / 1024 }
}

// watchPeak calls sample every interval until the returned func is called, which answers the
// highest value sampled.
func watchPeak(every time.Duration, sample func() int64) (peak func() int64) {
	var high int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			high = max(high, sample())
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return high
	}
}

// pgbenchScript binds each query's parameters to the scenario's pgbench expressions.
func pgbenchScript(sc scenario, queries map[string]string) (string, error) {
	var b strings.Builder
	for _, st := range sc.pgbench {
		if st.raw != "" {
			b.WriteString(st.raw + "\n")
			continue
		}
		q, ok := queries[st.query]
		if !ok {
			return "", fmt.Errorf("no query %s in db/queries", st.query)
		}
		q, missing := db.BindParams(q, func(name string) (string, bool) {
			expr, ok := st.params[name]
			return "(" + expr + ")", ok
		})
		if len(missing) > 0 {
			return "", fmt.Errorf("%s: no pgbench expression for %v", st.query, missing)
		}
		q = strings.TrimSuffix(q, ";")
		if st.gset {
			q += "\n\\gset"
		} else {
			q += ";"
		}
		b.WriteString(q + "\n")
	}
	return b.String(), nil
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

var txLine = regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`)

// runPgbench runs a warm-up and then the measured run of a script, prepared, at the same
// concurrency as the load generator, and answers its transactions per second and the CPU time
// per transaction of PostgreSQL and of pgbench.
func runPgbench(cfg config, m meter, dbURL string, sc scenario, script, ws string, p params) (float64, cpuSplit, error) {
	f, err := os.CreateTemp("", "bench-*.sql")
	if err != nil {
		return 0, cpuSplit{}, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		return 0, cpuSplit{}, err
	}
	f.Close()
	clients := sc.clients(cfg)
	threads := min(clients, runtime.NumCPU())
	mode, plans := "prepared", "force_generic_plan"
	if sc.oneShot {
		mode, plans = "extended", "auto"
	}
	args := func(seconds float64) []string {
		return []string{"-n", "-M", mode, "-c", strconv.Itoa(clients), "-j", strconv.Itoa(threads),
			"-T", strconv.Itoa(max(1, int(seconds+0.5))), "-f", f.Name(),
			"-D", "ws=" + ws, "-D", "base=" + strconv.FormatInt(p.base, 10), "-D", "n=" + strconv.Itoa(p.n),
			"-D", "deep=" + strconv.Itoa(p.deep), dbURL}
	}
	bin := pgbenchPath()
	pgbench := func(seconds float64) *exec.Cmd {
		cmd := exec.Command(bin, args(seconds)...)
		// The settings of the server's pool that runs the statement.
		cmd.Env = append(os.Environ(), "PGOPTIONS=-c plan_cache_mode="+plans+" -c jit=off")
		return cmd
	}
	if cfg.Warmup >= time.Second {
		if out, err := pgbench(cfg.Warmup.Seconds()).CombinedOutput(); err != nil {
			return 0, cpuSplit{}, fmt.Errorf("%v: %s\nscript:\n%s", err, out, script)
		}
	}
	time.Sleep(200 * time.Millisecond) // the warm-up's backends are reaped before the measured run
	cmd := pgbench(cfg.Seconds)
	before := m.postgres()
	out, err := cmd.CombinedOutput()
	time.Sleep(200 * time.Millisecond) // let the postmaster reap the backends, whose time it then holds
	pgCPU := m.postgres() - before
	if err != nil {
		return 0, cpuSplit{}, fmt.Errorf("%v: %s\nscript:\n%s", err, out, script)
	}
	t := tpsLine.FindSubmatch(out)
	if t == nil {
		return 0, cpuSplit{}, fmt.Errorf("no tps in pgbench output: %s", out)
	}
	if bytes.Contains(out, []byte("number of failed transactions: ")) && !bytes.Contains(out, []byte("number of failed transactions: 0 ")) {
		return 0, cpuSplit{}, fmt.Errorf("pgbench transactions failed: %s", out)
	}
	tps, err := strconv.ParseFloat(string(t[1]), 64)
	if err != nil {
		return 0, cpuSplit{}, err
	}
	var cpu cpuSplit
	if n := txLine.FindSubmatch(out); n != nil && m.ok() {
		tx, _ := strconv.ParseFloat(string(n[1]), 64)
		client := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		cpu = cpuSplit{Postgres: perOp(pgCPU, tx), Client: perOp(client, tx)}
	}
	return tps, cpu, nil
}

func pgbenchPath() string {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		return filepath.Join(strings.TrimSpace(string(out)), "pgbench")
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	if len(matches) > 0 {
		return matches[len(matches)-1]
	}
	return "pgbench"
}
