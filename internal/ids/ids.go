// Package ids makes the opaque, prefixed identifiers the API shows (cnt_…, note_…): a UUIDv7
// underneath, so inserts stay index-friendly and ids sort by creation time, written in Crockford
// base32 so the text sorts the same way.
package ids

import (
	"encoding/base32"
	"strings"

	"github.com/google/uuid"
)

// Prefixes of the resources that have ids on the wire.
const (
	Contact   = "cnt"
	Note      = "note"
	Tag       = "tag"
	Workspace = "ws"
	Channel   = "ch"
	Import    = "imp"
	// WebhookEndpoint, Delivery and Event belong to webhooks and the event feed.
	WebhookEndpoint = "we"
	Delivery        = "whd"
	Event           = "evt"
	Merge           = "mrg"
	// APIKey begins an API key and is its id: the key's text up to its secret.
	APIKey = "wzk"
)

var enc = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// encodedLen is the length of the base32 text of a 16-byte uuid.
var encodedLen = enc.EncodedLen(16)

// New returns a fresh time-ordered id.
func New() uuid.UUID {
	return uuid.Must(uuid.NewV7())
}

// Format writes id with its prefix, e.g. cnt_06BJ3ZKQ4N7G1XG2R0M8W5T4CC.
func Format(prefix string, id uuid.UUID) string {
	var b strings.Builder
	b.Grow(len(prefix) + 1 + encodedLen)
	b.WriteString(prefix)
	b.WriteByte('_')
	b.WriteString(enc.EncodeToString(id[:]))
	return b.String()
}

// Append appends id as Format writes it.
func Append(b []byte, prefix string, id uuid.UUID) []byte {
	b = append(b, prefix...)
	b = append(b, '_')
	return enc.AppendEncode(b, id[:])
}

// Parse reads an id written by Format with the same prefix. Only the canonical spelling is
// accepted, so one id has exactly one text.
func Parse(prefix, s string) (uuid.UUID, bool) {
	var id uuid.UUID
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != encodedLen {
		return id, false
	}
	n, err := enc.Decode(id[:], []byte(rest))
	if err != nil || n != len(id) || enc.EncodeToString(id[:]) != rest {
		return uuid.UUID{}, false
	}
	return id, true
}
