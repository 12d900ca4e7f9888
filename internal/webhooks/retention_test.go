package webhooks_test

import (
	"context"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/servertest"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/testdb"
	"github.com/wazapin/wazapin/internal/webhooks"
)

// TestRetentionDeletesWhatIsOlder runs the workers and checks that the retention job, which runs
// when they start, deletes the events and deliveries older than the retention and no others, and
// records the horizon the feed answers 410 before; and deletes the idempotent answers that
// expired, and no others.
func TestRetentionDeletesWhatIsOlder(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)
	pool, err := pg.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ws, err := tenant.Create(ctx, pool, "Acme", "ID")
	if err != nil {
		t.Fatal(err)
	}
	wsID := ws.WorkspaceID
	// 12,000 events (more than two batches), of which the first 11,000 are old.
	if _, err := pool.Exec(ctx, `
		WITH w AS (SELECT id FROM workspaces WHERE name = 'Acme')
		INSERT INTO events (workspace_id, id, type, object_id, data, created_at)
		SELECT w.id, gen_random_uuid(), 'import.completed', 'imp_x', '{}', now() - CASE WHEN g <= 11000 THEN interval '2 days' ELSE interval '1 minute' END
		FROM w, generate_series(1, 12000) g ORDER BY g`); err != nil {
		t.Fatal(err)
	}
	// 6,000 idempotent answers (more than one batch), of which the first 5,500 have expired.
	if _, err := pool.Exec(ctx, `
		INSERT INTO idempotency_keys (workspace_id, key, fingerprint, status, content_type, body, sealed, expires_at)
		SELECT w.id, 'k' || g, '', 201, 'application/json', '{}', false, now() + CASE WHEN g <= 5500 THEN interval '-1 minute' ELSE interval '1 hour' END
		FROM workspaces w, generate_series(1, 6000) g WHERE w.name = 'Acme' ORDER BY g`); err != nil {
		t.Fatal(err)
	}
	st := store.New(pool, store.Options{})
	r, err := webhooks.Start(ctx, pool, webhooks.Config{Store: st, Secrets: servertest.Secrets(t), Workers: 1, Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop(ctx) //nolint:errcheck // the test is over
	deadline := time.Now().Add(20 * time.Second)
	for {
		var left int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		var answers int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys`).Scan(&answers); err != nil {
			t.Fatal(err)
		}
		if left == 1000 && answers == 500 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events and %d idempotent answers left, want the 1000 recent and the 500 unexpired (workspace %s)", left, answers, wsID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var horizon, oldestLeft int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT deleted_through FROM event_horizons), (SELECT min(seq) FROM events)`).Scan(&horizon, &oldestLeft); err != nil {
		t.Fatal(err)
	}
	if horizon != oldestLeft-1 {
		t.Errorf("horizon %d, oldest event kept %d", horizon, oldestLeft)
	}
}
