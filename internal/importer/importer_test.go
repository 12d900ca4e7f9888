package importer_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/importer"
)

func line(t *testing.T, no int, in contact.UpsertInput) importer.Line {
	u, err := contact.ParseUpsert(in, "ID")
	if err != nil {
		t.Fatal(err)
	}
	return importer.Line{No: no, Upsert: u}
}

func s(v string) *string { return &v }

func TestGroupLinesJoinsSharedIdentifiers(t *testing.T) {
	lines := []importer.Line{
		line(t, 1, contact.UpsertInput{Phone: s("+6281100000001"), Name: s("A")}),
		line(t, 2, contact.UpsertInput{Email: s("b@example.com")}),
		line(t, 3, contact.UpsertInput{Email: s("c@example.com"), ExternalSource: s("shop"), ExternalID: s("9")}),
		// Joins line 1 (phone) and line 2 (email): all three become one group.
		line(t, 4, contact.UpsertInput{Phone: s("081100000001"), Email: s("B@example.com"), Name: s("A2")}),
		line(t, 5, contact.UpsertInput{ExternalSource: s("shop"), ExternalID: s("9"), Name: s("C")}),
	}
	groups := importer.GroupLines(lines)
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2: %+v", len(groups), groups)
	}
	if !slices.Equal(groups[0].Lines, []int{1, 2, 4}) || !slices.Equal(groups[1].Lines, []int{3, 5}) {
		t.Errorf("lines %v %v", groups[0].Lines, groups[1].Lines)
	}
	if len(groups[0].Keys) != 2 || len(groups[1].Keys) != 2 {
		t.Errorf("keys %v %v", groups[0].Keys, groups[1].Keys)
	}
	if *groups[0].Upsert.Name != "A2" || *groups[0].Upsert.Email != "B@example.com" || *groups[1].Upsert.Name != "C" {
		t.Errorf("folded %+v %+v", groups[0].Upsert.Fields, groups[1].Upsert.Fields)
	}
}

func TestGroupLinesChainsTransitively(t *testing.T) {
	// 3 links to 2 only through 4's email, which arrives last.
	lines := []importer.Line{
		line(t, 1, contact.UpsertInput{Phone: s("+6281100000001")}),
		line(t, 2, contact.UpsertInput{Phone: s("+6281100000002")}),
		line(t, 3, contact.UpsertInput{Email: s("x@example.com")}),
		line(t, 4, contact.UpsertInput{Phone: s("+6281100000002"), Email: s("x@example.com")}),
	}
	groups := importer.GroupLines(lines)
	if len(groups) != 2 || !slices.Equal(groups[1].Lines, []int{2, 3, 4}) {
		t.Errorf("groups %+v", groups)
	}
}

func TestFoldCustomFieldsLastMentionWins(t *testing.T) {
	a := line(t, 1, contact.UpsertInput{Phone: s("+6281100000001"), CustomFields: json.RawMessage(`{"x": 1, "y": 2, "z": 3}`)})
	b := line(t, 2, contact.UpsertInput{Phone: s("+6281100000001"), CustomFields: json.RawMessage(`{"x": null, "y": 5}`)})
	c := line(t, 3, contact.UpsertInput{Phone: s("+6281100000001"), CustomFields: json.RawMessage(`{"x": 7, "z": null}`)})
	u := importer.Fold(a.Upsert, b.Upsert, c.Upsert)
	if string(u.Custom.Set["x"]) != "7" || string(u.Custom.Set["y"]) != "5" || len(u.Custom.Set) != 2 || !slices.Equal(u.Custom.Delete, []string{"z"}) {
		t.Errorf("custom %+v", u.Custom)
	}
}

func TestMergeCustom(t *testing.T) {
	got, err := importer.MergeCustom(json.RawMessage(`{"a": 1, "b": 2}`), contact.CustomFields{
		Set: map[string]json.RawMessage{"c": json.RawMessage(`3`)}, Delete: []string{"a"},
	})
	if err != nil || string(got) != `{"b":2,"c":3}` {
		t.Errorf("MergeCustom = %s, %v", got, err)
	}
	many := map[string]json.RawMessage{}
	for i := range 101 {
		many[string(rune('A'+i%26))+string(rune('a'+i/26))] = json.RawMessage(`1`)
	}
	if _, err := importer.MergeCustom(nil, contact.CustomFields{Set: many}); err == nil {
		t.Error("101 keys passed")
	}
}
