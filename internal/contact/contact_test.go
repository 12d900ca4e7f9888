package contact_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/identity"
)

func s(v string) *string { return &v }

func fieldNames(err error) []string {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestParseUpsert(t *testing.T) {
	tests := []struct {
		name   string
		in     contact.UpsertInput
		keys   []identity.Key
		fields []string
	}{
		{"phone only", contact.UpsertInput{Phone: s("0812-3456-7890")},
			[]identity.Key{{Type: identity.Phone, Value: "+6281234567890"}}, nil},
		{"every identifier", contact.UpsertInput{Phone: s("+6281234567890"), Email: s("A@B.co"), ExternalSource: s("Shopify"), ExternalID: s(" c1 ")},
			[]identity.Key{{Type: identity.Phone, Value: "+6281234567890"}, {Type: identity.Email, Value: "a@b.co"}, {Type: identity.ExternalID, Source: "shopify", Value: "c1"}}, nil},
		{"no identifier", contact.UpsertInput{Name: s("x")}, nil, []string{"phone_number"}},
		{"half an external id", contact.UpsertInput{ExternalID: s("c1")}, nil, []string{"external_source"}},
		{"bad values named together", contact.UpsertInput{Phone: s("1"), Email: s("x"), ExternalSource: s("a b"), ExternalID: s("")},
			nil, []string{"phone_number", "email", "external_source", "external_id"}},
		{"empty custom field key", contact.UpsertInput{Phone: s("+6281234567890"), CustomFields: json.RawMessage(`{"": 1}`)}, nil, []string{"custom_fields."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := contact.ParseUpsert(tc.in, "ID")
			if got := fieldNames(err); !slices.Equal(got, tc.fields) {
				t.Fatalf("invalid fields %v, want %v (%v)", got, tc.fields, err)
			}
			if err == nil && !slices.Equal(u.Keys(), tc.keys) {
				t.Errorf("keys %v, want %v", u.Keys(), tc.keys)
			}
		})
	}
}

func TestCustomFieldsSplitNullsIntoDeletes(t *testing.T) {
	u, err := contact.ParseUpsert(contact.UpsertInput{Phone: s("+6281234567890"),
		CustomFields: json.RawMessage(`{"b": null, "a": null, "c": 12345678901234567890123, "d": {"x": null}}`)}, "ID")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Custom.Delete, []string{"a", "b"}) || u.Custom.Reset {
		t.Errorf("custom %+v", u.Custom)
	}
	merged, err := contact.MergeCustom(json.RawMessage(`{"a": 1, "e": true}`), u.Custom)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"c":12345678901234567890123,"d":{"x":null},"e":true}`; string(merged) != want {
		t.Errorf("merged %s, want %s", merged, want)
	}
}

func TestCustomFieldsRejects(t *testing.T) {
	many := "{"
	for i := range 101 {
		if i > 0 {
			many += ","
		}
		many += fmt.Sprintf(`"k%d": 1`, i)
	}
	many += "}"
	for name, raw := range map[string]string{
		"not an object":  `"premium"`,
		"an array":       `[1]`,
		"null":           `null`,
		"101 keys":       many,
		"huge number":    `{"n": 1e400}`,
		"nested huge":    `{"n": [1, {"m": -1e999}]}`,
		"too long a key": `{"` + strings.Repeat("k", 65) + `": 1}`,
		"too big":        `{"k": "` + strings.Repeat("x", contact.MaxCustomBytes) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := contact.ParseUpsert(contact.UpsertInput{Phone: s("+6281234567890"), CustomFields: json.RawMessage(raw)}, "ID")
			if f := fieldNames(err); len(f) != 1 || !strings.HasPrefix(f[0], "custom_fields") {
				t.Errorf("fields %v (%v)", f, err)
			}
		})
	}
}

func TestCheckStored(t *testing.T) {
	if err := contact.CheckStored(json.RawMessage(`{"a": 1}`)); err != nil {
		t.Error(err)
	}
	big := `{"k": "` + strings.Repeat("x", contact.MaxCustomBytes) + `"}`
	if f := fieldNames(contact.CheckStored(json.RawMessage(big))); !slices.Equal(f, []string{"custom_fields"}) {
		t.Errorf("a %d-byte object passed", len(big))
	}
}

func TestUpsertApplyOverwritesGivenFieldsOnly(t *testing.T) {
	cur := contact.Fields{Name: s("Old"), Phone: s("+6281234567890"), Email: s("a@b.co"), ExternalSource: s("shopify"), ExternalID: s("1")}
	u, err := contact.ParseUpsert(contact.UpsertInput{Phone: s("+6281234567890"), Name: s("New")}, "ID")
	if err != nil {
		t.Fatal(err)
	}
	next := u.Apply(cur)
	if *next.Name != "New" || *next.Email != "a@b.co" || *next.ExternalID != "1" {
		t.Errorf("next %+v", next)
	}
}

func TestParsePatch(t *testing.T) {
	null := contact.Opt{Set: true}
	val := func(v string) contact.Opt { return contact.Opt{Set: true, Value: &v} }
	cur := contact.Fields{Name: s("Old"), Phone: s("+6281234567890"), Email: s("a@b.co"), ExternalSource: s("shopify"), ExternalID: s("1")}
	tests := []struct {
		name   string
		in     contact.PatchInput
		want   contact.Fields
		fields []string
	}{
		{"absent changes nothing", contact.PatchInput{}, cur, nil},
		{"null clears", contact.PatchInput{Name: null, Email: null},
			contact.Fields{Phone: cur.Phone, ExternalSource: cur.ExternalSource, ExternalID: cur.ExternalID}, nil},
		{"values normalize", contact.PatchInput{Phone: val("0811 2222 3333")},
			contact.Fields{Name: cur.Name, Phone: s("+6281122223333"), Email: cur.Email, ExternalSource: cur.ExternalSource, ExternalID: cur.ExternalID}, nil},
		{"external pair together", contact.PatchInput{ExternalSource: val("CRM"), ExternalID: val("9")},
			contact.Fields{Name: cur.Name, Phone: cur.Phone, Email: cur.Email, ExternalSource: s("crm"), ExternalID: s("9")}, nil},
		{"external pair cleared", contact.PatchInput{ExternalSource: null, ExternalID: null},
			contact.Fields{Name: cur.Name, Phone: cur.Phone, Email: cur.Email}, nil},
		{"every identifier cleared", contact.PatchInput{Phone: null, Email: null, ExternalSource: null, ExternalID: null},
			contact.Fields{}, []string{"email"}},
		{"external id alone", contact.PatchInput{ExternalID: val("9")}, contact.Fields{}, []string{"external_source"}},
		{"source alone", contact.PatchInput{ExternalSource: val("crm")}, contact.Fields{}, []string{"external_id"}},
		{"mixed null and value", contact.PatchInput{ExternalSource: val("crm"), ExternalID: null}, contact.Fields{}, []string{"external_id"}},
		{"bad phone", contact.PatchInput{Phone: val("nope")}, contact.Fields{}, []string{"phone_number"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := contact.ParsePatch(tc.in, "ID")
			var got contact.Fields
			if err == nil {
				got, err = p.Apply(cur)
			}
			if f := fieldNames(err); !slices.Equal(f, tc.fields) {
				t.Fatalf("invalid fields %v, want %v", f, tc.fields)
			}
			if err != nil {
				return
			}
			if !sameFields(got, tc.want) {
				t.Errorf("Apply = %s, want %s", show(got), show(tc.want))
			}
		})
	}
}

func TestPatchCustomFieldsNullResets(t *testing.T) {
	p, err := contact.ParsePatch(contact.PatchInput{CustomFieldsSet: true}, "ID")
	if err != nil || !p.Custom.Reset {
		t.Errorf("custom %+v, %v; want a reset", p.Custom, err)
	}
}

// TestMoves pins the rule of contact.Moves. A removal names the identity the field shows, unless
// it stands for several (an external id of another source, or clearing the external id), and a
// new value the contact holds already (after a merge, several of one type) cancels it.
func TestMoves(t *testing.T) {
	base := contact.Fields{Phone: s("+6281234567890"), Email: s("A@b.co"), ExternalSource: s("shopify"), ExternalID: s("1")}
	with := func(f func(*contact.Fields)) contact.Fields { c := base; f(&c); return c }
	phone := func(v string) identity.Key { return identity.Key{Type: identity.Phone, Value: v} }
	email := func(v string) identity.Key { return identity.Key{Type: identity.Email, Value: v} }
	ext := func(source, v string) identity.Key {
		return identity.Key{Type: identity.ExternalID, Source: source, Value: v}
	}
	tests := []struct {
		name   string
		old    *contact.Fields // base when nil
		next   contact.Fields
		remove []contact.Removal
		add    []identity.Key
	}{
		{name: "nothing changes", next: base},
		{name: "email case only", next: with(func(c *contact.Fields) { c.Email = s("a@B.CO") })},
		{name: "new phone replaces the one shown, unless held", next: with(func(c *contact.Fields) { c.Phone = s("+6281122223333") }),
			remove: []contact.Removal{{Key: phone("+6281234567890"), Unless: "+6281122223333"}}, add: []identity.Key{phone("+6281122223333")}},
		{name: "phone cleared detaches the one shown", next: with(func(c *contact.Fields) { c.Phone = nil }),
			remove: []contact.Removal{{Key: phone("+6281234567890")}}},
		{name: "phone set where none was shown", old: &contact.Fields{Email: s("a@b.co")}, next: contact.Fields{Email: s("a@b.co"), Phone: s("+6281122223333")},
			add: []identity.Key{phone("+6281122223333")}},
		{name: "email set: folded values", next: with(func(c *contact.Fields) { c.Email = s("Z@b.co") }),
			remove: []contact.Removal{{Key: email("a@b.co"), Unless: "z@b.co"}}, add: []identity.Key{email("z@b.co")}},
		{name: "email cleared detaches the one shown", next: with(func(c *contact.Fields) { c.Email = nil }),
			remove: []contact.Removal{{Key: email("a@b.co")}}},
		{name: "same source, new id replaces the id shown", next: with(func(c *contact.Fields) { c.ExternalID = s("2") }),
			remove: []contact.Removal{{Key: ext("shopify", "1"), Unless: "2"}}, add: []identity.Key{ext("shopify", "2")}},
		{name: "other source: its ids go, the old one stays", next: with(func(c *contact.Fields) { c.ExternalSource, c.ExternalID = s("crm"), s("9") }),
			remove: []contact.Removal{{Key: ext("crm", ""), Unless: "9"}}, add: []identity.Key{ext("crm", "9")}},
		{name: "external id set where none was shown", old: &contact.Fields{Phone: s("+6281234567890")},
			next:   contact.Fields{Phone: s("+6281234567890"), ExternalSource: s("crm"), ExternalID: s("9")},
			remove: []contact.Removal{{Key: ext("crm", ""), Unless: "9"}}, add: []identity.Key{ext("crm", "9")}},
		{name: "external cleared removes every source", next: with(func(c *contact.Fields) { c.ExternalSource, c.ExternalID = nil, nil }),
			remove: []contact.Removal{{Key: identity.Key{Type: identity.ExternalID}}}},
		{name: "everything at once", next: contact.Fields{Phone: s("+6281122223333"), Email: s("z@b.co"), ExternalSource: s("shopify"), ExternalID: s("2")},
			remove: []contact.Removal{
				{Key: phone("+6281234567890"), Unless: "+6281122223333"}, {Key: email("a@b.co"), Unless: "z@b.co"}, {Key: ext("shopify", "1"), Unless: "2"},
			},
			add: []identity.Key{phone("+6281122223333"), email("z@b.co"), ext("shopify", "2")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := base
			if tc.old != nil {
				old = *tc.old
			}
			remove, add := contact.Moves(old, tc.next)
			if !slices.Equal(remove, tc.remove) || !slices.Equal(add, tc.add) {
				t.Errorf("Moves = %v, %v; want %v, %v", remove, add, tc.remove, tc.add)
			}
		})
	}
}

func TestRemovalKept(t *testing.T) {
	r := contact.Removal{Key: identity.Key{Type: identity.ExternalID, Source: "crm"}, Unless: "9"}
	if k, ok := r.Kept(); !ok || k != (identity.Key{Type: identity.ExternalID, Source: "crm", Value: "9"}) {
		t.Errorf("Kept = %v, %v", k, ok)
	}
	if _, ok := (contact.Removal{Key: identity.Key{Type: identity.Phone, Value: "+6281234567890"}}).Kept(); ok {
		t.Error("a removal without Unless is kept by nothing")
	}
}

func sameFields(a, b contact.Fields) bool { return show(a) == show(b) }

func show(f contact.Fields) string {
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	return str(f.Name) + "|" + str(f.Phone) + "|" + str(f.Email) + "|" + str(f.ExternalSource) + "|" + str(f.ExternalID)
}

// TestCustomFieldsAreMeasuredAsStored sends numbers that jsonb writes out in full: 2,000 of 1e40
// are 10 KiB as sent and 82 KiB as stored, past the limit.
func TestCustomFieldsAreMeasuredAsStored(t *testing.T) {
	big := "{\"a\": [" + strings.TrimSuffix(strings.Repeat("1e40,", 2000), ",") + "]}"
	_, err := contact.ParseUpsert(contact.UpsertInput{Phone: s("+6281234567890"), CustomFields: json.RawMessage(big)}, "ID")
	var e *apperr.Error
	if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "custom_fields" {
		t.Fatalf("err %v", err)
	}
	small := "{\"a\": [" + strings.TrimSuffix(strings.Repeat("1e40,", 1000), ",") + "]}"
	if _, err := contact.ParseUpsert(contact.UpsertInput{Phone: s("+6281234567890"), CustomFields: json.RawMessage(small)}, "ID"); err != nil {
		t.Errorf("41 KiB as stored: %v", err)
	}
}
