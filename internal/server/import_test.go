package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/gen/api"
)

// importNDJSON posts lines as NDJSON and returns the result, insisting on a 200.
func (e *env) importNDJSON(lines ...string) api.ImportResult {
	e.t.Helper()
	res, err := e.c.ImportContactsWithBodyWithResponse(bg, nil, "application/x-ndjson", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), 200, res.Body)
	return res.JSON200.Data
}

func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(bg, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

type rejected struct {
	line   int
	reason api.ImportRejectionReason
}

func rejections(r api.ImportResult) []rejected {
	out := make([]rejected, len(r.Rejected))
	for i, x := range r.Rejected {
		out[i] = rejected{x.Line, x.Reason}
	}
	return out
}

func TestImport(t *testing.T) {
	e := newEnv(t)
	siti := e.create(api.ContactCreate{Email: ptr("siti@example.com"), Name: ptr("Siti")})
	a := e.create(api.ContactCreate{PhoneNumber: ptr("+6281900000001")})
	b := e.create(api.ContactCreate{PhoneNumber: ptr("+6281900000002")})
	res := e.importNDJSON(
		`{"phone_number": "+6281100000001", "name": "Ujang", "custom_fields": {"tier": "gold"}}`, // 1 creates
		`{"phone_number": "0811-0000-0001", "email": "ujang@example.com"}`,                       // 2 same contact as 1
		``, // 3 blank
		`{"email": "SITI@example.com", "name": "Siti A."}`,                                                   // 4 updates Siti
		`{"phone_number": "+6281100000002"`,                                                                  // 5 malformed
		`{"phone_number": "12345"}`,                                                                          // 6 bad phone
		`{"phone_number": "+6281900000001", "email": "x@example.com"}`,                                       // 7 gives a the email...
		`{"phone_number": "+6281900000002", "email": "x@example.com"}`,                                       // 8 ...so this leads to a and b: conflict
		`{"name": "no identifier"}`,                                                                          // 9 invalid
		`{"external_source": "shopify", "external_id": "c-1", "custom_fields": {"n": 12345678901234567890}}`, // 10 creates
	)
	if res.Lines != 9 || res.Created != 2 || res.Updated != 3 || res.Conflict != 1 || res.Invalid != 3 {
		t.Errorf("counts %+v", res)
	}
	want := []rejected{{5, api.ImportRejectionReasonInvalid}, {6, api.ImportRejectionReasonInvalid},
		{8, api.ImportRejectionReasonConflict}, {9, api.ImportRejectionReasonInvalid}}
	if got := rejections(res); !slices.Equal(got, want) {
		t.Errorf("rejected %+v, want %+v", got, want)
	}
	for _, r := range res.Rejected {
		switch r.Line {
		case 6:
			if r.Errors == nil || (*r.Errors)[0].Field != "phone_number" {
				t.Errorf("line 6 does not name the field: %+v", r)
			}
		case 8:
			if r.Candidates == nil || !slices.Equal(sorted(*r.Candidates), sorted([]string{a.Id, b.Id})) {
				t.Errorf("line 8 candidates %v", r.Candidates)
			}
		}
	}
	r, _ := e.c.ResolveContactWithResponse(bg, nil, api.ResolveRequest{Identifiers: []api.Identifier{
		{Type: api.IdentifierTypePhone, Value: "+6281100000001"}, {Type: api.IdentifierTypeEmail, Value: "ujang@example.com"},
	}})
	wantStatus(t, r.StatusCode(), 200, r.Body)
	if c := r.JSON200.Data; c.Name.MustGet() != "Ujang" || string(c.CustomFields) != `{"tier":"gold"}` {
		t.Errorf("the grouped contact %s", mustJSON(c))
	}
	if got := e.get(siti.Id); got.Name.MustGet() != "Siti A." || got.Email.MustGet() != "SITI@example.com" {
		t.Errorf("Siti was not updated: %s", mustJSON(got))
	}
	r, _ = e.c.ResolveContactWithResponse(bg, nil, api.ResolveRequest{Identifiers: []api.Identifier{{Type: api.IdentifierTypeExternalId, Source: ptr("shopify"), Value: "c-1"}}})
	if r.StatusCode() != 200 || string(r.JSON200.Data.CustomFields) != `{"n":12345678901234567890}` {
		t.Errorf("line 10: %s", r.Body)
	}
	if got := e.get(a.Id); got.Email.MustGet() != "x@example.com" {
		t.Errorf("line 7 did not update a: %s", mustJSON(got))
	}
	if got := e.get(b.Id); !got.Email.IsNull() {
		t.Errorf("the conflicting line 8 changed b: %s", mustJSON(got))
	}
	if len(res.MergedLines) != 1 || res.MergedLines[0].Line != 2 || !slices.Equal(res.MergedLines[0].EarlierLines, []int{1}) {
		t.Errorf("merged lines %+v, want line 2 after line 1", res.MergedLines)
	}
	wantResults := map[int]string{1: "created", 2: "updated", 4: "updated", 7: "updated", 10: "created"}
	for _, r := range res.Results {
		if wantResults[r.Line] != string(r.Status) {
			t.Errorf("line %d %s", r.Line, r.Status)
		}
		delete(wantResults, r.Line)
	}
	if len(wantResults) > 0 {
		t.Errorf("no result for lines %v", wantResults)
	}
	if n := e.count("contacts"); n != 5 {
		t.Errorf("%d contacts, want 5", n)
	}
	if n := e.count("import_keys") + e.count("import_updates"); n != 0 {
		t.Errorf("%d staging rows left", n)
	}
}

func TestImportTwiceCreatesNothingNew(t *testing.T) {
	e := newEnv(t)
	var lines []string
	for i := range 300 {
		lines = append(lines, fmt.Sprintf(`{"phone_number": "+62811%08d", "email": "c%d@example.com", "external_source": "shop", "external_id": "%d", "name": "C %d"}`, i, i, i, i))
	}
	first := e.importNDJSON(lines...)
	if first.Created != 300 || first.Updated != 0 {
		t.Fatalf("first import %+v", first)
	}
	contacts, identities := e.count("contacts"), e.count("contact_identities")
	second := e.importNDJSON(lines...)
	if second.Created != 0 || second.Updated != 300 || len(second.Rejected) != 0 {
		t.Errorf("second import %+v", second)
	}
	if e.count("contacts") != contacts || e.count("contact_identities") != identities || identities != 900 {
		t.Errorf("rows changed: %d contacts, %d identities", e.count("contacts"), e.count("contact_identities"))
	}
}

func TestImportStaysInItsWorkspace(t *testing.T) {
	e := newEnv(t)
	mine := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001"), Name: ptr("Mine")})
	other, oc := e.workspace("Other", "ID")
	res, err := oc.ImportContactsWithBodyWithResponse(bg, nil, "application/x-ndjson", strings.NewReader(`{"phone_number": "+6281100000001", "name": "Theirs"}`))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res.StatusCode(), 200, res.Body)
	if res.JSON200.Data.Created != 1 {
		t.Errorf("the other workspace's import did not create its own contact: %s", res.Body)
	}
	if got := e.get(mine.Id); got.Name.MustGet() != "Mine" {
		t.Errorf("another workspace's import changed my contact")
	}
	_ = other
}

func TestImportRefusals(t *testing.T) {
	e := newEnv(t)
	post := func(contentType string, body []byte) (int, []byte) {
		return e.do("POST", "/v1/contacts/import", body, "Content-Type", contentType)
	}
	status, body := post("application/json", []byte(`{"phone_number": "+6281100000001"}`))
	wantStatus(t, status, 415, body)
	status, body = post("application/x-ndjson", bytes.Repeat([]byte("{\"phone_number\": \"+6281100000001\"}\n"), 100_001))
	wantStatus(t, status, 413, body)
	status, body = post("application/x-ndjson", []byte(`{"name": "`+strings.Repeat("x", 1<<20)+`"}`))
	wantStatus(t, status, 400, body)
	if n := e.count("contacts"); n != 0 {
		t.Errorf("%d contacts written by refused imports", n)
	}
}

// TestImportCustomFieldLimitRejectsTheLines makes an import grow a stored contact past 100 custom
// fields: those lines are invalid and the contact keeps what it had.
func TestImportCustomFieldLimitRejectsTheLines(t *testing.T) {
	e := newEnv(t)
	fields := map[string]int{}
	for i := range 60 {
		fields[fmt.Sprintf("a%d", i)] = i
	}
	b, _ := json.Marshal(fields)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001"), CustomFields: rawJSON(string(b))})
	more := map[string]int{}
	for i := range 60 {
		more[fmt.Sprintf("b%d", i)] = i
	}
	mb, _ := json.Marshal(more)
	res := e.importNDJSON(`{"phone_number": "+6281100000001", "name": "x", "custom_fields": `+string(mb)+`}`, `{"phone_number": "+6281100000009"}`)
	if res.Invalid != 1 || res.Created != 1 || len(res.Rejected) != 1 || res.Rejected[0].Line != 1 {
		t.Errorf("result %+v", res)
	}
	if got := e.get(c.Id); !got.Name.IsNull() || len(got.CustomFields) != len(e.get(c.Id).CustomFields) {
		t.Errorf("the contact changed: %s", mustJSON(got))
	}
}

// TestImportIsAllOrNothingOnDatabaseFailure makes the database fail midway (a trigger refuses one
// identity): the request fails and nothing of it is written.
func TestImportIsAllOrNothingOnDatabaseFailure(t *testing.T) {
	e := newEnv(t)
	if _, err := e.pool.Exec(bg, `
		CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.value = 'boom@example.com' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER refuse_boom BEFORE INSERT ON contact_identities FOR EACH ROW EXECUTE FUNCTION refuse_boom();`); err != nil {
		t.Fatal(err)
	}
	body := `{"phone_number": "+6281100000001"}` + "\n" + `{"email": "boom@example.com"}` + "\n" + `{"phone_number": "+6281100000003"}`
	req, _ := http.NewRequest("POST", e.url+"/v1/contacts/import", strings.NewReader(body))
	req.Header.Set("X-Api-Key", e.ws.APIKey)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req) // not the validating client: a 500 is the expected answer here
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 500 {
		t.Errorf("status %d, want 500", res.StatusCode)
	}
	if n := e.count("contacts") + e.count("contact_identities") + e.count("import_keys"); n != 0 {
		t.Errorf("%d rows written by a failed import", n)
	}
}

// TestImport100kLines imports 100,000 lines in one request and checks every row.
func TestImport100kLines(t *testing.T) {
	if testing.Short() {
		t.Skip("a 100k-line import takes seconds")
	}
	e := newEnv(t)
	var body bytes.Buffer
	for i := range 100_000 {
		fmt.Fprintf(&body, `{"phone_number": "+62812%08d", "email": "c%d@example.com", "name": "Contact %d"}`+"\n", i, i, i)
	}
	res, err := e.c.ImportContactsWithBodyWithResponse(bg, nil, "application/x-ndjson", &body)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, res.StatusCode(), 200, res.Body[:min(len(res.Body), 500)])
	if d := res.JSON200.Data; d.Lines != 100_000 || d.Created != 100_000 || len(d.Rejected) != 0 {
		t.Errorf("result lines %d created %d rejected %d", d.Lines, d.Created, len(d.Rejected))
	}
	if c, i := e.count("contacts"), e.count("contact_identities"); c != 100_000 || i != 200_000 {
		t.Errorf("%d contacts and %d identities, want 100000 and 200000", c, i)
	}
	var wrong int
	if err := e.pool.QueryRow(bg, `SELECT count(*) FROM contacts c
		WHERE name IS DISTINCT FROM 'Contact ' || substr(phone_number, 7)::int
		   OR email IS DISTINCT FROM 'c' || substr(phone_number, 7)::int || '@example.com'`).Scan(&wrong); err != nil || wrong != 0 {
		t.Errorf("%d contacts with the wrong name (%v)", wrong, err)
	}
}

// TestConcurrentImportsOfOneFile runs the same import four times at once: the losers of each race
// retry, and every contact exists once.
func TestConcurrentImportsOfOneFile(t *testing.T) {
	e := newEnv(t)
	var lines []string
	for i := range 200 {
		lines = append(lines, fmt.Sprintf(`{"phone_number": "+62811%08d", "email": "c%d@example.com"}`, i, i))
	}
	body := strings.Join(lines, "\n")
	done := make(chan api.ImportResult)
	for range 4 {
		go func() {
			res, err := e.c.ImportContactsWithBodyWithResponse(bg, nil, "application/x-ndjson", strings.NewReader(body))
			if err != nil || res.JSON200 == nil {
				t.Errorf("import: %v %s", err, res.Body)
				done <- api.ImportResult{}
				return
			}
			done <- res.JSON200.Data
		}()
	}
	created := 0
	for range 4 {
		r := <-done
		created += r.Created
		if r.Created+r.Updated != 200 {
			t.Errorf("result %+v", r)
		}
	}
	if created != 200 || e.count("contacts") != 200 || e.count("contact_identities") != 400 {
		t.Errorf("created %d in all; %d contacts, %d identities", created, e.count("contacts"), e.count("contact_identities"))
	}
}

// TestImportNewContactCustomFieldLimit sends two lines for one new contact, each within the limits,
// whose custom fields together would not be: the first creates it, the second is refused alone,
// as POST /v1/contacts would answer them one after another.
func TestImportNewContactCustomFieldLimit(t *testing.T) {
	e := newEnv(t)
	half := func(prefix string) string {
		m := map[string]int{}
		for i := range 60 {
			m[fmt.Sprintf("%s%d", prefix, i)] = i
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	res := e.importNDJSON(`{"phone_number": "+6281100000001", "custom_fields": `+half("a")+`}`, `{"phone_number": "+6281100000001", "custom_fields": `+half("b")+`}`)
	if res.Invalid != 1 || res.Created != 1 || len(res.Rejected) != 1 || res.Rejected[0].Line != 2 || e.count("contacts") != 1 {
		t.Errorf("result %+v with %d contacts", res, e.count("contacts"))
	}
}
