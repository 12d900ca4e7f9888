package importplan_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/importplan"
)

func line(t *testing.T, no int, in contact.UpsertInput) importplan.Line {
	t.Helper()
	u, err := contact.ParseUpsert(in, "ID")
	if err != nil {
		t.Fatal(err)
	}
	return importplan.Line{No: no, Upsert: u}
}

func s(v string) *string { return &v }

// counter names new contacts 1, 2, 3... so that tests can name them.
func counter() func() uuid.UUID {
	n := byte(0)
	return func() uuid.UUID { n++; return uuid.UUID{15: n} }
}

func attached(p importplan.Plan) []importplan.Identity {
	var out []importplan.Identity
	_ = p.Attach(func(i importplan.Identity) error { out = append(out, i); return nil })
	return out
}

// TestLinesApplyInOrder is the CSV: two rows that share an email in two spellings, with
// different phones and Shopify ids. As two POSTs, the second updates the first's contact: the
// later phone and id replace the earlier ones, which lead nowhere.
func TestLinesApplyInOrder(t *testing.T) {
	lines := []importplan.Line{
		line(t, 1, contact.UpsertInput{Email: s("user10@example.com"), Phone: s("+6281100000010"), ExternalSource: s("shopify"), ExternalID: s("cust_10")}),
		line(t, 2, contact.UpsertInput{Email: s("USER10@example.com"), Phone: s("+6281100000011"), ExternalSource: s("shopify"), ExternalID: s("cust_11")}),
		// The first line's number is free again: a new contact.
		line(t, 3, contact.UpsertInput{Phone: s("081100000010"), Name: s("Someone else")}),
	}
	p := importplan.Build(lines, nil, nil, counter())
	one, two := uuid.UUID{15: 1}, uuid.UUID{15: 2}
	want := []importplan.Result{
		{No: 1, Outcome: importplan.Created, Contact: one},
		{No: 2, Outcome: importplan.Updated, Contact: one, Earlier: []int{1}},
		{No: 3, Outcome: importplan.Created, Contact: two},
	}
	for i, r := range p.Results {
		if r.No != want[i].No || r.Outcome != want[i].Outcome || r.Contact != want[i].Contact || !slices.Equal(r.Earlier, want[i].Earlier) {
			t.Errorf("line %d: %+v, want %+v", r.No, r, want[i])
		}
	}
	if c := p.Contacts[0]; *c.Fields.Phone != "+6281100000011" || *c.Fields.ExternalID != "cust_11" || *c.Fields.Email != "USER10@example.com" {
		t.Errorf("contact one %+v", c.Fields)
	}
	var keys []string
	for _, i := range attached(p) {
		keys = append(keys, i.Key.Type+":"+i.Key.Value+"@"+i.Contact.String()[35:])
	}
	wantKeys := []string{"email:user10@example.com@1", "external_id:cust_11@1", "phone:+6281100000010@2", "phone:+6281100000011@1"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("identities %v, want %v", keys, wantKeys)
	}
}

// TestStoredContactsLoseWhatALineReplaces starts from a stored contact: a line replacing its phone
// removes the stored number (to delete) and attaches the new one; a line whose identifiers lead
// to it and to another is a conflict and changes nothing.
func TestStoredContactsLoseWhatALineReplaces(t *testing.T) {
	stored := uuid.UUID{0: 9}
	other := uuid.UUID{0: 8}
	owners := map[identity.Key]uuid.UUID{
		{Type: identity.Email, Value: "a@example.com"}:  stored,
		{Type: identity.Phone, Value: "+6281100000002"}: other,
	}
	st := map[uuid.UUID]importplan.Stored{
		stored: {ID: stored, Fields: contact.Fields{Email: s("a@example.com"), Phone: s("+6281100000001")}, Custom: []byte(`{"tier":"gold"}`)},
		other:  {ID: other, Fields: contact.Fields{Phone: s("+6281100000002")}},
	}
	lines := []importplan.Line{
		line(t, 1, contact.UpsertInput{Email: s("a@example.com"), Phone: s("+6281100000003")}),
		line(t, 2, contact.UpsertInput{Email: s("a@example.com"), Phone: s("+6281100000002")}),
	}
	p := importplan.Build(lines, owners, st, counter())
	if p.Results[0].Outcome != importplan.Updated || p.Results[1].Outcome != importplan.Conflict {
		t.Fatalf("results %+v", p.Results)
	}
	c := p.Contacts[0]
	if len(p.Contacts) != 1 || c.New || *c.Fields.Phone != "+6281100000003" || string(c.Custom) != `{"tier":"gold"}` {
		t.Errorf("contacts %+v", p.Contacts)
	}
	if !slices.Equal(c.Remove, []identity.Key{{Type: identity.Phone}}) {
		t.Errorf("remove %v", c.Remove)
	}
	if a := attached(p); len(a) != 1 || a[0].Key.Value != "+6281100000003" || a[0].Contact != stored {
		t.Errorf("attach %+v", a)
	}
}
