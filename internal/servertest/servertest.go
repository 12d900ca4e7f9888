// Package servertest starts a real server for tests outside internal/server (the browser test of
// /docs, the TypeScript client's test): its own database cloned from the migrated template, the
// pools cmd/wazapin opens, and one workspace with an API key.
package servertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wazapin/wazapin/internal/obs"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/replica"
	"github.com/wazapin/wazapin/internal/secretbox"
	"github.com/wazapin/wazapin/internal/server"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/testdb"
	"github.com/wazapin/wazapin/internal/webhooks"
)

// Env is a running server and the workspace a test acts as.
type Env struct {
	URL       string         // base URL, e.g. http://127.0.0.1:41234
	Workspace tenant.Created // its id, region (ID) and API key
	Pool      *pgxpool.Pool
	Server    *server.Server
	Store     *store.Store
}

// Setup is what Start builds the server from.
type Setup struct {
	// DatabaseURL is the test's database, made before configure runs (see testdb.Replica).
	DatabaseURL string
	Server      server.Config
	Store       store.Options
	// ReplicaURLs, when set, are replicas the store reads from, with the options of Replica
	// (Log and Metrics are the server's).
	ReplicaURLs []string
	Replica     replica.Options
	// Webhooks, when set, runs the webhook workers too (Store and Secrets are filled in).
	Webhooks *webhooks.Config
}

// Start serves the API over a fresh database until the test ends. configure may adjust the
// setup before the server starts.
func Start(t testing.TB, configure ...func(*Setup)) *Env {
	t.Helper()
	ctx := context.Background()
	dbURL := testdb.New(t)
	pool, err := pg.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	planned, err := pg.OpenWith(ctx, dbURL, pg.CustomPlans)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(planned.Close)
	setup := Setup{DatabaseURL: dbURL, Server: server.Config{Secrets: Secrets(t)}, Store: store.Options{Planned: planned}}
	for _, f := range configure {
		f(&setup)
	}
	if len(setup.ReplicaURLs) > 0 {
		if setup.Server.Metrics == nil {
			setup.Server.Metrics = obs.NewMetrics()
		}
		setup.Replica.Log, setup.Replica.Metrics = setup.Server.Log, setup.Server.Metrics
		set, err := replica.Open(pool, setup.ReplicaURLs, setup.Replica)
		if err != nil {
			t.Fatal(err)
		}
		run, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { set.Run(run); close(done) }()
		t.Cleanup(func() { stop(); <-done; set.Close() })
		setup.Store.Replicas = set
	}
	st := store.New(pool, setup.Store)
	srv := server.New(st, setup.Server)
	watch, stopWatching := context.WithCancel(ctx)
	t.Cleanup(stopWatching)
	go srv.WatchKeys(watch)
	if w := setup.Webhooks; w != nil {
		w.Store, w.Secrets = st, setup.Server.Secrets
		runner, err := webhooks.Start(ctx, pool, *w)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = runner.Stop(sctx)
		})
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ws, err := tenant.Create(ctx, pool, "Acme", "ID")
	if err != nil {
		t.Fatal(err)
	}
	return &Env{URL: hs.URL, Workspace: ws, Pool: pool, Server: srv, Store: st}
}

// Secrets returns a fresh key for channel credentials.
func Secrets(t testing.TB) *secretbox.Box {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.ParseKey(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// Logs is a log destination a test may read while the server writes to it.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String is everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
