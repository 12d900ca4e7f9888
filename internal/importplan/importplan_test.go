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
	if !slices.Equal(c.Remove, []identity.Key{{Type: identity.Phone, Value: "+6281100000001"}}) {
		t.Errorf("remove %v", c.Remove)
	}
	if a := attached(p); len(a) != 1 || a[0].Key.Value != "+6281100000003" || a[0].Contact != stored {
		t.Errorf("attach %+v", a)
	}
}

// TestMergedContactKeepsWhatALineNames starts from a contact that holds several identifiers of one
// type, as a merge leaves it: it shows phone P1, email E1 and shopify c1, and holds P2, E2, shopify
// c2 and hubspot h1 as well. A line naming an identifier it holds only changes what it shows; a
// line naming a new one replaces the one shown, and that one only.
func TestMergedContactKeepsWhatALineNames(t *testing.T) {
	x := uuid.UUID{0: 9}
	const (
		p1, p2, p3, p9 = "+6281100000001", "+6281100000002", "+6281100000003", "+6281100000009"
		e1, e2         = "e1@example.com", "e2@example.com"
	)
	phone := func(v string) identity.Key { return identity.Key{Type: identity.Phone, Value: v} }
	ext := func(source, v string) identity.Key {
		return identity.Key{Type: identity.ExternalID, Source: source, Value: v}
	}
	// The owners of the identifiers the lines name: P1, E1, shopify c1 and c2 are named by none.
	owners := map[identity.Key]uuid.UUID{
		phone(p2): x, {Type: identity.Email, Value: e1}: x, {Type: identity.Email, Value: e2}: x, ext("hubspot", "h1"): x,
	}
	st := map[uuid.UUID]importplan.Stored{
		x: {ID: x, Fields: contact.Fields{Phone: s(p1), Email: s(e1), ExternalSource: s("shopify"), ExternalID: s("c1")}},
	}
	lines := []importplan.Line{
		// P2 is held: it is shown now, and P1 stays.
		line(t, 1, contact.UpsertInput{Phone: s(p2), Email: s(e1)}),
		// P3 is new: it replaces P2 alone.
		line(t, 2, contact.UpsertInput{Email: s(e1), Phone: s(p3)}),
		// E2 is held: shown in the line's spelling, E1 stays.
		line(t, 3, contact.UpsertInput{Email: s("E2@Example.com")}),
		// hubspot h1 is held: shown now, no id goes.
		line(t, 4, contact.UpsertInput{Email: s(e2), ExternalSource: s("hubspot"), ExternalID: s("h1")}),
		// hubspot h2 is new: it replaces h1 alone; the shopify ids stay.
		line(t, 5, contact.UpsertInput{Email: s(e2), ExternalSource: s("hubspot"), ExternalID: s("h2")}),
		// P2 went with line 2: this line takes it back, and P3, which line 2 attached, goes.
		line(t, 6, contact.UpsertInput{Email: s(e2), Phone: s(p2)}),
		line(t, 7, contact.UpsertInput{Phone: s(p9)}),
	}
	p := importplan.Build(lines, owners, st, counter())
	for _, r := range p.Results[:6] {
		if r.Outcome != importplan.Updated || r.Contact != x {
			t.Fatalf("line %d: %+v", r.No, r)
		}
	}
	c := p.Contacts[0]
	if got := show(c.Fields); got != p2+"|"+e2+"|hubspot|h2" {
		t.Errorf("fields %s", got)
	}
	if want := []identity.Key{phone(p2), ext("hubspot", "h1")}; !slices.Equal(c.Remove, want) {
		t.Errorf("remove %v, want %v", c.Remove, want)
	}
	var keys []string
	for _, i := range attached(p) {
		keys = append(keys, i.Key.Type+":"+i.Key.Source+":"+i.Key.Value+"@"+i.Contact.String()[:2])
	}
	// P2 is deleted (line 2) and inserted again (line 6); the new contact of line 7 is 00...01.
	want := []string{"external_id:hubspot:h2@09", "phone::" + p2 + "@09", "phone::" + p9 + "@00"}
	if !slices.Equal(keys, want) {
		t.Errorf("attach %v, want %v", keys, want)
	}
}

func show(f contact.Fields) string {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return str(f.Phone) + "|" + str(f.Email) + "|" + str(f.ExternalSource) + "|" + str(f.ExternalID)
}
