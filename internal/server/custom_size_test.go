package server_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/wazapin/wazapin/internal/contact"
)

// TestStoredSizeIsWhatJSONBWritesBack pins contact.StoredSize, which the custom-field limits are
// measured with, to PostgreSQL itself: for each value, the size it computes is the length of the
// compact text jsonb writes back, however the value was spelt.
func TestStoredSizeIsWhatJSONBWritesBack(t *testing.T) {
	e := newEnv(t)
	for _, text := range []string{
		`{"a": 1}`,
		`{"a": 1e30, "b": 1E-5, "c": 123.4500e2, "d": -0.0, "e": 0.001e3, "f": -12.5e-1, "g": 100e-2}`,
		`{"a": 12345678901234567890123, "b": 1.50, "c": 0, "d": -1e2}`,
		`{"s": "caf\u00e9 \"quoted\" back\\slash\nnew\ttab \u0001 \u001f <&> \u2028 😀"}`,
		`{"nested": {"x": [1, "two", {"three": [true, false, null]}], "y": {}}, "empty": [], "t": true}`,
		`{"\u00e9": "key", "k\"ey": 1}`,
	} {
		var stored string
		if err := e.pool.QueryRow(bg, "SELECT $1::jsonb::text", text).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(stored)); err != nil {
			t.Fatal(err)
		}
		got, ok := contact.StoredSize([]byte(text))
		if !ok || got != compact.Len() {
			t.Errorf("StoredSize(%s) = %d %v; jsonb writes back %d bytes: %s", text, got, ok, compact.Len(), compact.String())
		}
	}
}
