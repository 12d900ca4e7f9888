package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/server"
)

func TestMalformedRequests(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	posts := []struct{ method, path string }{
		{"POST", "/v1/contacts"},
		{"PATCH", "/v1/contacts/" + c.Id},
		{"POST", "/v1/contacts/resolve"},
		{"POST", "/v1/contacts/lookup"},
		{"POST", "/v1/contacts/" + c.Id + "/notes"},
		{"POST", "/v1/contacts/" + c.Id + "/tags"},
		{"PUT", "/v1/contacts/" + c.Id + "/consent/whatsapp"},
		{"POST", "/v1/contacts/" + c.Id + "/suppressions"},
	}
	bodies := map[string]string{
		"truncated":       `{"phone_number": "+62`,
		"not JSON":        `phone_number=+62`,
		"trailing comma":  `{"name": "a",}`,
		"array":           `[1, 2, 3]`,
		"string":          `"hello"`,
		"number":          `42`,
		"wrong types":     `{"phone_number": 1, "name": [], "body": {}, "status": 5, "identifiers": "x", "channel": true, "custom_fields": "x"}`,
		"deep nesting":    strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		"invalid UTF-8":   "{\"name\": \"\xff\xfe\"}",
		"NUL in a string": `{"name": "a\u0000b", "body": "a\u0000b", "phone_number": "+62\u0000"}`,
	}
	for _, p := range posts {
		for name, body := range bodies {
			t.Run(p.method+" "+p.path[strings.LastIndex(p.path, "/"):]+" "+name, func(t *testing.T) {
				status, b := e.do(p.method, p.path, []byte(body))
				if status != 400 && status != 422 {
					t.Fatalf("status %d, want 400 or 422: %s", status, b)
				}
				problem(t, status, b)
				if bytes.Contains(b, []byte("goroutine")) || bytes.Contains(b, []byte(".go:")) {
					t.Errorf("a stack trace leaked: %s", b)
				}
			})
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("malformed input logged server errors:\n%s", logs)
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	big := []byte(`{"phone_number": "+6281234567890", "name": "` + strings.Repeat("x", 1<<20) + `"}`)
	for _, path := range []string{"/v1/contacts", "/v1/contacts/resolve"} {
		t.Run(path, func(t *testing.T) {
			status, body := e.do("POST", path, big)
			wantStatus(t, status, http.StatusRequestEntityTooLarge, body)
			problem(t, 413, body)
		})
	}
	t.Run("without Content-Length", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.url+"/v1/contacts", struct{ *bytes.Reader }{bytes.NewReader(big)})
		req.Header.Set("X-Api-Key", e.ws.APIKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", res.StatusCode)
		}
	})
	var n int
	if err := e.pool.QueryRow(bg, "SELECT count(*) FROM contacts").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d contacts written by refused bodies (%v)", n, err)
	}
}

func TestBadQueryParameters(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	for _, tc := range []struct{ path, field string }{
		{"/v1/contacts?limit=0", "limit"},
		{"/v1/contacts?limit=201", "limit"},
		{"/v1/contacts?limit=ten", "limit"},
		{"/v1/contacts?cursor=not-a-cursor", "cursor"},
		{"/v1/contacts?updated_since=yesterday", "updated_since"},
		{"/v1/contacts?q=" + strings.Repeat("a", 201), "q"},
		{"/v1/contacts/" + c.Id + "/notes?limit=-1", "limit"},
		{"/v1/contacts/" + c.Id + "/notes?cursor=%00", "cursor"},
	} {
		t.Run(tc.path[:min(len(tc.path), 60)], func(t *testing.T) {
			status, body := e.do("GET", tc.path, nil)
			wantStatus(t, status, 400, body)
			if f := fields(problem(t, 400, body)); len(f) != 1 || f[0] != tc.field {
				t.Errorf("fields %v, want [%s]", f, tc.field)
			}
		})
	}
}

// TestUnknownRoutesAreProblems: an unknown route or method is a problem, answered the same with
// a key and without one, since no key is asked for before a route matches.
func TestUnknownRoutesAreProblems(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/nothing", 404},
		{"GET", "/v2/contacts", 404},
		{"GET", "/metrics", 404},
		{"GET", "/docs/assets/nothing.js", 404},
		{"PUT", "/v1/contacts", 405},
		{"DELETE", "/v1/health", 405},
	} {
		for _, key := range []string{e.ws.APIKey, ""} {
			t.Run(fmt.Sprintf("%s %s, key %t", tc.method, tc.path, key != ""), func(t *testing.T) {
				status, body := e.do(tc.method, tc.path, nil, "X-Api-Key", key)
				wantStatus(t, status, tc.status, body)
				problem(t, tc.status, body)
			})
		}
	}
}

func TestNULInParametersIsRefused(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	for _, tc := range []struct{ method, path, field string }{
		{"GET", "/v1/contacts?q=a%00b", "q"},
		{"GET", "/v1/contacts?q=%ff", "q"},
		{"GET", "/v1/contacts?tag=%00", "tag"},
		{"GET", "/v1/contacts?tag=%ff", "tag"},
		{"GET", "/v1/contacts/phone/%00", "phone"},
		{"DELETE", "/v1/contacts/" + c.Id + "/tags/a%00b", "tag"},
		{"GET", "/v1/contacts/%ff", "contactID"},
	} {
		status, body := e.do(tc.method, tc.path, nil)
		wantStatus(t, status, 400, body)
		if f := fields(problem(t, 400, body)); len(f) != 1 || f[0] != tc.field {
			t.Errorf("%s %s: fields %v, want [%s]", tc.method, tc.path, f, tc.field)
		}
	}
	t.Run("an escaped backslash before u0000 is plain text", func(t *testing.T) {
		status, body := e.do("POST", "/v1/contacts/"+c.Id+"/notes", []byte(`{"body": "C:\\u0000dir"}`))
		wantStatus(t, status, 201, body)
		if !strings.Contains(string(body), `C:\\u0000dir`) {
			t.Errorf("note body altered: %s", body)
		}
	})
}

func TestBodiesMustBeJSON(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"phone_number": "+6281234567890"}`)
	for _, tc := range []struct {
		contentType string
		status      int
	}{
		{"application/json", 201},
		{"application/json; charset=utf-8", 200},
		{"", 200}, // a body without a Content-Type is read as JSON
		{"application/x-www-form-urlencoded", 415},
		{"text/plain", 415},
		{"application/json-seq", 415},
		{"garbage;;", 415},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			status, b := e.do("POST", "/v1/contacts", body, "Content-Type", tc.contentType)
			wantStatus(t, status, tc.status, b)
			if tc.status == 415 && !strings.Contains(*problem(t, 415, b).Detail, "application/json") {
				t.Errorf("the problem does not say what to send: %s", b)
			}
		})
	}
}

// TestUntranslatedErrorsAreFaults pins that an error no layer translated is a 500 (logged with its
// cause), never a status a client would act on: a stray "no rows" is not a 404.
func TestUntranslatedErrorsAreFaults(t *testing.T) {
	for _, err := range []error{pgx.ErrNoRows, fmt.Errorf("read: %w", pgx.ErrNoRows), errors.New("something else")} {
		if got := server.StatusOf(err); got != http.StatusInternalServerError {
			t.Errorf("%v: %d, want 500", err, got)
		}
	}
}
