package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/wire"
)

// generated is how encoding/json writes the generated type for a stored contact: the reference
// the hand-written encoder must agree with.
func generated(t testing.TB, c dbq.Contact) []byte {
	n := func(s *string) nullable.Nullable[string] {
		if s == nil {
			return nullable.NewNullNullable[string]()
		}
		return nullable.NewNullableWithValue(*s)
	}
	merged := []string{}
	for _, id := range c.MergedIds {
		merged = append(merged, ids.Format(ids.Contact, id))
	}
	b, err := json.Marshal(api.ContactResponse{Data: api.Contact{
		Id: ids.Format(ids.Contact, c.ID), Name: n(c.Name), PhoneNumber: n(c.PhoneNumber), Email: n(c.Email),
		ExternalSource: n(c.ExternalSource), ExternalId: n(c.ExternalID), CustomFields: c.CustomFields,
		MergedIds: merged, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func handWritten(c dbq.Contact) []byte {
	b := append([]byte(`{"data":`), wire.AppendContact(nil, c)...)
	return append(b, '}')
}

func sameJSON(t testing.TB, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("hand-written JSON does not parse: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("hand-written JSON differs:\n got %s\nwant %s", got, want)
	}
}

func TestContactJSONMatchesTheGeneratedType(t *testing.T) {
	s := func(v string) *string { return &v }
	at := time.Date(2026, 11, 26, 17, 42, 33, 938027000, time.FixedZone("WIB", 7*3600))
	for name, c := range map[string]dbq.Contact{
		"every field": {ID: ids.New(), Name: s("Ujang"), PhoneNumber: s("+6281234567890"), Email: s("u@example.com"),
			ExternalSource: s("shopify"), ExternalID: s("cust_123"), CustomFields: []byte(`{"tier": "gold", "n": 12345678901234567890}`), CreatedAt: at, UpdatedAt: at},
		"nulls":        {ID: ids.New(), CustomFields: []byte(`{}`), CreatedAt: at, UpdatedAt: at.Add(time.Second)},
		"escapes":      {ID: ids.New(), Name: s("a\"b\\c\n\t<x>&\u2028\x01é😀\xff"), CustomFields: []byte(`{"k": "<b>"}`), CreatedAt: at, UpdatedAt: at},
		"round second": {ID: ids.New(), CustomFields: []byte(`{}`), CreatedAt: at.Truncate(time.Second), UpdatedAt: at},
		"merged ids":   {ID: ids.New(), CustomFields: []byte(`{}`), MergedIds: []uuid.UUID{ids.New(), ids.New()}, CreatedAt: at, UpdatedAt: at},
	} {
		t.Run(name, func(t *testing.T) {
			sameJSON(t, handWritten(c), generated(t, c))
		})
	}
}

func FuzzContactJSON(f *testing.F) {
	f.Add("Ujang", "u@example.com", "<&>")
	f.Add("\x00\x1f\"\\", "\u2029", "\xff\xfe")
	f.Fuzz(func(t *testing.T, name, email, ext string) {
		c := dbq.Contact{ID: ids.New(), Name: &name, Email: &email, ExternalID: &ext, CustomFields: []byte(`{}`), CreatedAt: time.Now(), UpdatedAt: time.Now()}
		got := handWritten(c)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %q", got)
		}
		sameJSON(t, got, generated(t, c))
		if bytes.Contains(got, []byte("\u2028")) {
			t.Fatalf("unescaped U+2028")
		}
	})
}
