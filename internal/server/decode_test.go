package server_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/server"
)

// FuzzDecodeJSON holds the strict decoder to its contract on any input: read into any JSON value
// it accepts exactly the valid JSON that is UTF-8, nests at most 64 levels and holds no NUL and
// no lone surrogate; read into a request type it accepts no more than that; and whatever it
// refuses, it refuses with a problem in the API's words.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"phone_number": "+6281234567890", "name": "Ujang", "custom_fields": {"tier": "premium", "n": [1, 2.5e3, null]}}`,
		`{"custom_fields": {"a": "\udbff"}}`, `{"a\u0000": 1}`, `{"a": "\ud83d\ude00"}`, `{"a": "\\udbff"}`, `"\uDC00\uD800"`,
		`{"nmae": "x"}`, `[]`, `{"name": 1}`, `{"name": "a"} x`, `{"name": "a`, strings.Repeat("[", 65) + strings.Repeat("]", 65),
		strings.Repeat(`{"a":`, 64) + "1" + strings.Repeat("}", 64), "{\"name\": \"\xff\"}", ``, ` `, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v json.RawMessage // any JSON value, numbers of any size included
		err := server.DecodeJSON(data, &v, "body")
		want := utf8.Valid(data) && json.Valid(data) && depthOf(data) <= 64 && !badEscape(data)
		if (err == nil) != want {
			t.Fatalf("%q: accepted %t, want %t (%v)", data, err == nil, want, err)
		}
		checkRefusal(t, data, err)

		var c api.ContactCreate
		err = server.DecodeJSON(data, &c, "body")
		if err == nil && !want {
			t.Fatalf("%q: accepted as a contact", data)
		}
		checkRefusal(t, data, err)
	})
}

func checkRefusal(t *testing.T, data []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *apperr.Error
	switch {
	case !errors.As(err, &e) || e.Code != apperr.BadRequest && e.Code != apperr.Invalid:
		t.Fatalf("%q: refused with %#v", data, err)
	case goWords.MatchString(e.Message):
		t.Fatalf("%q: the refusal speaks Go: %s", data, e.Message)
	case e.Code == apperr.Invalid && len(e.Fields) == 0:
		t.Fatalf("%q: a 422 that names no field: %s", data, e.Message)
	}
}

// depthOf is how deep valid JSON text nests arrays and objects.
func depthOf(data []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// badEscape tells whether valid JSON text spells NUL or a lone surrogate with an escape.
func badEscape(data []byte) bool {
	var s []rune
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if data[i+1] != 'u' {
			i++
			continue
		}
		var r rune
		for _, c := range data[i+2 : i+6] {
			r <<= 4
			switch {
			case c <= '9':
				r |= rune(c - '0')
			default:
				r |= rune(c|0x20-'a') + 10
			}
		}
		s = append(s, r)
		if i+6 >= len(data) || data[i+6] != '\\' || data[i+7] != 'u' {
			s = append(s, -1) // the next character is not an escape
		}
		i += 5
	}
	for i, r := range s {
		switch {
		case r == 0:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+1 >= len(s) || s[i+1] < 0xDC00 || s[i+1] > 0xDFFF {
				return true
			}
		case r >= 0xDC00 && r <= 0xDFFF:
			if i == 0 || s[i-1] < 0xD800 || s[i-1] > 0xDBFF {
				return true
			}
		}
	}
	return false
}

// A typical upsert, and the same with escapes and brackets enough to be walked with a path.
var (
	plainBody   = []byte(`{"phone_number": "+6281234567890", "name": "Ujang Sudrajat", "email": "ujang@example.com", "external_source": "shopify", "external_id": "cust_123", "custom_fields": {"tier": "premium", "lang": "id", "orders": 12, "last": {"sku": "A-1", "qty": 2}}}`)
	escapedBody = []byte(`{"phone_number": "+6281234567890", "name": "Ujang \u00e9 \ud83d\ude00", "email": "ujang@example.com", "external_source": "shopify", "external_id": "cust_123", "custom_fields": {"tier": "premium", "lang": "id", "orders": 12, "last": {"sku": "A-1", "qty": 2}}}`)
)

// BenchmarkDecodeJSON measures the strict decoder against encoding/json's Unmarshal, what the
// binder called before: the fast path (no escape, few brackets) and the walked one.
func BenchmarkDecodeJSON(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{{"plain", plainBody}, {"escaped", escapedBody}} {
		b.Run(bc.name+"/unmarshal", func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				var c api.ContactCreate
				if err := json.Unmarshal(bc.body, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/strict", func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				var c api.ContactCreate
				if err := server.DecodeJSON(bc.body, &c, "body"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
