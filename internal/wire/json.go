package wire

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/ids"
)

// The contact is the hottest output of the service, and encoding/json spends most of a list
// request reflecting over api.Contact's nullable fields, so it is appended as bytes, the same
// bytes encoding/json writes for the generated type (the server's tests pin that).

const hexDigits = "0123456789abcdef"

// AppendContact appends the JSON of api.Contact for a stored contact, fields in the order
// encoding/json writes them.
func AppendContact(b []byte, c dbq.Contact) []byte {
	b = append(b, `{"created_at":`...)
	b = AppendTime(b, c.CreatedAt)
	b = append(b, `,"custom_fields":`...)
	b = AppendCompact(b, c.CustomFields)
	b = append(b, `,"email":`...)
	b = AppendNullString(b, c.Email)
	b = append(b, `,"external_id":`...)
	b = AppendNullString(b, c.ExternalID)
	b = append(b, `,"external_source":`...)
	b = AppendNullString(b, c.ExternalSource)
	b = append(b, `,"id":`...)
	b = AppendID(b, ids.Contact, c.ID)
	b = append(b, `,"merged_ids":[`...)
	for i, id := range c.MergedIds {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendID(b, ids.Contact, id)
	}
	b = append(b, `],"name":`...)
	b = AppendNullString(b, c.Name)
	b = append(b, `,"phone_number":`...)
	b = AppendNullString(b, c.PhoneNumber)
	b = append(b, `,"updated_at":`...)
	b = AppendTime(b, c.UpdatedAt)
	return append(b, '}')
}

// AppendCompact appends jsonb's text (valid JSON by construction) without its spaces.
func AppendCompact(b []byte, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "{}"...)
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil {
		return append(b, raw...)
	}
	return buf.Bytes()
}

func AppendID(b []byte, prefix string, id uuid.UUID) []byte {
	b = append(b, '"')
	b = ids.Append(b, prefix, id)
	return append(b, '"')
}

func AppendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func AppendNullString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return AppendString(b, *s)
}

// AppendString appends s as a JSON string, escaped as encoding/json escapes it (HTML characters
// and U+2028/U+2029 included, invalid UTF-8 replaced).
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
