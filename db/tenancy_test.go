package db_test

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/db"
	"github.com/wazapin/wazapin/internal/testdb"
)

// Every table that holds a workspace's data leads its keys with workspace_id, and every query of
// such a table names the workspace: then the schema can be distributed by workspace_id (Citus)
// or hash-partitioned by it, and each statement touches one shard.

// notByWorkspace are the tables that hold no workspace's data, and why.
var notByWorkspace = map[string]string{
	"workspaces":        "the tenants themselves: a reference table when distributed",
	"schema_migrations": "golang-migrate's bookkeeping",
}

// The workspace tables whose keys may lead with another column are testdb.ReferenceTables: not
// split by workspace when distributed (nor in the partitioned template), so their keys need not
// lead with it.

// acrossWorkspaces are the queries that may leave the workspace unnamed, and why.
var acrossWorkspaces = map[string]string{
	"DeleteExpiredEvents":          "the retention job deletes old events of every workspace in batches (its INSERT of horizons names each): on every shard, off the request path",
	"DeleteExpiredDeliveries":      "the retention job deletes old deliveries of every workspace in batches: on every shard, off the request path",
	"DeleteExpiredIdempotencyKeys": "the retention job deletes expired answers of every workspace in batches: on every shard, off the request path",
}

func migrated(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// workspaceTables lists the tables of the public schema with a workspace_id column, and those
// without one.
func workspaceTables(t *testing.T, conn *pgx.Conn) (with, without []string) {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var has bool
		if err := rows.Scan(&name, &has); err != nil {
			t.Fatal(err)
		}
		if has {
			with = append(with, name)
		} else {
			without = append(without, name)
		}
	}
	return with, without
}

func TestKeysLeadWithWorkspace(t *testing.T) {
	conn := migrated(t)
	with, without := workspaceTables(t, conn)
	for _, name := range without {
		if _, ok := notByWorkspace[name]; !ok && !strings.HasPrefix(name, "river_") {
			t.Errorf("table %s has no workspace_id: give it one, or say in notByWorkspace why it holds no workspace's data", name)
		}
	}
	// Every primary key, unique or exclusion constraint, foreign key and unique index.
	rows, err := conn.Query(context.Background(), `
		SELECT c.relname, con.conname, a.attname
		FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = con.conkey[1]
		WHERE con.contype IN ('p', 'u', 'f', 'x') AND c.relname = ANY($1)
		UNION ALL
		SELECT c.relname, i.relname, coalesce(a.attname, '(an expression)')
		FROM pg_index ix JOIN pg_class c ON c.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ix.indkey[0]
		WHERE ix.indisunique AND c.relname = ANY($1)
		ORDER BY 1, 2`, with)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for rows.Next() {
		var table, key, first string
		if err := rows.Scan(&table, &key, &first); err != nil {
			t.Fatal(err)
		}
		checked++
		if _, ok := testdb.ReferenceTables[table]; first != "workspace_id" && !ok {
			t.Errorf("%s.%s leads with %s, not workspace_id", table, key, first)
		}
	}
	if checked < len(with) {
		t.Errorf("checked %d keys of %d tables", checked, len(with))
	}
}

var identifier = regexp.MustCompile(`[a-z_]+`)

// workspaceNamed finds a condition on a workspace_id column: an equality with a parameter, a
// column or a list, a row comparison that holds it, or the column list of an INSERT.
var workspaceNamed = regexp.MustCompile(`(?s)workspace_id\s*(=|in\s*\()|\(\s*(\w+\.)?workspace_id\s*,[^)]*\)\s*(=|in)|insert\s+into\s+\w+\s*\([^)]*workspace_id`)

func TestQueriesNameTheWorkspace(t *testing.T) {
	conn := migrated(t)
	with, _ := workspaceTables(t, conn)
	tenant := map[string]bool{}
	for _, name := range with {
		if _, ok := testdb.ReferenceTables[name]; !ok {
			tenant[name] = true
		}
	}
	queries := db.Queries()
	for _, name := range slices.Sorted(maps.Keys(queries)) {
		text := strings.ToLower(queries[name])
		var touched []string
		for _, w := range identifier.FindAllString(text, -1) {
			if tenant[w] && !slices.Contains(touched, w) {
				touched = append(touched, w)
			}
		}
		if len(touched) == 0 {
			continue
		}
		if _, allowed := acrossWorkspaces[name]; !allowed && !workspaceNamed.MatchString(text) {
			t.Errorf("%s reads or writes %v without naming the workspace: constrain workspace_id, or say in acrossWorkspaces why it spans workspaces", name, touched)
		}
	}
}
