package obs

import (
	"crypto/rand"
	"encoding/base32"
	"strconv"
	"sync/atomic"
)

// MaxRequestIDLen bounds a request id a client sends; a longer one is replaced.
const MaxRequestIDLen = 128

// RequestIDs makes request ids: a random prefix per process and a counter, unique across
// servers without a random draw per request.
type RequestIDs struct {
	prefix string
	n      atomic.Uint64
}

// NewRequestIDs returns a generator with a fresh random prefix.
func NewRequestIDs() *RequestIDs {
	var b [10]byte
	_, _ = rand.Read(b[:]) // never fails on Linux; a zero prefix would still be a valid id
	enc := base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)
	return &RequestIDs{prefix: "req_" + enc.EncodeToString(b[:]) + "_"}
}

// For returns the id of a request that sent client in X-Request-Id: client itself when it is
// sane (1 to 128 visible ASCII characters), otherwise a new one.
func (r *RequestIDs) For(client string) string {
	if ValidRequestID(client) {
		return client
	}
	return r.prefix + strconv.FormatUint(r.n.Add(1), 36)
}

// ValidRequestID tells whether id may be echoed and logged as a request id: printable ASCII
// without spaces, so it cannot split a log line or a header.
func ValidRequestID(id string) bool { return VisibleASCII(id, MaxRequestIDLen) }

// VisibleASCII tells whether s is 1 to max visible ASCII characters (no space, no control
// character): a token a client chose that is safe to store, log and send back in a header.
func VisibleASCII(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
