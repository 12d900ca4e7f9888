// Command rivergen writes River's database migrations into db/migrations as golang-migrate
// files, one file pair per River version, so that `wazapin migrate up` creates River's tables
// along with ours and `migrate down` rolls them back one version at a time.
//
// `make generate` runs it (through the go:generate line in db/embed.go). Its test fails when the
// committed files differ from what it would write, which is how a River upgrade gets noticed.
//
// Each file is River's own SQL for that version with River's schema placeholder removed (our
// tables live in the connection's default schema), followed by the row rivermigrate itself would
// add to or remove from river_migration, so River's migrator sees the versions as applied.
// A River version keeps the number it was first given; a new one gets the next free number.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

func main() {
	dir := flag.String("dir", "migrations", "the golang-migrate directory")
	flag.Parse()
	files, stale, err := plan(*dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(*dir, name)); err != nil {
			log.Fatal(err)
		}
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(*dir, name), []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

var (
	migrationFile = regexp.MustCompile(`^(\d+)_.*\.(up|down)\.sql$`)
	riverFile     = regexp.MustCompile(`^(\d+)_river_(\d+)_.*\.(up|down)\.sql$`)
)

// The placeholder River's SQL carries where rivermigrate writes a schema name and a dot.
const schemaPlaceholder = "/* TEMPLATE: schema */"

// plan answers the River files dir should hold (name → text) and the River files in it that
// would no longer be written (a version River renamed).
func plan(dir string) (files map[string]string, stale []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	numbers := map[int]int{} // River version → migration number
	last := 0
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		last = max(last, n)
		if r := riverFile.FindStringSubmatch(e.Name()); r != nil {
			v, _ := strconv.Atoi(r[2])
			numbers[v] = n
		}
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return nil, nil, err
	}
	versions := migrator.AllVersions()
	slices.SortFunc(versions, func(a, b rivermigrate.Migration) int { return cmp.Compare(a.Version, b.Version) })
	files = map[string]string{}
	for _, v := range versions {
		n, ok := numbers[v.Version]
		if !ok {
			last++
			n = last
		}
		base := fmt.Sprintf("%06d_river_%d_%s", n, v.Version, strings.ReplaceAll(v.Name, " ", "_"))
		up, err := text(v, "up", v.SQLUp, bookkeeping(v.Version, "up"))
		if err != nil {
			return nil, nil, err
		}
		down, err := text(v, "down", v.SQLDown, bookkeeping(v.Version, "down"))
		if err != nil {
			return nil, nil, err
		}
		files[base+".up.sql"], files[base+".down.sql"] = up, down
	}
	for _, e := range entries {
		if _, keep := files[e.Name()]; !keep && riverFile.MatchString(e.Name()) {
			stale = append(stale, e.Name())
		}
	}
	return files, stale, nil
}

func text(v rivermigrate.Migration, direction, sql, record string) (string, error) {
	sql = strings.TrimSpace(strings.ReplaceAll(sql, schemaPlaceholder, ""))
	if strings.Contains(sql, "/* TEMPLATE") {
		return "", fmt.Errorf("River's migration %d (%s) has a template placeholder other than the schema", v.Version, direction)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- River's migration %d (%s), %s: written by db/rivergen (make generate) from\n", v.Version, v.Name, direction)
	b.WriteString("-- rivermigrate's AllVersions, without River's schema placeholder. Do not edit by hand.\n\n")
	b.WriteString(sql)
	b.WriteString("\n")
	if record != "" {
		b.WriteString("\n-- River's record of its applied versions, kept as rivermigrate keeps it.\n")
		b.WriteString(record + "\n")
	}
	return b.String(), nil
}

// bookkeeping is the statement rivermigrate runs after a version's SQL, in the same transaction.
// river_migration has no line column before version 5 (its up adds it, its down takes it
// away), and version 1's down drops the table, leaving nothing to delete from.
func bookkeeping(version int, direction string) string {
	const lineAdded = 5
	switch {
	case direction == "up" && version < lineAdded:
		return fmt.Sprintf("INSERT INTO river_migration (version) VALUES (%d);", version)
	case direction == "up":
		return fmt.Sprintf("INSERT INTO river_migration (line, version) VALUES ('main', %d);", version)
	case version == 1:
		return ""
	case version <= lineAdded:
		return fmt.Sprintf("DELETE FROM river_migration WHERE version = %d;", version)
	default:
		return fmt.Sprintf("DELETE FROM river_migration WHERE line = 'main' AND version = %d;", version)
	}
}
