package testdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wazapin/wazapin/db"
	"github.com/wazapin/wazapin/internal/pg"
)

// The partitioned template is the single-node analogue of distributing the schema by workspace
// (Citus): every table holding workspace data is hash-partitioned by workspace_id, so a statement
// that names one workspace touches one partition, as on Citus it would touch one shard. Tests that
// pass on the plain template and on this one do not depend on a workspace's rows sharing a table
// with other workspaces' rows.

// Partitions is how many hash partitions the partitioned template splits each workspace table into.
const Partitions = 8

// ReferenceTables are the tables with a workspace_id that are not split by it, and why. The
// partitioned template leaves them whole; distributed, they are copied to every node.
var ReferenceTables = map[string]string{
	"api_keys": "a key is found by its id before its workspace is known; small and read through a cache, it is a reference table when distributed",
}

// PartitionedEnv is the environment variable that makes New hand out databases cloned from the
// partitioned template (`make test` runs internal/server's tests a second time with it set).
const PartitionedEnv = "WAZAPIN_TEST_PARTITIONED"

// NewPartitioned is New on a template whose workspace tables are hash-partitioned by workspace_id
// into Partitions partitions each. It skips the test where pg_dump, which builds that template,
// is not installed.
func NewPartitioned(t testing.TB) string {
	t.Helper()
	return clone(t, true)
}

func partitionedWanted() bool {
	v := os.Getenv(PartitionedEnv)
	return v != "" && v != "0"
}

// ensurePartitionedTemplate creates the partitioned template for the current migrations unless
// it exists. The migrations are applied one at a time, and after each that leaves a workspace
// table unpartitioned the database is dumped and reloaded with that table partitioned: so every
// later migration (an ALTER TABLE, a new index, a data fix) runs against partitioned tables, as
// it would against distributed ones.
func ensurePartitionedTemplate(admin string) (string, error) {
	pgDump, err := findPgDump()
	if err != nil {
		return "", err
	}
	// The name tells the layout too: a template with other reference tables is another one.
	layout := sha256.Sum256(fmt.Appendf(nil, "%d %v", Partitions, slices.Sorted(maps.Keys(ReferenceTables))))
	name := "wazapin_tmpl_part_" + migrationsHash() + "_" + hex.EncodeToString(layout[:])[:6]
	return ensure(admin, name, func(ctx context.Context, conn *pgx.Conn, building string) (string, error) {
		step := 0
		current := func() string { return fmt.Sprintf("%s%d", building, step) }
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+current()); err != nil {
			return "", err
		}
		for latest := db.LatestMigration(); ; {
			from := withDatabase(admin, current())
			version, err := schemaVersion(ctx, from)
			if err != nil || version >= latest {
				return current(), err
			}
			if err := pg.Migrate(from, 1); err != nil {
				return "", fmt.Errorf("migration after %d, on partitioned tables: %w", version, err)
			}
			tables, err := unpartitioned(ctx, from)
			if err != nil {
				return "", err
			}
			if len(tables) == 0 {
				continue
			}
			step++
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+current()); err != nil {
				return "", err
			}
			if err := partition(ctx, pgDump, from, withDatabase(admin, current()), tables); err != nil {
				return "", fmt.Errorf("after migration %d: %w", version+1, err)
			}
			if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE %s%d WITH (FORCE)", building, step-1)); err != nil {
				return "", err
			}
		}
	})
}

// schemaVersion answers the migration the database at url is at, 0 before the first.
func schemaVersion(ctx context.Context, url string) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var version int64
	var dirty bool
	err = conn.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err == nil && dirty {
		err = fmt.Errorf("migration %d failed half-way", version)
	}
	return version, err
}

// unpartitioned answers the tables of the database at url that hold workspace data (they have a
// workspace_id column and are not reference tables) and are not partitioned yet, each as
// pg_dump writes its name.
func unpartitioned(ctx context.Context, url string) (map[string]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT c.relispartition AND NOT c.relname = ANY ($1)
		  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped)`,
		slices.Collect(maps.Keys(ReferenceTables)))
	if err != nil {
		return nil, err
	}
	tables := map[string]string{}
	for rows.Next() {
		var name, qualified string
		if err := rows.Scan(&name, &qualified); err != nil {
			return nil, err
		}
		tables[qualified] = name
	}
	return tables, rows.Err()
}

// partition dumps the database at from and loads it into the empty database at to, with each
// table of tables (qualified name → name) hash-partitioned by workspace_id. Its keys, indexes,
// foreign keys and defaults are created on the partitioned table, which passes them on to the
// partitions. A table PostgreSQL cannot partition so (a unique key without workspace_id) fails
// the load, and the error names it.
func partition(ctx context.Context, pgDump, from, to string, tables map[string]string) error {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, pgDump, "--no-owner", "--no-privileges", "--inserts", "--dbname", from)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_dump: %w: %s", err, stderr.String())
	}
	entries, err := rewrite(stdout.String(), tables)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, to)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, e := range entries {
		// Without arguments Exec sends the entry as one simple query, several statements and all.
		if _, err := conn.Exec(ctx, e.sql); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Detail != "" {
				err = fmt.Errorf("%w (%s)", err, pgErr.Detail)
			}
			return fmt.Errorf("partitioning %s: %s: %w\n%s", strings.Join(slices.Sorted(maps.Values(tables)), ", "), e.title, err, statements(e.sql))
		}
	}
	return nil
}

// entry is one item of pg_dump's table of contents: its "Name: …; Type: …" title and its SQL.
type entry struct{ title, sql string }

// entryTitle is the comment pg_dump writes before each item.
var entryTitle = regexp.MustCompile(`(?m)^-- (?:Data for )?Name: .*$`)

// createTable matches pg_dump's CREATE TABLE of one table: a column per line, closed by ");"
// on a line of its own. Anything between the columns and the semicolon (storage parameters,
// a tablespace) does not match, and the rewrite refuses the table rather than drop it.
const createTable = `(?s)CREATE (UNLOGGED )?TABLE %s \(\n(.*?)\n\);\n`

// rewrite splits pg_dump's plain-format output into its entries, with the tables of tables
// (qualified name → name) hash-partitioned by workspace_id and psql's meta-commands left out.
func rewrite(dump string, tables map[string]string) ([]entry, error) {
	var lines []string
	for line := range strings.Lines(dump) {
		if !strings.HasPrefix(line, `\`) { // \restrict and \unrestrict: psql's, not SQL
			lines = append(lines, line)
		}
	}
	dump = strings.Join(lines, "")
	starts := entryTitle.FindAllStringIndex(dump, -1)
	entries := []entry{{title: "settings", sql: dump[:starts[0][0]]}}
	for i, s := range starts {
		end := len(dump)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		entries = append(entries, entry{title: dump[s[0]+3 : s[1]], sql: dump[s[1]:end]})
	}
	created := map[string]bool{}
	for i, e := range entries {
		for qualified, name := range tables {
			// Keys, foreign keys, defaults: on the partitioned table and so on every partition.
			e.sql = strings.ReplaceAll(e.sql, "ALTER TABLE ONLY "+qualified+"\n", "ALTER TABLE "+qualified+"\n")
			e.sql = strings.ReplaceAll(e.sql, "ALTER TABLE ONLY "+qualified+" ", "ALTER TABLE "+qualified+" ")
			if !strings.HasSuffix(e.title, "; Type: TABLE; Schema: public; Owner: -") {
				continue
			}
			re := regexp.MustCompile(fmt.Sprintf(createTable, regexp.QuoteMeta(qualified)))
			m := re.FindStringSubmatchIndex(e.sql)
			if m == nil {
				if strings.Contains(e.sql, "TABLE "+qualified+" (") {
					return nil, fmt.Errorf("table %s: pg_dump's CREATE TABLE has clauses the partitioner does not know:\n%s", name, statements(e.sql))
				}
				continue
			}
			// PostgreSQL 15 refuses an unlogged partitioned table; its partitions may be unlogged.
			unlogged := ""
			if m[2] >= 0 {
				unlogged = e.sql[m[2]:m[3]]
			}
			columns := e.sql[m[4]:m[5]]
			var b strings.Builder
			fmt.Fprintf(&b, "CREATE TABLE %s (\n%s\n) PARTITION BY HASH (workspace_id);\n", qualified, columns)
			schema, _, _ := strings.Cut(qualified, ".")
			for r := range Partitions {
				part := fmt.Sprintf("%s.%s", schema, pgx.Identifier{fmt.Sprintf("%s_p%d", name, r)}.Sanitize())
				fmt.Fprintf(&b, "CREATE %sTABLE %s PARTITION OF %s FOR VALUES WITH (modulus %d, remainder %d);\n", unlogged, part, qualified, Partitions, r)
			}
			e.sql = e.sql[:m[0]] + b.String() + e.sql[m[1]:]
			created[name] = true
		}
		entries[i] = e
	}
	for _, name := range tables {
		if !created[name] {
			return nil, fmt.Errorf("table %s: no CREATE TABLE for it in pg_dump's output", name)
		}
	}
	return entries, nil
}

// statements is an entry's SQL without its comment and blank lines, for an error message.
func statements(sql string) string {
	var b strings.Builder
	for line := range strings.Lines(sql) {
		if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "--") {
			b.WriteString(line)
		}
	}
	return strings.TrimSpace(b.String())
}

// findPgDump finds pg_dump where scripts/pg.sh finds the server's programs: beside pg_config's
// answer, in Debian's /usr/lib/postgresql/N/bin, or on PATH.
func findPgDump() (string, error) {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(debian, func(a, b string) int { return versionOf(b) - versionOf(a) })
	dirs = append(dirs, debian...)
	for _, d := range dirs {
		if p := filepath.Join(d, "pg_dump"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return p, nil
	}
	return "", errNoPgDump
}

var errNoPgDump = errors.New("pg_dump not found (pg_config --bindir, /usr/lib/postgresql/*/bin, PATH): the partitioned template is built with it; install PostgreSQL's client programs")

func versionOf(bindir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return v
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}
