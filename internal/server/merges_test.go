package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazapin/wazapin/gen/api"
)

// merge merges others into survivor and insists it worked.
func (e *env) merge(survivor string, dryRun bool, others ...string) api.MergeResult {
	e.t.Helper()
	res, err := e.c.MergeContactsWithResponse(bg, survivor, nil, api.MergeRequest{ContactIds: others, DryRun: &dryRun})
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	return res.JSON200.Data
}

func (e *env) undo(mergeID string) api.UndoResult {
	e.t.Helper()
	res, err := e.c.UndoMergeWithResponse(bg, mergeID, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	return res.JSON200.Data
}

// resolveTo answers the id of the contact an identifier (type:value, or external_id:source:value)
// leads to, or "" when it leads nowhere.
func (e *env) resolveTo(identifier string) string {
	e.t.Helper()
	typ, value, _ := strings.Cut(identifier, ":")
	id := api.Identifier{Type: api.IdentifierType(typ), Value: value}
	if typ == "external_id" {
		source, v, _ := strings.Cut(value, ":")
		id.Source, id.Value = &source, v
	}
	res, err := e.c.ResolveContactWithResponse(bg, nil, api.ResolveRequest{Identifiers: []api.Identifier{id}})
	if err != nil {
		e.t.Fatal(err)
	}
	switch res.StatusCode() {
	case http.StatusNotFound:
		return ""
	case http.StatusOK:
		return res.JSON200.Data.Id
	}
	e.t.Fatalf("resolve %s: %d %s", identifier, res.StatusCode(), res.Body)
	return ""
}

// state is what a contact shows through the API, for before/after comparisons.
func (e *env) state(id string) map[string]any {
	e.t.Helper()
	out := map[string]any{}
	for _, path := range []string{"", "/identities", "/notes", "/tags", "/consents", "/suppressions", "/merges"} {
		status, body := e.do(http.MethodGet, "/v1/contacts/"+id+path, nil)
		var v any
		_ = json.Unmarshal(body, &v)
		out[path] = []any{status, v}
	}
	return out
}

func (e *env) identities(id string) []string {
	e.t.Helper()
	res, err := e.c.ListContactIdentitiesWithResponse(bg, id)
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	var out []string
	for _, i := range res.JSON200.Data {
		v := string(i.Type) + ":" + i.Value
		if i.Source != nil {
			v = string(i.Type) + ":" + *i.Source + ":" + i.Value
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func (e *env) notes(id string) []string {
	e.t.Helper()
	res, err := e.c.ListContactNotesWithResponse(bg, id, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	var out []string
	for _, n := range res.JSON200.Data {
		out = append(out, n.Body)
	}
	slices.Sort(out)
	return out
}

func (e *env) tags(id string) []string {
	e.t.Helper()
	res, err := e.c.ListContactTagsWithResponse(bg, id)
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	var out []string
	for _, t := range res.JSON200.Data {
		out = append(out, t.Name)
	}
	slices.Sort(out)
	return out
}

func (e *env) consentOn(id string, channel api.MessagingChannel) string {
	e.t.Helper()
	res, err := e.c.ListContactConsentsWithResponse(bg, id)
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	for _, c := range res.JSON200.Data {
		if c.Channel == channel {
			return string(c.Status)
		}
	}
	return ""
}

func activeOn(ss []api.Suppression, channel api.MessagingChannel) bool {
	return slices.ContainsFunc(ss, func(s api.Suppression) bool { return s.Channel == channel && s.Active })
}

func (e *env) listed() []string {
	e.t.Helper()
	res, err := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{Limit: ptr(100)})
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	var out []string
	for _, c := range res.JSON200.Data {
		out = append(out, c.Id)
	}
	return out
}

func (e *env) tag(id, name string) {
	e.t.Helper()
	res, _ := e.c.AssignContactTagWithResponse(bg, id, nil, api.TagAssign{Name: name})
	if res.StatusCode() >= 300 {
		e.t.Fatalf("tag: %d %s", res.StatusCode(), res.Body)
	}
}

func (e *env) note(id, body string) {
	e.t.Helper()
	res, _ := e.c.CreateContactNoteWithResponse(bg, id, nil, api.NoteCreate{Body: body})
	wantStatus(e.t, res.StatusCode(), http.StatusCreated, res.Body)
}

func (e *env) consent(id string, channel api.MessagingChannel, status api.ConsentStatus, at time.Time) {
	e.t.Helper()
	res, _ := e.c.PutContactConsentWithResponse(bg, id, channel, api.ConsentPut{Status: status, CapturedAt: &at})
	if res.StatusCode() >= 300 {
		e.t.Fatalf("consent: %d %s", res.StatusCode(), res.Body)
	}
}

func (e *env) patch(id, body string) api.Contact {
	e.t.Helper()
	res, err := e.c.UpdateContactWithBodyWithResponse(bg, id, nil, "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	return res.JSON200.Data
}

func lostValues(m api.Merge) []string {
	var out []string
	for _, l := range m.Lost {
		v, _ := json.Marshal(l.Value)
		out = append(out, l.Field+"="+string(v))
	}
	slices.Sort(out)
	return out
}

// TestMergeAndUndo walks one merge through every rule of mergeContacts and undoMerge: the dry
// run changes nothing, the survivor's fields win and the other's fill, identifiers, notes, tags,
// consent and suppressions follow, the merged id answers for the survivor, and undo gives each
// contact back its own.
func TestMergeAndUndo(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	a := e.create(api.ContactCreate{Name: ptr("Ujang"), PhoneNumber: ptr("+6281234567890"), Email: ptr("ujang@example.com"),
		CustomFields: rawJSON(`{"tier":"gold","lang":"id"}`)})
	b := e.create(api.ContactCreate{Name: ptr("Ujang S"), PhoneNumber: ptr("+6281234567891"), ExternalSource: ptr("shopify"),
		ExternalId: ptr("cust_9"), CustomFields: rawJSON(`{"tier":"silver","city":"Bandung"}`)})
	e.note(a.Id, "a's note")
	e.note(b.Id, "b's note")
	e.tag(a.Id, "VIP")
	e.tag(b.Id, "VIP")
	e.tag(b.Id, "Wholesale")
	e.consent(a.Id, api.MessagingChannelWhatsapp, api.ConsentStatusOptedIn, now.Add(-2*time.Hour))
	e.consent(b.Id, api.MessagingChannelWhatsapp, api.ConsentStatusOptedOut, now.Add(-time.Hour))
	res, _ := e.c.UpsertContactSuppressionWithResponse(bg, b.Id, nil, api.SuppressionCreate{Channel: api.MessagingChannelSms, Reason: api.SuppressionReasonUnsubscribed})
	wantStatus(t, res.StatusCode(), http.StatusCreated, res.Body)
	res, _ = e.c.UpsertContactSuppressionWithResponse(bg, b.Id, nil, api.SuppressionCreate{Channel: api.MessagingChannel("line"), Reason: api.SuppressionReasonManual})
	wantStatus(t, res.StatusCode(), http.StatusCreated, res.Body)
	identifiers := []string{"phone:+6281234567890", "email:ujang@example.com", "phone:+6281234567891", "external_id:shopify:cust_9"}

	beforeA, beforeB := e.state(a.Id), e.state(b.Id)
	dry := e.merge(a.Id, true, b.Id)
	t.Run("a dry run answers the merge and changes nothing", func(t *testing.T) {
		if !dry.Merge.DryRun {
			t.Error("dry_run is false in a dry run's answer")
		}
		if got, want := e.state(a.Id), beforeA; !jsonEqual(got, want) {
			t.Errorf("the survivor changed: %v, was %v", got, want)
		}
		if got, want := e.state(b.Id), beforeB; !jsonEqual(got, want) {
			t.Errorf("the other contact changed: %v, was %v", got, want)
		}
		res, _ := e.c.GetMergeWithResponse(bg, dry.Merge.Id)
		wantStatus(t, res.StatusCode(), http.StatusNotFound, res.Body)
	})

	done := e.merge(a.Id, false, b.Id)
	s := done.Contact
	t.Run("the answer is the dry run's", func(t *testing.T) {
		if done.Merge.DryRun {
			t.Error("dry_run is true")
		}
		if !slices.Equal(lostValues(done.Merge), lostValues(dry.Merge)) || s.Id != dry.Contact.Id ||
			string(s.CustomFields) != string(dry.Contact.CustomFields) || s.ExternalId.MustGet() != dry.Contact.ExternalId.MustGet() {
			t.Errorf("merge %+v, dry run %+v", done, dry)
		}
	})
	t.Run("the survivor's fields win and the other's fill what it lacks", func(t *testing.T) {
		if s.Id != a.Id || s.Name.MustGet() != "Ujang" || s.PhoneNumber.MustGet() != "+6281234567890" ||
			s.Email.MustGet() != "ujang@example.com" || s.ExternalSource.MustGet() != "shopify" || s.ExternalId.MustGet() != "cust_9" {
			t.Errorf("survivor %+v", s)
		}
		var custom map[string]string
		_ = json.Unmarshal(s.CustomFields, &custom)
		if want := map[string]string{"tier": "gold", "lang": "id", "city": "Bandung"}; !mapsEqual(custom, want) {
			t.Errorf("custom_fields %v, want %v", custom, want)
		}
		if !slices.Equal(s.MergedIds, []string{b.Id}) {
			t.Errorf("merged_ids %v, want [%s]", s.MergedIds, b.Id)
		}
		want := []string{`custom_fields.tier="silver"`, `name="Ujang S"`, `phone_number="+6281234567891"`}
		if got := lostValues(done.Merge); !slices.Equal(got, want) {
			t.Errorf("lost %v, want %v", got, want)
		}
	})
	t.Run("every identifier and the merged id lead to the survivor", func(t *testing.T) {
		for _, id := range identifiers {
			if got := e.resolveTo(id); got != a.Id {
				t.Errorf("%s resolves to %q, want %s", id, got, a.Id)
			}
		}
		res, _ := e.c.ResolveContactWithResponse(bg, nil, api.ResolveRequest{Identifiers: []api.Identifier{{Type: api.IdentifierTypeContactId, Value: b.Id}}})
		wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
		if res.JSON200.Data.Id != a.Id {
			t.Errorf("resolve by the merged id: %s", res.JSON200.Data.Id)
		}
		if got := e.get(b.Id); got.Id != a.Id {
			t.Errorf("GET of the merged id answered %s", got.Id)
		}
		if got := e.identities(b.Id); len(got) != 4 {
			t.Errorf("identities through the merged id: %v", got)
		}
		if got := e.listed(); !slices.Equal(got, []string{a.Id}) {
			t.Errorf("listed %v, want only the survivor", got)
		}
	})
	t.Run("notes, tags, consent and suppressions are the survivor's", func(t *testing.T) {
		if got := e.notes(a.Id); !slices.Equal(got, []string{"a's note", "b's note"}) {
			t.Errorf("notes %v", got)
		}
		if got := e.tags(a.Id); !slices.Equal(got, []string{"VIP", "Wholesale"}) {
			t.Errorf("tags %v", got)
		}
		if got := e.consentOn(a.Id, api.MessagingChannelWhatsapp); got != "opted_out" {
			t.Errorf("whatsapp consent %q, want the later opted_out", got)
		}
		ss := e.suppressions(a.Id)
		if !activeOn(ss, api.MessagingChannelSms) || !activeOn(ss, "line") {
			t.Errorf("suppressions %+v, want sms and line active", ss)
		}
		if r := e.reachability("sms", "phone:+6281234567891"); verdict(r[0]) == "ok" {
			t.Errorf("the merged phone is reachable on sms: %+v", r[0])
		}
	})
	t.Run("a write naming a held identifier detaches none of the others", func(t *testing.T) {
		res, _ := e.c.CreateContactWithResponse(bg, nil, api.ContactCreate{PhoneNumber: ptr("+6281234567891"), Email: ptr("ujang@example.com")})
		wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
		if res.JSON200.Data.Id != a.Id {
			t.Fatalf("the upsert landed on %s", res.JSON200.Data.Id)
		}
		if got := e.identities(a.Id); len(got) != 4 {
			t.Errorf("identities after the upsert %v, want all 4", got)
		}
		e.patch(b.Id, `{"phone_number":"+6281234567890"}`) // back as it was, through the merged id
		if got := e.identities(a.Id); len(got) != 4 {
			t.Errorf("identities after the patch %v, want all 4", got)
		}
	})
	t.Run("the history shows the merge from either id", func(t *testing.T) {
		for _, id := range []string{a.Id, b.Id} {
			res, _ := e.c.ListContactMergesWithResponse(bg, id)
			wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
			if len(res.JSON200.Data) != 1 || res.JSON200.Data[0].Id != done.Merge.Id {
				t.Errorf("merges of %s: %+v", id, res.JSON200.Data)
			}
		}
	})

	undone := e.undo(done.Merge.Id)
	t.Run("undo restores each contact with its own", func(t *testing.T) {
		if len(undone.Restored) != 1 || undone.Restored[0].Id != b.Id {
			t.Fatalf("restored %+v", undone.Restored)
		}
		r := undone.Restored[0]
		if r.Name.MustGet() != "Ujang S" || r.PhoneNumber.MustGet() != "+6281234567891" || r.ExternalId.MustGet() != "cust_9" {
			t.Errorf("restored %+v", r)
		}
		var custom map[string]string
		_ = json.Unmarshal(r.CustomFields, &custom)
		if want := map[string]string{"tier": "silver", "city": "Bandung"}; !mapsEqual(custom, want) {
			t.Errorf("restored custom_fields %v, want %v", custom, want)
		}
		sv := undone.Contact
		if sv.ExternalId.IsSpecified() && !sv.ExternalId.IsNull() || len(sv.MergedIds) != 0 {
			t.Errorf("survivor after undo %+v: the filled external id and merged_ids should be gone", sv)
		}
		custom = nil
		_ = json.Unmarshal(sv.CustomFields, &custom)
		if want := map[string]string{"tier": "gold", "lang": "id"}; !mapsEqual(custom, want) {
			t.Errorf("survivor custom_fields %v, want %v", custom, want)
		}
		if got, want := e.identities(a.Id), []string{"email:ujang@example.com", "phone:+6281234567890"}; !slices.Equal(got, want) {
			t.Errorf("survivor identities %v, want %v", got, want)
		}
		if got, want := e.identities(b.Id), []string{"external_id:shopify:cust_9", "phone:+6281234567891"}; !slices.Equal(got, want) {
			t.Errorf("restored identities %v, want %v", got, want)
		}
		for _, id := range identifiers[2:] {
			if got := e.resolveTo(id); got != b.Id {
				t.Errorf("%s resolves to %q after undo, want %s", id, got, b.Id)
			}
		}
		if got := e.notes(b.Id); !slices.Equal(got, []string{"b's note"}) {
			t.Errorf("restored notes %v", got)
		}
		if got := e.notes(a.Id); !slices.Equal(got, []string{"a's note"}) {
			t.Errorf("survivor notes %v", got)
		}
		if got := e.tags(b.Id); !slices.Equal(got, []string{"VIP", "Wholesale"}) {
			t.Errorf("restored tags %v", got)
		}
		if got := e.tags(a.Id); !slices.Equal(got, []string{"VIP"}) {
			t.Errorf("survivor tags %v", got)
		}
		if got := e.consentOn(a.Id, api.MessagingChannelWhatsapp); got != "opted_in" {
			t.Errorf("survivor whatsapp consent %q, want its own opted_in back", got)
		}
		if got := e.consentOn(b.Id, api.MessagingChannelWhatsapp); got != "opted_out" {
			t.Errorf("restored whatsapp consent %q", got)
		}
		if nr := undone.Merge.NotRestored.MustGet(); len(nr) != 0 || !undone.Merge.UndoneAt.IsSpecified() {
			t.Errorf("merge after undo %+v", undone.Merge)
		}
		if got := e.listed(); len(got) != 2 {
			t.Errorf("listed %v, want both", got)
		}
	})
	t.Run("suppressions stay on both sides", func(t *testing.T) {
		for _, id := range []string{a.Id, b.Id} {
			ss := e.suppressions(id)
			if !activeOn(ss, api.MessagingChannelSms) || !activeOn(ss, "line") {
				t.Errorf("suppressions of %s after undo: %+v", id, ss)
			}
		}
	})
	t.Run("an undo is done once", func(t *testing.T) {
		res, _ := e.c.UndoMergeWithResponse(bg, done.Merge.Id, nil)
		wantStatus(t, res.StatusCode(), http.StatusConflict, res.Body)
	})
}

// TestUndoReportsWhatCouldNotComeBack moves a merged contact's phone number to another contact
// before the undo, which then says so and empties the field.
func TestUndoReportsWhatCouldNotComeBack(t *testing.T) {
	e := newEnv(t)
	a := e.create(api.ContactCreate{PhoneNumber: ptr("+6281200000001")})
	b := e.create(api.ContactCreate{PhoneNumber: ptr("+6281200000002"), Email: ptr("b@example.com")})
	m := e.merge(a.Id, false, b.Id)
	e.patch(a.Id, `{"phone_number":"+6281200000002"}`)
	e.patch(a.Id, `{"phone_number":"+6281200000003"}`) // the merged phone leaves the survivor
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281200000002")})
	u := e.undo(m.Merge.Id)
	nr := u.Merge.NotRestored.MustGet()
	got := map[string]string{}
	for _, n := range nr {
		got[string(n.Kind)+" "+n.Value] = n.Reason
	}
	if !strings.Contains(got["identity phone:+6281200000002"], c.Id) || got["field phone_number"] == "" {
		t.Errorf("not_restored %+v", nr)
	}
	r := u.Restored[0]
	if r.PhoneNumber.IsSpecified() && !r.PhoneNumber.IsNull() || r.Email.MustGet() != "b@example.com" {
		t.Errorf("restored %+v", r)
	}
	if got := e.resolveTo("email:b@example.com"); got != b.Id {
		t.Errorf("b's email resolves to %q", got)
	}
}

// TestMergeChains merges into a contact that was itself merged, follows chains of merged ids, and
// insists on undoing in reverse order.
func TestMergeChains(t *testing.T) {
	e := newEnv(t)
	a := e.create(api.ContactCreate{Email: ptr("a@example.com")})
	b := e.create(api.ContactCreate{Email: ptr("b@example.com")})
	c := e.create(api.ContactCreate{Email: ptr("c@example.com")})
	d := e.create(api.ContactCreate{Email: ptr("d@example.com")})
	first := e.merge(b.Id, false, a.Id)
	second := e.merge(c.Id, false, b.Id)
	if got := second.Contact.MergedIds; !slices.Equal(sorted(got), sorted([]string{a.Id, b.Id})) {
		t.Errorf("merged_ids %v, want a and b", got)
	}
	for _, id := range []string{a.Id, b.Id} {
		if got := e.get(id); got.Id != c.Id {
			t.Errorf("GET %s answered %s, want %s", id, got.Id, c.Id)
		}
	}
	third := e.merge(a.Id, false, d.Id) // into a merged contact: its survivor
	if third.Contact.Id != c.Id || third.Merge.ContactId != c.Id {
		t.Errorf("merging into a merged id made %s the survivor", third.Contact.Id)
	}
	res, _ := e.c.MergeContactsWithResponse(bg, c.Id, nil, api.MergeRequest{ContactIds: []string{a.Id}})
	wantStatus(t, res.StatusCode(), http.StatusConflict, res.Body)

	r, _ := e.c.UndoMergeWithResponse(bg, first.Merge.Id, nil)
	wantStatus(t, r.StatusCode(), http.StatusConflict, r.Body)
	if p := problem(t, http.StatusConflict, r.Body); p.Detail == nil || !strings.Contains(*p.Detail, second.Merge.Id) {
		t.Errorf("the refusal does not name the merge to undo first: %v", p.Detail)
	}
	e.undo(second.Merge.Id)
	if got := e.get(a.Id); got.Id != b.Id {
		t.Errorf("after undoing the second merge, a answers as %s, want b %s", got.Id, b.Id)
	}
	if got := e.get(b.Id); !slices.Equal(got.MergedIds, []string{a.Id}) {
		t.Errorf("b's merged_ids %v", got.MergedIds)
	}
	e.undo(first.Merge.Id)
	for _, x := range []api.Contact{a, b} {
		if got := e.get(x.Id); got.Id != x.Id {
			t.Errorf("GET %s answered %s", x.Id, got.Id)
		}
	}
	if got := e.resolveTo("email:d@example.com"); got != c.Id {
		t.Errorf("d's email resolves to %q, want c (its merge stands)", got)
	}
}

func TestMergeRefusals(t *testing.T) {
	e := newEnv(t)
	a := e.create(api.ContactCreate{Email: ptr("a@example.com")})
	b := e.create(api.ContactCreate{Email: ptr("b@example.com")})
	_, otherClient := e.workspace("Other", "ID")
	res, _ := otherClient.CreateContactWithResponse(bg, nil, api.ContactCreate{Email: ptr("x@example.com")})
	foreign := res.JSON201.Data.Id
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = e.create(api.ContactCreate{Email: ptr(strings.Repeat("z", i+1) + "@example.com")}).Id
	}
	for _, tc := range []struct {
		name     string
		survivor string
		body     string
		status   int
	}{
		{"the survivor among the others", a.Id, `{"contact_ids":["` + a.Id + `"]}`, 422},
		{"no others", a.Id, `{"contact_ids":[]}`, 422},
		{"more than ten", a.Id, `{"contact_ids":["` + strings.Join(eleven, `","`) + `"]}`, 422},
		{"an unknown id", a.Id, `{"contact_ids":["cnt_06BJ3ZKQ4N7G1XG2R0M8W5T4CC"]}`, 404},
		{"a malformed id", a.Id, `{"contact_ids":["nope"]}`, 404},
		{"another workspace's contact", a.Id, `{"contact_ids":["` + foreign + `"]}`, 404},
		{"into another workspace's contact", foreign, `{"contact_ids":["` + b.Id + `"]}`, 404},
		{"a misspelt member", a.Id, `{"contact_idz":["` + b.Id + `"]}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(http.MethodPost, "/v1/contacts/"+tc.survivor+"/merge", []byte(tc.body))
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			problem(t, status, body)
		})
	}
	if got := e.listed(); len(got) != 13 {
		t.Errorf("%d contacts listed after the refusals, want 13", len(got))
	}
	for _, path := range []string{"/v1/merges/mrg_06BJ3ZKQ4N7G1XG2R0M8W5T4CC", "/v1/merges/nope"} {
		status, body := e.do(http.MethodGet, path, nil)
		wantStatus(t, status, http.StatusNotFound, body)
		status, body = e.do(http.MethodPost, path+"/undo", nil)
		wantStatus(t, status, http.StatusNotFound, body)
	}
	m := e.merge(a.Id, false, b.Id)
	res2, _ := otherClient.UndoMergeWithResponse(bg, m.Merge.Id, nil)
	wantStatus(t, res2.StatusCode(), http.StatusNotFound, res2.Body)
	res3, _ := otherClient.GetContactWithResponse(bg, b.Id, nil)
	wantStatus(t, res3.StatusCode(), http.StatusNotFound, res3.Body)
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestResolveConflictLeadsToMerge is README's flow: resolve answers 409 with the candidates, a
// merge of them makes the same identifiers resolve, and the merged id keeps working everywhere.
func TestResolveConflictLeadsToMerge(t *testing.T) {
	e := newEnv(t)
	a := e.create(api.ContactCreate{Name: ptr("Siti"), PhoneNumber: ptr("+6281300000001")})
	b := e.create(api.ContactCreate{Name: ptr("Siti Aminah"), Email: ptr("siti@example.com")})
	req := api.ResolveRequest{Identifiers: []api.Identifier{
		{Type: api.IdentifierTypePhone, Value: "081300000001"}, {Type: api.IdentifierTypeEmail, Value: "SITI@example.com"},
	}}
	res, _ := e.c.ResolveContactWithResponse(bg, nil, req)
	wantStatus(t, res.StatusCode(), http.StatusConflict, res.Body)
	p := problem(t, http.StatusConflict, res.Body)
	if p.Candidates == nil || !slices.Equal(sorted(*p.Candidates), sorted([]string{a.Id, b.Id})) {
		t.Fatalf("candidates %v, want both contacts", p.Candidates)
	}
	m := e.merge((*p.Candidates)[0], false, (*p.Candidates)[1])
	res, _ = e.c.ResolveContactWithResponse(bg, nil, req)
	wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
	survivor, merged := m.Contact.Id, m.Merge.MergedIds[0]
	if res.JSON200.Data.Id != survivor {
		t.Errorf("resolved to %s, want the survivor %s", res.JSON200.Data.Id, survivor)
	}

	t.Run("the merged id answers for the survivor on every sub-resource", func(t *testing.T) {
		e.note(merged, "written through the merged id")
		e.tag(merged, "Returning")
		e.consent(merged, api.MessagingChannelEmail, api.ConsentStatusOptedIn, time.Now())
		res, _ := e.c.UpsertContactSuppressionWithResponse(bg, merged, nil, api.SuppressionCreate{Channel: api.MessagingChannelSms, Reason: api.SuppressionReasonBounced})
		wantStatus(t, res.StatusCode(), http.StatusCreated, res.Body)
		if !slices.Contains(e.notes(survivor), "written through the merged id") || !slices.Contains(e.tags(survivor), "Returning") ||
			e.consentOn(survivor, api.MessagingChannelEmail) != "opted_in" || !activeOn(e.suppressions(survivor), api.MessagingChannelSms) {
			t.Errorf("writes through the merged id did not reach the survivor")
		}
		r := e.reachability("sms", "contact_id:"+merged)
		if r[0].ContactId.MustGet() != survivor || verdict(r[0]) == "ok" {
			t.Errorf("reachability of the merged id: %+v", r[0])
		}
	})
	t.Run("search and lists show the survivor alone", func(t *testing.T) {
		res, _ := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{Q: ptr("siti")})
		wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
		if len(res.JSON200.Data) != 1 || res.JSON200.Data[0].Id != survivor {
			t.Errorf("search found %+v", res.JSON200.Data)
		}
	})
	t.Run("deleting through the merged id deletes the survivor, and both ids are gone", func(t *testing.T) {
		res, _ := e.c.DeleteContactWithResponse(bg, merged, nil)
		wantStatus(t, res.StatusCode(), http.StatusNoContent, res.Body)
		for _, id := range []string{survivor, merged} {
			res, _ := e.c.GetContactWithResponse(bg, id, nil)
			wantStatus(t, res.StatusCode(), http.StatusNotFound, res.Body)
		}
		r, _ := e.c.UndoMergeWithResponse(bg, m.Merge.Id, nil)
		wantStatus(t, r.StatusCode(), http.StatusConflict, r.Body)
	})
}

// TestMergeKeepsTheStrongerRecord pins the rules a merge and its undo apply when both sides hold
// something on one channel or one tag: the most recent consent kept against a contact itself, the
// longest lasting suppression, and tags that another merge or a removal changed since.
func TestMergeKeepsTheStrongerRecord(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	t.Run("consent kept against the contacts themselves: the most recent decision", func(t *testing.T) {
		a := e.create(api.ContactCreate{Email: ptr("consent-a@example.com")})
		b := e.create(api.ContactCreate{Email: ptr("consent-b@example.com")})
		// telegram reaches no identifier: the consent is kept against the contact alone.
		e.consent(a.Id, api.MessagingChannelTelegram, api.ConsentStatusOptedIn, now.Add(-2*time.Hour))
		e.consent(b.Id, api.MessagingChannelTelegram, api.ConsentStatusOptedOut, now.Add(-time.Hour))
		m := e.merge(a.Id, false, b.Id)
		if got := e.consentOn(a.Id, api.MessagingChannelTelegram); got != "opted_out" {
			t.Errorf("telegram after the merge: %q, want the later opted_out", got)
		}
		e.undo(m.Merge.Id)
		if got := e.consentOn(a.Id, api.MessagingChannelTelegram); got != "opted_in" {
			t.Errorf("telegram of the survivor after the undo: %q, want its own opted_in", got)
		}
	})
	t.Run("suppressions: the longest lasting one, never an earlier end", func(t *testing.T) {
		a := e.create(api.ContactCreate{Email: ptr("supp-a@example.com")})
		b := e.create(api.ContactCreate{Email: ptr("supp-b@example.com")})
		soon := now.Add(time.Hour)
		res, _ := e.c.UpsertContactSuppressionWithResponse(bg, a.Id, nil, api.SuppressionCreate{Channel: "line", Reason: api.SuppressionReasonManual, ExpiresAt: &soon})
		wantStatus(t, res.StatusCode(), http.StatusCreated, res.Body)
		res, _ = e.c.UpsertContactSuppressionWithResponse(bg, b.Id, nil, api.SuppressionCreate{Channel: "line", Reason: api.SuppressionReasonUnsubscribed})
		wantStatus(t, res.StatusCode(), http.StatusCreated, res.Body)
		m := e.merge(a.Id, false, b.Id)
		check := func(when, id string) {
			for _, s := range e.suppressions(id) {
				if s.Channel == "line" && (!s.Active || !s.ExpiresAt.IsNull()) {
					t.Errorf("%s: line suppression of %s %+v, want active for good", when, id, s)
				}
			}
		}
		check("after the merge", a.Id)
		e.undo(m.Merge.Id)
		check("after the undo", a.Id)
		check("after the undo", b.Id)
	})
	t.Run("tags the survivor lost since, and tags another merge brought too", func(t *testing.T) {
		s := e.create(api.ContactCreate{Email: ptr("tags-s@example.com")})
		x := e.create(api.ContactCreate{Email: ptr("tags-x@example.com")})
		y := e.create(api.ContactCreate{Email: ptr("tags-y@example.com")})
		e.tag(x.Id, "VIP")
		e.tag(x.Id, "Lapsed")
		e.tag(y.Id, "VIP")
		mx := e.merge(s.Id, false, x.Id)
		e.merge(s.Id, false, y.Id)
		res, _ := e.c.UnassignContactTagWithResponse(bg, s.Id, "lapsed")
		wantStatus(t, res.StatusCode(), http.StatusNoContent, res.Body)
		u := e.undo(mx.Merge.Id)
		if got := e.tags(s.Id); !slices.Equal(got, []string{"VIP"}) {
			t.Errorf("survivor tags %v, want VIP (y's merge still brings it)", got)
		}
		if got := e.tags(x.Id); !slices.Equal(got, []string{"VIP"}) {
			t.Errorf("restored tags %v, want VIP only (Lapsed was removed from the survivor)", got)
		}
		nr := u.Merge.NotRestored.MustGet()
		if len(nr) != 1 || nr[0].Kind != api.NotRestoredKindTag {
			t.Errorf("not_restored %+v, want the Lapsed tag", nr)
		}
	})
	t.Run("the survivor showing a merged phone shows its own again after the undo", func(t *testing.T) {
		a := e.create(api.ContactCreate{PhoneNumber: ptr("+6281400000001")})
		b := e.create(api.ContactCreate{PhoneNumber: ptr("+6281400000002")})
		m := e.merge(a.Id, false, b.Id)
		e.patch(a.Id, `{"phone_number":"+6281400000002"}`)
		u := e.undo(m.Merge.Id)
		if got := u.Contact.PhoneNumber; !got.IsSpecified() || got.IsNull() || got.MustGet() != "+6281400000001" {
			t.Errorf("survivor phone_number %+v, want its own +6281400000001", got)
		}
	})
}

// TestTagWritesRacingAMerge assigns and removes tags through a contact while it is merged away:
// each write lands on the contact or on its survivor, and nothing deadlocks.
func TestTagWritesRacingAMerge(t *testing.T) {
	e := newEnv(t)
	for round := range 15 {
		a := e.create(api.ContactCreate{Email: ptr(fmt.Sprintf("race-a%d@example.com", round))})
		b := e.create(api.ContactCreate{Email: ptr(fmt.Sprintf("race-b%d@example.com", round))})
		e.tag(b.Id, "Old")
		e.tag(a.Id, "Shared")
		var wg sync.WaitGroup
		statuses := make([]int, 4)
		wg.Go(func() {
			res, _ := e.c.MergeContactsWithResponse(bg, a.Id, nil, api.MergeRequest{ContactIds: []string{b.Id}})
			statuses[0] = res.StatusCode()
		})
		wg.Go(func() {
			res, _ := e.c.AssignContactTagWithResponse(bg, b.Id, nil, api.TagAssign{Name: "New"})
			statuses[1] = res.StatusCode()
		})
		wg.Go(func() {
			res, _ := e.c.AssignContactTagWithResponse(bg, b.Id, nil, api.TagAssign{Name: "Shared"})
			statuses[2] = res.StatusCode()
		})
		wg.Go(func() {
			res, _ := e.c.UnassignContactTagWithResponse(bg, b.Id, "old")
			statuses[3] = res.StatusCode()
		})
		wg.Wait()
		if statuses[0] != http.StatusOK || statuses[1] >= 300 || statuses[2] >= 300 || statuses[3] != http.StatusNoContent {
			t.Fatalf("round %d: statuses %v", round, statuses)
		}
		if got := e.tags(a.Id); !slices.Equal(got, []string{"New", "Shared"}) {
			t.Fatalf("round %d: survivor tags %v, want New and Shared (Old removed)", round, got)
		}
	}
	if n := e.deadlocks(); n != 0 {
		t.Errorf("%d deadlocks", n)
	}
}
