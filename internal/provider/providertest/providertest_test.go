package providertest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/internal/provider/providertest"
)

// request sends a raw request to a fake, with the auth header of its credentials unless auth
// overrides it, and returns the status and body.
func request(t *testing.T, method, url, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func secretOf(t *testing.T, creds json.RawMessage, key string) string {
	var c map[string]string
	if err := json.Unmarshal(creds, &c); err != nil {
		t.Fatal(err)
	}
	return c[key]
}

func TestFakeGatewayChecksRequests(t *testing.T) {
	fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{
		"6281111111111": {Name: "Budi"},
	}})
	good := map[string]string{"X-Api-Key": secretOf(t, fake.Credentials(), "api_key"), "Accept": "application/json"}
	cases := []struct {
		name, method, path string
		header             map[string]string
		status             int
		mismatch           bool
		body               string // a part of the answer
	}{
		{"existing number", "GET", "/api/contacts/check-exists?phone=6281111111111&session=default", good, 200, false, `"chatId":"6281111111111@c.us"`},
		{"missing number", "GET", "/api/contacts/check-exists?session=default&phone=6282222222222", good, 200, false, `"numberExists":false`},
		{"contact", "GET", "/api/contacts?contactId=6281111111111%40c.us&session=default", good, 200, false, `"name":"Budi"`},
		{"no picture", "GET", "/api/contacts/profile-picture?contactId=6281111111111@c.us&session=default", good, 404, false, ""},
		{"wrong key", "GET", "/api/contacts/check-exists?phone=6281111111111&session=default", map[string]string{"X-Api-Key": "nope", "Accept": "application/json"}, 401, true, ""},
		{"no Accept", "GET", "/api/contacts/check-exists?phone=6281111111111&session=default", map[string]string{"X-Api-Key": good["X-Api-Key"]}, 400, true, ""},
		{"POST", "POST", "/api/contacts/check-exists?phone=6281111111111&session=default", good, 400, true, ""},
		{"phone with +", "GET", "/api/contacts/check-exists?phone=%2B6281111111111&session=default", good, 400, true, ""},
		{"no session", "GET", "/api/contacts/check-exists?phone=6281111111111", good, 400, true, ""},
		{"other session", "GET", "/api/contacts/check-exists?phone=6281111111111&session=x", good, 400, true, ""},
		{"extra parameter", "GET", "/api/contacts/check-exists?phone=6281111111111&session=default&x=1", good, 400, true, ""},
		{"repeated parameter", "GET", "/api/contacts/check-exists?phone=6281111111111&phone=6281111111111&session=default", good, 400, true, ""},
		{"profile of a missing number", "GET", "/api/contacts?contactId=6282222222222@c.us&session=default", good, 404, true, ""},
		{"contactId without @c.us", "GET", "/api/contacts?contactId=6281111111111&session=default", good, 404, true, ""},
		{"unknown path", "GET", "/api/contacts/check-exists/", good, 404, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(fake.Mismatches())
			status, body := request(t, tc.method, fake.URL()+tc.path, "", tc.header)
			if status != tc.status || !strings.Contains(body, tc.body) {
				t.Errorf("answer = %d %s, want %d with %s", status, body, tc.status, tc.body)
			}
			if recorded := len(fake.Mismatches()) > before; recorded != tc.mismatch {
				t.Errorf("mismatch recorded = %v, want %v: %v", recorded, tc.mismatch, fake.Mismatches())
			}
		})
	}
}

func TestFakeBusinessAPIChecksRequests(t *testing.T) {
	fake := providertest.NewBusinessAPI(t, providertest.Config{Contacts: map[string]providertest.Contact{
		"6281111111111": {},
	}})
	good := map[string]string{"Authorization": "Bearer " + secretOf(t, fake.Credentials(), "access_token"), "Content-Type": "application/json"}
	check := func(contacts ...string) string {
		b, _ := json.Marshal(map[string]any{"blocking": "wait", "contacts": contacts, "force_check": true})
		return string(b)
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("+62812%08d", i)
	}
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		mismatch                 bool
		answer                   string // a part of the answer
	}{
		{"check", "POST", "/v1/contacts", check("+6282222222222", "+6281111111111"), good, 200, false,
			`"contacts":[{"input":"+6281111111111","status":"valid","wa_id":"6281111111111"},{"input":"+6282222222222","status":"invalid"}]`},
		{"wrong token", "POST", "/v1/contacts", check("+6281111111111"), map[string]string{"Authorization": "Bearer x", "Content-Type": "application/json"}, 401, true, ""},
		{"no Content-Type", "POST", "/v1/contacts", check("+6281111111111"), map[string]string{"Authorization": good["Authorization"]}, 400, true, ""},
		{"GET", "GET", "/v1/contacts", "", good, 400, true, ""},
		{"other path", "POST", "/v1/contacts/", check("+6281111111111"), good, 404, true, ""},
		{"unknown field", "POST", "/v1/contacts", `{"blocking": "wait", "contacts": ["+6281111111111"], "force_check": true, "x": 1}`, good, 400, true, ""},
		{"no blocking", "POST", "/v1/contacts", `{"contacts": ["+6281111111111"], "force_check": true}`, good, 400, true, ""},
		{"force_check false", "POST", "/v1/contacts", `{"blocking": "wait", "contacts": ["+6281111111111"], "force_check": false}`, good, 400, true, ""},
		{"no contacts", "POST", "/v1/contacts", check(), good, 400, true, ""},
		{"101 contacts", "POST", "/v1/contacts", check(many...), good, 400, true, ""},
		{"not E.164", "POST", "/v1/contacts", check("6281111111111"), good, 400, true, ""},
		{"repeated number", "POST", "/v1/contacts", check("+6281111111111", "+6281111111111"), good, 400, true, ""},
		{"trailing data", "POST", "/v1/contacts", check("+6281111111111") + "{}", good, 400, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(fake.Mismatches())
			status, body := request(t, tc.method, fake.URL()+tc.path, tc.body, tc.header)
			if status != tc.status || !strings.Contains(body, tc.answer) {
				t.Errorf("answer = %d %s, want %d with %s", status, body, tc.status, tc.answer)
			}
			if recorded := len(fake.Mismatches()) > before; recorded != tc.mismatch {
				t.Errorf("mismatch recorded = %v, want %v: %v", recorded, tc.mismatch, fake.Mismatches())
			}
		})
	}
	if n := fake.Requests(); n != len(cases) {
		t.Errorf("requests = %d, want %d", n, len(cases))
	}
}

func TestFakeDown(t *testing.T) {
	fake := providertest.NewGateway(t, providertest.Config{Mode: providertest.Down})
	if _, err := http.Get(fake.URL() + "/api/contacts"); err == nil {
		t.Fatal("a down fake answered")
	}
}
