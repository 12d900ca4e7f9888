// Package cursor writes and reads the opaque keyset cursors of paginated lists: the id of the last
// row of a page, base64url-encoded.
package cursor

import (
	"encoding/base64"

	"github.com/google/uuid"
)

// Start is the key before which a first page starts: larger than every id.
var Start = uuid.UUID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Encode returns the cursor that continues after id.
func Encode(id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// Decode reads a cursor; a nil or empty cursor means the first page.
func Decode(s *string) (uuid.UUID, bool) {
	if s == nil || *s == "" {
		return Start, true
	}
	var id uuid.UUID
	b, err := base64.RawURLEncoding.Strict().DecodeString(*s)
	if err != nil || len(b) != len(id) {
		return uuid.UUID{}, false
	}
	copy(id[:], b)
	return id, true
}
