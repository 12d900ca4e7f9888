package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be the load generator too, as the bench binary is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "loadgen" {
		if err := runLoadgen(os.Args[2:]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBenchSmoke runs the whole harness on a few hundred contacts for a second per scenario, so
// that it cannot rot between real runs of make bench. It asserts that every scenario ran on both
// sides without errors and that the CPU of every process was measured, not how fast: timings
// belong to make bench.
func TestBenchSmoke(t *testing.T) {
	admin := os.Getenv("DATABASE_URL")
	if admin == "" {
		t.Fatal("DATABASE_URL is not set: run make test")
	}
	bin := filepath.Join(t.TempDir(), "wazapin")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/wazapin").CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	rows, err := run(config{
		AdminURL: admin, Binary: bin, Contacts: 300, Seconds: 1, Warmup: 200 * time.Millisecond,
		Concurrency: 2, ImportLines: 500, Root: "..", Database: "wazapin_bench_smoke",
		ServerLog: filepath.Join(t.TempDir(), "server.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.Scenario)
		if r.APIRPS <= 0 || r.PGTPS <= 0 || r.Errors != 0 || r.Met == "" {
			t.Errorf("%s: %+v", r.Scenario, r)
		}
		a, p := r.APICPU, r.PGCPU
		if r.Scenario != "bulk_import" && (a.Server <= 0 || a.Postgres <= 0 || a.Client <= 0 || p.Postgres <= 0 || p.Client <= 0) {
			t.Errorf("%s: CPU per request not measured: API %+v, pgbench %+v", r.Scenario, a, p)
		}
	}
	want := "get_by_id resolve_phone resolve_external resolve_3_identifiers reachability_1000 upsert_new upsert_idempotent upsert_existing list_first_page list_deep_page search_worst bulk_import"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("scenarios %s, want %s", got, want)
	}
}
