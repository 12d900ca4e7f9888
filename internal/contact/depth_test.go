package contact_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/internal/contact"
)

func nested(levels int) string {
	return strings.Repeat(`{"a": [`, levels/2) + strings.Repeat("[", levels%2) + "1" +
		strings.Repeat("]", levels%2) + strings.Repeat(`]}`, levels/2)
}

func TestCustomFieldDepth(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{nested(contact.MaxCustomDepth), true},
		{nested(contact.MaxCustomDepth + 1), false},
		{nested(9998), false},
		// Brackets inside strings are text, escaped quotes included.
		{`{"a": "` + strings.Repeat("[", 100) + `\"` + strings.Repeat("{", 100) + `"}`, true},
	} {
		raw := `{"ok": 1, "deep": ` + tc.value + `}`
		_, err := contact.ParseUpsert(contact.UpsertInput{Phone: s("+6281234567890"), CustomFields: json.RawMessage(raw)}, "ID")
		if got := fieldNames(err); tc.ok != (got == nil) || !tc.ok && !slices.Equal(got, []string{"custom_fields.deep"}) {
			t.Errorf("%.60s: fields %v", tc.value, got)
		}
	}
}

// TestCustomFieldNumbers: a number is kept when PostgreSQL's numeric can hold it and a float64
// reads it as the same order of magnitude.
func TestCustomFieldNumbers(t *testing.T) {
	for n, ok := range map[string]bool{
		"0": true, "-0": true, "0.0e-9999": true, "1e308": true, "4.9e-324": true, "-12345678901234567890123": true,
		"1e309": false, "1e-400": false, "4.9e-325": false, "1e-100000": false, "0e-99999": false,
		"1" + strings.Repeat("0", 1000): false, "1." + strings.Repeat("0", 20000): false,
	} {
		raw := `{"n": [` + n + `]}`
		_, err := contact.ParseUpsert(contact.UpsertInput{Phone: s("+6281234567890"), CustomFields: json.RawMessage(raw)}, "ID")
		if got := fieldNames(err); ok != (got == nil) || !ok && !slices.Equal(got, []string{"custom_fields.n"}) {
			t.Errorf("%.40s: fields %v", n, got)
		}
	}
}
