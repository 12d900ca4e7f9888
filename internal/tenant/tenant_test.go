package tenant_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/apikey"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/testdb"
)

// process is what one server process holds: its own pool, store and key cache.
type process struct {
	st   *store.Store
	auth *tenant.Authenticator
}

func startProcess(t *testing.T, url string, trustUnwatched time.Duration) process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := pg.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool, store.Options{})
	auth := tenant.NewAuthenticator(st, 5*time.Second, slog.New(slog.DiscardHandler))
	auth.TrustUnwatchedFor(trustUnwatched)
	done := make(chan struct{})
	go func() { auth.Watch(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; pool.Close() })
	waitFor(t, 5*time.Second, auth.Watching)
	return process{st, auth}
}

func waitFor(t *testing.T, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not so within %s", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func refused(a *tenant.Authenticator, key string) func() bool {
	return func() bool {
		_, err := a.Authenticate(context.Background(), key)
		return errors.Is(err, tenant.ErrBadKey)
	}
}

// TestRevocationReachesEveryProcess revokes a key two processes have cached. They are set to trust
// a cached key for an hour without a listener, so only the revocation they hear can stop it.
func TestRevocationReachesEveryProcess(t *testing.T) {
	url := testdb.New(t)
	ctx := context.Background()
	a, b := startProcess(t, url, time.Hour), startProcess(t, url, time.Hour)
	pool, err := pg.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ws, err := tenant.Create(ctx, pool, "Acme", "ID")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []process{a, b} {
		k, err := p.auth.Authenticate(ctx, ws.APIKey)
		if err != nil || k.Perms != apikey.All || k.Workspace.Ref != ws.WorkspaceID {
			t.Fatalf("first key: %+v, %v", k, err)
		}
	}
	id, _, _ := apikey.Parse(ws.APIKey)
	k, _ := a.auth.Authenticate(ctx, ws.APIKey)
	if err := a.st.RevokeAPIKey(ctx, k.Workspace.ID, id); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]process{"the revoking process": a, "another process": b} {
		took := waitFor(t, time.Second, refused(p.auth, ws.APIKey))
		t.Logf("%s refused the key %s after the revocation committed", name, took)
	}

	t.Run("a listener cut off trusts keys for a second, then listens again", func(t *testing.T) {
		c := startProcess(t, url, time.Second)
		p, text := tenant.NewKey(k.Workspace.ID, "second", apikey.All)
		if _, err := c.st.CreateAPIKey(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := c.auth.Authenticate(ctx, text); err != nil {
			t.Fatal(err)
		}
		var cut int
		if err := pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE query LIKE '%LISTEN wazapin_api_keys%' AND datname = current_database() AND pid <> pg_backend_pid()`).Scan(&cut); err != nil || cut != 3 {
			t.Fatalf("cut %d listeners (%v), want the 3 processes'", cut, err)
		}
		if err := c.st.RevokeAPIKey(ctx, k.Workspace.ID, p.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 1500*time.Millisecond, refused(c.auth, text))
		waitFor(t, 10*time.Second, c.auth.Watching)
	})
}
