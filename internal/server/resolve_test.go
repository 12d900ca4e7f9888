package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/wazapin/wazapin/gen/api"
)

func TestResolve(t *testing.T) {
	e := newEnv(t)
	ujang := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890"), Email: ptr("ujang@example.com"),
		ExternalSource: ptr("shopify"), ExternalId: ptr("cust_123")})
	siti := e.create(api.ContactCreate{PhoneNumber: ptr("+6285711112222"), Email: ptr("siti@example.com")})
	if _, err := e.pool.Exec(bg, `INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
		SELECT workspace_id, 'wa_id', '', 'wa-siti-1', id FROM contacts WHERE phone_number = '+6285711112222'`); err != nil {
		t.Fatal(err)
	}
	id := func(typ api.IdentifierType, value string) api.Identifier {
		return api.Identifier{Type: typ, Value: value}
	}
	ext := func(source, value string) api.Identifier {
		return api.Identifier{Type: api.IdentifierTypeExternalId, Source: ptr(source), Value: value}
	}
	tests := []struct {
		name    string
		ids     []api.Identifier
		status  int
		contact string
		matched []int // indexes of the identifiers reported as matched
	}{
		{"phone", []api.Identifier{id(api.IdentifierTypePhone, "+62 812-3456-7890")}, 200, ujang.Id, []int{0}},
		{"whatsapp number in local spelling", []api.Identifier{id(api.IdentifierTypeWhatsapp, "081234567890")}, 200, ujang.Id, []int{0}},
		{"wa_id digits match the phone", []api.Identifier{id(api.IdentifierTypeWaId, "6281234567890")}, 200, ujang.Id, []int{0}},
		{"stored wa_id", []api.Identifier{id(api.IdentifierTypeWaId, "wa-siti-1")}, 200, siti.Id, []int{0}},
		{"email in any case", []api.Identifier{id(api.IdentifierTypeEmail, "UJANG@example.com")}, 200, ujang.Id, []int{0}},
		{"external id", []api.Identifier{ext("Shopify", "cust_123")}, 200, ujang.Id, []int{0}},
		{"contact id", []api.Identifier{id(api.IdentifierTypeContactId, siti.Id)}, 200, siti.Id, []int{0}},
		{"several agreeing, some unknown", []api.Identifier{
			id(api.IdentifierTypeEmail, "nobody@example.com"), ext("shopify", "cust_123"), id(api.IdentifierTypePhone, "+6281234567890"),
		}, 200, ujang.Id, []int{1, 2}},
		{"nothing matches", []api.Identifier{id(api.IdentifierTypePhone, "+6281399990000"), ext("shopify", "nope")}, 404, "", nil},
		{"external id of another source", []api.Identifier{ext("hubspot", "cust_123")}, 404, "", nil},
		{"unknown contact id", []api.Identifier{id(api.IdentifierTypeContactId, "cnt_06H1HWXJT9Y619F5GCJ4072F68")}, 404, "", nil},
		{"identifiers of two contacts", []api.Identifier{id(api.IdentifierTypePhone, "+6281234567890"), id(api.IdentifierTypeEmail, "siti@example.com")}, 409, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.c.ResolveContactWithResponse(bg, nil, api.ResolveRequest{Identifiers: tc.ids})
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, res.StatusCode(), tc.status, res.Body)
			switch tc.status {
			case 200:
				if res.JSON200.Data.Id != tc.contact {
					t.Errorf("resolved %s, want %s", res.JSON200.Data.Id, tc.contact)
				}
				var want []api.Identifier
				for _, i := range tc.matched {
					want = append(want, tc.ids[i])
				}
				if got := res.JSON200.Meta.Matched; !slices.EqualFunc(got, want, sameIdentifier) {
					t.Errorf("matched %+v, want %+v", got, want)
				}
			case 409:
				p := problem(t, 409, res.Body)
				if p.Candidates == nil || !slices.Equal(sorted(*p.Candidates), sorted([]string{ujang.Id, siti.Id})) {
					t.Errorf("candidates %v", p.Candidates)
				}
			default:
				problem(t, tc.status, res.Body)
			}
		})
	}
}

func sameIdentifier(a, b api.Identifier) bool {
	return a.Type == b.Type && a.Value == b.Value && (a.Source == nil) == (b.Source == nil) && (a.Source == nil || *a.Source == *b.Source)
}

func TestResolveRejectsBadIdentifiers(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		body   string
		status int
		fields []string
	}{
		{"no identifiers", `{"identifiers": []}`, 422, []string{"identifiers"}},
		{"missing identifiers", `{}`, 422, []string{"identifiers"}},
		{"unknown type", `{"identifiers": [{"type": "fax", "value": "1"}]}`, 422, []string{"identifiers[0].type"}},
		{"external id without source", `{"identifiers": [{"type": "external_id", "value": "c1"}]}`, 422, []string{"identifiers[0].source"}},
		{"source on a phone", `{"identifiers": [{"type": "phone", "value": "+6281234567890", "source": "x"}]}`, 422, []string{"identifiers[0].source"}},
		{"bad phone", `{"identifiers": [{"type": "phone", "value": "12"}]}`, 422, []string{"identifiers[0].value"}},
		{"bad email", `{"identifiers": [{"type": "email", "value": "@"}]}`, 422, []string{"identifiers[0].value"}},
		{"bad contact id", `{"identifiers": [{"type": "contact_id", "value": "cnt_123"}]}`, 422, []string{"identifiers[0].value"}},
		{"every bad one named", `{"identifiers": [{"type": "email", "value": "ok@example.com"}, {"type": "phone", "value": "x"}, {"type": "wa_id", "value": ""}]}`, 422,
			[]string{"identifiers[1].value", "identifiers[2].value"}},
		{"too many", `{"identifiers": [` + repeatJSON(`{"type": "phone", "value": "+6281234567890"}`, 21) + `]}`, 422, []string{"identifiers"}},
		{"identifiers not a list", `{"identifiers": {"type": "phone"}}`, 400, []string{"identifiers"}},
		{"value not a string", `{"identifiers": [{"type": "phone", "value": 6281234567890}]}`, 400, []string{"identifiers[0].value"}},
		{"malformed", `{"identifiers": [`, 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/contacts/resolve", "/v1/contacts/lookup"} {
				status, body := e.do("POST", path, []byte(tc.body))
				wantStatus(t, status, tc.status, body)
				if got := fields(problem(t, tc.status, body)); !slices.Equal(got, tc.fields) {
					t.Errorf("%s: fields %v, want %v", path, got, tc.fields)
				}
			}
		})
	}
}

func repeatJSON(item string, n int) string {
	var b bytes.Buffer
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(item)
	}
	return b.String()
}

// TestLookupIsResolve pins that the alias answers exactly what resolve answers.
func TestLookupIsResolve(t *testing.T) {
	e := newEnv(t)
	e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890"), Email: ptr("a@example.com")})
	e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567891")})
	for name, body := range map[string]string{
		"found":     `{"identifiers": [{"type": "phone", "value": "081234567890"}, {"type": "email", "value": "x@example.com"}]}`,
		"not found": `{"identifiers": [{"type": "email", "value": "x@example.com"}]}`,
		"conflict":  `{"identifiers": [{"type": "email", "value": "a@example.com"}, {"type": "phone", "value": "+6281234567891"}]}`,
		"invalid":   `{"identifiers": [{"type": "phone", "value": "x"}]}`,
		"malformed": `{"identifiers": [}`,
	} {
		t.Run(name, func(t *testing.T) {
			// One request id for both, since problems carry it.
			s1, b1 := e.do("POST", "/v1/contacts/resolve", []byte(body), "X-Request-Id", "same")
			s2, b2 := e.do("POST", "/v1/contacts/lookup", []byte(body), "X-Request-Id", "same")
			if s1 != s2 || !bytes.Equal(b1, b2) {
				t.Errorf("resolve %d %s\nlookup  %d %s", s1, b1, s2, b2)
			}
		})
	}
	t.Run("generated client types agree", func(t *testing.T) {
		req := api.ResolveRequest{Identifiers: []api.Identifier{{Type: api.IdentifierTypePhone, Value: "+6281234567890"}}}
		r1, _ := e.c.ResolveContactWithResponse(bg, nil, req)
		r2, _ := e.c.LookupContactWithResponse(bg, nil, req)
		if r1.StatusCode() != http.StatusOK || r2.StatusCode() != http.StatusOK || r1.JSON200.Data.Id != r2.JSON200.Data.Id {
			t.Errorf("resolve %d, lookup %d", r1.StatusCode(), r2.StatusCode())
		}
	})
}

// TestConcurrentUpsertsConvergeOnOneContact is the get-or-create race: 32 requests for one new
// phone number at once make exactly one contact, one 201 and 31 200s.
func TestConcurrentUpsertsConvergeOnOneContact(t *testing.T) {
	e := newEnv(t)
	const n = 32
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		ids      = map[string]bool{}
		start    = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := e.c.CreateContactWithResponse(bg, nil, api.ContactCreate{
				PhoneNumber: ptr("+6281234567890"), CustomFields: rawJSON(fmt.Sprintf(`{"writer": %d}`, i)),
			})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			statuses[res.StatusCode()]++
			switch {
			case res.JSON201 != nil:
				ids[res.JSON201.Data.Id] = true
			case res.JSON200 != nil:
				ids[res.JSON200.Data.Id] = true
			default:
				t.Errorf("status %d: %s", res.StatusCode(), res.Body)
			}
		}()
	}
	close(start)
	wg.Wait()
	if statuses[201] != 1 || statuses[200] != n-1 {
		t.Errorf("statuses %v, want one 201 and %d 200s", statuses, n-1)
	}
	if len(ids) != 1 {
		t.Errorf("%d different contacts answered, want 1", len(ids))
	}
	var contacts, identities int
	if err := e.pool.QueryRow(bg, "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM contact_identities)").Scan(&contacts, &identities); err != nil {
		t.Fatal(err)
	}
	if contacts != 1 || identities != 1 {
		t.Errorf("%d contacts and %d identities stored, want 1 and 1", contacts, identities)
	}
}

// TestConcurrentUpsertsOfManyIdentifiers races requests that share identifiers pairwise, so
// every request must end on the one contact that the first one created.
func TestConcurrentUpsertsOfManyIdentifiers(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := api.ContactCreate{PhoneNumber: ptr("+6281234567890")}
			if i%2 == 1 {
				body = api.ContactCreate{PhoneNumber: ptr("+6281234567890"), Email: ptr("same@example.com")}
			}
			res, err := e.c.CreateContactWithResponse(bg, nil, body)
			if err != nil || (res.StatusCode() != 200 && res.StatusCode() != 201) {
				t.Errorf("status %d: %s %v", res.StatusCode(), res.Body, err)
			}
		}()
	}
	wg.Wait()
	var contacts int
	if err := e.pool.QueryRow(bg, "SELECT count(*) FROM contacts").Scan(&contacts); err != nil || contacts != 1 {
		t.Errorf("%d contacts stored (%v), want 1", contacts, err)
	}
}
