package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/provider/providertest"
	"github.com/wazapin/wazapin/internal/server"
	"github.com/wazapin/wazapin/internal/store"
)

func TestRequestIDs(t *testing.T) {
	e := newEnv(t)
	generated := regexp.MustCompile(`^req_[0-9a-z]{16}_[0-9a-z]+$`)
	for _, tc := range []struct {
		name, sent string
		kept       bool
	}{
		{"none sent", "", false},
		{"a sane one is kept", "trace-4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"the longest kept", strings.Repeat("a", 128), true},
		{"too long", strings.Repeat("a", 129), false},
		{"with a space", "two words", false},
		{"not ASCII", "caf\u00e9", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.url+"/v1/contacts/cnt_nope", nil)
			req.Header.Set("X-Api-Key", e.ws.APIKey)
			if tc.sent != "" {
				req.Header.Set("X-Request-Id", tc.sent)
			}
			res, err := e.client.Do(req) // checks that the problem carries the header's id
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			got := res.Header.Get("X-Request-Id")
			if tc.kept && got != tc.sent {
				t.Errorf("id %q, want the client's %q", got, tc.sent)
			}
			if !tc.kept && !generated.MatchString(got) {
				t.Errorf("id %q, want a generated one", got)
			}
		})
	}
	t.Run("generated ones differ", func(t *testing.T) {
		seen := map[string]bool{}
		for range 20 {
			req, _ := http.NewRequest("GET", e.url+"/v1/health", nil)
			res, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			seen[res.Header.Get("X-Request-Id")] = true
		}
		if len(seen) != 20 {
			t.Errorf("%d distinct ids in 20 requests", len(seen))
		}
	})
}

func TestAccessLogHoldsNoPersonalData(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890"), Email: ptr("ujang@example.com"), Name: ptr("Ujang")})
	e.do("GET", "/v1/contacts/phone/%2B6281234567890?trace=query-secret", nil, "X-Request-Id", "phone-lookup")
	e.do("GET", "/v1/contacts/"+c.Id, nil)
	e.do("GET", "/v1/nothing/here", nil)
	logs := e.logs.String()
	for _, leak := range []string{"6281234567890", "ujang@example.com", "Ujang", e.ws.APIKey, "query-secret", c.Id, "nothing/here"} {
		if strings.Contains(logs, leak) {
			t.Errorf("the log holds %q:\n%s", leak, logs)
		}
	}
	line := logLine(t, logs, "request_id=phone-lookup")
	for _, want := range []string{
		`msg=request`, `method=GET`, `route=/v1/contacts/phone/{phone}`, `status=200`, `duration_ms=`, `bytes_out=`,
		`workspace_id=` + e.ws.WorkspaceID,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("access line lacks %s: %s", want, line)
		}
	}
	if !strings.Contains(logs, "route=/v1/contacts/{contactID} status=200") {
		t.Errorf("no access line for the contact by its route template:\n%s", logs)
	}
	if !strings.Contains(logs, "route=unmatched status=404") {
		t.Errorf("no access line for the unknown route:\n%s", logs)
	}
}

// logLine returns the one log line holding marker.
func logLine(t *testing.T, logs, marker string) string {
	t.Helper()
	var found []string
	for l := range strings.Lines(logs) {
		if strings.Contains(l, marker) {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d log lines hold %q, want 1:\n%s", len(found), marker, logs)
	}
	return found[0]
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	e.do("GET", "/v1/contacts/"+c.Id, nil)
	e.do("GET", "/v1/contacts/phone/081234567890", nil)
	e.importNDJSON(`{"phone_number": "+6281111111111"}`, `{"email": "not an email"}`)
	fake := providertest.NewGateway(t, providertest.Config{})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	e.lookup(ch.Id, false, "+6281234567890")
	text := e.metricsText()
	for _, want := range []string{
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/v1/contacts/{contactID}"} 1`,
		`http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="201",http_route="/v1/contacts"} 1`,
		`http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",http_route="/v1/contacts/phone/{phone}",le="+Inf"} 1`,
		`http_server_active_requests 0`,
		`pgxpool_acquired_connections{pool="main"}`, `pgxpool_idle_connections{pool="planned"}`, `pgxpool_total_connections{pool="main"}`,
		`pgxpool_max_connections{pool="main"}`, `pgxpool_acquires_total{pool="main"}`, `pgxpool_acquire_wait_seconds_total{pool="main"}`,
		`wazapin_import_lines_total{outcome="created"} 1`, `wazapin_import_lines_total{outcome="invalid"} 1`,
		`wazapin_channel_lookup_duration_seconds_count{outcome="ok",platform="whatsapp_gateway"} 1`,
		`wazapin_channel_lookup_duration_seconds_count{outcome="timeout",platform="whatsapp_business_api"} 0`,
		`wazapin_import_lines_total{outcome="conflict"} 0`,
		`wazapin_channel_slot_wait_seconds_count{outcome="taken"} 1`, `wazapin_channel_slot_wait_seconds_count{outcome="busy"} 0`,
		`go_goroutines `, `process_resident_memory_bytes `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{c.Id, "6281234567890", "081234567890", ch.Id, e.ws.WorkspaceID} {
		if strings.Contains(text, leak) {
			t.Errorf("metrics hold %q", leak)
		}
	}
}

// metricsText is the server's metrics as Prometheus scrapes them.
func (e *env) metricsText() string {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// rawRequest writes a whole request on a fresh connection and reads the answer: what a client
// that sends its body before it reads sees, including a reset. With a Transfer-Encoding: chunked
// header the body goes as one chunk, without a length up front.
func rawRequest(t *testing.T, url, method, path string, header map[string]string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: test\r\n", method, path)
	if header["Transfer-Encoding"] == "chunked" {
		body = fmt.Appendf(nil, "%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	} else {
		fmt.Fprintf(&head, "Content-Length: %d\r\n", len(body))
	}
	for k, v := range header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(append(head.Bytes(), body...)); err != nil {
		return nil, nil, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

func TestOverLimitBodiesGetTheir413(t *testing.T) {
	e := newEnv(t)
	big := bytes.Repeat([]byte("a"), 3<<20)
	header := map[string]string{"X-Api-Key": e.ws.APIKey, "Content-Type": "application/json"}
	for i := range 50 {
		res, body, err := rawRequest(t, e.url, "POST", "/v1/contacts", header, big)
		if err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		if res.StatusCode != 413 || !res.Close || !bytes.Contains(body, []byte("1 MiB limit of a JSON body")) {
			t.Fatalf("upload %d: %d %v %s", i, res.StatusCode, res.Header, body)
		}
	}
	t.Run("larger than the socket buffers", func(t *testing.T) {
		// The client is still sending when the answer is ready: without reading the rest, the
		// server would close on unread data and the client would see a reset.
		huge := bytes.Repeat([]byte("a"), 24<<20)
		for i := range 3 {
			res, body, err := rawRequest(t, e.url, "POST", "/v1/contacts", header, huge)
			if err != nil {
				t.Fatalf("upload %d: %v", i, err)
			}
			if res.StatusCode != 413 {
				t.Fatalf("upload %d: %d %s", i, res.StatusCode, body)
			}
		}
	})
	t.Run("an import over its line limit says so", func(t *testing.T) {
		lines := bytes.Repeat([]byte("{\"phone_number\": \"+6281234567890\"}\n"), 100_001)
		res, body, err := rawRequest(t, e.url, "POST", "/v1/contacts/import",
			map[string]string{"X-Api-Key": e.ws.APIKey, "Content-Type": "application/x-ndjson"}, lines)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 413 || !bytes.Contains(body, []byte("at most 100000 lines")) {
			t.Errorf("%d %s", res.StatusCode, body)
		}
	})
	t.Run("a body without a length is cut at the limit", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.url+"/v1/contacts", io.MultiReader(bytes.NewReader(big))) // no ContentLength: chunked
		req.Header.Set("X-Api-Key", e.ws.APIKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 413 || !bytes.Contains(b, []byte("1 MiB limit")) {
			t.Errorf("%d %s", res.StatusCode, b)
		}
	})
}

// TestClientThatGoesAwayIsNotAnOutage: a client that closes its side mid-request is logged as
// gone, and neither answered nor logged as a failure of the server.
func TestClientThatGoesAwayIsNotAnOutage(t *testing.T) {
	e := newEnv(t)
	fake := providertest.NewGateway(t, providertest.Config{Mode: providertest.Hang})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"phone_numbers": ["+6281234567890"]}`
	fmt.Fprintf(conn, "POST /v1/channels/%s/contacts/lookup HTTP/1.1\r\nHost: test\r\nX-Api-Key: %s\r\nX-Request-Id: goes-away\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		ch.Id, e.ws.APIKey, len(body), body)
	time.Sleep(100 * time.Millisecond) // the lookup is waiting on the provider
	_ = conn.(*net.TCPConn).CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer, _ := io.ReadAll(conn)
	if len(answer) > 0 {
		t.Errorf("a client that went away was answered:\n%s", answer)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(e.logs.String(), "request_id=goes-away") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	line := logLine(t, e.logs.String(), "msg=request request_id=goes-away")
	if !strings.Contains(line, "status=499") || !strings.Contains(line, "went away") {
		t.Errorf("access line: %s", line)
	}
	for _, failure := range []string{"level=ERROR", `msg="request failed"`, `msg="provider lookup failed"`} {
		if strings.Contains(e.logs.String(), failure) {
			t.Errorf("logged as a failure (%s):\n%s", failure, e.logs.String())
		}
	}
}

func TestReadiness(t *testing.T) {
	e := newEnv(t)
	status, body := e.do("GET", "/v1/health/ready", nil, "X-Api-Key", "")
	wantStatus(t, status, 200, body)

	t.Run("behind the binary's migrations", func(t *testing.T) {
		if _, err := e.pool.Exec(bg, "UPDATE schema_migrations SET version = version - 1"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = e.pool.Exec(bg, "UPDATE schema_migrations SET version = version + 1") })
		status, body := e.do("GET", "/v1/health/ready", nil, "X-Api-Key", "")
		wantStatus(t, status, 503, body)
		if p := problem(t, 503, body); p.Detail == nil || !strings.Contains(*p.Detail, "this server needs") {
			t.Errorf("detail %v", p.Detail)
		}
	})

	t.Run("draining", func(t *testing.T) {
		e.srv.Drain()
		req, _ := http.NewRequest("GET", e.url+"/v1/health/ready", nil)
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 503 || !res.Close {
			t.Errorf("ready while draining: %d %v", res.StatusCode, res.Header)
		}
		// Requests are still served, each asking the client to close its connection.
		req, _ = http.NewRequest("GET", e.url+"/v1/contacts", nil)
		req.Header.Set("X-Api-Key", e.ws.APIKey)
		res, err = e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !res.Close {
			t.Errorf("list while draining: %d, close %v", res.StatusCode, res.Close)
		}
		for l := range strings.Lines(e.logs.String()) {
			if strings.Contains(l, `msg="request failed"`) && strings.Contains(l, "shutting down") {
				t.Errorf("draining is logged as a failure: %s", l)
			}
		}
	})
}

// TestDatabaseOutageIs503: with its database unreachable every request, authenticated or not,
// answers 503 with Retry-After within the database timeout.
func TestDatabaseOutageIs503(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.DBTimeout = 2 * time.Second })
	e.pool.Close()
	for _, path := range []string{"/v1/health/ready", "/v1/contacts"} {
		t.Run(path, func(t *testing.T) {
			start := time.Now()
			status, body := e.do("GET", path, nil, "X-Api-Key", "wzk_06H1HY6P0NX4H0PBG4MYAHYS10_J17V36QJDF5EWWS2CFX4P4TFX6WQNR7CMNKD0XTN1R397MJ13DM0")
			wantStatus(t, status, 503, body) // the harness checks Retry-After
			if time.Since(start) > 30*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

// TestDatabaseThatDoesNotAnswer: a database host that takes connections and never answers (a
// partition, a hung server) makes requests 503 within the database timeout, not hang.
func TestDatabaseThatDoesNotAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() }) // held open, never answered
		}
	}()
	cfg, err := pg.Config("postgres://nobody@"+ln.Addr().String()+"/wazapin?sslmode=disable", pg.GenericPlans)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(bg, cfg) // connects lazily: it would never succeed
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	const timeout = time.Second
	srv := httptest.NewServer(server.New(store.New(pool, store.Options{}), server.Config{DBTimeout: timeout}).Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &validatingTransport{t: t, router: specRouter(t), base: http.DefaultTransport}}
	for _, path := range []string{"/v1/health/ready", "/v1/contacts"} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("X-Api-Key", "wzk_06H1HY6P0NX4H0PBG4MYAHYS10_J17V36QJDF5EWWS2CFX4P4TFX6WQNR7CMNKD0XTN1R397MJ13DM0")
			start := time.Now()
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			// The bound the server promises, with room for a slow machine; not a timing claim.
			if took := time.Since(start); res.StatusCode != 503 || took > timeout+3*time.Second {
				t.Errorf("%d after %v, want 503 within about %v", res.StatusCode, took, timeout)
			}
		})
	}
}

// TestSlowUploadIsNotADatabaseOutage: the deadline of a request's work starts once its body is
// in, so a client that sends slowly is not told the database failed.
func TestSlowUploadIsNotADatabaseOutage(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.DBTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"phone_number": "+6281234567890", "name": "Ujang"}`
	fmt.Fprintf(conn, "POST /v1/contacts HTTP/1.1\r\nHost: test\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		e.ws.APIKey, len(body), body[:10])
	time.Sleep(time.Second) // past the deadline, while the body is still coming
	fmt.Fprint(conn, body[10:])
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 {
		t.Errorf("%d %s", res.StatusCode, b)
	}
}

// TestEveryOperationThatNeedsAKeyAsksForIt walks the spec: an operation that declares a security
// requirement answers 401 without a key, before anything of its input is looked at.
func TestEveryOperationThatNeedsAKeyAsksForIt(t *testing.T) {
	e := newEnv(t)
	spec, err := openapi3.NewLoader().LoadFromData(api.SpecYAML)
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	n := 0
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public
			}
			n++
			t.Run(method+" "+path, func(t *testing.T) {
				// A body that every check would refuse, had it been looked at first.
				status, body := e.do(method, param.ReplaceAllString(path, "x"), []byte("\x00not json"),
					"X-Api-Key", "", "Content-Type", "text/plain")
				wantStatus(t, status, 401, body)
			})
		}
	}
	if n < 20 {
		t.Errorf("only %d operations need a key", n)
	}
}

func TestUnknownMethodsShareOneSeries(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		res, _, err := rawRequest(t, e.url, fmt.Sprintf("M%05d", i), "/v1/contacts", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 405 {
			t.Errorf("%d", res.StatusCode)
		}
	}
	text := e.metricsText()
	if strings.Contains(text, "M0000") || !strings.Contains(text, `http_request_method="_OTHER",http_response_status_code="405"`) {
		t.Errorf("unknown methods in the metrics:\n%s", text)
	}
}

// TestImportPathIsNotAnImportForOtherMethods: PATCH /v1/contacts/import is an update of a contact
// whose id is "import", checked as any JSON body is.
func TestImportPathIsNotAnImportForOtherMethods(t *testing.T) {
	e := newEnv(t)
	status, body := e.do("PATCH", "/v1/contacts/import", []byte(`{"name": "x"}`))
	wantStatus(t, status, 404, body)
	status, body = e.do("PATCH", "/v1/contacts/import", []byte("{\"name\": \"\\u0000\"}"))
	wantStatus(t, status, 422, body)
}
