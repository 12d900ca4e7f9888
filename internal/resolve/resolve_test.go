package resolve_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/resolve"
)

func TestParse(t *testing.T) {
	cid := ids.New()
	src := "Shopify"
	l, err := resolve.Parse([]resolve.Identifier{
		{Type: "phone", Value: "0812-3456-7890"},
		{Type: "contact_id", Value: ids.Format(ids.Contact, cid)},
		{Type: "wa_id", Value: "6281234567890"},
		{Type: "external_id", Source: &src, Value: "c1"},
		{Type: "email", Value: " A@B.co "},
	}, "ID")
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := []identity.Key{
		{Type: identity.Phone, Value: "+6281234567890"},
		{Type: identity.WaID, Value: "6281234567890"},
		{Type: identity.Phone, Value: "+6281234567890"},
		{Type: identity.ExternalID, Source: "shopify", Value: "c1"},
		{Type: identity.Email, Value: "a@b.co"},
	}
	if !slices.Equal(l.Keys, wantKeys) || !slices.Equal(l.KeyOrds, []int32{0, 2, 2, 3, 4}) {
		t.Errorf("keys %v %v", l.Keys, l.KeyOrds)
	}
	if !slices.Equal(l.ContactIDs, []uuid.UUID{cid}) || !slices.Equal(l.IDOrds, []int32{1}) {
		t.Errorf("ids %v %v", l.ContactIDs, l.IDOrds)
	}
}

func TestDecide(t *testing.T) {
	a, b := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	tests := []struct {
		name       string
		matches    []resolve.Match
		found      bool
		contact    uuid.UUID
		ords       []int32
		candidates []uuid.UUID
	}{
		{"nothing", nil, false, uuid.UUID{}, nil, nil},
		{"one identifier", []resolve.Match{{Ord: 0, Contact: a}}, true, a, []int32{0}, nil},
		{"agreeing identifiers, one twice", []resolve.Match{{Ord: 2, Contact: a}, {Ord: 0, Contact: a}, {Ord: 2, Contact: a}}, true, a, []int32{0, 2}, nil},
		{"disagreeing", []resolve.Match{{Ord: 0, Contact: b}, {Ord: 1, Contact: a}}, false, uuid.UUID{}, nil, []uuid.UUID{a, b}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := resolve.Decide(tc.matches)
			if o.Found != tc.found || o.Contact != tc.contact || !slices.Equal(o.MatchedOrd, tc.ords) || !slices.Equal(o.Candidates, tc.candidates) {
				t.Errorf("Decide = %+v", o)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("phone", "+6281234567890", "")
	f.Add("external_id", "cust_123", "shopify")
	f.Add("wa_id", "6281234567890", "")
	f.Add("contact_id", "cnt_06H1HWXJT9Y619F5GCJ4072F68", "")
	f.Add("email", "A@b.co", "")
	f.Fuzz(func(t *testing.T, typ, value, source string) {
		it := resolve.Identifier{Type: typ, Value: value}
		if source != "" {
			it.Source = &source
		}
		l, err := resolve.Parse([]resolve.Identifier{it}, "ID")
		if err != nil {
			var e *apperr.Error
			if !errors.As(err, &e) || len(e.Fields) == 0 {
				t.Fatalf("error %v names no field", err)
			}
			return
		}
		if len(l.Keys)+len(l.ContactIDs) == 0 {
			t.Fatalf("a valid identifier %+v gave nothing to look up", it)
		}
		for _, k := range l.Keys {
			if k.Value == "" {
				t.Fatalf("empty key from %+v", it)
			}
		}
	})
}
