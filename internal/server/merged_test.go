package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/ids"
)

// TestWritesToAMergedContact gives a contact a second phone, email and shopify id (and a hubspot
// id) with SQL, as a merge leaves a survivor, and then upserts and patches it through the API. A
// write naming an identifier the contact holds only changes which one it shows and detaches
// nothing; a new value replaces the identifier shown, and that one only; an external id of
// another source takes the place of that source's ids; clearing the external id detaches all.
func TestWritesToAMergedContact(t *testing.T) {
	e := newEnv(t)
	const (
		p1, p2, p3 = "+6281100000001", "+6281100000002", "+6281100000003"
		e1, e2, e3 = "e1@example.com", "e2@example.com", "e3@example.com"
	)
	c := e.create(api.ContactCreate{PhoneNumber: ptr(p1), Email: ptr(e1), ExternalSource: ptr("shopify"), ExternalId: ptr("c1")})
	other := e.create(api.ContactCreate{PhoneNumber: ptr("+6281199999999"), Email: ptr("other@example.com")})
	id, ok1 := ids.Parse(ids.Contact, c.Id)
	wsID, ok2 := ids.Parse(ids.Workspace, e.ws.WorkspaceID)
	if !ok1 || !ok2 {
		t.Fatalf("ids %s %s", c.Id, e.ws.WorkspaceID)
	}
	if _, err := e.pool.Exec(bg, `INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
		VALUES ($1, 'phone', '', $3, $2), ($1, 'email', '', $4, $2), ($1, 'external_id', 'shopify', 'c2', $2),
		       ($1, 'external_id', 'hubspot', 'h1', $2)`, wsID, id, p2, e2); err != nil {
		t.Fatal(err)
	}
	var seq int64 // the last identity.detached event seen
	steps := []struct {
		name, method, body string
		status             int
		shows              string   // phone|email|source|id after the step
		holds              []string // the contact's identities after it
		detached           []string // the identity.detached events of the step
	}{
		{"an upsert naming the second phone shows it and detaches nothing", "POST", `{"phone_number": "` + p2 + `", "email": "` + e1 + `"}`, 200,
			p2 + "|" + e1 + "|shopify|c1",
			[]string{"email:" + e1, "email:" + e2, "external_id:hubspot:h1", "external_id:shopify:c1", "external_id:shopify:c2", "phone:" + p1, "phone:" + p2}, nil},
		{"a patch to a new phone replaces the one shown only", "PATCH", `{"phone_number": "` + p3 + `"}`, 200,
			p3 + "|" + e1 + "|shopify|c1",
			[]string{"email:" + e1, "email:" + e2, "external_id:hubspot:h1", "external_id:shopify:c1", "external_id:shopify:c2", "phone:" + p1, "phone:" + p3},
			[]string{"phone:" + p2}},
		{"a patch to the other phone it holds", "PATCH", `{"phone_number": "` + p1 + `"}`, 200,
			p1 + "|" + e1 + "|shopify|c1",
			[]string{"email:" + e1, "email:" + e2, "external_id:hubspot:h1", "external_id:shopify:c1", "external_id:shopify:c2", "phone:" + p1, "phone:" + p3}, nil},
		{"a patch to another contact's phone is still a conflict", "PATCH", `{"phone_number": "+6281199999999"}`, 409, "", nil, nil},
		{"an upsert naming the second email in another case shows it as written", "POST", `{"email": "E2@Example.COM"}`, 200,
			p1 + "|E2@Example.COM|shopify|c1",
			[]string{"email:" + e1, "email:" + e2, "external_id:hubspot:h1", "external_id:shopify:c1", "external_id:shopify:c2", "phone:" + p1, "phone:" + p3}, nil},
		{"an upsert with a new email replaces the one shown only", "POST", `{"phone_number": "` + p3 + `", "email": "` + e3 + `"}`, 200,
			p3 + "|" + e3 + "|shopify|c1",
			[]string{"email:" + e1, "email:" + e3, "external_id:hubspot:h1", "external_id:shopify:c1", "external_id:shopify:c2", "phone:" + p1, "phone:" + p3},
			[]string{"email:" + e2}},
		{"clearing the email detaches the one shown only", "PATCH", `{"email": null}`, 200,
			p3 + "||shopify|c1",
			[]string{"email:" + e1, "external_id:hubspot:h1", "external_id:shopify:c1", "external_id:shopify:c2", "phone:" + p1, "phone:" + p3},
			[]string{"email:" + e3}},
		{"clearing the phone detaches the one shown only", "PATCH", `{"phone_number": null}`, 200,
			"||shopify|c1",
			[]string{"email:" + e1, "external_id:hubspot:h1", "external_id:shopify:c1", "external_id:shopify:c2", "phone:" + p1},
			[]string{"phone:" + p3}},
		{"the other shopify id it holds is shown, none goes", "PATCH", `{"external_source": "shopify", "external_id": "c2"}`, 200,
			"||shopify|c2",
			[]string{"email:" + e1, "external_id:hubspot:h1", "external_id:shopify:c1", "external_id:shopify:c2", "phone:" + p1}, nil},
		{"a new shopify id replaces the one shown only", "POST", `{"email": "` + e1 + `", "external_source": "Shopify", "external_id": "c3"}`, 200,
			"|" + e1 + "|shopify|c3",
			[]string{"email:" + e1, "external_id:hubspot:h1", "external_id:shopify:c1", "external_id:shopify:c3", "phone:" + p1},
			[]string{"external_id:shopify:c2"}},
		{"a hubspot id it holds is shown, none goes", "PATCH", `{"external_source": "hubspot", "external_id": "h1"}`, 200,
			"|" + e1 + "|hubspot|h1",
			[]string{"email:" + e1, "external_id:hubspot:h1", "external_id:shopify:c1", "external_id:shopify:c3", "phone:" + p1}, nil},
		{"a new shopify id while hubspot is shown: the shopify ids go", "PATCH", `{"external_source": "shopify", "external_id": "c4"}`, 200,
			"|" + e1 + "|shopify|c4",
			[]string{"email:" + e1, "external_id:hubspot:h1", "external_id:shopify:c4", "phone:" + p1},
			[]string{"external_id:shopify:c1", "external_id:shopify:c3"}},
		{"clearing the external id detaches every external id", "PATCH", `{"external_source": null, "external_id": null}`, 200,
			"|" + e1 + "||",
			[]string{"email:" + e1, "phone:" + p1},
			[]string{"external_id:hubspot:h1", "external_id:shopify:c4"}},
	}
	for _, s := range steps {
		path := "/v1/contacts"
		if s.method == "PATCH" {
			path += "/" + c.Id
		}
		status, body := e.do(s.method, path, []byte(s.body))
		wantStatus(t, status, s.status, body)
		if status == http.StatusOK {
			var got api.ContactResponse
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			d := got.Data
			if d.Id != c.Id {
				t.Fatalf("%s: wrote contact %s, want %s", s.name, d.Id, c.Id)
			}
			str := func(n nullable.Nullable[string]) string { v, _ := n.Get(); return v }
			if shows := strings.Join([]string{str(d.PhoneNumber), str(d.Email), str(d.ExternalSource), str(d.ExternalId)}, "|"); shows != s.shows {
				t.Errorf("%s: shows %s, want %s", s.name, shows, s.shows)
			}
			if holds := e.identityList(c.Id); !slices.Equal(holds, s.holds) {
				t.Errorf("%s: holds %v, want %v", s.name, holds, s.holds)
			}
		}
		var detached []string
		rows, err := e.pool.Query(bg, `SELECT seq, concat_ws(':', data->'object'->>'type', data->'object'->>'source', data->'object'->>'value')
			FROM events WHERE workspace_id = $1 AND type = 'identity.detached' AND seq > $2 ORDER BY seq`, wsID, seq)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&seq, &v); err != nil {
				t.Fatal(err)
			}
			detached = append(detached, v)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sorted(detached), s.detached) {
			t.Errorf("%s: detached %v, want %v", s.name, detached, s.detached)
		}
	}
	// The identifiers kept still lead to the contact; the other contact kept its own.
	res, err := e.c.GetContactByPhoneWithResponse(bg, p1)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res.StatusCode(), 200, res.Body)
	if res.JSON200.Data.Id != c.Id {
		t.Errorf("%s leads to %s, want %s", p1, res.JSON200.Data.Id, c.Id)
	}
	if holds := e.identityList(other.Id); !slices.Equal(holds, []string{"email:other@example.com", "phone:+6281199999999"}) {
		t.Errorf("the other contact holds %v", holds)
	}
}

// identityList is a contact's identities as type:value or type:source:value, sorted.
func (e *env) identityList(contactID string) []string {
	e.t.Helper()
	res, err := e.c.ListContactIdentitiesWithResponse(bg, contactID)
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), 200, res.Body)
	var out []string
	for _, i := range res.JSON200.Data {
		s := string(i.Type) + ":" + i.Value
		if i.Source != nil {
			s = string(i.Type) + ":" + *i.Source + ":" + i.Value
		}
		out = append(out, s)
	}
	return sorted(out)
}

// TestImportToAMergedContact imports lines onto a contact that holds two phones, two emails and
// two shopify ids: the lines naming ones it holds detach nothing, the new email replaces the one
// shown only, and a line on a new shopify id replaces the one shown only.
func TestImportToAMergedContact(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001"), Email: ptr("e1@example.com"), ExternalSource: ptr("shopify"), ExternalId: ptr("c1")})
	id, _ := ids.Parse(ids.Contact, c.Id)
	wsID, _ := ids.Parse(ids.Workspace, e.ws.WorkspaceID)
	if _, err := e.pool.Exec(bg, `INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
		VALUES ($1, 'phone', '', '+6281100000002', $2), ($1, 'email', '', 'e2@example.com', $2),
		       ($1, 'external_id', 'shopify', 'c2', $2)`, wsID, id); err != nil {
		t.Fatal(err)
	}
	res := e.importNDJSON(
		`{"phone_number": "+6281100000002", "email": "e2@example.com", "external_source": "shopify", "external_id": "c2"}`,
		`{"phone_number": "+6281100000002", "email": "e3@example.com"}`,
		`{"email": "e3@example.com", "external_source": "shopify", "external_id": "c3"}`,
	)
	if res.Updated != 3 || len(res.Rejected) != 0 {
		t.Fatalf("result %+v", res)
	}
	want := []string{"email:e1@example.com", "email:e3@example.com", "external_id:shopify:c1", "external_id:shopify:c3",
		"phone:+6281100000001", "phone:+6281100000002"}
	if holds := e.identityList(c.Id); !slices.Equal(holds, want) {
		t.Errorf("holds %v, want %v", holds, want)
	}
	got := e.get(c.Id)
	if v, _ := got.PhoneNumber.Get(); v != "+6281100000002" {
		t.Errorf("shows phone %s", v)
	}
	if v, _ := got.ExternalId.Get(); v != "c3" {
		t.Errorf("shows external id %s", v)
	}
}
