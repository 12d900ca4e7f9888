package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/gen/api"
)

// TestOtherWorkspacesContactsAreNotFound tries every contact endpoint with another workspace's
// contact id: each answers 404 and nothing of the contact changes.
func TestOtherWorkspacesContactsAreNotFound(t *testing.T) {
	e := newEnv(t)
	theirs := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890"), Email: ptr("a@example.com"),
		ExternalSource: ptr("shopify"), ExternalId: ptr("c1")})
	e.ok(e.do("POST", "/v1/contacts/"+theirs.Id+"/tags", []byte(`{"name": "vip"}`)))
	other, _ := e.workspace("Other", "ID")
	as := func(method, path, body string) (int, []byte) {
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		return e.do(method, path, b, "X-Api-Key", other.APIKey)
	}
	id := theirs.Id
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/contacts/" + id, ""},
		{"PATCH", "/v1/contacts/" + id, `{"name": "stolen"}`},
		{"DELETE", "/v1/contacts/" + id, ""},
		{"GET", "/v1/contacts/" + id + "/identities", ""},
		{"GET", "/v1/contacts/" + id + "/notes", ""},
		{"POST", "/v1/contacts/" + id + "/notes", `{"body": "hi"}`},
		{"GET", "/v1/contacts/" + id + "/tags", ""},
		{"POST", "/v1/contacts/" + id + "/tags", `{"name": "vip"}`},
		{"DELETE", "/v1/contacts/" + id + "/tags/vip", ""},
		{"PUT", "/v1/contacts/" + id + "/consent/whatsapp", `{"status": "opted_out"}`},
		{"GET", "/v1/contacts/" + id + "/consents", ""},
		{"GET", "/v1/contacts/" + id + "/suppressions", ""},
		{"POST", "/v1/contacts/" + id + "/suppressions", `{"channel": "sms", "reason": "manual"}`},
		{"GET", "/v1/contacts/phone/+6281234567890", ""},
		{"POST", "/v1/contacts/resolve", `{"identifiers": [{"type": "contact_id", "value": "` + id + `"}, {"type": "phone", "value": "+6281234567890"}, {"type": "email", "value": "a@example.com"}, {"type": "external_id", "source": "shopify", "value": "c1"}]}`},
		{"POST", "/v1/contacts/lookup", `{"identifiers": [{"type": "contact_id", "value": "` + id + `"}]}`},
	} {
		t.Run(tc.method+" "+strings.Replace(tc.path, id, "{id}", 1), func(t *testing.T) {
			status, body := as(tc.method, tc.path, tc.body)
			wantStatus(t, status, http.StatusNotFound, body)
		})
	}
	t.Run("lists and searches show nothing of it", func(t *testing.T) {
		for _, query := range []string{"", "?q=0812", "?q=a%40example", "?tag=vip", "?q=a&tag=vip", "?q=%2B62812&limit=1"} {
			status, body := as("GET", "/v1/contacts"+query, "")
			wantStatus(t, status, 200, body)
			if strings.Contains(string(body), id) {
				t.Errorf("GET /v1/contacts%s shows another workspace's contact: %s", query, body)
			}
		}
	})
	t.Run("the same identifiers make a separate contact there", func(t *testing.T) {
		status, body := as("POST", "/v1/contacts", `{"phone_number": "+6281234567890", "email": "a@example.com"}`)
		wantStatus(t, status, 201, body)
		if strings.Contains(string(body), id) {
			t.Errorf("upsert in another workspace reached the contact: %s", body)
		}
	})
	t.Run("the owner's contact is untouched", func(t *testing.T) {
		got := e.get(id)
		if got.Name.IsSpecified() && !got.Name.IsNull() {
			t.Errorf("name changed to %v", got.Name)
		}
		for _, path := range []string{"/notes", "/consents", "/suppressions"} {
			_, body := e.do("GET", "/v1/contacts/"+id+path, nil)
			if !strings.HasPrefix(string(body), `{"data":[]`) {
				t.Errorf("%s gained rows from another workspace: %s", path, body)
			}
		}
		_, body := e.do("GET", "/v1/contacts/"+id+"/tags", nil)
		if !strings.Contains(string(body), `"vip"`) {
			t.Errorf("tag unassigned by another workspace: %s", body)
		}
	})
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"X-Api-Key", []string{"X-Api-Key", e.ws.APIKey}, 200},
		{"Bearer", []string{"X-Api-Key", "", "Authorization", "Bearer " + e.ws.APIKey}, 200},
		{"bearer in lower case", []string{"X-Api-Key", "", "Authorization", "bearer " + e.ws.APIKey}, 200},
		{"no key", []string{"X-Api-Key", ""}, 401},
		{"garbage key", []string{"X-Api-Key", "hunter2"}, 401},
		{"right id, wrong secret", []string{"X-Api-Key", e.ws.APIKey[:strings.LastIndex(e.ws.APIKey, "_")+1] + "AAAA"}, 401},
		{"basic auth", []string{"X-Api-Key", "", "Authorization", "Basic " + e.ws.APIKey}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("GET", "/v1/contacts", nil, tc.header...)
			wantStatus(t, status, tc.status, body)
			if tc.status == 401 {
				problem(t, 401, body)
			}
		})
	}
	t.Run("health needs no key", func(t *testing.T) {
		status, body := e.do("GET", "/v1/health", nil, "X-Api-Key", "")
		wantStatus(t, status, 200, body)
		if string(body) != `{"data":{"status":"ok"}}`+"\n" {
			t.Errorf("health body %s", body)
		}
	})
	t.Run("keys are stored hashed", func(t *testing.T) {
		var n int
		secret := e.ws.APIKey[strings.LastIndex(e.ws.APIKey, "_")+1:]
		err := e.pool.QueryRow(bg, "SELECT count(*) FROM api_keys WHERE position($1::bytea in secret_hash) > 0 OR encode(secret_hash, 'escape') LIKE '%' || $2 || '%'", []byte(secret), secret).Scan(&n)
		if err != nil || n != 0 {
			t.Errorf("the secret appears in api_keys (%d rows, %v)", n, err)
		}
	})
}

func TestLivenessDoesNotAskTheDatabase(t *testing.T) {
	e := newEnv(t)
	e.pool.Close()
	status, body := e.do("GET", "/v1/health", nil, "X-Api-Key", "")
	wantStatus(t, status, 200, body)
	status, body = e.do("GET", "/v1/health/ready", nil, "X-Api-Key", "")
	wantStatus(t, status, 503, body)
	problem(t, 503, body)
}
