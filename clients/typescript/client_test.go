// Package typescript_test runs the TypeScript client's tests (test/*.test.ts) against a real
// server, so that `go test ./...` covers the client generated from openapi.yaml: tsc type-checks
// the client and the tests in strict mode (a type error fails), then node runs them.
package typescript_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/servertest"
)

func TestTypeScriptClient(t *testing.T) {
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	requireNode(t)
	installDeps(t, dir)
	trackInputs(t, dir)

	// Type-check before starting the server: tsc compiles src/ and test/ into dist/ and emits
	// nothing when any file has a type error.
	run(t, dir, 3*time.Minute, nil, "node", filepath.Join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", ".")
	sources, err := filepath.Glob(filepath.Join(dir, "test", "*.test.ts"))
	if err != nil || len(sources) == 0 {
		t.Fatalf("no tests under test/ (%v)", err)
	}
	var tests []string // what tsc compiled them to; dist/ may also hold tests deleted since
	for _, src := range sources {
		tests = append(tests, filepath.Join(dir, "dist", "test", strings.TrimSuffix(filepath.Base(src), ".ts")+".js"))
	}

	env := servertest.Start(t)
	run(t, dir, 2*time.Minute, []string{"WAZAPIN_URL=" + env.URL, "WAZAPIN_API_KEY=" + env.Workspace.APIKey},
		"node", append([]string{"--test", "--test-reporter=spec"}, tests...)...)
}

// requireNode fails, rather than skips, when Node.js is missing: the client is part of the
// project and its test must run wherever `make test` does.
func requireNode(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found on PATH: the TypeScript client's test needs Node.js 20 or newer with npm "+
				"(Debian/Ubuntu: apt-get install -y nodejs npm; macOS: brew install node)", tool)
		}
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	version := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		t.Fatalf("node %s is too old: the TypeScript client's test needs Node.js 20 or newer", version)
	}
}

// installDeps runs `npm ci` when node_modules is missing or older than package-lock.json (npm
// writes node_modules/.package-lock.json on every install).
func installDeps(t *testing.T, dir string) {
	t.Helper()
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return
	}
	run(t, dir, 5*time.Minute, nil, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
}

// trackInputs opens the files tsc and node read, so that go test's cache, which sees only what this
// process opens, reruns the test when one of them changes.
func trackInputs(t *testing.T, dir string) {
	t.Helper()
	for _, pattern := range []string{"package.json", "package-lock.json", "tsconfig.json", "src/*.ts", "test/*.ts"} {
		files, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if _, err := os.ReadFile(f); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// run runs a command in dir with extra environment and fails the test with its output when it fails.
func run(t *testing.T, dir string, timeout time.Duration, env []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	if testing.Verbose() {
		t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out.String())
	}
}
