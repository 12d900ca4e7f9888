package testdb

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/db"
)

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func TestPartitionedTemplate(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, NewPartitioned(t))

	t.Run("every workspace table is split by workspace_id, reference tables are not", func(t *testing.T) {
		rows, err := conn.Query(ctx, `
			SELECT c.relname, c.relkind::text, coalesce(pg_get_partkeydef(c.oid), ''),
			       (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid)
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
			  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped)
			ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		split := 0
		for rows.Next() {
			var name, kind, key string
			var parts int
			if err := rows.Scan(&name, &kind, &key, &parts); err != nil {
				t.Fatal(err)
			}
			_, reference := ReferenceTables[name]
			switch {
			case reference && kind != "r":
				t.Errorf("reference table %s is partitioned (%s)", name, key)
			case !reference && (key != "HASH (workspace_id)" || parts != Partitions):
				t.Errorf("%s: partitioned by %q into %d, want HASH (workspace_id) into %d", name, key, parts, Partitions)
			case !reference:
				split++
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if split < 10 {
			t.Errorf("only %d tables split: the template is not the whole schema", split)
		}
	})

	t.Run("the migrator sees it as current", func(t *testing.T) {
		var version int64
		var dirty bool
		if err := conn.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty); err != nil {
			t.Fatal(err)
		}
		if version != db.LatestMigration() || dirty {
			t.Errorf("schema_migrations at %d (dirty %v), want %d", version, dirty, db.LatestMigration())
		}
		var river int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM river_migration").Scan(&river); err != nil {
			t.Fatal(err)
		}
		if river == 0 {
			t.Error("river_migration is empty: River would migrate again")
		}
	})

	t.Run("keys and indexes are on every partition", func(t *testing.T) {
		// contacts' primary key and its name index, as partitioned indexes with one per partition.
		var indexes int
		if err := conn.QueryRow(ctx, `
			SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent IN ('contacts_pkey'::regclass, 'contacts_name_key_idx'::regclass)`).Scan(&indexes); err != nil {
			t.Fatal(err)
		}
		if indexes != 2*Partitions {
			t.Errorf("%d partition indexes, want %d", indexes, 2*Partitions)
		}
	})
}

// A table PostgreSQL cannot partition by workspace_id stops the template, and the error names it.
func TestPartitionRefusesAKeyWithoutTheWorkspace(t *testing.T) {
	pgDump, err := findPgDump()
	if err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	for _, tc := range []struct{ name, ddl, want string }{
		{"a unique key without workspace_id", "CREATE TABLE widgets (workspace_id uuid NOT NULL, code text UNIQUE)", "widgets"},
		{"a primary key without workspace_id", "CREATE TABLE gadgets (id uuid PRIMARY KEY, workspace_id uuid NOT NULL)", "gadgets"},
		{"storage parameters the rewrite does not know", "CREATE TABLE gizmos (workspace_id uuid NOT NULL) WITH (fillfactor = 50)", "gizmos"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to := scratch(t), scratch(t)
			if _, err := connect(t, from).Exec(ctx, tc.ddl); err != nil {
				t.Fatal(err)
			}
			tables, err := unpartitioned(ctx, from)
			if err != nil {
				t.Fatal(err)
			}
			err = partition(ctx, pgDump, from, to, tables)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// scratch answers an empty database, dropped when the test ends.
func scratch(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	admin := connect(t, adminURL(t))
	name := "wazapin_scratch_" + randomHex(8)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE %s WITH (FORCE)", name)); err != nil {
			t.Error(err)
		}
	})
	return withDatabase(adminURL(t), name)
}
