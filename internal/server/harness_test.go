package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/jackc/pgx/v5/pgxpool"

	wazapin "github.com/wazapin/wazapin/clients/go"
	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/obs"
	"github.com/wazapin/wazapin/internal/secretbox"
	"github.com/wazapin/wazapin/internal/server"
	"github.com/wazapin/wazapin/internal/servertest"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/tenant"
)

// env is one test's world: its own database, a server over it, a workspace and a client of the
// generated kind whose every response is checked against openapi.yaml.
type env struct {
	t      *testing.T
	url    string
	pool   *pgxpool.Pool
	ws     tenant.Created
	c      *api.ClientWithResponses
	client *http.Client // validates every response against the spec
	vt     *validatingTransport
	logs   *servertest.Logs
	srv    *server.Server
	st     *store.Store
	// metrics is the server's registry, read by tests through metricsText.
	metrics *obs.Metrics
	// secrets is the server's encryption key, for other servers over the same database.
	secrets *secretbox.Box
}

func newEnv(t *testing.T, configure ...func(*server.Config)) *env {
	t.Helper()
	return newEnvWith(t, func(s *servertest.Setup) {
		for _, f := range configure {
			f(&s.Server)
		}
	})
}

// newEnvWith is newEnv for a test that adjusts the store as well.
func newEnvWith(t *testing.T, configure func(*servertest.Setup)) *env {
	t.Helper()
	logs := &servertest.Logs{}
	metrics := obs.NewMetrics()
	var secrets *secretbox.Box
	started := servertest.Start(t, func(s *servertest.Setup) {
		s.Server.Log = slog.New(slog.NewTextHandler(logs, nil))
		s.Server.ProviderTimeout = providerTimeout
		s.Server.Metrics = metrics
		configure(s)
		secrets = s.Server.Secrets
	})
	e := &env{t: t, url: started.URL, pool: started.Pool, logs: logs, srv: started.Server, st: started.Store, metrics: metrics, ws: started.Workspace, secrets: secrets}
	e.vt = &validatingTransport{t: t, router: specRouter(t), base: http.DefaultTransport}
	e.client = &http.Client{Transport: e.vt}
	e.c = e.clientWithKey(e.ws.APIKey)
	return e
}

// workspace creates another workspace and returns a client authenticated as it.
func (e *env) workspace(name, region string) (tenant.Created, *api.ClientWithResponses) {
	e.t.Helper()
	ws, err := tenant.Create(context.Background(), e.pool, name, region)
	if err != nil {
		e.t.Fatal(err)
	}
	return ws, e.clientWithKey(ws.APIKey)
}

func (e *env) clientWithKey(key string) *api.ClientWithResponses {
	c, err := wazapin.New(e.url, key, api.WithHTTPClient(e.client))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// do sends a raw request, for what the generated client cannot send (malformed JSON, odd
// headers); the response is still validated against the spec.
func (e *env) do(method, path string, body []byte, header ...string) (int, []byte) {
	e.t.Helper()
	a, err := e.roundTrip(e.url, method, path, body, header...)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.status, a.body
}

// answer is a response as a client of the wire sees it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// roundTrip is do to the server at base, answering the headers too; a request that could not be
// sent is an error rather than the end of the test, so any goroutine may call it. header holds
// names and values; an empty value removes the header.
func (e *env) roundTrip(base, method, path string, body []byte, header ...string) (answer, error) {
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("X-Api-Key", e.ws.APIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	res, err := e.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, b}, err
}

// create makes a contact and insists it was new.
func (e *env) create(body api.ContactCreate) api.Contact {
	e.t.Helper()
	res, err := e.c.CreateContactWithResponse(context.Background(), nil, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode() != http.StatusCreated {
		e.t.Fatalf("create: status %d, want 201: %s", res.StatusCode(), res.Body)
	}
	return res.JSON201.Data
}

// problem decodes a problem body and checks the basics every problem has.
func problem(t *testing.T, status int, body []byte) api.Problem {
	t.Helper()
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem body: %v: %s", err, body)
	}
	if p.Status != status || p.Title == "" {
		t.Fatalf("problem %+v, want status %d with a title", p, status)
	}
	return p
}

// wantStatus fails the test unless got is want, showing the body.
func wantStatus(t *testing.T, got, want int, body []byte) {
	t.Helper()
	if got != want {
		t.Fatalf("status %d, want %d: %s", got, want, body)
	}
}

// fields lists the fields a problem names.
func fields(p api.Problem) []string {
	var out []string
	if p.Errors != nil {
		for _, f := range *p.Errors {
			out = append(out, f.Field)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// providerTimeout bounds channel lookups in tests: short, so the slow-provider test is quick.
const providerTimeout = 500 * time.Millisecond

var (
	routerOnce sync.Once
	router     routers.Router
	routerErr  error
)

func specRouter(t *testing.T) routers.Router {
	routerOnce.Do(func() {
		doc, err := api.GetSwagger()
		if err != nil {
			routerErr = err
			return
		}
		doc.Servers = nil // match paths on whatever port the test server has
		router, routerErr = legacy.NewRouter(doc)
	})
	if routerErr != nil {
		t.Fatalf("load openapi.yaml: %v", routerErr)
	}
	return router
}

// validatingTransport checks every response against openapi.yaml and fails the test on any
// response the spec does not allow, and on any 500. (Other 5xx are answers the spec documents:
// 502/504 for providers, 503 for missing configuration.)
type validatingTransport struct {
	t      *testing.T
	router routers.Router
	base   http.RoundTripper
	// faultsExpected lets a test that breaks the server on purpose see its 500s.
	faultsExpected atomic.Bool
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if res.StatusCode == http.StatusInternalServerError && !v.faultsExpected.Load() {
		v.t.Errorf("%s %s: internal server error: %s", req.Method, req.URL.Path, body)
	}
	// Routes are matched on the path as sent, so that an escaped slash stays inside its parameter
	// (/v1/contacts/{contactID}/tags/a%2Fb), as the server's router keeps it.
	asSent := req.Clone(req.Context())
	asSent.URL.Path = req.URL.EscapedPath()
	route, params, err := v.router.FindRoute(asSent)
	if err != nil {
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed && !isPublicPage(req.URL.Path) {
			v.t.Errorf("%s %s: not in openapi.yaml but answered %d", req.Method, req.URL.Path, res.StatusCode)
		}
		return res, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		v.t.Errorf("%s %s: response %d does not match openapi.yaml: %v\n%s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
	checkObservable(v.t, req, res, body)
	return res, nil
}

// isPublicPage tells the pages outside the spec: the docs and the spec itself.
func isPublicPage(path string) bool {
	return path == "/" || path == "/docs" || strings.HasPrefix(path, "/docs/") || path == "/openapi.yaml" || path == "/openapi.json"
}

// checkObservable holds every answer to what a client and an operator rely on: a request id in
// the header and in every problem, Retry-After on every 503, problems typed as such.
func checkObservable(t *testing.T, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	id := res.Header.Get("X-Request-Id")
	if id == "" {
		t.Errorf("%s %s: answer %d has no X-Request-Id", req.Method, req.URL.Path, res.StatusCode)
	}
	if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
		t.Errorf("%s %s: 503 without Retry-After", req.Method, req.URL.Path)
	}
	isProblem := strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json")
	if isProblem != (res.StatusCode >= 400) {
		t.Errorf("%s %s: status %d with Content-Type %q", req.Method, req.URL.Path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	if isProblem && req.Method != http.MethodHead {
		var p api.Problem
		if err := json.Unmarshal(body, &p); err != nil || p.RequestId == nil || *p.RequestId != id {
			t.Errorf("%s %s: problem's request_id is not the X-Request-Id %q: %s", req.Method, req.URL.Path, id, body)
		}
	}
}
