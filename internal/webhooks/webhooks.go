// Package webhooks delivers the workspaces' events to their webhook endpoints, and keeps the
// event log within its retention, as River jobs: a delivery job is queued in the transaction of
// its event (store, InsertEvents), so a change that commits is delivered at least once, whatever
// crashes, and one that does not is never delivered. Several processes may run the workers over
// one database: River hands each job to one of them at a time.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/wazapin/wazapin/internal/secretbox"
	"github.com/wazapin/wazapin/internal/store"
)

// Queue is the River queue of deliveries, as InsertEvents names it.
const Queue = "webhooks"

// maintenance is the queue of the retention job.
const maintenance = "maintenance"

// Schedule is the Standard Webhooks retry schedule: the waits before the second attempt, the
// third, and so on, about three days in all; each wait varies by up to a tenth either way.
var Schedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// Timeout bounds one attempt: connecting, sending and reading the answer.
const Timeout = 15 * time.Second

// Config sets up the workers.
type Config struct {
	Store   *store.Store
	Secrets *secretbox.Box // opens the endpoints' signing secrets
	// Workers is how many deliveries run at once in this process.
	Workers int
	// BlockPrivate refuses endpoints on loopback, private or link-local addresses.
	BlockPrivate bool
	// Retention is how long events and deliveries are kept (30 days when zero).
	Retention time.Duration
	// Schedule replaces the retry schedule (tests make it short).
	Schedule []time.Duration
	// DisableAfter is how long an endpoint may fail without a success before it is disabled
	// (5 days when zero).
	DisableAfter time.Duration
	Log          *slog.Logger
	// Client replaces the HTTP client of deliveries (tests).
	Client *http.Client
}

// Runner runs the workers until Stop.
type Runner struct {
	client *river.Client[pgx.Tx]
}

// Start starts the workers over pool.
func Start(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Runner, error) {
	if cfg.Workers < 1 {
		return nil, errors.New("webhooks: Workers must be at least 1")
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = 5 * 24 * time.Hour
	}
	if cfg.Schedule == nil {
		cfg.Schedule = Schedule
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(cfg.BlockPrivate)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &deliveryWorker{cfg: cfg})
	river.AddWorker(workers, &retentionWorker{cfg: cfg})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues: map[string]river.QueueConfig{
			Queue:       {MaxWorkers: cfg.Workers},
			maintenance: {MaxWorkers: 1},
		},
		Workers: workers,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(
			river.PeriodicInterval(10*time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true},
		)},
		// Deliveries are queued by SQL in their event's transaction, which sends River no
		// notification: the workers poll, often enough that a delivery leaves within a second.
		PollOnly:          true,
		FetchCooldown:     50 * time.Millisecond,
		FetchPollInterval: 200 * time.Millisecond,
		// An attempt takes at most Timeout; a job still running well past it belonged to a
		// process that died, and runs again elsewhere.
		JobTimeout:           Timeout + 5*time.Second,
		RescueStuckJobsAfter: Timeout + 5*time.Second,
		Logger:               cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("webhooks: start: %w", err)
	}
	return &Runner{client: client}, nil
}

// Stop lets the attempts in flight finish (until ctx ends) and stops.
func (r *Runner) Stop(ctx context.Context) error {
	return r.client.Stop(ctx)
}

// RetentionArgs is the periodic job that deletes events and deliveries past their retention, and
// the idempotent answers that expired.
type RetentionArgs struct{}

// Kind names the job for River.
func (RetentionArgs) Kind() string { return "event_retention" }

// InsertOpts puts the job on its queue, once at a time.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: maintenance, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: 10 * time.Minute}}
}

type retentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	cfg Config
}

// retentionBatch is how many rows one statement deletes: short transactions that never hold
// many locks, however much has expired.
const retentionBatch = 5000

func (w *retentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	now := time.Now()
	for _, job := range []struct {
		del    func(context.Context, time.Time, int32) (int64, error)
		before time.Time
	}{
		{w.cfg.Store.DeleteExpiredEvents, now.Add(-w.cfg.Retention)},
		{w.cfg.Store.DeleteExpiredDeliveries, now.Add(-w.cfg.Retention)},
		// Idempotent answers carry their own expiry (WAZAPIN_IDEMPOTENCY_TTL when stored).
		{w.cfg.Store.DeleteExpiredIdempotencyKeys, now},
	} {
		for {
			n, err := job.del(ctx, job.before, retentionBatch)
			if err != nil {
				return err
			}
			if n < retentionBatch {
				break
			}
		}
	}
	return nil
}
