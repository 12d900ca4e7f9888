// Package testdb gives each test its own PostgreSQL database, cloned in milliseconds from a
// template that is migrated once per schema version. It needs DATABASE_URL to point at a server
// where the role may create databases; `make test` starts such a server when none is given.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/db"
	"github.com/wazapin/wazapin/internal/pg"
)

// templates are the plain template (false) and the partitioned one (true), each prepared once
// per test process.
var templates = map[bool]*struct {
	once sync.Once
	name string
	err  error
}{false: {}, true: {}}

// New returns the URL of a fresh, migrated database that is dropped when the test ends. With
// WAZAPIN_TEST_PARTITIONED=1 in the environment, it is NewPartitioned.
func New(t testing.TB) string {
	t.Helper()
	return clone(t, partitionedWanted())
}

func clone(t testing.TB, partitioned bool) string {
	t.Helper()
	admin := adminURL(t)
	tmpl := templates[partitioned]
	tmpl.once.Do(func() {
		if partitioned {
			tmpl.name, tmpl.err = ensurePartitionedTemplate(admin)
		} else {
			tmpl.name, tmpl.err = ensureTemplate(admin)
		}
	})
	if errors.Is(tmpl.err, errNoPgDump) {
		t.Skip(tmpl.err)
	}
	if tmpl.err != nil {
		t.Fatalf("prepare template database: %v", tmpl.err)
	}
	template := tmpl.name
	ctx := context.Background()
	name := "wazapin_test_" + randomHex(8)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", admin, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, template)); err != nil {
		t.Fatalf("clone template: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// adminURL answers DATABASE_URL, the server the test databases are made on.
func adminURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("DATABASE_URL")
	if admin == "" {
		t.Fatal("DATABASE_URL is not set: run `make test`, which starts a private PostgreSQL, or point DATABASE_URL at a server where you may create databases")
	}
	return admin
}

// ensureTemplate creates the template for the current migrations unless it exists.
func ensureTemplate(admin string) (string, error) {
	return ensure(admin, "wazapin_tmpl_"+migrationsHash(), func(ctx context.Context, conn *pgx.Conn, building string) (string, error) {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
			return "", err
		}
		if err := pg.Migrate(withDatabase(admin, building), 0); err != nil {
			return "", fmt.Errorf("migrate template: %w", err)
		}
		return building, nil
	})
}

// ensure answers the template database name, made by build unless it exists. The name carries a
// hash of the migrations, so a changed schema gets a new template, and test processes running
// side by side agree on it under an advisory lock. build makes it in databases whose names start
// with building (ones a run that died left are dropped first), on the server conn is connected
// to, and answers the one that becomes the template.
func ensure(admin, name string, build func(ctx context.Context, conn *pgx.Conn, building string) (string, error)) (string, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7262010, hashtext($1))", name); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(7262010, hashtext($1))", name) //nolint:errcheck // the connection closes anyway
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", building)
	if err != nil {
		return "", err
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	for _, d := range stale {
		if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{d}.Sanitize())); err != nil {
			return "", err
		}
	}
	made, err := build(ctx, conn, building)
	if err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", made, name)); err != nil {
		return "", err
	}
	return name, nil
}

func migrationsHash() string {
	h := sha256.New()
	_ = fs.WalkDir(db.Migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(db.Migrations, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func withDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(fmt.Sprintf("DATABASE_URL is not a URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ReplicaEnv names the URL of a streaming standby of DATABASE_URL's server, which `make test`
// starts beside its private cluster.
const ReplicaEnv = "WAZAPIN_TEST_REPLICA_URL"

// Replica returns the URL of database dbURL (one New made) on the standby of ReplicaEnv, once
// the standby has replayed its creation. A test that needs a replica skips without one: only a
// DATABASE_URL given from outside comes without it.
func Replica(t testing.TB, dbURL string) string {
	t.Helper()
	base := os.Getenv(ReplicaEnv)
	if base == "" {
		t.Skipf("%s is not set: `make test` starts a standby of its private cluster; with a DATABASE_URL of your own, set it to a streaming standby of that server", ReplicaEnv)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	replica := withDatabase(base, u.Path[1:])
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, replica)
		if err == nil {
			conn.Close(ctx)
			return replica
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby at %s did not show database %s within 30s: %v", base, u.Path[1:], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
