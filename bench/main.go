// Command bench is `make bench`: it measures the API over HTTP against PostgreSQL running the very
// same SQL through pgbench, side by side on one machine in one run, and writes docs/BENCHMARKS.md.
//
// Settings come from the environment: BENCH_CONTACTS (default 1,000,000), BENCH_SECONDS per
// scenario (default 10), BENCH_CONCURRENCY (default 16), BENCH_IMPORT (lines of the bulk import,
// default 100,000). With DATABASE_URL it uses that server; otherwise it starts the private one of
// scripts/pg.sh in .data/pg-bench.
package main

import (
	"fmt"
	"os"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "loadgen" {
		err = runLoadgen(os.Args[2:])
	} else {
		var cfg config
		cfg, err = configFromEnv()
		if err == nil {
			_, err = run(cfg)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
