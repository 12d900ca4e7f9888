// Command wazapin is the Contacts API server and its admin tool:
//
//	wazapin serve                       serve the API (DATABASE_URL, WAZAPIN_ADDR)
//	wazapin migrate up|down             move the schema up to the newest migration, or one down
//	wazapin workspace create --name N [--default-region ID]
//	                                    create a workspace and print its first API key as JSON
//	wazapin import FILE                 stream a CSV or NDJSON file to a running server's import
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on WAZAPIN_PPROF_ADDR
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/secretbox"
	"github.com/wazapin/wazapin/internal/server"
	"github.com/wazapin/wazapin/internal/tenant"
)

const usage = `usage:
  wazapin serve                        serve the API on WAZAPIN_ADDR (default 127.0.0.1:8080)
  wazapin migrate up|down              apply all migrations, or roll back the newest one
  wazapin workspace create --name N [--default-region ID]
                                       create a workspace; prints its id and first API key as JSON
  wazapin import [--url U] [--key K] [--chunk N] FILE
                                       send a CSV (with a header row) or NDJSON file to a running
                                       server's bulk import, N lines per request (default 10000)
environment:
  DATABASE_URL              PostgreSQL connection URL (required)
  WAZAPIN_ADDR              listen address for serve
  WAZAPIN_ENCRYPTION_KEY    32 bytes in base64 or hex; seals channel credentials (channels need it)
  WAZAPIN_PROVIDER_TIMEOUT  bound on one channel lookup's provider calls (default 5s, at most 30s)
  WAZAPIN_PROVIDER_BLOCK_PRIVATE  true: refuse providers on loopback, private or link-local addresses
  WAZAPIN_URL, WAZAPIN_API_KEY    server and key for import
  WAZAPIN_PPROF_ADDR        serve net/http/pprof on this address (e.g. 127.0.0.1:6060)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wazapin:", err)
		if errors.Is(err, errUsage) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("bad usage")

// Main is the program, with its environment passed in so it can run inside tests.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Run runs one command.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "serve":
		return m.serve(ctx)
	case "migrate":
		if len(args) != 2 || (args[1] != "up" && args[1] != "down") {
			return errUsage
		}
		steps := 0
		if args[1] == "down" {
			steps = -1
		}
		url, err := m.databaseURL()
		if err != nil {
			return err
		}
		return pg.Migrate(url, steps)
	case "workspace":
		if len(args) < 2 || args[1] != "create" {
			return errUsage
		}
		return m.createWorkspace(ctx, args[2:])
	case "import":
		return m.importFile(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	return errUsage
}

func (m *Main) databaseURL() (string, error) {
	url := m.Getenv("DATABASE_URL")
	if url == "" {
		return "", errors.New("DATABASE_URL is not set")
	}
	return url, nil
}

func (m *Main) createWorkspace(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("workspace create", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	name := fs.String("name", "", "workspace name (required)")
	region := fs.String("default-region", "ID", "region that phone numbers without a country code are read in")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	url, err := m.databaseURL()
	if err != nil {
		return err
	}
	pool, err := pg.Open(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	created, err := tenant.Create(ctx, pool, *name, *region)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(created)
}

// maxProviderTimeout keeps a lookup well inside the server's write timeout.
const maxProviderTimeout = 30 * time.Second

// serverConfig reads the server's settings from the environment.
func (m *Main) serverConfig(log *slog.Logger) (server.Config, error) {
	cfg := server.Config{Log: log}
	if key := m.Getenv("WAZAPIN_ENCRYPTION_KEY"); key != "" {
		box, err := secretbox.ParseKey(key)
		if err != nil {
			return cfg, fmt.Errorf("WAZAPIN_ENCRYPTION_KEY: %w", err)
		}
		cfg.Secrets = box
	} else {
		log.Warn("WAZAPIN_ENCRYPTION_KEY is not set: channels cannot be created or used")
	}
	if t := m.Getenv("WAZAPIN_PROVIDER_TIMEOUT"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 || d > maxProviderTimeout {
			return cfg, fmt.Errorf("WAZAPIN_PROVIDER_TIMEOUT must be a duration from 1ms to %s, such as 5s, not %q", maxProviderTimeout, t)
		}
		cfg.ProviderTimeout = d
	}
	switch v := m.Getenv("WAZAPIN_PROVIDER_BLOCK_PRIVATE"); v {
	case "", "0", "false":
	case "1", "true":
		cfg.BlockPrivateProviders = true
	default:
		return cfg, fmt.Errorf("WAZAPIN_PROVIDER_BLOCK_PRIVATE must be true or false, not %q", v)
	}
	return cfg, nil
}

func (m *Main) serve(ctx context.Context) error {
	log := slog.New(slog.NewTextHandler(m.Stderr, nil))
	url, err := m.databaseURL()
	if err != nil {
		return err
	}
	addr := m.Getenv("WAZAPIN_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	if err := pg.Migrate(url, 0); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	cfg, err := m.serverConfig(log)
	if err != nil {
		return err
	}
	if m.Getenv("GOGC") == "" && m.Getenv("GOMEMLIMIT") == "" {
		// The live heap of request traffic is a few MiB; collecting at 3× it instead of 2× cuts GC
		// work, and the soft limit makes the collector work harder, not the heap grow, during
		// bulk imports, keeping the resident set under the 150 MiB it is allowed.
		debug.SetGCPercent(200)
		debug.SetMemoryLimit(80 << 20)
	}
	pool, err := pg.Open(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	planned, err := pg.OpenWith(ctx, url, pg.CustomPlans)
	if err != nil {
		return err
	}
	defer planned.Close()
	cfg.CustomPlanPool = planned
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           server.New(pool, cfg).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if pprofAddr := m.Getenv("WAZAPIN_PPROF_ADDR"); pprofAddr != "" {
		// Profiles on their own listener, never on the API's: they show internals.
		go func() {
			log.Info("serving pprof", "addr", pprofAddr)
			if err := http.ListenAndServe(pprofAddr, nil); err != nil {
				log.Error("pprof", "err", err)
			}
		}()
	}
	log.Info("serving the Contacts API", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
