//go:build unix

// Signals, open file limits and the PostgreSQL scripts these tests use are Unix ones.

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/provider/providertest"
	"github.com/wazapin/wazapin/internal/servertest"
	"github.com/wazapin/wazapin/internal/testdb"
)

// These tests run `wazapin serve` itself (Main.Run in a goroutine) on a free port of 127.0.0.1,
// learnt from its "serving the Contacts API" log line, and signal it through Main.Signals as
// the operating system would.

// served is a running `wazapin serve` and the workspace a test acts as.
type served struct {
	t       *testing.T
	base    string // http://127.0.0.1:port
	addr    string // 127.0.0.1:port
	key     string // API key of the workspace Acme
	signals chan os.Signal
	done    chan error // serve's result, once it returns
	logs    *servertest.Logs
	client  *http.Client
}

// startServe runs `wazapin serve` against dbURL with env added to its environment, waits until it
// listens, and creates a workspace. A server the test has not shut down is signalled twice when
// the test ends.
func startServe(t *testing.T, dbURL string, env map[string]string) *served {
	t.Helper()
	vars := map[string]string{
		"DATABASE_URL":       dbURL,
		"WAZAPIN_ADDR":       "127.0.0.1:0",
		"WAZAPIN_LOG_FORMAT": "json",
		// Leaves the test process's garbage collector as it is: serve tunes it when neither is set.
		"GOGC": "100",
	}
	for k, v := range env {
		vars[k] = v
	}
	s := &served{
		t:       t,
		signals: make(chan os.Signal, 2),
		done:    make(chan error, 1),
		logs:    &servertest.Logs{},
		client:  &http.Client{Timeout: 30 * time.Second},
	}
	m := &Main{Stdout: io.Discard, Stderr: s.logs, Getenv: func(k string) string { return vars[k] }, Signals: s.signals}
	go func() { s.done <- m.Run(context.Background(), []string{"serve"}) }()
	t.Cleanup(func() {
		select {
		case s.signals <- syscall.SIGTERM:
		default:
		}
		select {
		case s.signals <- syscall.SIGTERM:
		default:
		}
		select {
		case <-s.done:
		case <-time.After(60 * time.Second):
			t.Errorf("serve did not return after two signals; log:\n%s", s.logs.String())
		}
		s.client.CloseIdleConnections()
	})
	line := s.waitLog("serving the Contacts API", 60*time.Second)
	s.addr, _ = line["addr"].(string)
	s.base = "http://" + s.addr

	_, ws := acme(t, dbURL)
	s.key = ws.APIKey
	return s
}

// logLines is the server's log so far, one JSON object a line.
func (s *served) logLines() []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(s.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// logged returns the first log line whose message is msg, or nil.
func (s *served) logged(msg string) map[string]any {
	for _, l := range s.logLines() {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// waitLog waits for a log line whose message is msg (the log is written out in batches).
func (s *served) waitLog(msg string, within time.Duration) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if l := s.logged(msg); l != nil {
			return l
		}
		select {
		case err := <-s.done:
			s.done <- err
			if l := s.logged(msg); l != nil { // written out as serve returned
				return l
			}
			s.t.Fatalf("serve returned %v without logging %q; log:\n%s", err, msg, s.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q in the log after %v:\n%s", msg, within, s.logs.String())
		}
	}
}

// signal sends sig as the operating system would.
func (s *served) signal(sig os.Signal) {
	s.t.Helper()
	select {
	case s.signals <- sig:
	case <-time.After(10 * time.Second):
		s.t.Fatal("serve is not reading its signals")
	}
}

// returned waits for serve to return, up to a bound far past anything configured, and returns
// its error.
func (s *served) returned(within time.Duration) error {
	s.t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // for Cleanup
		return err
	case <-time.After(within):
		s.t.Fatalf("serve has not returned after %v; log:\n%s", within, s.logs.String())
		return nil
	}
}

// running tells whether serve has not returned yet.
func (s *served) running() bool {
	select {
	case err := <-s.done:
		s.done <- err
		return false
	default:
		return true
	}
}

// do sends a request with the workspace's key; body, when not nil, is sent as JSON.
func (s *served) do(method, path string, body any) (*http.Response, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("X-Api-Key", s.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

// must is do for requests that must get an answer with the status want.
func (s *served) must(want int, method, path string, body any) (*http.Response, []byte) {
	s.t.Helper()
	res, b, err := s.do(method, path, body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	return res, b
}

// hangingChannel registers a channel whose provider never answers, and returns its id and the
// fake, which counts the requests it got.
func (s *served) hangingChannel() (string, *providertest.FakeGateway) {
	s.t.Helper()
	fake := providertest.NewGateway(s.t, providertest.Config{Mode: providertest.Hang})
	_, b := s.must(http.StatusCreated, "POST", "/v1/channels", map[string]any{
		"name": "Main number", "platform": "whatsapp_gateway", "credentials": fake.Credentials(),
	})
	var ch struct {
		Data struct{ ID string } `json:"data"`
	}
	if err := json.Unmarshal(b, &ch); err != nil || ch.Data.ID == "" {
		s.t.Fatalf("channel: %v %s", err, b)
	}
	return ch.Data.ID, fake
}

// lookupInFlight starts a lookup through the channel and returns once the provider has the
// request, so the request is being served; its answer (or transport error) arrives on the channel.
func (s *served) lookupInFlight(channelID string, fake *providertest.FakeGateway) <-chan lookupResult {
	s.t.Helper()
	out := make(chan lookupResult, 1)
	go func() {
		res, b, err := s.do("POST", "/v1/channels/"+channelID+"/contacts/lookup", map[string]any{"phone_numbers": []string{"+6281234567890"}})
		out <- lookupResult{res, b, err}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for fake.Requests() == 0 {
		if time.Now().After(deadline) {
			s.t.Fatal("the provider never got the lookup")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return out
}

type lookupResult struct {
	res  *http.Response
	body []byte
	err  error
}

func encryptionKey(t *testing.T) string {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(key)
}

// TestShutdown pins what an operator relies on when a deployment replaces the server: the load
// balancer is told to stop sending (readiness), the clients to close their connections, and no
// request that reached the server is cut off, while a request that never ends does not keep the
// process alive.
func TestShutdown(t *testing.T) {
	t.Run("while draining, readiness is 503 and requests are served with Connection: close", func(t *testing.T) {
		s := startServe(t, testdb.New(t), map[string]string{"WAZAPIN_SHUTDOWN_GRACE": "1m"})
		res, _ := s.must(200, "GET", "/v1/health/ready", nil)
		res2, _ := s.must(200, "GET", "/v1/contacts", nil)
		if res.Close || res2.Close {
			t.Fatal("Connection: close before any signal")
		}

		s.signal(syscall.SIGTERM)
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, b, err := s.do("GET", "/v1/health/ready", nil)
			if err != nil {
				t.Fatalf("readiness while draining: %v", err)
			}
			if res.StatusCode == 503 {
				if !res.Close || res.Header.Get("Retry-After") == "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
					t.Errorf("readiness 503 without Connection: close, Retry-After or a problem: %v %s", res.Header, b)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readiness still %d 10 s after SIGTERM", res.StatusCode)
			}
			time.Sleep(10 * time.Millisecond)
		}
		for _, path := range []string{"/v1/contacts", "/v1/health"} {
			res, _ := s.must(200, "GET", path, nil)
			if !res.Close {
				t.Errorf("GET %s while draining: no Connection: close", path)
			}
		}
		if l := s.waitLog("shutting down: readiness answers 503, requests are still served", 5*time.Second); l["signal"] != "terminated" || l["grace"] != "1m0s" {
			t.Errorf("shutdown line %v", l)
		}
		if !s.running() {
			t.Fatal("serve returned during the grace period")
		}

		// A second signal cuts the grace short.
		s.signal(syscall.SIGINT)
		if err := s.returned(30 * time.Second); err != nil {
			t.Errorf("serve: %v", err)
		}
		for _, msg := range []string{"grace cut short", "shut down: every request in flight was answered"} {
			if s.logged(msg) == nil {
				t.Errorf("log lacks %q:\n%s", msg, s.logs.String())
			}
		}
	})

	t.Run("a request in flight is answered before serve returns", func(t *testing.T) {
		s := startServe(t, testdb.New(t), map[string]string{
			"WAZAPIN_SHUTDOWN_GRACE":   "0s",
			"WAZAPIN_PROVIDER_TIMEOUT": "2s",
			"WAZAPIN_ENCRYPTION_KEY":   encryptionKey(t),
		})
		ch, fake := s.hangingChannel()
		answer := s.lookupInFlight(ch, fake)

		s.signal(syscall.SIGTERM)
		if l := s.waitLog("closing the listener; waiting for requests in flight", 10*time.Second); l["in_flight"] != 1.0 {
			t.Fatalf("in flight when the listener closed: %v, want the lookup (was the provider timeout shorter than the way to the shutdown?)", l["in_flight"])
		}
		got := <-answer
		if got.err != nil {
			t.Fatalf("the lookup in flight was cut off: %v", got.err)
		}
		if got.res.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("lookup: %d %s, want the 504 of a provider too slow", got.res.StatusCode, got.body)
		}
		if err := s.returned(30 * time.Second); err != nil {
			t.Errorf("serve: %v", err)
		}
		if s.logged("shut down: every request in flight was answered") == nil {
			t.Errorf("the log does not say it drained:\n%s", s.logs.String())
		}
	})

	t.Run("a request on an idle keep-alive connection around the signal gets an answer", func(t *testing.T) {
		s := startServe(t, testdb.New(t), map[string]string{"WAZAPIN_SHUTDOWN_GRACE": "1m"})
		const n = 20
		type kept struct {
			conn net.Conn
			r    *bufio.Reader
		}
		conns := make([]kept, n)
		request := func(path string) string {
			return "GET " + path + " HTTP/1.1\r\nHost: " + s.addr + "\r\nX-Api-Key: " + s.key + "\r\n\r\n"
		}
		roundTrip := func(k kept, path string) (*http.Response, error) {
			_ = k.conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.WriteString(k.conn, request(path)); err != nil {
				return nil, err
			}
			res, err := http.ReadResponse(k.r, nil)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res, err
		}
		for i := range conns {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			conns[i] = kept{c, bufio.NewReader(c)}
			res, err := roundTrip(conns[i], "/v1/contacts")
			if err != nil || res.StatusCode != 200 || res.Close {
				t.Fatalf("first request on connection %d: %v %v", i, res, err)
			}
		}
		// The connections are idle now. The second requests go out from 5 ms before the signal
		// to 5 ms after it, spread over the connections.
		start := make(chan struct{})
		errs := make([]error, n)
		closing := 0
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i, k := range conns {
			wg.Go(func() {
				<-start
				time.Sleep(time.Duration(i) * 500 * time.Microsecond)
				path := "/v1/contacts"
				if i%2 == 1 {
					path = "/v1/health/ready"
				}
				res, err := roundTrip(k, path)
				switch {
				case err != nil:
					errs[i] = fmt.Errorf("GET %s: no answer: %w", path, err)
				case res.StatusCode != 200 && (path == "/v1/contacts" || res.StatusCode != 503):
					errs[i] = fmt.Errorf("GET %s: %d", path, res.StatusCode)
				case res.Close:
					mu.Lock()
					closing++
					mu.Unlock()
				}
			})
		}
		close(start)
		time.Sleep(5 * time.Millisecond)
		s.signal(syscall.SIGTERM)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("connection %d: %v", i, err)
			}
		}
		t.Logf("%d of %d second requests were answered while draining", closing, n)
		s.signal(syscall.SIGTERM)
		if err := s.returned(30 * time.Second); err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	t.Run("a request that outlives the shutdown timeout does not keep serve alive", func(t *testing.T) {
		s := startServe(t, testdb.New(t), map[string]string{
			"WAZAPIN_SHUTDOWN_GRACE":   "0s",
			"WAZAPIN_SHUTDOWN_TIMEOUT": "300ms",
			"WAZAPIN_PROVIDER_TIMEOUT": "30s", // the most allowed: the lookup outlives the test's bound
			"WAZAPIN_ENCRYPTION_KEY":   encryptionKey(t),
		})
		ch, fake := s.hangingChannel()
		answer := s.lookupInFlight(ch, fake)
		s.signal(syscall.SIGTERM)
		// 20 s is far past the 300 ms allowed and well short of the lookup's 30 s.
		err := s.returned(20 * time.Second)
		if err == nil || !strings.Contains(err.Error(), "shutdown timed out") {
			t.Errorf("serve returned %v, want the timeout as its error (a non-zero exit)", err)
		}
		if l := s.logged("shutdown timed out; closing the requests still in flight"); l == nil || l["in_flight"] != 1.0 {
			t.Errorf("timeout line %v; log:\n%s", l, s.logs.String())
		}
		if s.logged("shut down: every request in flight was answered") != nil {
			t.Error("the log says every request was answered")
		}
		select {
		case got := <-answer:
			t.Logf("serve returned %v; the lookup got %v", err, got.err)
		case <-time.After(20 * time.Second):
			t.Error("the lookup's connection is still open after serve returned")
		}
	})
}

// TestSlowHeadersDoNotStarveRequests: a thousand connections that send their headers a byte a
// second (slowloris) hold nothing that requests need: requests from others are all answered
// while every slow connection is still open.
func TestSlowHeadersDoNotStarveRequests(t *testing.T) {
	const slow, normal = 1000, 50
	const trickle = 3 * time.Second
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 3*slow {
		t.Skipf("%d open files allowed; this test needs %d (Go raises the soft limit to the hard one)", lim.Cur, 3*slow)
	}
	s := startServe(t, testdb.New(t), map[string]string{"WAZAPIN_SHUTDOWN_GRACE": "0s"})

	stop := make(chan struct{})
	conns := make([]net.Conn, slow)
	var dialing sync.WaitGroup
	dialErrs := make(chan error, slow)
	for i := range conns {
		dialing.Go(func() {
			c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
			if err != nil {
				dialErrs <- err
				return
			}
			conns[i] = c
			_, err = io.WriteString(c, "GET /v1/health HTTP/1.1\r\nHost: "+s.addr+"\r\nX-Slow: ")
			if err != nil {
				dialErrs <- err
			}
		})
	}
	dialing.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	close(dialErrs)
	for err := range dialErrs {
		t.Fatalf("slow connection: %v", err)
	}
	began := time.Now()
	var trickling sync.WaitGroup
	for _, c := range conns {
		trickling.Go(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					_, _ = c.Write([]byte("a"))
				}
			}
		})
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var wg sync.WaitGroup
	failures := make(chan string, normal)
	for i := range normal {
		wg.Go(func() {
			// Spread over the first part of the trickle, while every slow connection is open.
			time.Sleep(time.Duration(i) * (trickle / 2) / normal)
			res, err := client.Get(s.base + "/v1/health")
			if err != nil {
				failures <- err.Error()
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				failures <- fmt.Sprintf("status %d", res.StatusCode)
			}
		})
	}
	wg.Wait()
	close(failures)
	n := 0
	for f := range failures {
		if n++; n <= 5 {
			t.Errorf("GET /v1/health beside %d slow connections: %s", slow, f)
		}
	}
	if n > 5 {
		t.Errorf("… %d failures of %d", n, normal)
	}
	time.Sleep(time.Until(began.Add(trickle)))
	close(stop)
	trickling.Wait()

	// Every slow connection was held open all along: the server closed none of them.
	var closed atomic.Int64
	var reading sync.WaitGroup
	for _, c := range conns {
		reading.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			var b [1]byte
			if _, err := c.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
				closed.Add(1)
			}
		})
	}
	reading.Wait()
	if n := closed.Load(); n > 0 {
		t.Errorf("%d of %d slow connections were closed or answered within %v", n, slow, trickle)
	}
}
