package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCommittedFilesAreCurrent fails when db/migrations does not hold exactly what rivergen
// would write for the River version in go.mod: after a River upgrade, run make generate.
func TestCommittedFilesAreCurrent(t *testing.T) {
	const dir = "../migrations"
	files, stale, err := plan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("River has no migrations")
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%v: run make generate", err)
		} else if string(got) != want {
			t.Errorf("%s differs from what db/rivergen writes: run make generate", name)
		}
	}
	for _, name := range stale {
		t.Errorf("%s is no longer one of River's migrations: run make generate", name)
	}
}

// TestSqlcReadsOurMigrations checks that sqlc.yaml's schema list takes in every migration of
// ours and none of River's.
func TestSqlcReadsOurMigrations(t *testing.T) {
	const root = "../.."
	cfg, err := os.ReadFile(filepath.Join(root, "sqlc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	list := regexp.MustCompile(`(?m)^\s*schema:\s*\[(.*)\]`).FindSubmatch(cfg)
	if list == nil {
		t.Fatal("sqlc.yaml has no schema: [...] line")
	}
	read := map[string]bool{}
	for _, pattern := range strings.Split(string(list[1]), ",") {
		// sqlc expands a pattern with filepath.Glob and takes a directory's files.
		matches, err := filepath.Glob(filepath.Join(root, strings.Trim(strings.TrimSpace(pattern), `"'`)))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			read[filepath.Base(m)] = true
			if entries, err := os.ReadDir(m); err == nil {
				for _, e := range entries {
					read[e.Name()] = true
				}
			}
		}
	}
	entries, err := os.ReadDir("../migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".up.sql") {
			continue
		}
		switch ours := !riverFile.MatchString(name); {
		case ours && !read[name]:
			t.Errorf("sqlc.yaml's schema list leaves out %s, a migration of ours", name)
		case !ours && read[name]:
			t.Errorf("sqlc.yaml's schema list takes in %s, one of River's", name)
		}
	}
}
