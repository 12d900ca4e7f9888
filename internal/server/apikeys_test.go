package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apikey"
)

// newKey makes a key through the API with the first key and returns it as created.
func (e *env) newKey(body string) api.ApiKeyCreated {
	e.t.Helper()
	status, b := e.do(http.MethodPost, "/v1/api-keys", []byte(body))
	if status != http.StatusCreated {
		e.t.Fatalf("create key %s: %d %s", body, status, b)
	}
	var out api.ApiKeyCreatedResponse
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Data
}

// keyWith makes a key holding exactly perms.
func (e *env) keyWith(perms ...string) string {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("%d permissions", len(perms)), "permissions": perms})
	return e.newKey(string(b)).Key
}

// as sends a raw request with key instead of the first key.
func (e *env) as(key, method, path string, body []byte, header ...string) (int, []byte) {
	e.t.Helper()
	return e.do(method, path, body, append([]string{"X-Api-Key", key}, header...)...)
}

func problemOf(t *testing.T, b []byte) api.Problem {
	t.Helper()
	var p api.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("not a problem: %s", b)
	}
	return p
}

func (e *env) keys() []api.ApiKey {
	e.t.Helper()
	res, err := e.c.ListApiKeysWithResponse(bg)
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	return res.JSON200.Data
}

// waitStatus repeats a request until it answers want, for at most within.
func (e *env) waitStatus(within time.Duration, want int, key, method, path string) time.Duration {
	e.t.Helper()
	start := time.Now()
	for {
		status, b := e.as(key, method, path, nil)
		if status == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			e.t.Fatalf("%s %s still answers %d after %s, want %d: %s", method, path, status, within, want, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)

	t.Run("the secret is shown once, when the key is made", func(t *testing.T) {
		k := e.newKey(`{"name":"  Shopify sync ","permissions":["contacts:read","contacts:write"]}`)
		if k.Name != "Shopify sync" || !strings.HasPrefix(k.Key, k.Id+"_") || k.Prefix != k.Key[:len(k.Id)+5] {
			t.Fatalf("created %+v", k)
		}
		if got := k.Permissions; !slices.Equal(got, []api.Permission{api.ContactsRead, api.ContactsWrite}) {
			t.Errorf("permissions %v", got)
		}
		secret := k.Key[len(k.Id)+1:]
		_, list := e.do(http.MethodGet, "/v1/api-keys", nil)
		_, one := e.do(http.MethodGet, "/v1/api-keys/"+k.Id, nil)
		for _, b := range [][]byte{list, one} {
			if strings.Contains(string(b), secret) || strings.Contains(string(b), secret[4:]) {
				t.Errorf("a listing shows the secret: %s", b)
			}
			if !strings.Contains(string(b), k.Prefix) {
				t.Errorf("a listing lacks the prefix %s: %s", k.Prefix, b)
			}
		}
		listed := e.keys()
		if len(listed) < 2 || listed[0].Name != "first key" || len(listed[0].Permissions) != len(apikey.Permissions) {
			t.Errorf("the first key is not listed first with every permission: %+v", listed)
		}
	})

	t.Run("a key does only what its permissions allow", func(t *testing.T) {
		reader := e.keyWith("contacts:read")
		status, b := e.as(reader, http.MethodGet, "/v1/contacts", nil)
		wantStatus(t, status, http.StatusOK, b)
		status, b = e.as(reader, http.MethodPost, "/v1/contacts", []byte(`{"name":"x"}`))
		wantStatus(t, status, http.StatusForbidden, b)
		if p := problemOf(t, b); p.Permission == nil || *p.Permission != "contacts:write" || !strings.Contains(*p.Detail, "contacts:write") {
			t.Errorf("403 does not name contacts:write: %s", b)
		}
		if e.count("contacts") != 0 {
			t.Error("a forbidden create wrote a contact")
		}
	})

	t.Run("a key grants only permissions it holds", func(t *testing.T) {
		admin := e.keyWith("api_keys:write", "contacts:read")
		status, b := e.as(admin, http.MethodPost, "/v1/api-keys", []byte(`{"name":"more","permissions":["contacts:read","contacts:write"]}`))
		wantStatus(t, status, http.StatusForbidden, b)
		if p := problemOf(t, b); p.Permission == nil || *p.Permission != "contacts:write" {
			t.Errorf("403 does not name contacts:write: %s", b)
		}
		status, b = e.as(admin, http.MethodPost, "/v1/api-keys", []byte(`{"name":"less","permissions":["contacts:read"]}`))
		wantStatus(t, status, http.StatusCreated, b)
		status, b = e.as(e.keyWith("contacts:read"), http.MethodPost, "/v1/api-keys", []byte(`{"name":"x","permissions":["contacts:read"]}`))
		wantStatus(t, status, http.StatusForbidden, b)
	})

	t.Run("invalid keys are refused naming the field, and nothing is made", func(t *testing.T) {
		before := len(e.keys())
		for _, tc := range []struct{ name, body, field string }{
			{"blank name", `{"name":"  ","permissions":["contacts:read"]}`, "name"},
			{"long name", `{"name":"` + strings.Repeat("n", 101) + `","permissions":["contacts:read"]}`, "name"},
			{"no permissions", `{"name":"x","permissions":[]}`, "permissions"},
			{"unknown permission", `{"name":"x","permissions":["contacts:read","contacts:admin"]}`, "permissions[1]"},
			{"a permission twice", `{"name":"x","permissions":["events:read","events:read"]}`, "permissions[1]"},
			{"expired already", `{"name":"x","permissions":["events:read"],"expires_at":"2020-01-01T00:00:00Z"}`, "expires_at"},
			{"no rate", `{"name":"x","permissions":["events:read"],"rate_limit":{"requests_per_second":0,"burst":5}}`, "rate_limit.requests_per_second"},
			{"no burst", `{"name":"x","permissions":["events:read"],"rate_limit":{"requests_per_second":5,"burst":0}}`, "rate_limit.burst"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, b := e.do(http.MethodPost, "/v1/api-keys", []byte(tc.body))
				wantStatus(t, status, http.StatusUnprocessableEntity, b)
				p := problemOf(t, b)
				if p.Errors == nil || (*p.Errors)[0].Field != tc.field {
					t.Errorf("errors %s, want the field %s", b, tc.field)
				}
			})
		}
		status, b := e.do(http.MethodPost, "/v1/api-keys", []byte(`{"name":"x","permissions":["events:read"],"secret":"mine"}`))
		wantStatus(t, status, http.StatusBadRequest, b)
		if after := len(e.keys()); after != before {
			t.Errorf("%d keys made by refused requests", after-before)
		}
	})

	t.Run("a revoked key stops at once and stays listed", func(t *testing.T) {
		k := e.newKey(`{"name":"temp","permissions":["contacts:read"]}`)
		status, b := e.as(k.Key, http.MethodGet, "/v1/contacts", nil)
		wantStatus(t, status, http.StatusOK, b)
		res, err := e.c.RevokeApiKeyWithResponse(bg, k.Id)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.StatusCode(), http.StatusNoContent, res.Body)
		e.waitStatus(time.Second, http.StatusUnauthorized, k.Key, http.MethodGet, "/v1/contacts")
		got, err := e.c.GetApiKeyWithResponse(bg, k.Id)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, got.StatusCode(), http.StatusOK, got.Body)
		revokedAt := got.JSON200.Data.RevokedAt.MustGet()
		res, _ = e.c.RevokeApiKeyWithResponse(bg, k.Id)
		wantStatus(t, res.StatusCode(), http.StatusNoContent, res.Body)
		got, _ = e.c.GetApiKeyWithResponse(bg, k.Id)
		if again := got.JSON200.Data.RevokedAt.MustGet(); !again.Equal(revokedAt) {
			t.Errorf("revoking again moved revoked_at from %s to %s", revokedAt, again)
		}
	})

	t.Run("another workspace's keys and unknown ids answer 404", func(t *testing.T) {
		_, other := e.workspace("Other", "ID")
		res, err := other.CreateApiKeyWithResponse(bg, nil, api.ApiKeyCreate{Name: "theirs", Permissions: []api.Permission{api.ContactsRead}})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.StatusCode(), http.StatusCreated, res.Body)
		theirs := res.JSON201.Data
		for _, id := range []string{theirs.Id, "wzk_06BK5M2Q0H3W7XGQ8T1C9N4E2R", "cnt_06BK5M2Q0H3W7XGQ8T1C9N4E2R", "nope"} {
			status, b := e.do(http.MethodGet, "/v1/api-keys/"+id, nil)
			wantStatus(t, status, http.StatusNotFound, b)
			status, b = e.do(http.MethodDelete, "/v1/api-keys/"+id, nil)
			wantStatus(t, status, http.StatusNotFound, b)
		}
		status, b := e.as(theirs.Key, http.MethodGet, "/v1/contacts", nil)
		wantStatus(t, status, http.StatusOK, b)
		for _, k := range e.keys() {
			if k.Id == theirs.Id {
				t.Error("another workspace's key is listed")
			}
		}
	})

	t.Run("an expired key answers 401 saying so", func(t *testing.T) {
		at := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
		k := e.newKey(`{"name":"brief","permissions":["contacts:read"],"expires_at":"` + at + `"}`)
		status, b := e.as(k.Key, http.MethodGet, "/v1/contacts", nil)
		wantStatus(t, status, http.StatusOK, b)
		time.Sleep(time.Until(k.ExpiresAt.MustGet()))
		status, b = e.as(k.Key, http.MethodGet, "/v1/contacts", nil)
		wantStatus(t, status, http.StatusUnauthorized, b)
		if !strings.Contains(string(b), "expired") {
			t.Errorf("401 does not say the key expired: %s", b)
		}
	})

	t.Run("last_used_at is written once a minute, not once a request", func(t *testing.T) {
		k := e.newKey(`{"name":"used","permissions":["contacts:read"]}`)
		if k.LastUsedAt.IsSpecified() && !k.LastUsedAt.IsNull() {
			t.Fatal("a new key has been used")
		}
		used := func() *time.Time {
			for _, l := range e.keys() {
				if l.Id == k.Id && !l.LastUsedAt.IsNull() {
					at := l.LastUsedAt.MustGet()
					return &at
				}
			}
			return nil
		}
		before := time.Now().Add(-time.Second)
		e.as(k.Key, http.MethodGet, "/v1/contacts", nil)
		var first *time.Time
		for deadline := time.Now().Add(5 * time.Second); first == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			first = used()
		}
		if first == nil || first.Before(before) {
			t.Fatalf("last_used_at %v after a use", first)
		}
		for range 20 {
			e.as(k.Key, http.MethodGet, "/v1/contacts", nil)
		}
		time.Sleep(200 * time.Millisecond)
		if again := used(); !again.Equal(*first) {
			t.Errorf("last_used_at moved from %s to %s within a minute", first, again)
		}
	})
}

// TestEveryOperationChecksItsPermission walks every operation of the spec twice: with a key that
// holds every permission but one it declares (403 naming a declared one), and with a key that
// holds only what it declares (anything but 403).
func TestEveryOperationChecksItsPermission(t *testing.T) {
	e := newEnv(t)
	doc, err := openapi3.NewLoader().LoadFromData(api.SpecYAML)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	keyFor := func(perms []string) string {
		sort.Strings(perms)
		name := strings.Join(perms, ",")
		if keys[name] == "" {
			keys[name] = e.keyWith(perms...)
		}
		return keys[name]
	}
	walked := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			t.Run(op.OperationID, func(t *testing.T) {
				raw, declared := op.Extensions["x-permissions"].([]any)
				if op.Security != nil && len(*op.Security) == 0 {
					if declared {
						t.Fatal("a public operation declares permissions")
					}
					return
				}
				if !declared || len(raw) == 0 {
					t.Fatal("no x-permissions")
				}
				need := make([]string, len(raw))
				for i, p := range raw {
					need[i] = p.(string)
				}
				url := strings.NewReplacer("{contactID}", "cnt_06BK5M2Q0H3W7XGQ8T1C9N4E2R", "{channelID}", "ch_06BK5M2Q0H3W7XGQ8T1C9N4E2R",
					"{endpointID}", "we_06BK5M2Q0H3W7XGQ8T1C9N4E2R", "{deliveryID}", "whd_06BK5M2Q0H3W7XGQ8T1C9N4E2R",
					"{mergeID}", "mrg_06BK5M2Q0H3W7XGQ8T1C9N4E2R", "{keyID}", "wzk_06BK5M2Q0H3W7XGQ8T1C9N4E2R",
					"{tag}", "vip", "{channel}", "whatsapp", "{phone}", "081234567890").Replace(path)
				var body []byte
				var header []string
				if op.RequestBody != nil {
					body = []byte(`{}`)
					if op.OperationID == "importContacts" {
						body, header = []byte("\n"), []string{"Content-Type", "application/x-ndjson"}
					}
				}
				for _, lack := range need {
					var others []string
					for _, p := range apikey.Permissions {
						if p != lack {
							others = append(others, p)
						}
					}
					status, b := e.as(keyFor(others), method, url, body, header...)
					wantStatus(t, status, http.StatusForbidden, b)
					if p := problemOf(t, b); p.Permission == nil || *p.Permission != lack {
						t.Errorf("without %s: %s", lack, b)
					}
				}
				status, b := e.as(keyFor(need), method, url, body, header...)
				if status == http.StatusForbidden || status == http.StatusUnauthorized {
					t.Errorf("with only %v: %d %s", need, status, b)
				}
			})
			walked++
		}
	}
	if walked < 40 {
		t.Errorf("walked %d operations", walked)
	}

	t.Run("a channel lookup that links needs contacts:write too", func(t *testing.T) {
		ch := e.channel(api.WhatsappGateway, json.RawMessage(`{"base_url":"http://127.0.0.1:1","api_key":"t"}`))
		key := e.keyWith("channels:read", "contacts:read")
		status, b := e.as(key, http.MethodPost, "/v1/channels/"+ch.Id+"/contacts/lookup", []byte(`{"phone_numbers":["081234567890"],"link":true}`))
		wantStatus(t, status, http.StatusForbidden, b)
		if p := problemOf(t, b); p.Permission == nil || *p.Permission != "contacts:write" {
			t.Errorf("403 names %s", b)
		}
	})
}

// TestPermissionsAreTheSpecs keeps the server's list of permissions equal to the spec's.
func TestPermissionsAreTheSpecs(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.SpecYAML)
	if err != nil {
		t.Fatal(err)
	}
	var enum []string
	for _, v := range doc.Components.Schemas["Permission"].Value.Enum {
		enum = append(enum, v.(string))
	}
	if !slices.Equal(enum, apikey.Permissions) {
		t.Errorf("spec %v, server %v", enum, apikey.Permissions)
	}
}

// TestDescriptionsNameTheirPermissions keeps the sentence the docs page shows for each operation
// equal to the x-permissions the server enforces (the page does not show extensions).
func TestDescriptionsNameTheirPermissions(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.SpecYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			raw, ok := op.Extensions["x-permissions"].([]any)
			if !ok {
				continue
			}
			var quoted []string
			for _, p := range raw {
				quoted = append(quoted, "`"+p.(string)+"`")
			}
			want := "Needs the permission " + quoted[0] + "."
			if len(quoted) > 1 {
				want = "Needs the permissions " + strings.Join(quoted, " and ") + "."
			}
			if !strings.Contains(op.Description, want) {
				t.Errorf("%s: the description does not say %q", op.OperationID, want)
			}
		}
	}
}
