//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/provider/providertest"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/testdb"
)

// River's log lines (at debug level) that say which process leads, and that the leader queued
// the periodic jobs due at its start.
const (
	riverLeads      = "leadership.Elector: Gained leadership"
	riverRunOnStart = "maintenance.PeriodicJobEnqueuer: Inserted RunOnStart jobs"
)

// TestThreeServerProcessesShareOneDatabase runs three `wazapin serve` processes on one database,
// as a deployment behind a load balancer does, and checks what they share through it: key
// revocations, webhook deliveries, the periodic retention job and each channel's provider bound;
// and what each keeps to itself: rate limits (docs/SCALING.md, "Many server processes").
func TestThreeServerProcessesShareOneDatabase(t *testing.T) {
	t.Parallel()
	dbURL := testdb.New(t)
	pool, ws := acme(t, dbURL)
	// Lookups that queue for a channel's places wait within the provider timeout: a generous one
	// keeps a slow machine from failing them.
	procs := startProcesses(t, 3, "DATABASE_URL="+dbURL, "WAZAPIN_ENCRYPTION_KEY="+encryptionKey(t),
		"WAZAPIN_WEBHOOK_WORKERS=4", "WAZAPIN_LOG_LEVEL=debug", "WAZAPIN_PROVIDER_TIMEOUT=20s")

	t.Run("a key revoked through one process stops working on all three within a second", func(t *testing.T) {
		viaAPI := createKey(t, dbURL, ws.WorkspaceID, "contacts:read")
		viaCommand := createKey(t, dbURL, ws.WorkspaceID, "contacts:read,events:read")
		// The keys the operator's command makes work everywhere, with their permissions.
		for _, k := range []cliKey{viaAPI, viaCommand} {
			for i, p := range procs {
				if err := call(p.addr, k.Key, http.MethodGet, "/v1/contacts", "", nil); err != nil {
					t.Fatalf("process %d: %v", i+1, err)
				}
				if err := call(p.addr, k.Key, http.MethodPost, "/v1/contacts", `{"name":"x"}`, nil); err == nil || !strings.Contains(err.Error(), ": 403 ") {
					t.Fatalf("process %d: a contacts:read key created a contact: %v", i+1, err)
				}
			}
		}
		t.Run("through the API of one process", func(t *testing.T) {
			if err := call(procs[0].addr, ws.APIKey, http.MethodDelete, "/v1/api-keys/"+viaAPI.ID, "", nil); err != nil {
				t.Fatal(err)
			}
			stopsEverywhere(t, procs, viaAPI.Key, time.Now())
		})
		t.Run("by the operator's command", func(t *testing.T) {
			out, err := run(t, dbURL, "apikey", "revoke", "--workspace", ws.WorkspaceID, "--key", viaCommand.ID)
			revoked := time.Now()
			if err != nil {
				t.Fatalf("apikey revoke: %v (%s)", err, out)
			}
			stopsEverywhere(t, procs, viaCommand.Key, revoked)
		})
	})

	t.Run("one Idempotency-Key sent to the three at once makes one change", func(t *testing.T) {
		// The process that takes the key's advisory lock runs the request; the others answer
		// 409 while it runs, or its answer once it has committed.
		const key, body = "three-at-once", `{"email":"once@example.com"}`
		type answer struct {
			status   int
			replayed bool
			body     string
		}
		answers := make([]answer, len(procs))
		var wg sync.WaitGroup
		for i, p := range procs {
			wg.Go(func() {
				status, h, b, err := keyedCall(p.addr, ws.APIKey, key, "/v1/contacts", body)
				if err != nil {
					t.Error(err)
					return
				}
				answers[i] = answer{status, h.Get("Idempotent-Replayed") == "true", string(b)}
			})
		}
		wg.Wait()
		var ran []answer
		for i, a := range answers {
			switch {
			case a.status == http.StatusCreated && !a.replayed:
				ran = append(ran, a)
			case a.status != http.StatusCreated && a.status != http.StatusConflict:
				t.Errorf("process %d answered %d %s", i+1, a.status, a.body)
			}
		}
		if len(ran) != 1 {
			t.Fatalf("%d processes ran the request, want 1: %+v", len(ran), answers)
		}
		for i, p := range procs {
			status, replayed, b := retryKeyed(t, p.addr, ws.APIKey, key, "/v1/contacts", body)
			if status != http.StatusCreated || !replayed || string(b) != ran[0].body {
				t.Errorf("process %d answered the repeat %d (replayed %v) %s, want the first answer", i+1, status, replayed, b)
			}
		}
		if n := count(t, pool, `SELECT count(*) FROM contact_identities WHERE type = 'email' AND value = 'once@example.com'`); n != 1 {
			t.Errorf("%d contacts hold the email, want 1", n)
		}
	})

	t.Run("each event is delivered once, by more than one process", func(t *testing.T) {
		var mu sync.Mutex
		got := map[string]int{} // webhook-id → deliveries
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			time.Sleep(10 * time.Millisecond) // a receiver's work: keeps each process's workers busy
			mu.Lock()
			got[r.Header.Get("webhook-id")]++
			mu.Unlock()
		}))
		defer recv.Close()
		hooks, err := tenant.Create(context.Background(), pool, "Hooks", "ID")
		if err != nil {
			t.Fatal(err)
		}
		if err := call(procs[0].addr, hooks.APIKey, http.MethodPost, "/v1/webhook-endpoints", fmt.Sprintf(`{"url":%q}`, recv.URL), nil); err != nil {
			t.Fatal(err)
		}
		// 100 contacts, each through the next process in turn, three writers at once.
		const contacts = 100
		var wg sync.WaitGroup
		errs := make(chan error, contacts)
		for w := range procs {
			wg.Go(func() {
				for i := w; i < contacts; i += len(procs) {
					errs <- call(procs[i%len(procs)].addr, hooks.APIKey, http.MethodPost, "/v1/contacts",
						fmt.Sprintf(`{"email":"c%d@example.com"}`, i), nil)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		wsID, _ := ids.Parse(ids.Workspace, hooks.WorkspaceID)
		want := eventIDs(t, pool, wsID)
		delivered := func() int {
			mu.Lock()
			defer mu.Unlock()
			return len(got)
		}
		waitUntil(t, 30*time.Second, func() bool { return delivered() >= len(want) })
		// A second delivery of an event would come from another process's poll, at most a
		// fetch interval (200 ms) after the first: wait past a few.
		time.Sleep(time.Second)
		mu.Lock()
		defer mu.Unlock()
		for _, id := range want {
			if got[id] != 1 {
				t.Errorf("event %s delivered %d times, want once", id, got[id])
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d webhook-ids delivered, want the workspace's %d events", len(got), len(want))
		}
		// River records in each job the processes (River clients) that ran it.
		var jobs, attempts, by int
		err = pool.QueryRow(context.Background(), `
			SELECT count(DISTINCT j.id), count(*), count(DISTINCT a)
			FROM river_job j, unnest(j.attempted_by) AS a
			WHERE j.kind = 'webhook_delivery' AND j.args->>'workspace_id' = $1`, wsID.String()).Scan(&jobs, &attempts, &by)
		if err != nil {
			t.Fatal(err)
		}
		if jobs != len(want) || attempts != jobs {
			t.Errorf("%d delivery jobs run %d times, want %d each run once", jobs, attempts, len(want))
		}
		if by < 2 {
			t.Errorf("deliveries made by %d process, want more than one", by)
		}
		t.Logf("%d contacts through 3 processes: %d events, each delivered once; deliveries made by %d processes", contacts, len(want), by)
	})

	t.Run("the retention job is queued once, by the one leader", func(t *testing.T) {
		// The leader queues the periodic jobs on winning its election (RunOnStart) and every
		// period after; the others queue none. (River's uniqueness per period would also
		// collapse duplicates into one job: the log shows there were none to collapse.)
		waitUntil(t, 30*time.Second, func() bool {
			return count(t, pool, `SELECT count(*) FROM river_job WHERE kind = 'event_retention' AND state = 'completed'`) == 1
		})
		if n := count(t, pool, `SELECT count(*) FROM river_job WHERE kind = 'event_retention'`); n != 1 {
			t.Errorf("%d retention jobs, want 1", n)
		}
		var leaders, queued []int
		for i, p := range procs {
			if p.logged(riverLeads) > 0 {
				leaders = append(leaders, i+1)
			}
			if p.logged(riverRunOnStart) > 0 {
				queued = append(queued, i+1)
			}
		}
		if len(leaders) != 1 || !slices.Equal(queued, leaders) {
			t.Errorf("processes %v lead and processes %v queued the periodic jobs, want one and the same", leaders, queued)
		}
		t.Logf("process %v leads; it alone queued the retention job, which ran once", leaders)
	})

	t.Run("a channel's provider bound holds across the processes", func(t *testing.T) {
		fake := providertest.NewGateway(t, providertest.Config{Delay: 20 * time.Millisecond})
		var ch struct {
			Data struct{ ID string } `json:"data"`
		}
		body, _ := json.Marshal(map[string]any{"name": "Main", "platform": "whatsapp_gateway", "credentials": fake.Credentials()})
		if err := call(procs[0].addr, ws.APIKey, http.MethodPost, "/v1/channels", string(body), &ch); err != nil {
			t.Fatal(err)
		}
		// Three lookups at once on each process, 16 numbers each: 48 requests could be in
		// flight, 24 under a bound of 8 kept per process.
		var wg sync.WaitGroup
		errs := make(chan error, 9)
		for i := range 9 {
			wg.Go(func() {
				numbers := make([]string, 16)
				for n := range numbers {
					numbers[n] = fmt.Sprintf("+62812%04d%04d", i, n)
				}
				body, _ := json.Marshal(map[string]any{"phone_numbers": numbers})
				errs <- call(procs[i%3].addr, ws.APIKey, http.MethodPost, "/v1/channels/"+ch.Data.ID+"/contacts/lookup", string(body), nil)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if n := fake.Requests(); n != 9*16 {
			t.Errorf("%d provider requests, want %d", n, 9*16)
		}
		if m := fake.MaxInFlight(); m > 8 || m < 2 {
			t.Errorf("%d requests in flight to the provider at most, want 2 to 8", m)
		} else {
			t.Logf("9 lookups through 3 processes: at most %d requests in flight to the provider (bound 8)", m)
		}
		if n := count(t, pool, `SELECT count(*) FROM channel_slots WHERE expires_at > now()`); n != 0 {
			t.Errorf("%d places still held after the lookups", n)
		}
	})

	t.Run("each process holds a key to its own rate limit", func(t *testing.T) {
		// Each process keeps its own buckets: a key with a burst of 5 (refilled once in 100 s)
		// gets 5 requests from each, 15 in all (README, "Rate limits").
		var k struct {
			Data struct{ Key string } `json:"data"`
		}
		if err := call(procs[0].addr, ws.APIKey, http.MethodPost, "/v1/api-keys",
			`{"name":"limited","permissions":["contacts:read"],"rate_limit":{"requests_per_second":0.01,"burst":5}}`, &k); err != nil {
			t.Fatal(err)
		}
		for i, p := range procs {
			passed := 0
			for ; passed <= 5; passed++ {
				if err := call(p.addr, k.Data.Key, http.MethodGet, "/v1/contacts?limit=1", "", nil); err != nil {
					if !strings.Contains(err.Error(), ": 429 ") {
						t.Fatalf("process %d: %v", i+1, err)
					}
					break
				}
			}
			if passed != 5 {
				t.Errorf("process %d let %d requests through before 429, want the burst of 5", i+1, passed)
			}
		}
	})
}

// stopsEverywhere waits until every process refuses key, and fails past a second after its
// revocation.
func stopsEverywhere(t *testing.T, procs []*process, key string, revoked time.Time) {
	t.Helper()
	for i, p := range procs {
		for {
			err := call(p.addr, key, http.MethodGet, "/v1/contacts", "", nil)
			if err != nil && strings.Contains(err.Error(), ": 401 ") {
				t.Logf("process %d refused the key %s after its revocation", i+1, time.Since(revoked))
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatalf("process %d still takes the key a second after its revocation: %v", i+1, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
