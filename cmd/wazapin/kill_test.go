//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/testdb"
	"github.com/wazapin/wazapin/internal/webhooksign"
)

// TestMain lets a test run this package's program in a process of its own, to kill it: the test
// binary, started with WAZAPIN_TEST_AS_PROGRAM=1, is `wazapin` with WAZAPIN_TEST_ARGS as its
// arguments.
func TestMain(m *testing.M) {
	if os.Getenv("WAZAPIN_TEST_AS_PROGRAM") == "1" {
		os.Args = append(os.Args[:1], strings.Fields(os.Getenv("WAZAPIN_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is `wazapin serve` running as a process of its own.
type process struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}

	mu   sync.Mutex
	msgs map[string]int // how many log lines said each message
}

// startProcess starts `wazapin serve` with env added to its environment and waits until it
// serves; it is killed when the test ends.
func startProcess(t *testing.T, env ...string) *process {
	t.Helper()
	return startProcesses(t, 1, env...)[0]
}

// startProcesses starts n `wazapin serve` processes side by side, as a deployment would, with
// env added to their environment, and waits until each serves; they are killed when the test
// ends.
func startProcesses(t *testing.T, n int, env ...string) []*process {
	t.Helper()
	procs := make([]*process, n)
	addrs := make([]chan string, n)
	for i := range procs {
		procs[i], addrs[i] = launch(t, env)
	}
	for i, p := range procs {
		select {
		case p.addr = <-addrs[i]:
		case <-p.done:
			t.Fatalf("wazapin serve (process %d) exited before it served", i+1)
		case <-time.After(60 * time.Second):
			t.Fatalf("wazapin serve (process %d) did not start", i+1)
		}
	}
	return procs
}

// launch starts one process; its address arrives on addr once it serves.
func launch(t *testing.T, env []string) (p *process, addr chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{"WAZAPIN_TEST_AS_PROGRAM=1", "WAZAPIN_TEST_ARGS=serve",
		"WAZAPIN_ADDR=127.0.0.1:0", "WAZAPIN_LOG_FORMAT=json", "GOGC=100"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p = &process{cmd: cmd, done: make(chan struct{}), msgs: map[string]int{}}
	addr = make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			msg, _ := line["msg"].(string)
			p.mu.Lock()
			p.msgs[msg]++
			p.mu.Unlock()
			if msg == "serving the Contacts API" {
				addr <- line["addr"].(string)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	return p, addr
}

// logged says how many of the process's log lines said msg.
func (p *process) logged(msg string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.msgs[msg]
}

// acme opens a pool on dbURL for the rest of the test and creates the workspace Acme there.
func acme(t *testing.T, dbURL string) (*pgxpool.Pool, tenant.Created) {
	t.Helper()
	ctx := context.Background()
	pool, err := pg.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ws, err := tenant.Create(ctx, pool, "Acme", "ID")
	if err != nil {
		t.Fatal(err)
	}
	return pool, ws
}

// kill sends SIGKILL, as a crashing machine would: nothing gets to finish.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// TestSIGKILLMidBurstLosesNoEvent kills the server while changes and their webhook deliveries
// are under way, starts it again, and checks that every event committed reached the receiver at
// least once, signed, and only the workspace's own endpoint.
func TestSIGKILLMidBurstLosesNoEvent(t *testing.T) {
	t.Parallel()
	dbURL := testdb.New(t)
	env := []string{"DATABASE_URL=" + dbURL, "WAZAPIN_ENCRYPTION_KEY=" + encryptionKey(t), "WAZAPIN_WEBHOOK_WORKERS=4"}
	var (
		mu       sync.Mutex
		got      = map[string]int{}
		bad      []string
		secret   atomic.Value
		strayed  atomic.Int64
		received atomic.Int64
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond) // keep deliveries in flight
		id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		key, _ := webhooksign.ParseSecret(secret.Load().(string))
		var sent int64
		fmt.Sscan(ts, &sent)
		ok := strings.Contains(" "+r.Header.Get("webhook-signature")+" ", " "+webhooksign.Signature([][]byte{key}, id, sent, body)+" ")
		mu.Lock()
		got[id]++
		if !ok {
			bad = append(bad, id)
		}
		mu.Unlock()
		received.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { strayed.Add(1) }))
	defer other.Close()

	pool, ws := acme(t, dbURL)
	theirs, err := tenant.Create(context.Background(), pool, "Other", "ID")
	if err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, env...)
	endpoint := func(key, url string) string {
		var out struct {
			Data struct{ Secret string } `json:"data"`
		}
		if err := call(p.addr, key, "POST", "/v1/webhook-endpoints", fmt.Sprintf(`{"url":%q}`, url), &out); err != nil {
			t.Fatal(err)
		}
		return out.Data.Secret
	}
	secret.Store(endpoint(ws.APIKey, recv.URL))
	endpoint(theirs.APIKey, other.URL)

	// The burst: writers keep changing contacts through whichever server is up.
	var addr atomic.Value
	addr.Store(p.addr)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var n atomic.Int64
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"email":"w%d-%d@example.com","name":"n%d"}`, w, i%50, i)
				if call(addr.Load().(string), ws.APIKey, "POST", "/v1/contacts", body, nil) == nil {
					n.Add(1)
				}
			}
		}()
	}
	waitUntil(t, 30*time.Second, func() bool { return n.Load() >= 150 && received.Load() >= 100 })
	p.kill()
	killedAt := n.Load()
	p = startProcess(t, env...)
	addr.Store(p.addr)
	waitUntil(t, 30*time.Second, func() bool { return n.Load() >= killedAt+150 })
	close(stop)
	wg.Wait()

	wsID, _ := ids.Parse(ids.Workspace, ws.WorkspaceID)
	want := eventIDs(t, pool, wsID)
	missing := func() int {
		mu.Lock()
		defer mu.Unlock()
		m := 0
		for _, id := range want {
			if got[id] == 0 {
				m++
			}
		}
		return m
	}
	// Deliveries in flight at the kill run again once River finds their jobs stuck (20 s, and
	// its rescuer looks every 30 s).
	deadline := time.Now().Add(150 * time.Second)
	for m := missing(); m > 0; m = missing() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never reached the receiver", m, len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("%d deliveries whose signature does not verify, e.g. %s", len(bad), bad[0])
	}
	if s := strayed.Load(); s > 0 {
		t.Errorf("another workspace's endpoint got %d deliveries", s)
	}
	again := 0
	for _, c := range got {
		if c > 1 {
			again++
		}
	}
	t.Logf("%d writes, %d events, all delivered; %d delivered more than once (the at-least-once of the kill)", n.Load(), len(want), again)
}

// eventIDs lists a workspace's events as the webhook-id of their deliveries.
func eventIDs(t *testing.T, pool *pgxpool.Pool, wsID uuid.UUID) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id FROM events WHERE workspace_id = $1`, wsID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, ids.Format(ids.Event, id))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no events recorded")
	}
	return out
}

// call sends one API request; out, when not nil, receives the JSON answer of a 2xx.
func call(addr, key, method, path, body string, out any) error {
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Content-Type", "application/json")
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func waitUntil(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not done within %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
