package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
)

var bg = context.Background()

func TestCreateContact(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{
		PhoneNumber: ptr("+62 812-3456-7890"), Name: ptr("Ujang"), Email: ptr(" Ujang@Example.com "),
		ExternalSource: ptr("Shopify"), ExternalId: ptr("cust_123"),
		CustomFields: rawJSON(`{"tier": "premium"}`),
	})
	if len(c.Id) < 5 || c.Id[:4] != "cnt_" {
		t.Errorf("id %q is not a cnt_ id", c.Id)
	}
	for name, got := range map[string]nullable.Nullable[string]{
		"+6281234567890": c.PhoneNumber, "Ujang": c.Name, "Ujang@Example.com": c.Email,
		"shopify": c.ExternalSource, "cust_123": c.ExternalId,
	} {
		if v, err := got.Get(); err != nil || v != name {
			t.Errorf("field = %q, %v; want %q", v, err, name)
		}
	}
	if string(c.CustomFields) != `{"tier":"premium"}` {
		t.Errorf("custom_fields = %s", c.CustomFields)
	}
	if c.CreatedAt.IsZero() || !c.CreatedAt.Equal(c.UpdatedAt) {
		t.Errorf("created_at %v, updated_at %v", c.CreatedAt, c.UpdatedAt)
	}
}

func TestUpsertMatchesAndUpdates(t *testing.T) {
	e := newEnv(t)
	orig := e.create(api.ContactCreate{
		PhoneNumber: ptr("+6281234567890"), Name: ptr("Ujang"),
		CustomFields: rawJSON(`{"tier": "premium", "city": "Bandung"}`),
	})
	tests := []struct {
		name  string
		body  api.ContactCreate
		check func(t *testing.T, c api.Contact)
	}{
		{"local spelling of the phone", api.ContactCreate{PhoneNumber: ptr("0812-3456-7890"), Name: ptr("Ujang S.")},
			func(t *testing.T, c api.Contact) {
				if c.Name.MustGet() != "Ujang S." {
					t.Errorf("name %v was not overwritten", c.Name)
				}
			}},
		{"custom fields merge and null removes", api.ContactCreate{PhoneNumber: ptr("6281234567890"),
			CustomFields: rawJSON(`{"city": null, "age": 30, "big": 12345678901234567890.5}`)},
			func(t *testing.T, c api.Contact) {
				if want := `{"age":30,"big":12345678901234567890.5,"tier":"premium"}`; string(c.CustomFields) != want {
					t.Errorf("custom_fields = %s, want %s", c.CustomFields, want)
				}
				if c.Name.MustGet() != "Ujang S." {
					t.Errorf("absent name changed to %v", c.Name)
				}
			}},
		{"new identifiers attach", api.ContactCreate{PhoneNumber: ptr("+6281234567890"), Email: ptr("u@example.com"),
			ExternalSource: ptr("shopify"), ExternalId: ptr("c1")},
			func(t *testing.T, c api.Contact) {
				if c.Email.MustGet() != "u@example.com" || c.ExternalId.MustGet() != "c1" {
					t.Errorf("identifiers not attached: %+v", c)
				}
			}},
		{"found by email alone, case-insensitively", api.ContactCreate{Email: ptr("U@EXAMPLE.COM")},
			func(t *testing.T, c api.Contact) {}},
		{"found by external id alone", api.ContactCreate{ExternalSource: ptr("SHOPIFY"), ExternalId: ptr("c1")},
			func(t *testing.T, c api.Contact) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.c.CreateContactWithResponse(bg, nil, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
			c := res.JSON200.Data
			if c.Id != orig.Id {
				t.Fatalf("upsert answered contact %s, want %s", c.Id, orig.Id)
			}
			if !c.UpdatedAt.After(orig.UpdatedAt) || !c.CreatedAt.Equal(orig.CreatedAt) {
				t.Errorf("timestamps: created %v updated %v", c.CreatedAt, c.UpdatedAt)
			}
			tc.check(t, c)
		})
	}
}

func TestUpsertKeepsExternalIDsOfOtherSources(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{Email: ptr("a@example.com"), ExternalSource: ptr("shopify"), ExternalId: ptr("s1")})
	res, _ := e.c.CreateContactWithResponse(bg, nil, api.ContactCreate{Email: ptr("a@example.com"), ExternalSource: ptr("hubspot"), ExternalId: ptr("h1")})
	wantStatus(t, res.StatusCode(), 200, res.Body)
	for _, ext := range [][2]string{{"shopify", "s1"}, {"hubspot", "h1"}} {
		r, _ := e.c.ResolveContactWithResponse(bg, nil, api.ResolveRequest{Identifiers: []api.Identifier{{Type: api.IdentifierTypeExternalId, Source: &ext[0], Value: ext[1]}}})
		wantStatus(t, r.StatusCode(), 200, r.Body)
		if r.JSON200.Data.Id != c.Id {
			t.Errorf("%s id %s leads to %s, want %s", ext[0], ext[1], r.JSON200.Data.Id, c.Id)
		}
	}
	// A new id of the same source replaces the old one.
	res, _ = e.c.CreateContactWithResponse(bg, nil, api.ContactCreate{Email: ptr("a@example.com"), ExternalSource: ptr("shopify"), ExternalId: ptr("s2")})
	wantStatus(t, res.StatusCode(), 200, res.Body)
	r, _ := e.c.ResolveContactWithResponse(bg, nil, api.ResolveRequest{Identifiers: []api.Identifier{{Type: api.IdentifierTypeExternalId, Source: ptr("shopify"), Value: "s1"}}})
	wantStatus(t, r.StatusCode(), 404, r.Body)
}

func TestUpsertConflictChangesNothing(t *testing.T) {
	e := newEnv(t)
	a := e.create(api.ContactCreate{PhoneNumber: ptr("+6281111111111"), Name: ptr("A")})
	b := e.create(api.ContactCreate{Email: ptr("b@example.com"), Name: ptr("B")})
	res, err := e.c.CreateContactWithResponse(bg, nil, api.ContactCreate{PhoneNumber: ptr("+6281111111111"), Email: ptr("b@example.com"), Name: ptr("Merged?")})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res.StatusCode(), http.StatusConflict, res.Body)
	p := problem(t, 409, res.Body)
	if p.Candidates == nil || !slices.Equal(sorted(*p.Candidates), sorted([]string{a.Id, b.Id})) {
		t.Errorf("candidates = %v, want %s and %s", p.Candidates, a.Id, b.Id)
	}
	for _, c := range []api.Contact{a, b} {
		got, _ := e.c.GetContactWithResponse(bg, c.Id, nil)
		if got.JSON200.Data.Name.MustGet() != c.Name.MustGet() || !got.JSON200.Data.UpdatedAt.Equal(c.UpdatedAt) {
			t.Errorf("contact %s changed after a conflict: %+v", c.Id, got.JSON200.Data)
		}
	}
}

func TestCreateContactRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		body   api.ContactCreate
		fields []string
	}{
		{"no identifier", api.ContactCreate{Name: ptr("Nobody")}, []string{"phone_number"}},
		{"empty body", api.ContactCreate{}, []string{"phone_number"}},
		{"bad phone", api.ContactCreate{PhoneNumber: ptr("12")}, []string{"phone_number"}},
		{"letters for phone", api.ContactCreate{PhoneNumber: ptr("call me")}, []string{"phone_number"}},
		{"bad email", api.ContactCreate{Email: ptr("not-an-email")}, []string{"email"}},
		{"external id without source", api.ContactCreate{ExternalId: ptr("c1")}, []string{"external_source"}},
		{"source without external id", api.ContactCreate{ExternalSource: ptr("shopify"), PhoneNumber: ptr("+6281234567890")}, []string{"external_id"}},
		{"bad source", api.ContactCreate{ExternalSource: ptr("shop ify"), ExternalId: ptr("1")}, []string{"external_source"}},
		{"every bad field named", api.ContactCreate{PhoneNumber: ptr("x"), Email: ptr("y")}, []string{"phone_number", "email"}},
		{"long name", api.ContactCreate{Name: ptr(strings.Repeat("x", 201)), PhoneNumber: ptr("+6281234567890")}, []string{"name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.c.CreateContactWithResponse(bg, nil, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, res.StatusCode(), http.StatusUnprocessableEntity, res.Body)
			if got := fields(problem(t, 422, res.Body)); !slices.Equal(got, tc.fields) {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
	list, _ := e.c.ListContactsWithResponse(bg, nil)
	if n := len(list.JSON200.Data); n != 0 {
		t.Errorf("%d contacts exist after only bad requests", n)
	}
}

func TestGetContact(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	res, _ := e.c.GetContactWithResponse(bg, c.Id, nil)
	wantStatus(t, res.StatusCode(), 200, res.Body)
	if res.JSON200.Data.Id != c.Id {
		t.Errorf("got %s, want %s", res.JSON200.Data.Id, c.Id)
	}
	for name, id := range map[string]string{
		"unknown":          "cnt_06H1HWXJT9Y619F5GCJ4072F68",
		"malformed":        "cnt_123",
		"integer":          "1",
		"other kind of id": "note" + c.Id[3:],
	} {
		t.Run(name, func(t *testing.T) {
			res, _ := e.c.GetContactWithResponse(bg, id, nil)
			wantStatus(t, res.StatusCode(), 404, res.Body)
			problem(t, 404, res.Body)
		})
	}
}

func TestGetContactByPhoneInAnySpelling(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	for _, spelling := range []string{"+6281234567890", "%2B6281234567890", "6281234567890", "081234567890", "+62%20812-3456-7890", "0812-3456-7890"} {
		t.Run(spelling, func(t *testing.T) {
			status, body := e.do("GET", "/v1/contacts/phone/"+spelling, nil)
			wantStatus(t, status, 200, body)
			if !strings.Contains(string(body), c.Id) {
				t.Errorf("answered another contact: %s", body)
			}
		})
	}
	t.Run("unknown number", func(t *testing.T) {
		res, _ := e.c.GetContactByPhoneWithResponse(bg, "+6281299998888")
		wantStatus(t, res.StatusCode(), 404, res.Body)
	})
	t.Run("not a number", func(t *testing.T) {
		res, _ := e.c.GetContactByPhoneWithResponse(bg, "hello")
		wantStatus(t, res.StatusCode(), 422, res.Body)
		if f := fields(problem(t, 422, res.Body)); !slices.Equal(f, []string{"phone"}) {
			t.Errorf("fields %v", f)
		}
	})
}

func TestPatchContact(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{
		PhoneNumber: ptr("+6281234567890"), Name: ptr("Ujang"), Email: ptr("u@example.com"),
		ExternalSource: ptr("shopify"), ExternalId: ptr("c1"), CustomFields: rawJSON(`{"a": 1, "b": 2}`),
	})
	other := e.create(api.ContactCreate{PhoneNumber: ptr("+6289999999999")})
	patch := func(t *testing.T, body string) (int, []byte) {
		t.Helper()
		return e.do("PATCH", "/v1/contacts/"+c.Id, []byte(body))
	}
	t.Run("absent fields stay, null clears, custom fields merge", func(t *testing.T) {
		status, body := patch(t, `{"name": null, "custom_fields": {"a": null, "c": 3}}`)
		wantStatus(t, status, 200, body)
		got := e.get(c.Id)
		if got.Name.IsSpecified() && !got.Name.IsNull() {
			t.Errorf("name not cleared: %v", got.Name)
		}
		if got.PhoneNumber.MustGet() != "+6281234567890" || got.Email.MustGet() != "u@example.com" {
			t.Errorf("absent fields changed: %+v", got)
		}
		if string(got.CustomFields) != `{"b":2,"c":3}` {
			t.Errorf("custom_fields = %s", got.CustomFields)
		}
	})
	t.Run("custom_fields null clears them", func(t *testing.T) {
		status, body := patch(t, `{"custom_fields": null}`)
		wantStatus(t, status, 200, body)
		if got := e.get(c.Id); string(got.CustomFields) != `{}` {
			t.Errorf("custom_fields = %s", got.CustomFields)
		}
	})
	t.Run("changing the phone moves the identity", func(t *testing.T) {
		status, body := patch(t, `{"phone_number": "0811-2222-3333"}`)
		wantStatus(t, status, 200, body)
		if got := e.get(c.Id); got.PhoneNumber.MustGet() != "+6281122223333" {
			t.Errorf("phone = %v", got.PhoneNumber)
		}
		if r, _ := e.c.GetContactByPhoneWithResponse(bg, "+6281234567890"); r.StatusCode() != 404 {
			t.Errorf("the old phone still resolves: %d", r.StatusCode())
		}
		if r, _ := e.c.GetContactByPhoneWithResponse(bg, "+6281122223333"); r.StatusCode() != 200 || r.JSON200.Data.Id != c.Id {
			t.Errorf("the new phone does not resolve to the contact: %s", r.Body)
		}
	})
	t.Run("the freed phone can be used by another contact", func(t *testing.T) {
		n := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
		if n.Id == c.Id {
			t.Error("the freed phone still led to the old contact")
		}
	})
	t.Run("moving onto another contact's phone is a conflict", func(t *testing.T) {
		status, body := patch(t, `{"phone_number": "+6289999999999", "name": "Should not stick"}`)
		wantStatus(t, status, 409, body)
		p := problem(t, 409, body)
		if p.Candidates == nil || !slices.Equal(*p.Candidates, []string{other.Id}) {
			t.Errorf("candidates %v, want [%s]", p.Candidates, other.Id)
		}
		if got := e.get(c.Id); got.Name.IsSpecified() && !got.Name.IsNull() {
			t.Errorf("a conflicting patch was half-written: name %v", got.Name)
		}
	})
	t.Run("clearing the email frees it", func(t *testing.T) {
		status, body := patch(t, `{"email": null}`)
		wantStatus(t, status, 200, body)
		r, _ := e.c.ResolveContactWithResponse(bg, nil, api.ResolveRequest{Identifiers: []api.Identifier{{Type: api.IdentifierTypeEmail, Value: "u@example.com"}}})
		wantStatus(t, r.StatusCode(), 404, r.Body)
	})
	t.Run("external id changes together with its source", func(t *testing.T) {
		status, body := patch(t, `{"external_source": "crm", "external_id": "X-1"}`)
		wantStatus(t, status, 200, body)
		status, body = patch(t, `{"external_id": null}`)
		wantStatus(t, status, 422, body)
		if f := fields(problem(t, 422, body)); !slices.Equal(f, []string{"external_source"}) {
			t.Errorf("fields %v", f)
		}
		status, body = patch(t, `{"external_source": null, "external_id": null}`)
		wantStatus(t, status, 200, body)
		r, _ := e.c.ResolveContactWithResponse(bg, nil, api.ResolveRequest{Identifiers: []api.Identifier{{Type: api.IdentifierTypeExternalId, Source: ptr("crm"), Value: "X-1"}}})
		wantStatus(t, r.StatusCode(), 404, r.Body)
	})
	t.Run("invalid values are named", func(t *testing.T) {
		status, body := patch(t, `{"phone_number": "abc", "email": "nope"}`)
		wantStatus(t, status, 422, body)
		if f := fields(problem(t, 422, body)); !slices.Equal(f, []string{"phone_number", "email"}) {
			t.Errorf("fields %v", f)
		}
	})
	t.Run("wrong JSON type is a 400 naming the field", func(t *testing.T) {
		status, body := patch(t, `{"name": 12}`)
		wantStatus(t, status, 400, body)
	})
	t.Run("unknown contact", func(t *testing.T) {
		status, body := e.do("PATCH", "/v1/contacts/cnt_06H1HWXJT9Y619F5GCJ4072F68", []byte(`{"name": "x"}`))
		wantStatus(t, status, 404, body)
	})
}

func TestDeleteContactRemovesEverythingAttached(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890"), Email: ptr("u@example.com")})
	e.ok(e.do("POST", "/v1/contacts/"+c.Id+"/notes", []byte(`{"body": "hello"}`)))
	e.ok(e.do("POST", "/v1/contacts/"+c.Id+"/tags", []byte(`{"name": "vip"}`)))
	e.ok(e.do("PUT", "/v1/contacts/"+c.Id+"/consent/whatsapp", []byte(`{"status": "opted_in"}`)))
	e.ok(e.do("POST", "/v1/contacts/"+c.Id+"/suppressions", []byte(`{"channel": "sms", "reason": "manual"}`)))

	res, _ := e.c.DeleteContactWithResponse(bg, c.Id, nil)
	wantStatus(t, res.StatusCode(), 204, res.Body)
	for _, path := range []string{"", "/identities", "/notes", "/tags", "/consents", "/suppressions"} {
		status, body := e.do("GET", "/v1/contacts/"+c.Id+path, nil)
		wantStatus(t, status, 404, body)
	}
	// Its opt-ins are forgotten; its suppressions stay, kept against its identifiers (see
	// TestSuppressionsOutliveTheirContact).
	var leftovers int
	err := e.pool.QueryRow(bg, `SELECT (SELECT count(*) FROM contact_identities) + (SELECT count(*) FROM notes)
		+ (SELECT count(*) FROM contact_tags) + (SELECT count(*) FROM consents WHERE status = 'opted_in')`).Scan(&leftovers)
	if err != nil || leftovers != 0 {
		t.Errorf("%d rows left behind (%v)", leftovers, err)
	}
	again, _ := e.c.DeleteContactWithResponse(bg, c.Id, nil)
	wantStatus(t, again.StatusCode(), 404, again.Body)
	// Its identifiers are free again.
	n := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	if n.Id == c.Id {
		t.Error("a deleted contact came back")
	}
}

func rawJSON(s string) *json.RawMessage {
	r := json.RawMessage(s)
	return &r
}

func (e *env) get(id string) api.Contact {
	e.t.Helper()
	res, err := e.c.GetContactWithResponse(bg, id, nil)
	if err != nil || res.JSON200 == nil {
		e.t.Fatalf("get %s: %v %s", id, err, res.Body)
	}
	return res.JSON200.Data
}

// ok fails the test unless a raw request succeeded.
func (e *env) ok(status int, body []byte) {
	e.t.Helper()
	if status >= 300 {
		e.t.Fatalf("status %d: %s", status, body)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
