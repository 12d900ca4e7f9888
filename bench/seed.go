package main

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// seedTables are the tables the seed fills. Their primary keys, unique constraints, indexes and
// foreign keys (theirs and those that point at them) are dropped while they fill, then made again
// from the definitions the catalog held: building an index once over sorted rows, and checking a
// foreign key with one join, takes minutes at ten million contacts where keeping them up row by
// row took most of an hour. The bench then runs on exactly the migrations' schema.
var seedTables = []string{"contacts", "contact_identities", "notes", "tags", "contact_tags", "suppressions", "consents"}

// seedWorkers is how many connections fill the tables and build the indexes at once: one a core
// of the machine this was written on; more only queue behind each other.
const seedWorkers = 2

// seedStats is what the seed reports: its phases and their times, the data directory's largest
// size while it ran, and the sizes it left.
type seedStats struct {
	Total    time.Duration
	Phases   []seedPhase
	PeakDisk int64 // bytes of the cluster's data directory, sampled while seeding; 0 when unknown
	Sizes    sizes
}

type seedPhase struct {
	Name string
	Time time.Duration
}

// schemaObject is a key, index or foreign key of a seeded table, as the catalog defines it.
type schemaObject struct {
	kind  string // "p" primary key, "u" unique, "x" exclusion, "f" foreign key, "i" index
	table string // the table it is declared on
	name  string
	def   string // the constraint's definition, or the whole CREATE INDEX statement
}

func (o schemaObject) drop() string {
	if o.kind == "i" {
		return "DROP INDEX " + o.name
	}
	return "ALTER TABLE " + o.table + " DROP CONSTRAINT " + pgx.Identifier{o.name}.Sanitize()
}

func (o schemaObject) create() string {
	if o.kind == "i" {
		return o.def
	}
	return "ALTER TABLE " + o.table + " ADD CONSTRAINT " + pgx.Identifier{o.name}.Sanitize() + " " + o.def
}

// schemaObjects reads the keys, indexes and foreign keys of tables (and the foreign keys of
// other tables that reference them), sorted so that two readings compare.
func schemaObjects(ctx context.Context, conn *pgx.Conn, tables []string) ([]schemaObject, error) {
	rows, err := conn.Query(ctx, `
		SELECT c.contype::text, c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid)
		FROM pg_constraint c
		WHERE c.contype IN ('p', 'u', 'x', 'f')
		  AND (c.conrelid = ANY ($1::regclass[]) OR c.confrelid = ANY ($1::regclass[]))
		UNION ALL
		SELECT 'i', i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		WHERE i.indrelid = ANY ($1::regclass[])
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
		ORDER BY 1, 2, 3`, tables)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (schemaObject, error) {
		var o schemaObject
		err := r.Scan(&o.kind, &o.table, &o.name, &o.def)
		return o, err
	})
}

// seed fills the workspace with contacts whose ids, phones, emails and external ids follow from
// their index, so both load generators can draw hits and misses without a lookup. The rows are
// made by the server (INSERT … SELECT over generate_series, nothing crosses the wire) into tables
// stripped of their keys and indexes, which are then built once, as a COPY into empty tables
// followed by CREATE INDEX would; then VACUUM ANALYZE leaves the tables as autovacuum would
// after a while: statistics, hint bits and visibility map set.
func seed(ctx context.Context, dbURL, ws string, p params) (seedStats, error) {
	var st seedStats
	t0 := time.Now()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return st, err
	}
	defer conn.Close(ctx)

	stopDisk := watchDisk(ctx, conn)
	defer func() {
		if stopDisk != nil {
			stopDisk()
		}
	}()
	phase := func(name string, t time.Time) {
		d := time.Since(t)
		st.Phases = append(st.Phases, seedPhase{name, d})
		logf("seed: %s in %s", name, d.Round(100*time.Millisecond))
	}

	// Tables of an older schema (BENCH_BINARY of a build that predates them) are skipped.
	var tables []string
	if err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(t ORDER BY o), '{}') FROM unnest($1::text[]) WITH ORDINALITY AS u (t, o)
		WHERE to_regclass(t) IS NOT NULL`, seedTables).Scan(&tables); err != nil {
		return st, err
	}
	has := func(t string) bool { return slices.Contains(tables, t) }

	for _, s := range []string{
		`CREATE FUNCTION bench_id(base bigint, i bigint) RETURNS uuid IMMUTABLE LANGUAGE sql AS
		 $$ SELECT (lpad(to_hex(base + i), 12, '0') || '70008000' || lpad(to_hex(i), 12, '0'))::uuid $$`,
		// A time-ordered id like the server's UUIDv7, for rows pgbench inserts.
		`CREATE FUNCTION bench_new_id() RETURNS uuid VOLATILE LANGUAGE sql AS
		 $$ SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7'
		    || lpad(to_hex((random() * 4095)::int), 3, '0') || '8'
		    || lpad(to_hex((random() * 4095)::int), 3, '0') || lpad(to_hex((random() * 281474976710655)::bigint), 12, '0'))::uuid $$`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return st, err
		}
	}

	t := time.Now()
	objects, err := schemaObjects(ctx, conn, tables)
	if err != nil {
		return st, err
	}
	// Foreign keys go first (they depend on the keys they reference), then keys and indexes.
	byKind := func(kinds string) []schemaObject {
		var out []schemaObject
		for _, o := range objects {
			if strings.Contains(kinds, o.kind) {
				out = append(out, o)
			}
		}
		return out
	}
	fks, keys := byKind("f"), byKind("pux")
	indexes := byKind("i")
	for _, o := range slices.Concat(fks, keys, indexes) {
		if _, err := conn.Exec(ctx, o.drop()); err != nil {
			return st, fmt.Errorf("%s: %w", o.drop(), err)
		}
	}
	phase(fmt.Sprintf("dropped %d keys, %d indexes and %d foreign keys", len(keys), len(indexes), len(fks)), t)

	// The rows, heaviest statements first so that the two connections finish together.
	t = time.Now()
	var fills []string
	fills = append(fills,
		fmt.Sprintf(`INSERT INTO contacts (workspace_id, id, name, name_key, phone_number, email, external_source, external_id, custom_fields)
		 SELECT '%[1]s', bench_id(%[2]d, i), 'Contact ' || i, 'contact ' || i, '+62812' || lpad(i::text, 8, '0'),
		        'c' || i || '@example.com', 'shopify', 'cust_' || i, '{"tier": "gold"}'
		 FROM generate_series(1, %[3]d) AS i`, ws, p.base, p.n))
	// A contact's three identities side by side, as the server writes them: the heap's order
	// decides what walking the (workspace_id, contact_id) index costs, and so search plans.
	fills = append(fills, fmt.Sprintf(`INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
		 SELECT '%[1]s', t.type, t.source, t.value, bench_id(%[2]d, i)
		 FROM generate_series(1, %[3]d) AS i,
		      LATERAL (VALUES ('phone', '', '+62812' || lpad(i::text, 8, '0')), ('email', '', 'c' || i || '@example.com'),
		                      ('external_id', 'shopify', 'cust_' || i)) AS t (type, source, value)`, ws, p.base, p.n))
	fills = append(fills,
		fmt.Sprintf(`INSERT INTO contact_tags (workspace_id, contact_id, tag_id)
		 SELECT '%[1]s', bench_id(%[2]d, i), bench_id(%[2]d + 2000000000000, 1 + i %% 10) FROM generate_series(1, %[3]d) AS i`, ws, p.base, p.n),
		fmt.Sprintf(`INSERT INTO notes (workspace_id, id, contact_id, body)
		 SELECT '%[1]s', bench_id(%[2]d + 1000000000000, i), bench_id(%[2]d, i), 'Note about contact ' || i
		 FROM generate_series(1, %[3]d, 10) AS i`, ws, p.base, p.n),
		fmt.Sprintf(`INSERT INTO tags (workspace_id, id, name, name_key)
		 SELECT '%[1]s', bench_id(%[2]d + 2000000000000, t), 'tag' || t, 'tag' || t FROM generate_series(1, 10) AS t`, ws, p.base))
	// Opt-outs, for reachability: every tenth contact suppressed on WhatsApp (kept against the
	// contact and its number), every fifth opted in.
	if has("suppressions") && has("consents") {
		fills = append(fills,
			fmt.Sprintf(`INSERT INTO suppressions (workspace_id, channel, subject_type, subject, contact_id, reason)
			 SELECT '%[1]s', 'whatsapp', t.type, t.subject, bench_id(%[2]d, i), 'unsubscribed'
			 FROM generate_series(10, %[3]d, 10) AS i,
			      LATERAL (VALUES ('contact', bench_id(%[2]d, i)::text), ('phone', '+62812' || lpad(i::text, 8, '0'))) AS t (type, subject)`, ws, p.base, p.n),
			fmt.Sprintf(`INSERT INTO consents (workspace_id, channel, subject_type, subject, contact_id, status, captured_at)
			 SELECT '%[1]s', 'whatsapp', t.type, t.subject, bench_id(%[2]d, i), 'opted_in', now()
			 FROM generate_series(5, %[3]d, 10) AS i,
			      LATERAL (VALUES ('contact', bench_id(%[2]d, i)::text), ('phone', '+62812' || lpad(i::text, 8, '0'))) AS t (type, subject)`, ws, p.base, p.n))
	}
	if err := runParallel(ctx, dbURL, fills); err != nil {
		return st, err
	}
	phase("filled the tables", t)

	// Keys and indexes, the largest tables' first; then the foreign keys, each checked by one join.
	t = time.Now()
	var builds []string
	for _, table := range []string{"contact_identities", "contacts", "contact_tags", "suppressions", "consents", "notes"} {
		for _, o := range slices.Concat(keys, indexes) {
			if o.table == table {
				builds = append(builds, o.create())
			}
		}
	}
	for _, o := range slices.Concat(keys, indexes) {
		if !slices.Contains(builds, o.create()) {
			builds = append(builds, o.create())
		}
	}
	if err := runParallel(ctx, dbURL, builds); err != nil {
		return st, err
	}
	phase("built the keys and indexes", t)
	t = time.Now()
	var checks []string
	for _, o := range fks {
		checks = append(checks, o.create())
	}
	if err := runParallel(ctx, dbURL, checks); err != nil {
		return st, err
	}
	phase("added and checked the foreign keys", t)

	after, err := schemaObjects(ctx, conn, tables)
	if err != nil {
		return st, err
	}
	if !slices.Equal(objects, after) {
		return st, fmt.Errorf("the seed left the schema changed:\nbefore %v\nafter  %v", objects, after)
	}

	t = time.Now()
	var vacuums []string
	for _, table := range slices.Concat([]string{"contact_identities", "contacts", "contact_tags"}, tables) {
		if s := "VACUUM (ANALYZE) " + table; !slices.Contains(vacuums, s) {
			vacuums = append(vacuums, s)
		}
	}
	if err := runParallel(ctx, dbURL, vacuums); err != nil {
		return st, err
	}
	phase("vacuumed and analyzed", t)

	st.Total = time.Since(t0)
	st.PeakDisk, stopDisk = stopDisk(), nil
	st.Sizes, err = measureSizes(ctx, conn, tables, p.n)
	return st, err
}

// runParallel runs statements on seedWorkers connections, each taking the next statement when
// its last one is done, and answers the first error.
func runParallel(ctx context.Context, dbURL string, stmts []string) error {
	next := make(chan string, len(stmts))
	for _, s := range stmts {
		next <- s
	}
	close(next)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(seedWorkers, len(stmts)) {
		wg.Go(func() {
			err := func() error {
				conn, err := pgx.Connect(ctx, dbURL)
				if err != nil {
					return err
				}
				defer conn.Close(ctx)
				// Sorts for index builds in memory where they fit; one process a core already.
				for _, s := range []string{"SET maintenance_work_mem = '1GB'", "SET max_parallel_maintenance_workers = 0", "SET jit = off"} {
					if _, err := conn.Exec(ctx, s); err != nil {
						return err
					}
				}
				for s := range next {
					if _, err := conn.Exec(ctx, s); err != nil {
						return fmt.Errorf("%s: %w", strings.Join(strings.Fields(s), " "), err)
					}
				}
				return nil
			}()
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return first
}

// watchDisk samples the size of the cluster's data directory every two seconds until the
// returned func is called, which answers the largest; it measures nothing (0) when the
// directory is not on this machine or not readable.
func watchDisk(ctx context.Context, conn *pgx.Conn) func() int64 {
	var dir string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dir); err != nil || dirSize(dir) == 0 {
		return func() int64 { return 0 }
	}
	return watchPeak(2*time.Second, func() int64 { return dirSize(dir) })
}

// dirSize is the bytes of the files under dir (0 when it cannot be read).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // files come and go (WAL segments, temporary sort files)
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// sizes are the seeded tables and indexes on disk, and the database's and its data directory's
// size, right after the seed.
type sizes struct {
	Contacts int
	Tables   []tableSize
	Indexes  []indexSize
	Database int64
	DataDir  int64 // the whole cluster's directory, WAL included; 0 when unknown
}

type tableSize struct {
	Name                 string
	Rows                 int64
	Heap, Indexes, Total int64 // pg_table_size (heap, TOAST, free space and visibility maps), pg_indexes_size, pg_total_relation_size
}

type indexSize struct {
	Table, Name string
	Bytes       int64
}

func measureSizes(ctx context.Context, conn *pgx.Conn, tables []string, contacts int) (sizes, error) {
	s := sizes{Contacts: contacts}
	rows, err := conn.Query(ctx, `
		SELECT c.relname::text, c.reltuples::bigint, pg_table_size(c.oid), pg_indexes_size(c.oid), pg_total_relation_size(c.oid)
		FROM pg_class c WHERE c.oid = ANY ($1::regclass[]) ORDER BY pg_total_relation_size(c.oid) DESC`, tables)
	if err != nil {
		return s, err
	}
	s.Tables, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (tableSize, error) {
		var t tableSize
		err := r.Scan(&t.Name, &t.Rows, &t.Heap, &t.Indexes, &t.Total)
		return t, err
	})
	if err != nil {
		return s, err
	}
	rows, err = conn.Query(ctx, `
		SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_relation_size(i.indexrelid)
		FROM pg_index i WHERE i.indrelid = ANY ($1::regclass[]) ORDER BY 3 DESC`, tables)
	if err != nil {
		return s, err
	}
	s.Indexes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (indexSize, error) {
		var i indexSize
		err := r.Scan(&i.Table, &i.Name, &i.Bytes)
		return i, err
	})
	if err != nil {
		return s, err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&s.Database); err != nil {
		return s, err
	}
	var dir string
	if conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dir) == nil {
		s.DataDir = dirSize(dir)
	}
	return s, nil
}
