package contact

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// StoredSize is how many bytes JSON text takes as the database keeps and writes it back: compact,
// strings with only the escapes they need (a "\u00e9" sent is an "é" stored), and numbers in
// full (jsonb keeps a number as numeric, so 1e30 comes back as 31 digits). The limits on custom
// fields are measured this way, so that however a client spells a value, what counts is what is
// stored, and an import measures what one-by-one upserts measure; ok is false for text that is
// not one JSON value.
func StoredSize(text []byte) (n int, ok bool) {
	type level struct {
		object, expectKey bool
		count             int
	}
	var stack []level
	valueDone := func() {
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return n, len(stack) == 0
		}
		if err != nil {
			return 0, false
		}
		if d, isDelim := tok.(json.Delim); isDelim && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			n++
			valueDone()
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.count > 0 && (!top.object || top.expectKey) {
				n++ // the comma before a member or an element
			}
			if top.object && top.expectKey {
				top.count++
				top.expectKey = false
				key, _ := tok.(string)
				n += quotedLen(key) + 1 // and its colon
				continue
			}
			if !top.object {
				top.count++
			}
		}
		switch v := tok.(type) {
		case json.Delim:
			stack = append(stack, level{object: v == '{', expectKey: v == '{'})
			n++
			continue
		case string:
			n += quotedLen(v)
		case json.Number:
			n += plainLen(string(v))
		case bool:
			n += len(strconv.FormatBool(v))
		case nil:
			n += len("null")
		}
		valueDone()
	}
}

// quotedLen is the length of s as a JSON string with the escapes jsonb writes: quote, backslash
// and control characters.
func quotedLen(s string) int {
	n := 2
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '\b' || r == '\f' || r == '\n' || r == '\r' || r == '\t':
			n += 2
		case r < 0x20:
			n += 6
		default:
			n += utf8.RuneLen(r)
		}
	}
	return n
}

// plainLen is the length of a JSON number as PostgreSQL's numeric writes it: in plain decimal,
// with as many digits after the point as it was written with, less its exponent.
func plainLen(num string) int {
	n := 0
	if strings.HasPrefix(num, "-") {
		num = num[1:]
		n++
	}
	mantissa, expText, _ := strings.Cut(strings.ToLower(num), "e")
	exp, err := strconv.Atoi(strings.TrimPrefix(expText, "+"))
	if expText != "" && err != nil {
		return len(num) + 1<<20 // an exponent past int's range: far past any limit
	}
	intPart, frac, _ := strings.Cut(mantissa, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	point := len(intPart) + exp - (len(intPart+frac) - len(digits)) // digits before the point
	scale := max(0, len(frac)-exp)
	if digits == "" {
		n = 1 // zero has no sign
	} else {
		n += max(point, 1)
	}
	if scale > 0 {
		n += 1 + scale
	}
	return n
}
