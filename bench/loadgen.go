package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// loadResult is what one load-generator run reports.
type loadResult struct {
	Requests    int     `json:"requests"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	Errors      int     `json:"errors"`
	ErrorSample string  `json:"error_sample,omitempty"`
}

// runLoadgen is the load generator, run in its own process: a closed loop of c workers, each
// sending its next request as soon as the last one answered, for warmup and then duration.
func runLoadgen(args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	url := fs.String("url", "", "server URL")
	key := fs.String("key", "", "API key")
	name := fs.String("scenario", "", "scenario name")
	c := fs.Int("c", 16, "concurrency")
	warmup := fs.Duration("warmup", 2*time.Second, "warm-up")
	duration := fs.Duration("duration", 10*time.Second, "measured time")
	var p params
	fs.IntVar(&p.n, "n", 0, "contacts seeded")
	fs.Int64Var(&p.base, "base", 0, "id base")
	fs.IntVar(&p.deep, "deep", 0, "deep cursor index")
	if err := fs.Parse(args); err != nil {
		return err
	}
	i := slices.IndexFunc(scenarios(), func(s scenario) bool { return s.name == *name })
	if i < 0 {
		return fmt.Errorf("unknown scenario %q", *name)
	}
	sc := scenarios()[i]
	addr := strings.TrimPrefix(*url, "http://")

	var (
		mu        sync.Mutex
		latencies []time.Duration
		errors    int
		sample    string
	)
	start := time.Now()
	nonce := start.UnixNano() // keys of this run differ from every other run's
	measureFrom := start.Add(*warmup)
	end := measureFrom.Add(*duration)
	var wg sync.WaitGroup
	for w := range *c {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w)+1, uint64(time.Now().UnixNano())))
			st := &workerState{worker: w}
			cl := &conn{addr: addr}
			defer cl.close()
			var mine []time.Duration
			var errs int
			var firstErr string
			for {
				method, path, body, okStatus := sc.request(r, st, p)
				var header string
				if sc.keyed {
					header = fmt.Sprintf("Idempotency-Key: %d-%d-%d", nonce, w, st.counter)
				}
				t0 := time.Now()
				status, err := cl.do(method, path, *key, header, body)
				t1 := time.Now()
				if t1.After(end) {
					break
				}
				// Counted by when it ends, as pgbench counts: dropping the ones that began in
				// the warm-up lost one a worker, nothing at thousands a second but a large share
				// of requests that take seconds.
				if t1.Before(measureFrom) {
					continue
				}
				mine = append(mine, t1.Sub(t0))
				if err != nil || !slices.Contains(okStatus, status) {
					errs++
					if firstErr == "" {
						firstErr = fmt.Sprintf("%s %s: status %d %v", method, path, status, err)
					}
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			errors += errs
			if sample == "" {
				sample = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(latencies)
	// The rate counts the requests that succeeded: a request that timed out is no throughput.
	res := loadResult{Requests: len(latencies), RPS: float64(len(latencies)-errors) / duration.Seconds(), Errors: errors, ErrorSample: sample}
	if len(latencies) > 0 {
		res.P50ms = ms(latencies[len(latencies)/2])
		res.P99ms = ms(latencies[len(latencies)*99/100])
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
