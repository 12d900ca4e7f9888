package db_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/db"
	"github.com/wazapin/wazapin/internal/testdb"
)

// The server runs its statements with generic plans (plan_cache_mode=force_generic_plan, see
// internal/pg), planned once without the parameters' values: such a plan cannot see how many
// keys an array holds, nor which workspace asks. TestGenericPlansProbeIndexes plans each query
// that way on a small workspace, the size where a seq scan looks cheapest to the planner, and
// fails on a query that reads a whole tenant table (a seq scan, or an index scan bounded by the
// workspace alone), unless it is listed in wholeTableReads.
// Such a plan costs little at a few hundred rows and grows with every contact: at 900 identities
// a hashed join over the whole table made each identifier look-up 4x slower than probing the
// primary key.

// wholeTableReads are the queries allowed to scan a table, and why.
var wholeTableReads = map[string]string{
	// An import's statements run on the pool left to PostgreSQL's choice (internal/pg
	// CustomPlans: plans made for the values at first, the generic one once it costs no more);
	// a search runs there as an unnamed statement, planned for its values every time (OneShot).
	"LockContacts":           "left to PostgreSQL's choice: an import batch can hold most of the contacts",
	"RemoveImportIdentities": "left to PostgreSQL's choice: an import batch can hold most of the contacts",
	"SearchContacts":         "planned for its values: without the prefix, no index range can be chosen",
	// A merge names at most 11 contacts; its statements take them as arrays.
	"ContactSubjectConsents": "a merge or an undo runs on the pool left to PostgreSQL's choice: planned for the handful of contacts it names",
	"DeleteContacts":         "a merge or an undo runs on the pool left to PostgreSQL's choice: planned for the handful of contacts it names",
	"LockContactsForMerge":   "a merge or an undo runs on the pool left to PostgreSQL's choice: planned for the handful of contacts it names",
	"MoveNotes":              "a merge or an undo runs on the pool left to PostgreSQL's choice: planned for the handful of contacts it names",
	"NotesOfContacts":        "a merge or an undo runs on the pool left to PostgreSQL's choice: planned for the handful of contacts it names",
	"TagsOfContacts":         "a merge or an undo runs on the pool left to PostgreSQL's choice: planned for the handful of contacts it names",
}

// seedContacts is how many contacts the small workspace holds: past the size where the
// planner's seq scans are free, below the one where they lose to index probes anyway.
const seedContacts = 500

func TestGenericPlansProbeIndexes(t *testing.T) {
	ctx := context.Background()
	conn := seeded(t)
	// Only tables that grow with the contacts count: the planner rightly reads a table of a
	// few rows (a workspace's channels, tags or keys) whole, and its estimate of one row for an
	// equality on a key is right at any size.
	large := map[string]bool{}
	rows, err := conn.Query(ctx, "SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples >= $1", seedContacts)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tables {
		large[name] = true
	}
	// The detector itself, on plans it must and must not flag.
	for i, tc := range []struct {
		name, query string
		want        []string
	}{
		{"detects a seq scan", "SELECT count(*) FROM contacts WHERE name_key LIKE '%' || @q", []string{"contacts"}},
		{"detects a whole-tenant index scan", "SELECT id FROM contacts WHERE workspace_id = @workspace_id ORDER BY id LIMIT 5000", []string{"contacts"}},
		{"passes a key probe", "SELECT id FROM contacts WHERE workspace_id = @workspace_id AND id = @id", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wholeReads(ctx, conn, fmt.Sprintf("detector%d", i), tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("flagged %v, want %v", got, tc.want)
			}
		})
	}
	queries := db.Queries()
	for _, name := range slices.Sorted(maps.Keys(queries)) {
		t.Run(name, func(t *testing.T) {
			if utility(queries[name]) {
				t.Skip("a utility statement (LISTEN) has no plan")
			}
			all, err := wholeReads(ctx, conn, name, queries[name])
			if err != nil {
				t.Fatal(err)
			}
			var scans []string
			for _, table := range all {
				if large[table] {
					scans = append(scans, table)
				}
			}
			why, allowed := wholeTableReads[name]
			switch {
			case len(scans) > 0 && !allowed:
				t.Errorf("the generic plan reads whole tables %v; probe an index, or say why in wholeTableReads", scans)
			case len(scans) == 0 && allowed:
				t.Errorf("listed in wholeTableReads (%s) but reads no whole table: take it off the list", why)
			}
		})
	}
}

// TestListStopsAtATagTheWorkspaceLacks runs a list page and a search page, planned generically,
// with a tag the workspace does not have: no contact may be read. Tested per row instead, the
// tag walked every contact of the workspace to answer nothing.
func TestListStopsAtATagTheWorkspaceLacks(t *testing.T) {
	ctx := context.Background()
	conn := seeded(t)
	queries := db.Queries()
	for i, tc := range []struct {
		name, query, tag string
		reads            bool
	}{
		{"list, a tag it lacks", "ListContacts", "nosuchtag", false},
		{"search, a tag it lacks", "SearchContacts", "nosuchtag", false},
		{"list, a tag it has", "ListContacts", "tag1", true}, // the check can fail
	} {
		t.Run(tc.name, func(t *testing.T) {
			stmt := fmt.Sprintf("tagcase%d", i)
			params, err := prepare(ctx, conn, stmt, queries[tc.query])
			if err != nil {
				t.Fatal(err)
			}
			values := map[string]string{"workspace_id": "'" + seedWorkspace + "'", "before_id": "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
				"tag_key": "'" + tc.tag + "'", "q": "'contact'", "page_size": "51", "branch_limit": "NULL"}
			args := make([]string, len(params))
			for i, p := range params {
				args[i] = cmp.Or(values[p], "NULL")
			}
			plan, err := explain(ctx, conn, "ANALYZE, FORMAT JSON", stmt, args)
			if err != nil {
				t.Fatal(err)
			}
			var read func(n planNode) bool
			read = func(n planNode) bool {
				if n.Relation == "contacts" && n.ActualLoops > 0 {
					return true
				}
				return slices.ContainsFunc(n.Plans, read)
			}
			if got := read(plan); got != tc.reads {
				t.Errorf("contacts read: %v, want %v", got, tc.reads)
			}
		})
	}
}

// seeded answers a connection to a database seeded by seed, planning generically.
func seeded(t *testing.T) *pgx.Conn {
	conn := preparing(t, testdb.New(t))
	seed(t, conn)
	if _, err := conn.Exec(context.Background(), "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// preparing answers a connection to the database at url for tests that PREPARE by themselves.
func preparing(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// prepare prepares a named query as stmt and answers its parameters' names in $n order.
func prepare(ctx context.Context, conn *pgx.Conn, stmt, query string) ([]string, error) {
	var order []string
	sql, _ := db.BindParams(query, func(name string) (string, bool) {
		i := slices.Index(order, name)
		if i < 0 {
			order, i = append(order, name), len(order)
		}
		return fmt.Sprintf("$%d", i+1), true
	})
	if _, err := conn.Exec(ctx, "PREPARE "+stmt+" AS "+sql); err != nil {
		return nil, fmt.Errorf("prepare: %w\n%s", err, sql)
	}
	return order, nil
}

// wholeReads prepares a query, explains its generic plan and answers the tables it reads whole.
func wholeReads(ctx context.Context, conn *pgx.Conn, name, query string) ([]string, error) {
	order, err := prepare(ctx, conn, name, query)
	if err != nil {
		return nil, err
	}
	nulls := make([]string, len(order))
	for i := range nulls {
		nulls[i] = "NULL"
	}
	plan, err := explain(ctx, conn, "FORMAT JSON", name, nulls)
	if err != nil {
		return nil, err
	}
	var scans []string
	var walk func(n planNode, relation string)
	walk = func(n planNode, relation string) {
		relation = cmp.Or(n.Relation, relation) // a bitmap index scan's table is its parent's
		switch n.NodeType {
		case "Seq Scan":
			scans = append(scans, relation)
		case "Index Scan", "Index Only Scan", "Bitmap Index Scan":
			// An index scan bounded by the workspace alone reads the whole tenant all the same.
			if tenantOnly.MatchString(n.IndexCond) {
				scans = append(scans, relation)
			}
		}
		for _, c := range n.Plans {
			walk(c, relation)
		}
	}
	walk(plan, "")
	return scans, nil
}

// explain runs EXPLAIN (options) on the prepared statement stmt with args, SQL literals.
func explain(ctx context.Context, conn *pgx.Conn, options, stmt string, args []string) (planNode, error) {
	sql := "EXPLAIN (" + options + ") EXECUTE " + stmt
	if len(args) > 0 {
		sql += "(" + strings.Join(args, ", ") + ")"
	}
	var plan []struct{ Plan planNode }
	if err := conn.QueryRow(ctx, sql).Scan(&plan); err != nil {
		return planNode{}, fmt.Errorf("explain: %w", err)
	}
	return plan[0].Plan, nil
}

var tenantOnly = regexp.MustCompile(`^\(*(workspace_id = \$\d+)?\)*$`)

type planNode struct {
	NodeType    string     `json:"Node Type"`
	Relation    string     `json:"Relation Name"`
	IndexCond   string     `json:"Index Cond"`
	ActualLoops float64    `json:"Actual Loops"`
	Plans       []planNode `json:"Plans"`
	// TargetTables are the partitions an UPDATE or DELETE of a partitioned table writes.
	TargetTables []planNode `json:"Target Tables"`
}

// seedWorkspace is the id of the workspace seed fills.
const seedWorkspace = "00000000-0000-7000-8000-000000000001"

// seed fills one workspace with contacts that have each kind of row a contact can have, and
// gathers statistics so the planner sees the sizes.
func seed(t *testing.T, conn *pgx.Conn) {
	stmts := []string{
		`INSERT INTO workspaces (id, name, default_region) VALUES ('` + seedWorkspace + `', 'plans', 'ID')`,
		`INSERT INTO api_keys (id, workspace_id, secret_hash, name, permissions)
		 SELECT gen_random_uuid(), id, sha256(i::text::bytea), 'key ' || i, '{contacts:read}' FROM workspaces, generate_series(1, 3) AS i`,
		fmt.Sprintf(`INSERT INTO contacts (workspace_id, id, name, name_key, phone_number, email, external_source, external_id)
		 SELECT w.id, ('00000000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid,
		        'Contact ' || i, 'contact ' || i, '+62812' || lpad(i::text, 8, '0'), 'c' || i || '@example.com', 'shopify', 'cust_' || i
		 FROM workspaces w, generate_series(1, %d) AS i`, seedContacts),
		`INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
		 SELECT c.workspace_id, t.type, t.source, t.value, c.id FROM contacts c,
		        LATERAL (VALUES ('phone', '', c.phone_number), ('email', '', c.email), ('external_id', 'shopify', c.external_id),
		                        ('wa_id', '', substr(c.phone_number, 2))) AS t (type, source, value)`,
		`INSERT INTO notes (workspace_id, id, contact_id, body)
		 SELECT workspace_id, gen_random_uuid(), id, 'a note' FROM contacts, generate_series(1, 2)`,
		`INSERT INTO tags (workspace_id, id, name, name_key)
		 SELECT id, gen_random_uuid(), 'tag' || i, 'tag' || i FROM workspaces, generate_series(1, 20) AS i`,
		`INSERT INTO contact_tags (workspace_id, contact_id, tag_id)
		 SELECT c.workspace_id, c.id, t.id FROM contacts c JOIN tags t ON t.name = 'tag' || (1 + abs(hashtext(c.id::text)) % 20)`,
		`INSERT INTO consents (workspace_id, channel, subject_type, subject, contact_id, status, captured_at)
		 SELECT workspace_id, 'whatsapp', 'contact', id::text, id, 'opted_in', now() FROM contacts
		 UNION ALL
		 SELECT workspace_id, 'whatsapp', 'phone', phone_number, id, 'opted_in', now() FROM contacts`,
		`INSERT INTO suppressions (workspace_id, channel, subject_type, subject, contact_id, reason)
		 SELECT workspace_id, 'whatsapp', 'contact', id::text, id, 'manual' FROM contacts
		 UNION ALL
		 SELECT workspace_id, 'whatsapp', 'phone', phone_number, id, 'manual' FROM contacts`,
		`INSERT INTO channels (workspace_id, id, name, platform, credentials)
		 SELECT id, gen_random_uuid(), 'channel ' || i, 'whatsapp_gateway', '\x00' FROM workspaces, generate_series(1, 3) AS i`,
		"ANALYZE",
	}
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("seed: %v\n%s", err, s)
		}
	}
}

// utility tells whether a query is a statement PostgreSQL does not plan (LISTEN), past its comments.
func utility(query string) bool {
	for line := range strings.Lines(query) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		return strings.HasPrefix(strings.ToUpper(line), "LISTEN ")
	}
	return false
}
