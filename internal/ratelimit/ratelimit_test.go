package ratelimit_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/ratelimit"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     ratelimit.Limit
		wantErr  string
	}{
		{"default", "100/s burst 200", ratelimit.Limit{PerSecond: 100, Burst: 200}, ""},
		{"fraction", "0.5/s burst 5", ratelimit.Limit{PerSecond: 0.5, Burst: 5}, ""},
		{"spaces and case", "  50/S   BURST 100 ", ratelimit.Limit{PerSecond: 50, Burst: 100}, ""},
		{"largest", "1000000/s burst 1000000", ratelimit.Limit{PerSecond: 1e6, Burst: 1e6}, ""},
		{"smallest", "0.01/s burst 1", ratelimit.Limit{PerSecond: 0.01, Burst: 1}, ""},
		{"off", "off", ratelimit.Limit{}, ""},
		{"OFF", "OFF", ratelimit.Limit{}, ""},
		{"empty", "", ratelimit.Limit{}, "must be"},
		{"no burst", "100/s", ratelimit.Limit{}, "must be"},
		{"no unit", "100 burst 200", ratelimit.Limit{}, "rate"},
		{"per minute", "100/m burst 200", ratelimit.Limit{}, "rate"},
		{"zero rate", "0/s burst 200", ratelimit.Limit{}, "rate"},
		{"negative rate", "-1/s burst 200", ratelimit.Limit{}, "rate"},
		{"NaN rate", "NaN/s burst 200", ratelimit.Limit{}, "rate"},
		{"rate too high", "1000001/s burst 200", ratelimit.Limit{}, "rate"},
		{"zero burst", "100/s burst 0", ratelimit.Limit{}, "burst"},
		{"fractional burst", "100/s burst 2.5", ratelimit.Limit{}, "burst"},
		{"burst too high", "100/s burst 1000001", ratelimit.Limit{}, "burst"},
		{"comma", "100/s, burst 200", ratelimit.Limit{}, "rate"},
		{"extra word", "100/s burst 200 please", ratelimit.Limit{}, "must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ratelimit.Parse(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "100/s burst 200") {
					t.Fatalf("Parse(%q) = %v, %v; want an error about %q showing the syntax", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if back, err := ratelimit.Parse(got.String()); err != nil || back != got {
				t.Errorf("Parse(%q.String() = %q) = %v, %v", tc.in, got.String(), back, err)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit ratelimit.Limit
		want  string
	}{
		{"default", ratelimit.Limit{PerSecond: 100, Burst: 200}, `"default";q=200;w=2`},
		{"one second", ratelimit.Limit{PerSecond: 10, Burst: 10}, `"default";q=10;w=1`},
		{"window rounded up", ratelimit.Limit{PerSecond: 3, Burst: 10}, `"default";q=10;w=4`},
		{"burst below the rate", ratelimit.Limit{PerSecond: 1000, Burst: 100}, `"default";q=100;w=1`},
		{"slow", ratelimit.Limit{PerSecond: 0.01, Burst: 1}, `"default";q=1;w=100`},
		{"huge", ratelimit.Limit{PerSecond: 1e6, Burst: 1e6}, `"default";q=1000000;w=1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.limit.Policy("default"); got != tc.want {
				t.Errorf("Policy = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestResultHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    ratelimit.Result
		want string
	}{
		{"full", ratelimit.Result{Allowed: true, Remaining: 200, Reset: 0}, `"default";r=200;t=0`},
		{"drawn", ratelimit.Result{Allowed: true, Remaining: 187, Reset: 1}, `"default";r=187;t=1`},
		{"refused", ratelimit.Result{Remaining: 0, Reset: 3, RetryAfter: 3}, `"default";r=0;t=3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Header("default"); got != tc.want {
				t.Errorf("Header = %s, want %s", got, tc.want)
			}
		})
	}
}

// clock is a time that moves only when the test says so.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestTake follows one bucket through a sequence of requests and pauses.
func TestTake(t *testing.T) {
	type step struct {
		wait time.Duration // before the request
		cost int
		want ratelimit.Result
	}
	for _, tc := range []struct {
		name  string
		limit ratelimit.Limit
		steps []step
	}{
		{"burst then refused", ratelimit.Limit{PerSecond: 1, Burst: 3}, []step{
			{0, 1, ratelimit.Result{Allowed: true, Remaining: 2, Reset: 1}},
			{0, 1, ratelimit.Result{Allowed: true, Remaining: 1, Reset: 2}},
			{0, 1, ratelimit.Result{Allowed: true, Remaining: 0, Reset: 3}},
			{0, 1, ratelimit.Result{Remaining: 0, Reset: 1, RetryAfter: 1}},
			{0, 1, ratelimit.Result{Remaining: 0, Reset: 1, RetryAfter: 1}}, // a refusal takes nothing
		}},
		{"refill", ratelimit.Limit{PerSecond: 1, Burst: 3}, []step{
			{0, 3, ratelimit.Result{Allowed: true, Remaining: 0, Reset: 3}},
			{500 * time.Millisecond, 1, ratelimit.Result{Remaining: 0, Reset: 1, RetryAfter: 1}},
			{500 * time.Millisecond, 1, ratelimit.Result{Allowed: true, Remaining: 0, Reset: 3}},
			{2 * time.Second, 1, ratelimit.Result{Allowed: true, Remaining: 1, Reset: 2}},
			{time.Hour, 1, ratelimit.Result{Allowed: true, Remaining: 2, Reset: 1}}, // never above the burst
		}},
		{"slow refill says how long", ratelimit.Limit{PerSecond: 0.1, Burst: 1}, []step{
			{0, 1, ratelimit.Result{Allowed: true, Remaining: 0, Reset: 10}},
			{time.Second, 1, ratelimit.Result{Remaining: 0, Reset: 9, RetryAfter: 9}},
			{8500 * time.Millisecond, 1, ratelimit.Result{Remaining: 0, Reset: 1, RetryAfter: 1}}, // 0.5 s left: at least 1
			{500 * time.Millisecond, 1, ratelimit.Result{Allowed: true, Remaining: 0, Reset: 10}},
		}},
		{"costly request", ratelimit.Limit{PerSecond: 10, Burst: 100}, []step{
			{0, 50, ratelimit.Result{Allowed: true, Remaining: 50, Reset: 5}},
			{0, 30, ratelimit.Result{Allowed: true, Remaining: 20, Reset: 8}},
			{0, 50, ratelimit.Result{Remaining: 20, Reset: 3, RetryAfter: 3}}, // 30 short at 10 a second
			{0, 20, ratelimit.Result{Allowed: true, Remaining: 0, Reset: 10}},
		}},
		{"cost above the burst takes a full bucket", ratelimit.Limit{PerSecond: 1, Burst: 5}, []step{
			{0, 50, ratelimit.Result{Allowed: true, Remaining: 0, Reset: 5}},
			{time.Second, 50, ratelimit.Result{Remaining: 1, Reset: 4, RetryAfter: 4}},
			{4 * time.Second, 50, ratelimit.Result{Allowed: true, Remaining: 0, Reset: 5}},
		}},
		{"fast rate", ratelimit.Limit{PerSecond: 1000, Burst: 2}, []step{
			{0, 1, ratelimit.Result{Allowed: true, Remaining: 1, Reset: 1}},
			{0, 1, ratelimit.Result{Allowed: true, Remaining: 0, Reset: 1}},
			{0, 1, ratelimit.Result{Remaining: 0, Reset: 1, RetryAfter: 1}},
			{time.Millisecond, 1, ratelimit.Result{Allowed: true, Remaining: 0, Reset: 1}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			lm := ratelimit.New[string](ratelimit.Options{Now: c.Now})
			for i, s := range tc.steps {
				c.Advance(s.wait)
				if got := lm.Take("key", tc.limit, s.cost); got != s.want {
					t.Fatalf("step %d (after %v, cost %d): %+v, want %+v", i, s.wait, s.cost, got, s.want)
				}
			}
		})
	}
}

// TestBucketsAreSeparate checks that one client's drawing leaves another's bucket alone, and that
// a changed limit applies to a kept bucket.
func TestBucketsAreSeparate(t *testing.T) {
	c := newClock()
	lm := ratelimit.New[int](ratelimit.Options{Now: c.Now})
	l := ratelimit.Limit{PerSecond: 1, Burst: 2}
	for range 2 {
		lm.Take(1, l, 1)
	}
	if r := lm.Take(1, l, 1); r.Allowed {
		t.Fatalf("client 1's third request passed: %+v", r)
	}
	if r := lm.Take(2, l, 1); !r.Allowed || r.Remaining != 1 {
		t.Fatalf("client 2 shares client 1's bucket: %+v", r)
	}
	if r := lm.Take(1, ratelimit.Limit{PerSecond: 1, Burst: 10}, 1); !r.Allowed || r.Remaining != 7 {
		t.Fatalf("a larger burst for client 1: %+v, want allowed with 7 left", r)
	}
}

func TestPeek(t *testing.T) {
	c := newClock()
	lm := ratelimit.New[string](ratelimit.Options{Now: c.Now})
	l := ratelimit.Limit{PerSecond: 2, Burst: 2}
	if r := lm.Peek("a", l); !r.Allowed || r.Remaining != 2 || r.Reset != 0 || lm.Len() != 0 {
		t.Fatalf("peek at a client without a bucket: %+v, len %d", r, lm.Len())
	}
	lm.Take("a", l, 1)
	lm.Take("a", l, 1)
	if r := lm.Peek("a", l); r.Allowed || r.RetryAfter != 1 {
		t.Fatalf("peek at an empty bucket: %+v", r)
	}
	if lm.Len() != 1 {
		t.Fatalf("len %d, want 1", lm.Len())
	}
	c.Advance(time.Second)
	if r := lm.Peek("a", l); !r.Allowed || r.Remaining != 2 {
		t.Fatalf("peek at a refilled bucket: %+v", r)
	}
	if lm.Len() != 0 {
		t.Fatalf("a full bucket was kept after a peek: len %d", lm.Len())
	}
}

// TestBoundedMemory checks that full buckets are dropped as new clients come, and that the
// number kept stays bounded while every bucket is in use.
func TestBoundedMemory(t *testing.T) {
	for _, tc := range []struct {
		name    string
		between time.Duration // the time between two new clients
		max     int           // Options.MaxBuckets
		atMost  int
	}{
		// Each bucket is full again 100 ms after its one request, so a shard that reaches its
		// first sweep size (64) drops nearly all it holds: far fewer than the bound are kept.
		{"idle clients", 10 * time.Millisecond, 1 << 16, 64 * 64},
		// None is full again before the end: only the bound holds them.
		{"busy clients", 0, 4096, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			lm := ratelimit.New[int](ratelimit.Options{Now: c.Now, MaxBuckets: tc.max})
			l := ratelimit.Limit{PerSecond: 10, Burst: 10}
			for i := range 100_000 {
				c.Advance(tc.between)
				if r := lm.Take(i, l, 1); !r.Allowed {
					t.Fatalf("client %d refused its first request: %+v", i, r)
				}
				if lm.Len() > tc.atMost {
					t.Fatalf("after %d clients %d buckets are kept, want at most %d", i+1, lm.Len(), tc.atMost)
				}
			}
		})
	}
}

// TestConcurrentTakes checks under the race detector that concurrent requests of one client never
// pass more than its burst.
func TestConcurrentTakes(t *testing.T) {
	c := newClock()
	lm := ratelimit.New[string](ratelimit.Options{Now: c.Now})
	l := ratelimit.Limit{PerSecond: 1, Burst: 100}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		passed int
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if lm.Take("shared", l, 1).Allowed {
					mu.Lock()
					passed++
					mu.Unlock()
				}
				lm.Take(fmt.Sprint("own", g), l, 1)
			}
		}()
	}
	wg.Wait()
	if passed != 100 {
		t.Fatalf("%d requests passed a bucket of 100 that never refilled", passed)
	}
}

func BenchmarkTake(b *testing.B) {
	lm := ratelimit.New[[16]byte](ratelimit.Options{})
	l := ratelimit.Limit{PerSecond: 1e6, Burst: 1e6}
	b.RunParallel(func(pb *testing.PB) {
		var k [16]byte
		for pb.Next() {
			lm.Take(k, l, 1)
		}
	})
}

func BenchmarkHeaders(b *testing.B) {
	r := ratelimit.Result{Allowed: true, Remaining: 187, Reset: 1}
	for b.Loop() {
		_ = r.Header("default")
	}
}
