package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/wazapin/wazapin/db"
	gendb "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/testdb"
)

type pingArgs struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
}

func (pingArgs) Kind() string { return "test_ping" }

// River's migrations run among ours (db/rivergen): after `migrate up` River's migrator finds
// nothing to do, and a River client inserts a job in the transaction that writes our rows.
// `migrate down` takes River's versions away one at a time, River's own record agreeing at each
// step, down to the last migration before River's; `migrate up` brings them back.
func TestRiverMigrations(t *testing.T) {
	const beforeRiver = 8 // 000008_events_webhooks
	ctx := context.Background()
	url := testdb.New(t)
	if _, err := run(t, url, "migrate", "up"); err != nil {
		t.Fatal(err)
	}
	riverIsMigrated(t, url)

	riverVersion := map[int]int{} // migration number → River version, from the file names
	var versions []int            // every migration number, newest first (numbers may skip)
	files, err := db.Migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var n, v int
		if _, err := fmt.Sscanf(f.Name(), "%d_river_%d_", &n, &v); err == nil {
			riverVersion[n] = v
		}
		if _, err := fmt.Sscanf(f.Name(), "%d_", &n); err == nil && !slices.Contains(versions, n) {
			versions = append(versions, n)
		}
	}
	slices.Sort(versions)
	slices.Reverse(versions)
	for _, v := range versions {
		if v <= beforeRiver {
			break
		}
		if got := migrationVersion(t, url); got != v {
			t.Fatalf("schema_migrations says %d, want %d", got, v)
		}
		if _, err := run(t, url, "migrate", "down"); err != nil {
			t.Fatalf("migrate down from %d: %v", v, err)
		}
		var want []int
		for n, rv := range riverVersion {
			if n < v {
				want = append(want, rv)
			}
		}
		slices.Sort(want)
		if got := riverVersions(t, url); !slices.Equal(got, want) {
			t.Errorf("after down from %d, River records versions %v, want %v", v, got, want)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	err = conn.QueryRow(ctx, `SELECT coalesce(array_agg(name), '{}') FROM (
		SELECT relname::text AS name FROM pg_class WHERE relname LIKE 'river%'
		UNION ALL SELECT typname::text FROM pg_type WHERE typname LIKE 'river%'
		UNION ALL SELECT proname::text FROM pg_proc WHERE proname LIKE 'river%') AS r`).Scan(&left)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("down to %d leaves %v", beforeRiver, left)
	}

	if _, err := run(t, url, "migrate", "up"); err != nil {
		t.Fatalf("migrate up again: %v", err)
	}
	riverIsMigrated(t, url)
}

// riverIsMigrated checks that River's migrator sees every version applied, and that a job
// inserted with InsertTx commits and rolls back with the workspace written in its transaction.
func riverIsMigrated(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	pool, migrator := openRiver(t, url)
	defer pool.Close()
	valid, err := migrator.Validate(ctx, nil)
	if err != nil || !valid.OK {
		t.Fatalf("River's Validate: %+v, %v", valid, err)
	}
	pending, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pending.Versions) > 0 {
		t.Errorf("River would still apply %+v", pending.Versions)
	}

	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{}) // insert-only
	if err != nil {
		t.Fatal(err)
	}
	insert := func(id uuid.UUID, commit bool) {
		t.Helper()
		errRollback := errors.New("roll back")
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := gendb.New(tx).CreateWorkspace(ctx, gendb.CreateWorkspaceParams{ID: id, Name: "river", DefaultRegion: "ID"}); err != nil {
				return err
			}
			if _, err := client.InsertTx(ctx, tx, pingArgs{WorkspaceID: id}, nil); err != nil {
				return err
			}
			if !commit {
				return errRollback
			}
			return nil
		})
		if err != nil && !(errors.Is(err, errRollback) && !commit) {
			t.Fatal(err)
		}
	}
	kept, dropped := uuid.New(), uuid.New()
	insert(kept, true)
	insert(dropped, false)
	for id, want := range map[uuid.UUID]int{kept: 1, dropped: 0} {
		if got := count(t, pool, "SELECT count(*) FROM workspaces WHERE id = $1", id); got != want {
			t.Errorf("%d workspaces %s, want %d", got, id, want)
		}
		if got := count(t, pool, "SELECT count(*) FROM river_job WHERE kind = 'test_ping' AND args->>'workspace_id' = $1", id.String()); got != want {
			t.Errorf("%d jobs for workspace %s, want %d", got, id, want)
		}
	}
}

// openRiver opens a pool with the server's settings and River's migrator over it.
func openRiver(t *testing.T, url string) (*pgxpool.Pool, *rivermigrate.Migrator[pgx.Tx]) {
	t.Helper()
	pool, err := pg.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		pool.Close()
		t.Fatal(err)
	}
	return pool, migrator
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func migrationVersion(t *testing.T, url string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v int
	if err := conn.QueryRow(context.Background(), "SELECT version FROM schema_migrations").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// riverVersions is what River's migrator reads as applied.
func riverVersions(t *testing.T, url string) []int {
	t.Helper()
	pool, migrator := openRiver(t, url)
	defer pool.Close()
	existing, err := migrator.ExistingVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for _, m := range existing {
		versions = append(versions, m.Version)
	}
	return versions
}
