//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// privateCluster is a PostgreSQL cluster of one test's own, which it may stop and start.
type privateCluster struct {
	t   *testing.T
	dir string
	url string
}

// startPrivateCluster starts a throwaway cluster with scripts/pg.sh and stops and deletes it when
// the test ends. Its folder is one the unprivileged postgres user can reach, so that pg.sh, when
// run as root, keeps it there.
//
// pg.sh starts a cluster on the lowest free port from 15432, so a cluster started while another
// is stopped may take that one's port, and the stopped one come back on another. Test processes
// running side by side (two `make test` at once) therefore take turns, under a lock held from
// the start of the cluster to its end.
func startPrivateCluster(t *testing.T) *privateCluster {
	t.Helper()
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "wazapin-private-cluster.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() }) // which releases the lock, after the cluster has stopped
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lock.Name(), err)
	}
	dir, err := os.MkdirTemp("", "wazapin-outage-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &privateCluster{t: t, dir: dir}
	t.Cleanup(func() {
		if out, err := exec.Command("../../scripts/pg.sh", "stop", dir).CombinedOutput(); err != nil {
			t.Errorf("pg.sh stop: %v\n%s", err, out)
		}
		_ = os.RemoveAll(dir)
	})
	c.url = c.start()
	return c
}

// start starts the cluster and returns its URL.
func (c *privateCluster) start() string {
	c.t.Helper()
	out, err := exec.Command("../../scripts/pg.sh", "start", c.dir, "fast").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		c.t.Fatalf("pg.sh start: %v\n%s\npostgres.log:\n%s", err, stderr, log)
	}
	url := strings.TrimSpace(string(out))
	if c.url != "" && url != c.url {
		c.t.Fatalf("the cluster came back at %s, not %s: another cluster took its port while it was stopped", url, c.url)
	}
	return url
}

// stop stops the cluster as pg_ctl stop -m fast does: sessions are ended, new ones refused.
func (c *privateCluster) stop() {
	c.t.Helper()
	if out, err := exec.Command("../../scripts/pg.sh", "stop", c.dir).CombinedOutput(); err != nil {
		c.t.Fatalf("pg.sh stop: %v\n%s", err, out)
	}
}

// outcome is one request of the load.
type outcome struct {
	start, end time.Time
	what       string // method and route
	status     int
	err        error
	problem    bool // Content-Type application/problem+json with "status" equal to the status
	retryAfter string
	body       string
}

// thinkTime is what each client of the load waits between an answer and its next request.
const thinkTime = 5 * time.Millisecond

// load is a closed loop of clients, each sending its next request when the last is answered.
type load struct {
	mu      sync.Mutex
	all     []outcome
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
}

func startLoad(s *served, clients int, contactID string) *load {
	l := &load{stop: make(chan struct{})}
	client := &http.Client{
		Timeout:   20 * time.Second, // no request may hang; this is far past WAZAPIN_DB_TIMEOUT
		Transport: &http.Transport{MaxIdleConnsPerHost: clients},
	}
	s.t.Cleanup(client.CloseIdleConnections)
	requests := []struct {
		method, path, body string
	}{
		{"GET", "/v1/contacts/" + contactID, ""},
		{"POST", "/v1/contacts/resolve", `{"identifiers": [{"type": "phone", "value": "0812-3456-7890"}]}`},
	}
	for i := range clients {
		l.wg.Go(func() {
			for n := i; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				r := requests[n%len(requests)]
				req, _ := http.NewRequest(r.method, s.base+r.path, strings.NewReader(r.body))
				req.Header.Set("X-Api-Key", s.key)
				if r.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				o := outcome{start: time.Now(), what: r.method + " " + strings.Replace(r.path, contactID, "{id}", 1)}
				res, err := client.Do(req)
				if err == nil {
					var p struct{ Status int }
					var body []byte
					body, err = io.ReadAll(res.Body)
					res.Body.Close()
					o.status, o.body = res.StatusCode, string(body)
					o.retryAfter = res.Header.Get("Retry-After")
					o.problem = strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") &&
						json.Unmarshal([]byte(o.body), &p) == nil && p.Status == res.StatusCode
				}
				o.err, o.end = err, time.Now()
				l.mu.Lock()
				l.all = append(l.all, o)
				l.mu.Unlock()
				// A moment between requests leaves the machine's two cores some time for
				// PostgreSQL and pg.sh, which the fast 503s would otherwise starve.
				time.Sleep(thinkTime)
			}
		})
	}
	return l
}

// since returns the outcomes of the requests sent at or after t.
func (l *load) since(t time.Time) []outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []outcome
	for _, o := range l.all {
		if !o.start.Before(t) {
			out = append(out, o)
		}
	}
	return out
}

// lastFailure is when the last failure (an answer that was not a 200, or none) that ended after
// from, of a request sent before until, ended; the zero time when there was none.
func (l *load) lastFailure(from, until time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	for _, o := range l.all {
		if (o.err != nil || o.status != 200) && o.end.After(from) && o.start.Before(until) && o.end.After(last) {
			last = o.end
		}
	}
	return last
}

// waitForStreak waits until every request for the last streak has succeeded (and at least one
// was answered), or until the bound; it returns when the streak began.
func (l *load) waitForStreak(after time.Time, streak, bound time.Duration) time.Time {
	deadline := time.Now().Add(bound)
	for {
		began := l.lastFailure(after, time.Now())
		if began.IsZero() {
			began = after
		}
		ok := 0
		for _, o := range l.since(began) {
			if o.err == nil && o.status == 200 {
				ok++
			}
		}
		if (time.Since(began) >= streak && ok > 0) || time.Now().After(deadline) {
			return began
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *load) finish() {
	l.stopped.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// TestDatabaseOutageUnderLoad stops the server's PostgreSQL under load and starts it again: while
// it is gone every request is answered, with a 503 problem and Retry-After when not a 200 (never a
// 500, a reset or a hang), and once it is back every request succeeds within 5 s. A restart
// (stopped and started at once) gives only 200s and 503s too.
func TestDatabaseOutageUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops its own PostgreSQL")
	}
	const outage, recoveryBound = 3 * time.Second, 5 * time.Second
	testBegan := time.Now()
	pg := startPrivateCluster(t)
	// The load is many times a key's default rate limit; a limit it never reaches keeps the
	// answers about the outage.
	s := startServe(t, pg.url, map[string]string{"WAZAPIN_DB_TIMEOUT": "2s", "WAZAPIN_SHUTDOWN_GRACE": "0s",
		"WAZAPIN_RATE_LIMIT": "1000000/s burst 1000000"})
	_, b := s.must(http.StatusCreated, "POST", "/v1/contacts", map[string]any{"phone_number": "+6281234567890", "name": "Ujang"})
	var created struct {
		Data struct{ ID string } `json:"data"`
	}
	if err := json.Unmarshal(b, &created); err != nil || created.Data.ID == "" {
		t.Fatalf("contact: %v %s", err, b)
	}

	began := time.Now()
	l := startLoad(s, 8, created.Data.ID)
	defer l.finish()
	l.waitForStreak(began, 300*time.Millisecond, 10*time.Second)
	t.Logf("load began %v after the test", began.Sub(testBegan).Round(time.Millisecond))

	stopping := time.Now()
	pg.stop()
	time.Sleep(outage)
	pg.start()
	back := time.Now()
	l.waitForStreak(back, 500*time.Millisecond, recoveryBound+5*time.Second)

	restarting := time.Now()
	pg.stop()
	pg.start()
	restarted := time.Now()
	again := l.waitForStreak(restarted, 500*time.Millisecond, recoveryBound+5*time.Second)
	l.finish()
	ended := time.Now()
	// The first streak of successes that lasted until the restart.
	recovered := l.lastFailure(back, restarting)
	if recovered.IsZero() {
		recovered = back
	}

	all := l.since(began)
	counts := map[string]int{}
	bad := 0
	for _, o := range all {
		phase := "before the outage"
		switch {
		case !o.start.Before(restarting):
			phase = "around the restart"
		case !o.start.Before(back):
			phase = "after the outage"
		case !o.start.Before(stopping):
			phase = "during the outage"
		}
		key := fmt.Sprintf("%s: %d", phase, o.status)
		if o.err != nil {
			key = phase + ": transport error"
		}
		counts[key]++
		var wrong string
		switch {
		case o.err != nil:
			wrong = fmt.Sprintf("no answer after %v: %v", o.end.Sub(o.start).Round(time.Millisecond), o.err)
		case o.status == 200:
		case o.status != 503:
			wrong = fmt.Sprintf("%d %s", o.status, o.body)
		case !o.problem || o.retryAfter == "":
			wrong = fmt.Sprintf("503 without a problem body or Retry-After (%q): %s", o.retryAfter, o.body)
		case phase == "before the outage":
			wrong = "503 before the outage: " + o.body
		}
		if wrong != "" {
			if bad++; bad <= 10 {
				t.Errorf("%s, %s sent %v after the load began: %s", phase, o.what, o.start.Sub(began).Round(time.Millisecond), wrong)
			}
		}
	}
	if bad > 10 {
		t.Errorf("… %d wrong answers in all", bad)
	}
	t.Logf("%d requests: %v", len(all), counts)
	if counts["during the outage: 503"] == 0 {
		t.Error("no 503 during the outage: the load did not reach the database")
	}
	if took := recovered.Sub(back); took > recoveryBound {
		t.Errorf("requests failed until %v after PostgreSQL was back, more than %v", took.Round(time.Millisecond), recoveryBound)
	} else {
		t.Logf("every request succeeded from %v after PostgreSQL was back (stop took %v, restart %v)",
			max(took, 0).Round(time.Millisecond), back.Sub(stopping).Round(time.Millisecond)-outage, restarted.Sub(restarting).Round(time.Millisecond))
	}
	if took := again.Sub(restarted); took > recoveryBound {
		t.Errorf("requests failed until %v after the restart, more than %v", took.Round(time.Millisecond), recoveryBound)
	}
	if n := len(l.since(recovered)); n == 0 {
		t.Error("no request after the recovery")
	}
	t.Logf("the load ran %v", ended.Sub(began).Round(time.Millisecond))
}
