package db_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/db"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/testdb"
)

// On a database whose workspace tables are hash-partitioned by workspace_id (the single-node
// analogue of distributing them on Citus, see internal/testdb), every named query run for one
// workspace touches that workspace's partition of each table and no other; on Citus it would be
// routed to one shard. Only the queries of acrossWorkspaces may touch more.
//
// Each query is planned twice:
//   - for its values (plan_cache_mode=force_custom_plan): the planner prunes partitions itself;
//   - generically (force_generic_plan), as the server's main pool runs it (internal/pg): the
//     plan keeps every partition and prunes at executor startup, once the parameters are known;
//     EXPLAIN EXECUTE starts the executor, so the plan it shows is what is left ("Subplans
//     Removed"). PostgreSQL 15 still lists every partition as a target of a generic UPDATE or
//     DELETE (and locks and opens each), but writes only the rows of the scan below it, which is
//     what is checked.
//
// An INSERT into a partitioned table shows the table, not a partition: each row is routed by
// its workspace_id. Every INSERT here takes the workspace from @workspace_id, one value, so it
// counts as touching that workspace's partition.

func TestQueriesTouchOnePartition(t *testing.T) {
	conn := partitioned(t)
	layout := readLayout(t, conn)
	// The detector itself, on plans it must and must not flag.
	for i, tc := range []struct {
		name, query string
		flagged     bool
	}{
		{"passes a key probe", "SELECT id FROM contacts WHERE workspace_id = @workspace_id AND id = @id", false},
		{"passes an insert routed by its workspace", "INSERT INTO notes (workspace_id, id, contact_id, body) VALUES (@workspace_id, @id, @contact_id, 'x')", false},
		{"passes a join that keeps the workspace", "SELECT n.id FROM contacts c JOIN notes n ON n.workspace_id = c.workspace_id AND n.contact_id = c.id WHERE c.workspace_id = @workspace_id", false},
		{"flags a read of every partition", "SELECT id FROM contacts WHERE id = @id", true},
		{"flags an update of every partition", "UPDATE notes SET body = 'x' WHERE id = @id", true},
		{"flags a join that lets go of the workspace", "SELECT n.id FROM contacts c JOIN notes n ON n.contact_id = c.id WHERE c.workspace_id = @workspace_id", true},
		{"flags pruning by another value", "SELECT id FROM contacts WHERE workspace_id = @contact_id", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plans := layout.plan(t, conn, fmt.Sprintf("detector%d", i), tc.query)
			var problems []string
			for mode, ts := range plans {
				problems = append(problems, layout.problems("", mode, ts)...)
			}
			if flagged := len(problems) > 0; flagged != tc.flagged {
				t.Errorf("flagged %v, want %v: %v", flagged, tc.flagged, problems)
			}
		})
	}
	queries := db.Queries()
	var one, routed, none, across int
	for _, name := range slices.Sorted(maps.Keys(queries)) {
		t.Run(name, func(t *testing.T) {
			if utility(queries[name]) {
				t.Skip("a utility statement (LISTEN) has no plan")
			}
			plans := layout.plan(t, conn, "part_"+name, queries[name])
			for _, mode := range planModes {
				for _, p := range layout.problems(name, mode, plans[mode]) {
					t.Error(p)
				}
			}
			custom := plans[planModes[0]]
			switch _, allowed := acrossWorkspaces[name]; {
			case allowed:
				across++
			case len(custom) == 0:
				none++
				if reached := layout.named(queries[name]); len(reached) > 0 {
					t.Errorf("names %v but its plan reaches none of their partitions: the test's values planned the tables away; give it values that reach them", reached)
				}
			case custom.routedOnly():
				routed++
			default:
				one++
			}
		})
	}
	t.Logf("%d queries: %d touch one partition of each table they read or write, %d only insert (routed by their workspace_id), %d touch no workspace table, %d span workspaces (acrossWorkspaces)",
		one+routed+none+across, one, routed, none, across)
}

// planModes are the two ways a statement is planned: for its values, and generically.
var planModes = []string{"force_custom_plan", "force_generic_plan"}

// plan prepares query as stmt and answers what it touches in each of planModes.
func (l layout) plan(t *testing.T, conn *pgx.Conn, stmt, query string) map[string]touches {
	t.Helper()
	ctx := context.Background()
	params, err := prepare(ctx, conn, stmt, query)
	if err != nil {
		t.Fatal(err)
	}
	return l.planPrepared(t, conn, stmt, params)
}

// planPrepared is plan for a statement already prepared, with parameters names in $n order.
func (l layout) planPrepared(t *testing.T, conn *pgx.Conn, stmt string, names []string) map[string]touches {
	t.Helper()
	ctx := context.Background()
	args := l.args(t, conn, stmt, names)
	plans := map[string]touches{}
	for _, mode := range planModes {
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
			t.Fatal(err)
		}
		plan, err := explain(ctx, conn, "FORMAT JSON", stmt, args)
		if err != nil {
			t.Fatal(err)
		}
		plans[mode] = l.touched(plan, mode == "force_generic_plan")
	}
	return plans
}

// TestFunctionsTouchOnePartition does for the SQL functions the queries call (queue_deliveries)
// what TestQueriesTouchOnePartition does for the queries: a plan shows a function call, not the
// statement inside it, so the statement is planned on its own, its arguments made parameters.
func TestFunctionsTouchOnePartition(t *testing.T) {
	ctx := context.Background()
	conn := partitioned(t)
	layout := readLayout(t, conn)
	rows, err := conn.Query(ctx, `
		SELECT p.proname, p.prosrc, coalesce(p.proargnames, '{}'), p.proargtypes::regtype[]::text[]
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
		WHERE n.nspname = 'public' AND l.lanname = 'sql' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	type function struct {
		name, body   string
		params, typs []string
	}
	functions, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (f function, err error) {
		return f, r.Scan(&f.name, &f.body, &f.params, &f.typs)
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range functions {
		if len(layout.named(f.body)) == 0 {
			continue // River's and uuid_v7: no workspace table
		}
		checked++
		t.Run(f.name, func(t *testing.T) {
			if len(f.params) != len(f.typs) {
				t.Fatalf("arguments %v of types %v: name each argument", f.params, f.typs)
			}
			body := strings.TrimSuffix(strings.TrimSpace(f.body), ";")
			if strings.Contains(body, ";") {
				t.Fatalf("a body of several statements: plan each")
			}
			// An argument's name in the body, not a column of the same name (after a dot).
			for i, p := range f.params {
				body = regexp.MustCompile(`(^|[^.\w])`+p+`\b`).ReplaceAllString(body, fmt.Sprintf("${1}$$%d", i+1))
			}
			stmt := "part_fn_" + f.name
			if _, err := conn.Exec(ctx, fmt.Sprintf("PREPARE %s (%s) AS %s", stmt, strings.Join(f.typs, ", "), body)); err != nil {
				t.Fatalf("prepare: %v\n%s", err, body)
			}
			names := slices.Clone(f.params)
			for i, p := range names {
				if p == "ws" { // queue_deliveries names the workspace ws
					names[i] = "workspace_id"
				}
			}
			for mode, ts := range layout.planPrepared(t, conn, stmt, names) {
				if len(ts) == 0 {
					t.Errorf("%s: the plan reaches no workspace table", mode)
				}
				for _, p := range layout.problems(f.name, mode, ts) {
					t.Error(p)
				}
			}
		})
	}
	if checked == 0 {
		t.Error("no SQL function reads a workspace table: is queue_deliveries gone? Then drop this test")
	}
}

// partitioned answers a connection to a database cloned from the partitioned template, for
// tests that PREPARE by themselves.
func partitioned(t *testing.T) *pgx.Conn {
	t.Helper()
	conn := preparing(t, testdb.NewPartitioned(t))
	// The sample values can contradict a CHECK constraint (type 'x') or each other (seq > 1 AND
	// seq <= 1), and constraint exclusion would then drop the partition from the plan, leaving
	// nothing to check. Off, only the partition bounds prune: pruning by workspace_id is what is
	// tested.
	if _, err := conn.Exec(context.Background(), "SET constraint_exclusion = off"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// otherUUID is the value of every uuid parameter but workspace_id: a contact's, a tag's. It
// hashes to another partition than seedWorkspace, so a query that pruned by one of those instead
// of the workspace would touch the wrong partition.
const otherUUID = "00000000-0000-7000-8000-000000000002"

// layout is how the database is partitioned.
type layout struct {
	parentOf map[string]string // partition → its partitioned table
	home     map[string]string // partitioned table → the partition holding seedWorkspace
	other    map[string]string // partitioned table → the partition holding otherUUID
}

func readLayout(t *testing.T, conn *pgx.Conn) layout {
	t.Helper()
	l := layout{parentOf: map[string]string{}, home: map[string]string{}, other: map[string]string{}}
	rows, err := conn.Query(context.Background(), `
		SELECT c.relname, p.relname,
		       satisfies_hash_partition(p.oid, b[1]::int, b[2]::int, '`+seedWorkspace+`'::uuid),
		       satisfies_hash_partition(p.oid, b[1]::int, b[2]::int, '`+otherUUID+`'::uuid)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent,
		     regexp_match(pg_get_expr(c.relpartbound, c.oid), 'modulus (\d+), remainder (\d+)') AS b
		WHERE p.relkind = 'p'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var part, parent string
		var home, other bool
		if err := rows.Scan(&part, &parent, &home, &other); err != nil {
			t.Fatal(err)
		}
		l.parentOf[part] = parent
		if home {
			l.home[parent] = part
		}
		if other {
			l.other[parent] = part
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(l.home) < 10 {
		t.Fatalf("%d partitioned tables: is the template partitioned?", len(l.home))
	}
	for parent, part := range l.home {
		if l.other[parent] == part {
			t.Fatalf("otherUUID lies in the workspace's partition %s: choose another", part)
		}
	}
	return l
}

// args answers SQL literals for the parameters (names in $n order) of the prepared statement
// stmt: the workspace for workspace_id, otherwise a value of the parameter's type, an array of
// one element for an array. Not NULL: a comparison with NULL could let the planner drop a table.
func (l layout) args(t *testing.T, conn *pgx.Conn, stmt string, names []string) []string {
	t.Helper()
	var types []string
	if err := conn.QueryRow(context.Background(), "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = $1",
		strings.ToLower(stmt)).Scan(&types); err != nil {
		t.Fatal(err)
	}
	args := make([]string, len(types))
	for i, typ := range types {
		elem, array := strings.CutSuffix(typ, "[]")
		value, ok := sample[elem]
		if elem == "uuid" && names[i] == "workspace_id" {
			value = "'" + seedWorkspace + "'"
		}
		if !ok {
			t.Fatalf("parameter %s is a %s: add a value of that type to sample", names[i], typ)
		}
		value += "::" + elem
		if array {
			value = "ARRAY[" + value + "]"
		}
		args[i] = value
	}
	return args
}

// sample is a value of each type a parameter has.
var sample = map[string]string{
	"uuid": "'" + otherUUID + "'", "text": "'x'", "character varying": "'x'", "bytea": `'\x00'`,
	"smallint": "1", "integer": "1", "bigint": "1", "double precision": "1", "boolean": "true",
	"timestamp with time zone": "'2026-01-01T00:00:00Z'", "interval": "'1 hour'", "json": "'{}'", "jsonb": "'{}'",
}

// touches is what a plan touches of each partitioned table: the partitions it reads or writes,
// and whether it inserts into the table, which routes each row by its workspace_id.
type touches map[string]*touch

type touch struct {
	partitions []string
	routed     bool
}

func (ts touches) routedOnly() bool {
	for _, t := range ts {
		if len(t.partitions) > 0 {
			return false
		}
	}
	return len(ts) > 0
}

// touched answers what plan touches. A generic plan's targets of an UPDATE or DELETE are every
// partition (see the top of the file) and are left out: its scans show what it writes.
func (l layout) touched(plan planNode, generic bool) touches {
	ts := touches{}
	at := func(parent string) *touch {
		if ts[parent] == nil {
			ts[parent] = &touch{}
		}
		return ts[parent]
	}
	var walk func(n planNode)
	walk = func(n planNode) {
		if parent := l.parentOf[n.Relation]; parent != "" {
			t := at(parent)
			if !slices.Contains(t.partitions, n.Relation) {
				t.partitions = append(t.partitions, n.Relation)
			}
		}
		if _, partitioned := l.home[n.Relation]; n.NodeType == "ModifyTable" && partitioned {
			t := at(n.Relation)
			if len(n.TargetTables) == 0 {
				t.routed = true // an INSERT
			}
			for _, target := range n.TargetTables {
				if !generic && !slices.Contains(t.partitions, target.Relation) {
					t.partitions = append(t.partitions, target.Relation)
				}
			}
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(plan)
	return ts
}

// problems says where ts, the plan of query in mode, touches more than the workspace's partition
// of a table, unless the query is one of acrossWorkspaces.
func (l layout) problems(query, mode string, ts touches) (out []string) {
	why, allowed := acrossWorkspaces[query]
	spans := false
	for _, parent := range slices.Sorted(maps.Keys(ts)) {
		parts := slices.Sorted(slices.Values(ts[parent].partitions))
		switch {
		case len(parts) > 1:
			spans = true
			if !allowed {
				out = append(out, fmt.Sprintf("%s: touches %d partitions of %s %v; constrain workspace_id, or say in acrossWorkspaces why it spans workspaces", mode, len(parts), parent, parts))
			}
		case len(parts) == 1 && parts[0] == l.other[parent]:
			out = append(out, fmt.Sprintf("%s: touches %s, the partition of another parameter's value, not the workspace's %s: does it prune by the wrong column?", mode, parts[0], l.home[parent]))
		case len(parts) == 1 && parts[0] != l.home[parent]:
			out = append(out, fmt.Sprintf("%s: touches %s, not the workspace's partition %s", mode, parts[0], l.home[parent]))
		}
	}
	if allowed && !spans {
		out = append(out, fmt.Sprintf("%s: listed in acrossWorkspaces (%s) but touches one partition of each table: take it off the list", mode, why))
	}
	return out
}

// named answers the partitioned tables a statement's text names.
func (l layout) named(sql string) []string {
	var tables []string
	for _, w := range identifier.FindAllString(strings.ToLower(sql), -1) {
		if _, ok := l.home[w]; ok && !slices.Contains(tables, w) {
			tables = append(tables, w)
		}
	}
	return tables
}

// TestRetentionDeletesOnlyWhatExpired runs the retention deletes (acrossWorkspaces) over two
// workspaces, one whose rows have all expired and one whose rows are all current, on the plain
// schema and on the partitioned one, where the two workspaces lie in different partitions. Only
// the expired rows may go. A ctid names a row within one table only: on the partitioned schema
// (as on distributed shards) the same ctid is a row of each partition.
func TestRetentionDeletesOnlyWhatExpired(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func(testing.TB) string
	}{{"plain", testdb.New}, {"partitioned", testdb.NewPartitioned}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, tc.url(t))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			const old, current = "'" + seedWorkspace + "'", "'" + otherUUID + "'"
			for _, s := range []string{
				`INSERT INTO workspaces (id, name, default_region) VALUES (` + old + `, 'old', 'ID'), (` + current + `, 'current', 'ID')`,
				`INSERT INTO webhook_endpoints (workspace_id, id, url, secret) SELECT id, id, 'https://example.com', '\x00' FROM workspaces`,
				`INSERT INTO events (workspace_id, id, type, object_id, data, created_at)
				 SELECT w.id, gen_random_uuid(), 'import.completed', 'imp_x', '{}', now() - CASE w.name WHEN 'old' THEN interval '2 days' ELSE interval '1 minute' END
				 FROM workspaces w, generate_series(1, 100) ORDER BY w.name`,
				`INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_seq, event_id, event_type, created_at)
				 SELECT workspace_id, gen_random_uuid(), workspace_id, seq, id, type, created_at FROM events ORDER BY seq`,
				`INSERT INTO idempotency_keys (workspace_id, key, fingerprint, status, content_type, body, sealed, expires_at)
				 SELECT w.id, 'k' || g, '', 201, 'application/json', '{}', false, now() + CASE w.name WHEN 'old' THEN interval '-1 minute' ELSE interval '1 hour' END
				 FROM workspaces w, generate_series(1, 100) g ORDER BY w.name`,
			} {
				if _, err := conn.Exec(ctx, s); err != nil {
					t.Fatalf("%v\n%s", err, s)
				}
			}
			q := dbq.New(conn)
			before := time.Now().Add(-time.Hour)
			if _, err := q.DeleteExpiredEvents(ctx, dbq.DeleteExpiredEventsParams{Before: before, MaxRows: 1000}); err != nil {
				t.Fatal(err)
			}
			if _, err := q.DeleteExpiredDeliveries(ctx, dbq.DeleteExpiredDeliveriesParams{Before: before, MaxRows: 1000}); err != nil {
				t.Fatal(err)
			}
			if _, err := q.DeleteExpiredIdempotencyKeys(ctx, dbq.DeleteExpiredIdempotencyKeysParams{Before: time.Now(), MaxRows: 1000}); err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"events", "webhook_deliveries", "idempotency_keys"} {
				var gone, kept int
				if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FILTER (WHERE workspace_id = %s), count(*) FILTER (WHERE workspace_id = %s) FROM %s`,
					old, current, table)).Scan(&gone, &kept); err != nil {
					t.Fatal(err)
				}
				if gone != 0 || kept != 100 {
					t.Errorf("%s: %d expired rows left (want 0), %d current rows kept (want 100)", table, gone, kept)
				}
			}
			var horizons int
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM event_horizons WHERE workspace_id = `+current).Scan(&horizons); err != nil {
				t.Fatal(err)
			}
			if horizons != 0 {
				t.Error("a horizon recorded for the workspace whose events are all current")
			}
		})
	}
}
