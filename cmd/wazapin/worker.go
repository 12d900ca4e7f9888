package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wazapin/wazapin/internal/obs"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/store"
)

const workerHelp = `usage: wazapin worker

Delivers webhooks and keeps the event log within WAZAPIN_EVENT_RETENTION, without serving the
API: for running deliveries on machines of their own, with WAZAPIN_WEBHOOK_WORKERS=0 on the API
servers. Any number of workers and servers may deliver from one database; each delivery goes to
one of them at a time. It applies the migrations first. On SIGTERM or SIGINT the deliveries in
flight get up to WAZAPIN_SHUTDOWN_TIMEOUT to finish.

It reads the settings of serve that concern it: DATABASE_URL, WAZAPIN_ENCRYPTION_KEY,
WAZAPIN_WEBHOOK_WORKERS (at least 1 here), WAZAPIN_EVENT_RETENTION,
WAZAPIN_BLOCK_PRIVATE_ADDRESSES, WAZAPIN_LOG_FORMAT, WAZAPIN_LOG_LEVEL, WAZAPIN_DB_TIMEOUT and
WAZAPIN_SHUTDOWN_TIMEOUT.
`

func (m *Main) worker(ctx context.Context, args []string) error {
	fs := m.flags("worker", workerHelp)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("worker takes no arguments: %q", fs.Arg(0))
	}
	cfg, err := m.config()
	if err != nil {
		return err
	}
	if cfg.webhooks.Workers == 0 {
		return errors.New("WAZAPIN_WEBHOOK_WORKERS must be at least 1 for `wazapin worker`")
	}
	logs := obs.NewBufferedWriter(m.Stderr, 200*time.Millisecond)
	defer logs.Close()
	log, err := obs.NewLogger(logs, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return fmt.Errorf("WAZAPIN_LOG_FORMAT or WAZAPIN_LOG_LEVEL: %w", err)
	}
	if err := pg.Migrate(cfg.databaseURL, 0); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	pool, planned, err := m.openPools(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	defer planned.Close()
	runner, err := m.startWebhooks(ctx, planned, store.New(pool, store.Options{Planned: planned}), cfg, log)
	if err != nil {
		return err
	}
	select {
	case sig := <-m.Signals:
		log.Info("stopping: the deliveries in flight may finish", "signal", sig.String(), "timeout", cfg.shutdownTimeout.String())
	case <-ctx.Done():
		log.Info("stopping: the deliveries in flight may finish", "timeout", cfg.shutdownTimeout.String())
	}
	return stopWebhooks(runner, cfg, log)
}
