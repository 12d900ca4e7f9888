// Package typescript_test runs the TypeScript client's tests (test/*.test.ts) against a real
// server, so that `go test ./...` covers the client generated from openapi.yaml: tsc type-checks
// the client and the tests in strict mode (a type error fails), then node runs them.
package typescript_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/nodetest"
	"github.com/wazapin/wazapin/internal/servertest"
	"github.com/wazapin/wazapin/internal/testdb"
)

func TestTypeScriptClient(t *testing.T) {
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// Fail, rather than skip, when Node.js is missing: the client is part of the project and its
	// test must run wherever `make test` does.
	if err := nodetest.Check(); err != nil {
		t.Fatal(err)
	}
	nodetest.Install(t, dir)
	nodetest.Track(t, dir, "package.json", "package-lock.json", "tsconfig.json", "src/*.ts", "test/*.ts")

	// Type-check before starting the server: tsc compiles src/ and test/ into dist/ and emits
	// nothing when any file has a type error.
	nodetest.Run(t, dir, 3*time.Minute, nil, "node", filepath.Join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", ".")
	sources, err := filepath.Glob(filepath.Join(dir, "test", "*.test.ts"))
	if err != nil || len(sources) == 0 {
		t.Fatalf("no tests under test/ (%v)", err)
	}
	var tests []string // what tsc compiled them to; dist/ may also hold tests deleted since
	for _, src := range sources {
		tests = append(tests, filepath.Join(dir, "dist", "test", strings.TrimSuffix(filepath.Base(src), ".ts")+".js"))
	}

	// With the standby `make test` starts, the server reads from it and its writes answer
	// consistency tokens, which the client must carry on.
	replicated := os.Getenv(testdb.ReplicaEnv) != ""
	env := servertest.Start(t, func(s *servertest.Setup) {
		if replicated {
			s.ReplicaURLs = []string{testdb.Replica(t, s.DatabaseURL)}
		}
	})
	vars := []string{"WAZAPIN_URL=" + env.URL, "WAZAPIN_API_KEY=" + env.Workspace.APIKey}
	if replicated {
		vars = append(vars, "WAZAPIN_REPLICATED=1")
	}
	nodetest.Run(t, dir, 2*time.Minute, vars,
		"node", append([]string{"--test", "--test-reporter=spec"}, tests...)...)
}
