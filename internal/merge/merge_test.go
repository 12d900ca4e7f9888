package merge

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/contact"
)

func s(v string) *string { return &v }

func TestFoldAndUnfill(t *testing.T) {
	a := Side{ID: uuid.New(), Fields: contact.Fields{Name: s("Ujang"), Phone: s("+62811")}, Custom: json.RawMessage(`{"tier": "gold", "lang": "id"}`)}
	b := Side{ID: uuid.New(), Fields: contact.Fields{Name: s("Ujang S"), Phone: s("+62812"), Email: s("u@example.com"),
		ExternalSource: s("shopify"), ExternalID: s("9")}, Custom: json.RawMessage(`{"tier": "silver", "city": "Bandung"}`)}
	c := Side{ID: uuid.New(), Fields: contact.Fields{Email: s("other@example.com")}, Custom: json.RawMessage(`{"city": "Bogor", "vip": true}`)}
	out, err := Fold(a, []Side{b, c})
	if err != nil {
		t.Fatal(err)
	}
	f := out.Fields
	if *f.Name != "Ujang" || *f.Phone != "+62811" || *f.Email != "u@example.com" || *f.ExternalID != "9" || *f.ExternalSource != "shopify" {
		t.Errorf("fields %+v", f)
	}
	var custom map[string]any
	if err := json.Unmarshal(out.Custom, &custom); err != nil {
		t.Fatal(err)
	}
	if len(custom) != 4 || custom["tier"] != "gold" || custom["city"] != "Bandung" || custom["vip"] != true {
		t.Errorf("custom %v", custom)
	}
	if want := []string{Email, External}; !slices.Equal(out.Filled, want) {
		t.Errorf("filled %v, want %v", out.Filled, want)
	}
	var lost []string
	for _, l := range out.Lost {
		lost = append(lost, l.Field+"="+string(l.Value))
	}
	want := []string{`name="Ujang S"`, `phone_number="+62812"`, `custom_fields.tier="silver"`, `email="other@example.com"`, `custom_fields.city="Bogor"`}
	if !slices.Equal(lost, want) {
		t.Errorf("lost %v, want %v", lost, want)
	}

	// Unfill: the fields the merge filled go, unless they changed since.
	now := out.Fields
	now.ExternalID = s("10") // changed since the merge: it stays
	nowCustom := json.RawMessage(`{"city": "Bandung", "lang": "id", "tier": "gold", "vip": false}`)
	back, backCustom, err := Unfill(now, nowCustom, out.Filled, out.Fields, out.FilledCustom)
	if err != nil {
		t.Fatal(err)
	}
	if back.Email != nil || back.ExternalID == nil || *back.Name != "Ujang" {
		t.Errorf("unfilled %+v", back)
	}
	custom = nil
	if err := json.Unmarshal(backCustom, &custom); err != nil {
		t.Fatal(err)
	}
	if len(custom) != 3 || custom["city"] != nil || custom["vip"] != false {
		t.Errorf("unfilled custom %v", custom)
	}
}

func TestFoldRefusesCustomFieldsOverTheLimit(t *testing.T) {
	big := func(k string) json.RawMessage {
		b, _ := json.Marshal(map[string]string{k: string(make([]byte, contact.MaxCustomBytes/2+10))})
		return b
	}
	_, err := Fold(Side{ID: uuid.New(), Custom: big("a")}, []Side{{ID: uuid.New(), Custom: big("b")}})
	if err == nil {
		t.Fatal("no error for custom fields past the limit")
	}
}
