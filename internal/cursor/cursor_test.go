package cursor_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/cursor"
)

func TestRoundTrip(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	s := cursor.Encode(id)
	got, ok := cursor.Decode(&s)
	if !ok || got != id {
		t.Fatalf("Decode(%q) = %v, %v; want %v", s, got, ok, id)
	}
}

func TestEmptyIsFirstPage(t *testing.T) {
	empty := ""
	for name, s := range map[string]*string{"nil": nil, "empty": &empty} {
		t.Run(name, func(t *testing.T) {
			got, ok := cursor.Decode(s)
			if !ok || got != cursor.Start {
				t.Fatalf("Decode = %v, %v; want the start key", got, ok)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, s := range map[string]string{
		"not base64": "!!!",
		"too short":  "AAAA",
		"too long":   cursor.Encode(uuid.New()) + "AA",
		"padded":     cursor.Encode(uuid.New()) + "==",
	} {
		t.Run(name, func(t *testing.T) {
			if _, ok := cursor.Decode(&s); ok {
				t.Fatalf("Decode(%q) accepted", s)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(cursor.Encode(uuid.New()))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := cursor.Decode(&s)
		if ok && s != "" && cursor.Encode(id) != s {
			t.Fatalf("Decode(%q) accepted a non-canonical cursor", s)
		}
	})
}
