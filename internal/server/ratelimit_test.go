package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/ratelimit"
	"github.com/wazapin/wazapin/internal/server"
)

// slow is a rate at which no token comes back during a test: one every 100 seconds.
const slow = 0.01

// rateAnswer is what a test of rate limits reads of an answer.
type rateAnswer struct {
	status int
	header http.Header
	body   []byte
}

// remaining is r of the RateLimit header, or -1 without one.
func (a rateAnswer) remaining(t *testing.T) int {
	t.Helper()
	h := a.header.Get("RateLimit")
	if h == "" {
		return -1
	}
	m := regexp.MustCompile(`^"(default|failed-auth)";r=(\d+);t=(\d+)$`).FindStringSubmatch(h)
	if m == nil {
		t.Fatalf("RateLimit %q is not of the form \"name\";r=N;t=N", h)
	}
	r, _ := strconv.Atoi(m[2])
	return r
}

// resetIn is t of the RateLimit header.
func (a rateAnswer) resetIn(t *testing.T) int {
	t.Helper()
	m := regexp.MustCompile(`;t=(\d+)$`).FindStringSubmatch(a.header.Get("RateLimit"))
	if m == nil {
		t.Fatalf("RateLimit %q has no t", a.header.Get("RateLimit"))
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// rateClient sends requests as one key from one local address, every answer checked against
// the spec.
type rateClient struct {
	e      *env
	key    string
	client *http.Client
}

// from returns a client that connects from the loopback address local (127.0.0.2, ...), so that
// the server sees another client address.
func (e *env) from(local string, key string) *rateClient {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	base := &http.Transport{DialContext: dialer.DialContext}
	e.t.Cleanup(base.CloseIdleConnections)
	return &rateClient{e: e, key: key, client: &http.Client{Transport: &validatingTransport{t: e.t, router: specRouter(e.t), base: base}}}
}

func (e *env) rated(key string) *rateClient { return &rateClient{e: e, key: key, client: e.client} }

// send sends a request with the client's key, and the header fields given as name, value pairs.
func (c *rateClient) send(method, path, contentType, body string, header ...string) rateAnswer {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.url+path, strings.NewReader(body))
	if err != nil {
		c.e.t.Fatal(err)
	}
	if c.key != "" {
		req.Header.Set("X-Api-Key", c.key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.client.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return rateAnswer{status: res.StatusCode, header: res.Header, body: b}
}

func (c *rateClient) get(path string) rateAnswer { return c.send(http.MethodGet, path, "", "") }

func (c *rateClient) post(path, body string) rateAnswer {
	return c.send(http.MethodPost, path, "application/json", body)
}

// newKey makes an API key through the API, with the permissions and rate limit (JSON, or "")
// given.
func (e *env) keyLimited(perms []string, rateLimit string) string {
	e.t.Helper()
	list, err := json.Marshal(perms)
	if err != nil {
		e.t.Fatal(err)
	}
	body := `{"name": "rate test", "permissions": ` + string(list)
	if rateLimit != "" {
		body += `, "rate_limit": ` + rateLimit
	}
	a := e.rated(e.ws.APIKey).post("/v1/api-keys", body+"}")
	wantStatus(e.t, a.status, http.StatusCreated, a.body)
	var created api.ApiKeyCreatedResponse
	if err := json.Unmarshal(a.body, &created); err != nil {
		e.t.Fatal(err)
	}
	return created.Data.Key
}

// want429 checks a refusal: Retry-After in whole seconds of at least 1, the same as t, r as
// given, and a detail that names the limit.
func want429(t *testing.T, a rateAnswer, policy string, r int, detail string) {
	t.Helper()
	wantStatus(t, a.status, http.StatusTooManyRequests, a.body)
	retry, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || retry < 1 {
		t.Errorf("Retry-After %q, want whole seconds of at least 1", a.header.Get("Retry-After"))
	}
	if got := a.header.Get("RateLimit-Policy"); got != policy {
		t.Errorf("RateLimit-Policy %q, want %q", got, policy)
	}
	if got := a.remaining(t); got != r {
		t.Errorf("RateLimit r=%d, want %d", got, r)
	}
	if got := a.resetIn(t); got != retry {
		t.Errorf("RateLimit t=%d, want Retry-After's %d", got, retry)
	}
	if p := problem(t, http.StatusTooManyRequests, a.body); p.Detail == nil || !strings.Contains(*p.Detail, detail) {
		t.Errorf("detail %s, want one containing %q", a.body, detail)
	}
}

// TestRateLimitPerKey holds keys to their buckets: the server's, or their own.
func TestRateLimitPerKey(t *testing.T) {
	const unknown = "/v1/contacts/cnt_06BJ3ZKQ4N7G1XG2R0M8W5T4CC"
	t.Run("the burst passes and r counts down, errors included, then 429", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.RateLimit = ratelimit.Limit{PerSecond: slow, Burst: 4} })
		k := e.rated(e.ws.APIKey)
		for i, a := range []rateAnswer{
			k.get("/v1/workspace"),
			k.get(unknown), // 404 from the handler
			k.post("/v1/contacts", `{"phone_number": "not a number"}`),  // 422
			k.post("/v1/contacts", `{"phone_number": "+6281234567890"`), // 400 from the body check
		} {
			if a.status == http.StatusTooManyRequests {
				t.Fatalf("request %d refused within the burst: %s", i, a.body)
			}
			if got := a.header.Get("RateLimit-Policy"); got != `"default";q=4;w=400` {
				t.Errorf("request %d (status %d): RateLimit-Policy %q", i, a.status, got)
			}
			if got, want := a.remaining(t), 3-i; got != want {
				t.Errorf("request %d (status %d): r=%d, want %d", i, a.status, got, want)
			}
			if got, want := a.resetIn(t), 100*(i+1); got != want {
				t.Errorf("request %d: t=%d, want %d", i, got, want)
			}
		}
		for range 2 { // a refusal takes nothing, so the next says the same
			want429(t, k.get("/v1/workspace"), `"default";q=4;w=400`, 0, "this API key is over its rate limit of 0.01 requests a second (burst 4); retry after")
		}
	})

	t.Run("a key's own limit overrides the server's", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.RateLimit = ratelimit.Limit{PerSecond: slow, Burst: 5} })
		for _, tc := range []struct {
			name   string
			own    string
			passes int
			policy string
			detail string
		}{
			{"smaller", `{"requests_per_second": 0.01, "burst": 2}`, 2, `"default";q=2;w=200`, "over its rate limit of 0.01 requests a second (burst 2)"},
			{"larger", `{"requests_per_second": 0.5, "burst": 8}`, 8, `"default";q=8;w=16`, "over its rate limit of 0.5 requests a second (burst 8)"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				k := e.rated(e.keyLimited([]string{"workspace:read"}, tc.own))
				for i := range tc.passes {
					a := k.get("/v1/workspace")
					wantStatus(t, a.status, http.StatusOK, a.body)
					if a.header.Get("RateLimit-Policy") != tc.policy || a.remaining(t) != tc.passes-1-i {
						t.Fatalf("request %d: RateLimit-Policy %q, RateLimit %q", i, a.header.Get("RateLimit-Policy"), a.header.Get("RateLimit"))
					}
				}
				want429(t, k.get("/v1/workspace"), tc.policy, 0, tc.detail)
			})
		}
	})

	t.Run("a key's own limit holds when the server's is off", func(t *testing.T) {
		e := newEnv(t)
		k := e.rated(e.keyLimited([]string{"workspace:read"}, `{"requests_per_second": 0.01, "burst": 1}`))
		wantStatus(t, k.get("/v1/workspace").status, http.StatusOK, nil)
		want429(t, k.get("/v1/workspace"), `"default";q=1;w=100`, 0, "burst 1")
	})

	t.Run("an import costs what the spec declares", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.RateLimit = ratelimit.Limit{PerSecond: slow, Burst: 60} })
		k := e.rated(e.ws.APIKey)
		line := `{"phone_number": "+6281234567890"}` + "\n"
		a := k.send(http.MethodPost, "/v1/contacts/import", "application/x-ndjson", line)
		wantStatus(t, a.status, http.StatusOK, a.body)
		if a.remaining(t) != 10 {
			t.Errorf("after an import of a bucket of 60: %s, want r=10", a.header.Get("RateLimit"))
		}
		want429(t, k.send(http.MethodPost, "/v1/contacts/import", "application/x-ndjson", line), `"default";q=60;w=6000`, 10, "and this operation costs 50 requests; retry after 4000 seconds")
		if a := k.get("/v1/workspace"); a.status != http.StatusOK || a.remaining(t) != 9 {
			t.Errorf("a cheap request after the refused import: %d, %s; want 200 with r=9", a.status, a.header.Get("RateLimit"))
		}
	})

	t.Run("a 403 carries the headers and takes from the bucket", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.RateLimit = ratelimit.Limit{PerSecond: slow, Burst: 3} })
		k := e.rated(e.keyLimited([]string{"contacts:read"}, ""))
		a := k.post("/v1/contacts", `{"name": "x", "phone_number": "+6281234567890"}`)
		wantStatus(t, a.status, http.StatusForbidden, a.body)
		if a.remaining(t) != 2 {
			t.Errorf("403: RateLimit %q, want r=2", a.header.Get("RateLimit"))
		}
	})

	t.Run("two keys have separate buckets", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.RateLimit = ratelimit.Limit{PerSecond: slow, Burst: 2} })
		other, _ := e.workspace("Other", "ID")
		a, b := e.rated(e.ws.APIKey), e.rated(other.APIKey)
		a.get("/v1/workspace")
		a.get("/v1/workspace")
		want429(t, a.get("/v1/workspace"), `"default";q=2;w=200`, 0, "over its rate limit")
		for want := 1; want >= 0; want-- {
			if got := b.get("/v1/workspace"); got.status != http.StatusOK || got.remaining(t) != want {
				t.Fatalf("the other key: %d, %s; want 200 with r=%d", got.status, got.header.Get("RateLimit"), want)
			}
		}
	})

	t.Run("tokens come back", func(t *testing.T) {
		// Two a second: the second request, sent at once, is refused; half a second later it
		// passes. (The limiter's own tests follow refills on a clock they move by hand.)
		e := newEnv(t, func(c *server.Config) { c.RateLimit = ratelimit.Limit{PerSecond: 2, Burst: 1} })
		k := e.rated(e.ws.APIKey)
		wantStatus(t, k.get("/v1/workspace").status, http.StatusOK, nil)
		want429(t, k.get("/v1/workspace"), `"default";q=1;w=1`, 0, "2 requests a second (burst 1)")
		time.Sleep(600 * time.Millisecond)
		if a := k.get("/v1/workspace"); a.status != http.StatusOK || a.remaining(t) != 0 {
			t.Fatalf("after the refill: %d, %s", a.status, a.header.Get("RateLimit"))
		}
	})

	t.Run("off sends no headers and never 429", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.RateLimit = ratelimit.Limit{} })
		k := e.rated(e.ws.APIKey)
		for i := range 300 {
			a := k.get("/v1/workspace")
			wantStatus(t, a.status, http.StatusOK, a.body)
			if a.header.Get("RateLimit") != "" || a.header.Get("RateLimit-Policy") != "" {
				t.Fatalf("request %d carries %q and %q with rate limits off", i, a.header.Get("RateLimit-Policy"), a.header.Get("RateLimit"))
			}
		}
	})

	t.Run("public operations are not limited", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.RateLimit = ratelimit.Limit{PerSecond: slow, Burst: 1} })
		for range 3 {
			if a := e.rated(e.ws.APIKey).get("/v1/health"); a.status != http.StatusOK || a.header.Get("RateLimit") != "" {
				t.Fatalf("health: %d with RateLimit %q", a.status, a.header.Get("RateLimit"))
			}
		}
	})
}

// TestAuthFailureLimit limits failed authentications per client address.
func TestAuthFailureLimit(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.RateLimit = ratelimit.Limit{PerSecond: slow, Burst: 100}
		c.AuthFailureLimit = ratelimit.Limit{PerSecond: slow, Burst: 3}
	})
	const policy = `"failed-auth";q=3;w=300`
	badKey := "wzk_06BK5M2Q0H3W7XGQ8T1C9N4E2R_K3F9ZB2MQ7D5XW8E1RT4YH6N0PV3CJ9GA2S7K5M8Q1W4E6R3T0Y"
	guesser, good := e.from("127.0.0.2", badKey), e.from("127.0.0.1", e.ws.APIKey)

	t.Run("failures draw from the address's bucket", func(t *testing.T) {
		for i, c := range []*rateClient{guesser, e.from("127.0.0.2", ""), guesser} {
			a := c.get("/v1/workspace")
			wantStatus(t, a.status, http.StatusUnauthorized, a.body)
			if a.header.Get("RateLimit-Policy") != policy || a.remaining(t) != 2-i {
				t.Errorf("failure %d: RateLimit-Policy %q, RateLimit %q; want r=%d", i, a.header.Get("RateLimit-Policy"), a.header.Get("RateLimit"), 2-i)
			}
		}
	})
	t.Run("past the burst the address gets 429 before its key is looked up", func(t *testing.T) {
		want429(t, guesser.get("/v1/workspace"), policy, 0, "too many failed authentications from this address, over the limit of 0.01 requests a second (burst 3)")
		a := e.from("127.0.0.2", e.ws.APIKey).get("/v1/workspace")
		want429(t, a, policy, 0, "too many failed authentications")
	})
	t.Run("a good key from another address still works", func(t *testing.T) {
		for range 5 {
			a := good.get("/v1/workspace")
			wantStatus(t, a.status, http.StatusOK, a.body)
			if a.header.Get("RateLimit-Policy") != `"default";q=100;w=10000` {
				t.Errorf("RateLimit-Policy %q", a.header.Get("RateLimit-Policy"))
			}
		}
	})
	t.Run("another address has a bucket of its own", func(t *testing.T) {
		a := e.from("127.0.0.3", badKey).get("/v1/workspace")
		wantStatus(t, a.status, http.StatusUnauthorized, a.body)
		if a.remaining(t) != 2 {
			t.Errorf("RateLimit %q, want r=2", a.header.Get("RateLimit"))
		}
	})
	t.Run("X-Forwarded-For does not change the address", func(t *testing.T) {
		for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
			value := "203.0.113.7"
			if h == "Forwarded" {
				value = "for=203.0.113.7"
			}
			want429(t, guesser.send(http.MethodGet, "/v1/workspace", "", "", h, value), policy, 0, "too many failed authentications")
		}
	})
}

// TestRateLimitDeclarations holds openapi.yaml to what the rate limits need: every response of
// every operation that takes a key declares RateLimit-Policy and RateLimit (run
// scripts/ratelimit-headers.mjs to add them), and an operation that costs more than one request
// says so in its description.
func TestRateLimitDeclarations(t *testing.T) {
	spec, err := openapi3.NewLoader().LoadFromData(api.SpecYAML)
	if err != nil {
		t.Fatal(err)
	}
	costs := map[string]float64{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public
			}
			t.Run(op.OperationID, func(t *testing.T) {
				for status, r := range op.Responses.Map() {
					for _, h := range []string{"RateLimit-Policy", "RateLimit"} {
						if r.Value.Headers[h] == nil {
							t.Errorf("%s %s: response %s does not declare %s", method, path, status, h)
						}
					}
				}
				if cost, ok := op.Extensions["x-rate-cost"].(float64); ok {
					costs[op.OperationID] = cost
					if want := fmt.Sprintf("`x-rate-cost: %v`", cost); !strings.Contains(op.Description, want) {
						t.Errorf("costs %v but its description does not say %s", cost, want)
					}
				}
			})
		}
	}
	if costs["importContacts"] != 50 || costs["lookupChannelContacts"] != 10 {
		t.Errorf("x-rate-cost: %v", costs)
	}
}
