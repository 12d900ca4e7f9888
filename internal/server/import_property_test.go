package server_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/tenant"
)

// TestImportEqualsUpsertsOneByOne generates random batches of lines (identifiers shared and
// conflicting in several spellings, custom fields set and removed, limits crossed, invalid
// lines) and sends each batch twice, to two fresh workspaces holding the same stored contacts:
// as one import, and line by line to POST /v1/contacts. The answers, contacts and identities
// must be the same, contact for contact. WAZAPIN_IMPORT_BATCHES sets the number of batches (default
// 500) and WAZAPIN_IMPORT_SEED replays a run.
func TestImportEqualsUpsertsOneByOne(t *testing.T) {
	batches := envInt(t, "WAZAPIN_IMPORT_BATCHES", 500)
	seed := uint64(envInt(t, "WAZAPIN_IMPORT_SEED", int(rand.Uint32())))
	t.Logf("WAZAPIN_IMPORT_SEED=%d WAZAPIN_IMPORT_BATCHES=%d", seed, batches)
	var e *env
	for b := range batches {
		if b%100 == 0 {
			e = newEnv(t) // a fresh database now and then, workspaces in between
		}
		r := rand.New(rand.NewPCG(seed, uint64(b)))
		stored := genLines(r, r.IntN(5), false)
		lines := genLines(r, 1+r.IntN(25), true)
		if !e.importMatchesUpserts(b, stored, lines) {
			t.Fatalf("batch %d differs (WAZAPIN_IMPORT_SEED=%d); stored contacts made by:\n%s\nlines:\n%s",
				b, seed, strings.Join(stored, "\n"), strings.Join(lines, "\n"))
		}
	}
}

// TestImportEqualsUpsertsOnMergedContacts is TestImportEqualsUpsertsOneByOne on stored contacts
// that hold several identifiers of one type, as a merge leaves them: before the lines, each stored
// contact is given (with SQL, in both workspaces alike) a few more phones, emails or external ids
// of the people the lines name, of the types it shows. WAZAPIN_IMPORT_MERGED_BATCHES sets the
// number of batches (default 200).
func TestImportEqualsUpsertsOnMergedContacts(t *testing.T) {
	batches := envInt(t, "WAZAPIN_IMPORT_MERGED_BATCHES", 200)
	seed := uint64(envInt(t, "WAZAPIN_IMPORT_SEED", int(rand.Uint32())))
	t.Logf("WAZAPIN_IMPORT_SEED=%d WAZAPIN_IMPORT_MERGED_BATCHES=%d", seed, batches)
	var e *env
	for b := range batches {
		if b%100 == 0 {
			e = newEnv(t)
		}
		r := rand.New(rand.NewPCG(seed, uint64(b)))
		stored := genLines(r, 1+r.IntN(4), false)
		lines := genLines(r, 1+r.IntN(25), true)
		var merged []string
		merge := func(wsI, wsU tenant.Created, twins map[string]string) {
			merged = e.mergeAlike(r, wsI, wsU, twins)
		}
		if !e.importMatchesUpserts(b, stored, lines, merge) {
			t.Fatalf("batch %d differs (WAZAPIN_IMPORT_SEED=%d); stored contacts made by:\n%s\nidentities added:\n%s\nlines:\n%s",
				b, seed, strings.Join(stored, "\n"), strings.Join(merged, "\n"), strings.Join(lines, "\n"))
		}
	}
}

// mergeAlike gives each stored contact of wsI and its twin in wsU the same few identities that no
// contact holds, of the types the contact shows, and lists them.
func (e *env) mergeAlike(r *rand.Rand, wsI, wsU tenant.Created, twins map[string]string) []string {
	e.t.Helper()
	idI, _ := ids.Parse(ids.Workspace, wsI.WorkspaceID)
	idU, _ := ids.Parse(ids.Workspace, wsU.WorkspaceID)
	var added []string
	for _, a := range sorted(slices.Collect(maps.Keys(twins))) {
		cI, _ := ids.Parse(ids.Contact, a)
		cU, _ := ids.Parse(ids.Contact, twins[a])
		var phone, email, external bool
		if err := e.pool.QueryRow(bg, `SELECT phone_number IS NOT NULL, email IS NOT NULL, external_id IS NOT NULL
			FROM contacts WHERE workspace_id = $1 AND id = $2`, idI, cI).Scan(&phone, &email, &external); err != nil {
			e.t.Fatal(err)
		}
		for range r.IntN(4) {
			var typ, source, value string
			switch r.IntN(3) {
			case 0:
				typ, value = "phone", fmt.Sprintf("+628112233440%d", r.IntN(5))
				if !phone {
					continue
				}
			case 1:
				typ, value = "email", fmt.Sprintf("u%d@example.com", r.IntN(4))
				if !email {
					continue
				}
			default:
				typ, source, value = "external_id", []string{"shopify", "hubspot"}[r.IntN(2)], fmt.Sprintf("c%d", r.IntN(3))
				if !external {
					continue
				}
			}
			insert := `INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`
			tag, err := e.pool.Exec(bg, insert, idI, typ, source, value, cI)
			if err != nil {
				e.t.Fatal(err)
			}
			if tag.RowsAffected() == 0 {
				continue // held already, by this contact or another
			}
			if tag, err := e.pool.Exec(bg, insert, idU, typ, source, value, cU); err != nil || tag.RowsAffected() != 1 {
				e.t.Fatalf("the twin took %s:%s:%s differently: %v", typ, source, value, err)
			}
			added = append(added, a+" "+typ+":"+source+":"+value)
		}
	}
	return added
}

// genLines makes n NDJSON lines over a small set of people, so that lines meet.
func genLines(r *rand.Rand, n int, hostile bool) []string {
	phone := func() string {
		d := r.IntN(5)
		spellings := []string{"+628112233440%d", "08112233440%d", "0811-2233-440%d", "+62 811 2233 440%d", "628112233440%d"}
		return fmt.Sprintf(spellings[r.IntN(len(spellings))], d)
	}
	email := func() string {
		d := r.IntN(4)
		spellings := []string{"u%d@example.com", "U%d@Example.COM", " u%d@example.com "}
		return fmt.Sprintf(spellings[r.IntN(len(spellings))], d)
	}
	var out []string
	for range n {
		if hostile && r.IntN(12) == 0 {
			bad := []string{`{"phone_number": "12345"}`, `{"name": "no identifier"}`, `{"external_source": "shopify"}`, `{"phone_number": `, `{"email": "not an email"}`}
			out = append(out, bad[r.IntN(len(bad))])
			continue
		}
		m := map[string]any{}
		for len(m) == 0 || r.IntN(3) == 0 {
			switch r.IntN(3) {
			case 0:
				m["phone_number"] = phone()
			case 1:
				m["email"] = email()
			default:
				m["external_source"] = []string{"shopify", "Shopify", "hubspot"}[r.IntN(3)]
				m["external_id"] = fmt.Sprintf("c%d", r.IntN(3))
			}
		}
		if r.IntN(2) == 0 {
			m["name"] = fmt.Sprintf("Name %d", r.IntN(4))
		}
		if r.IntN(2) == 0 {
			custom := map[string]any{}
			for _, k := range []string{"a", "b", "c"} {
				switch r.IntN(4) {
				case 0:
					custom[k] = nil
				case 1:
					custom[k] = r.IntN(3)
				case 2:
					custom[k] = map[string]any{"nested": k}
				}
			}
			if hostile && r.IntN(6) == 0 {
				// 45 keys: three such lines on one contact pass the limit of 100.
				base := r.IntN(3) * 45
				for i := range 45 {
					custom[fmt.Sprintf("k%d", base+i)] = i
				}
			}
			m["custom_fields"] = custom
		}
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return out
}

// lineAnswer is what happened to one line, in terms both ways of sending it share.
type lineAnswer struct {
	outcome    string   // created, updated, conflict, invalid
	contact    string   // created, updated
	candidates []string // conflict
	fields     []string // invalid
}

// importMatchesUpserts makes the stored contacts in two fresh workspaces, lets each merge (when
// given) change them alike, and compares the lines sent as an import to one workspace with the
// same lines sent one by one to the other.
func (e *env) importMatchesUpserts(batch int, stored, lines []string, merge ...func(wsI, wsU tenant.Created, twins map[string]string)) bool {
	t := e.t
	t.Helper()
	wsI, _ := e.workspace(fmt.Sprintf("import %d", batch), "ID")
	wsU, _ := e.workspace(fmt.Sprintf("upserts %d", batch), "ID")
	same := map[string]string{} // contact of the import's workspace -> its twin in the other
	twin := func(a, b string) bool {
		if prev, ok := same[a]; ok {
			return prev == b
		}
		for _, v := range same {
			if v == b {
				return false
			}
		}
		same[a] = b
		return true
	}
	for _, l := range stored {
		a, b := e.postAs(wsI.APIKey, l), e.postAs(wsU.APIKey, l)
		if a.outcome != b.outcome || (a.contact != "" && !twin(a.contact, b.contact)) {
			t.Errorf("stored contacts differ for %s: %+v %+v", l, a, b)
			return false
		}
	}
	for _, m := range merge {
		m(wsI, wsU, same)
	}

	imported := e.importAs(wsI.APIKey, lines)
	ok := true
	for i, l := range lines {
		want := e.postAs(wsU.APIKey, l)
		got, found := imported[i+1]
		if !found {
			t.Errorf("line %d (%s): no answer from the import", i+1, l)
			ok = false
			continue
		}
		match := got.outcome == want.outcome && slices.Equal(got.fields, want.fields) && len(got.candidates) == len(want.candidates)
		if match && got.contact != "" {
			match = twin(got.contact, want.contact)
		}
		if match && len(got.candidates) > 0 {
			mapped := make([]string, len(got.candidates))
			for j, c := range got.candidates {
				mapped[j] = same[c]
			}
			match = slices.Equal(sorted(mapped), sorted(want.candidates))
		}
		if !match {
			t.Errorf("line %d (%s): import %+v, one by one %+v", i+1, l, got, want)
			ok = false
		}
	}
	if !ok {
		return false
	}
	a, b := e.contactsOf(wsI.WorkspaceID), e.contactsOf(wsU.WorkspaceID)
	if len(a) != len(b) {
		t.Errorf("%d contacts after the import, %d after the upserts", len(a), len(b))
		return false
	}
	for id, c := range a {
		if other, found := b[same[id]]; !found || other != c {
			t.Errorf("contact %s after the import:\n  %s\nits twin %s after the upserts:\n  %s", id, c, same[id], other)
			ok = false
		}
	}
	return ok
}

// postAs sends one line to POST /v1/contacts as the key's workspace.
func (e *env) postAs(key, line string) lineAnswer {
	status, body := e.do("POST", "/v1/contacts", []byte(line), "X-Api-Key", key)
	switch status {
	case http.StatusCreated, http.StatusOK:
		var c api.ContactResponse
		if err := json.Unmarshal(body, &c); err != nil {
			e.t.Fatal(err)
		}
		return lineAnswer{outcome: map[int]string{201: "created", 200: "updated"}[status], contact: c.Data.Id}
	case http.StatusConflict:
		p := problem(e.t, status, body)
		return lineAnswer{outcome: "conflict", candidates: sorted(*p.Candidates)}
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return lineAnswer{outcome: "invalid", fields: sorted(fields(problem(e.t, status, body)))}
	}
	e.t.Fatalf("POST %s: %d %s", line, status, body)
	return lineAnswer{}
}

// importAs imports the lines as the key's workspace and returns each line's answer by number.
func (e *env) importAs(key string, lines []string) map[int]lineAnswer {
	status, body := e.do("POST", "/v1/contacts/import", []byte(strings.Join(lines, "\n")), "Content-Type", "application/x-ndjson", "X-Api-Key", key)
	wantStatus(e.t, status, http.StatusOK, body)
	var res api.ImportResponse
	if err := json.Unmarshal(body, &res); err != nil {
		e.t.Fatal(err)
	}
	out := map[int]lineAnswer{}
	for _, r := range res.Data.Results {
		out[r.Line] = lineAnswer{outcome: string(r.Status), contact: r.ContactId}
	}
	for _, r := range res.Data.Rejected {
		a := lineAnswer{outcome: string(r.Reason)}
		if r.Candidates != nil {
			a.candidates = sorted(*r.Candidates)
		}
		if r.Errors != nil {
			for _, f := range *r.Errors {
				a.fields = append(a.fields, f.Field)
			}
			a.fields = sorted(a.fields)
		}
		out[r.Line] = a
	}
	return out
}

// contactsOf reads every contact of a workspace with its identities, as one comparable line each.
func (e *env) contactsOf(ref string) map[string]string {
	wsID, _ := ids.Parse(ids.Workspace, ref)
	rows, err := e.pool.Query(bg, `
		SELECT c.id, concat_ws(' | ', c.name, c.phone_number, c.email, c.external_source, c.external_id, c.custom_fields::text,
		       (SELECT string_agg(concat_ws(':', i.type, i.source, i.value), ' ' ORDER BY i.type, i.source, i.value)
		        FROM contact_identities i WHERE i.workspace_id = c.workspace_id AND i.contact_id = c.id))
		FROM contacts c WHERE c.workspace_id = $1`, wsID)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var (
			id  uuid.UUID
			row string
		)
		if err := rows.Scan(&id, &row); err != nil {
			e.t.Fatal(err)
		}
		out[ids.Format(ids.Contact, id)] = row
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}
