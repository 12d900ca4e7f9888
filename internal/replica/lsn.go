package replica

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// LSN is a position in PostgreSQL's write-ahead log, counted in bytes from its start. The
// consistency token of a write's answer is one, written as PostgreSQL writes an LSN: two
// hexadecimal halves, "16/B374D848".
type LSN uint64

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }

// errLSN says what a token must look like.
var errLSN = errors.New(`must be a consistency token as a write's answer gives it, such as "16/B374D848"`)

// ParseLSN reads a token as String writes it (either case). Zero is no position: it reads as
// an error, since no change ever commits there.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || !hexDigits(hi) || !hexDigits(lo) {
		return 0, errLSN
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil || h|l == 0 {
		return 0, errLSN
	}
	return LSN(h<<32 | l), nil
}

// hexDigits tells whether s is 1 to 8 hexadecimal digits: ParseUint alone would take a sign or
// an underscore.
func hexDigits(s string) bool {
	if len(s) == 0 || len(s) > 8 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Furthest holds the furthest position seen of something that only moves forward, such as a
// replica's replay position or a client's newest token, when it is read and seen concurrently.
// The zero value holds zero.
type Furthest struct{ v atomic.Uint64 }

// Load is the furthest position seen, zero before any.
func (f *Furthest) Load() LSN { return LSN(f.v.Load()) }

// See keeps l when it is further than the position held: a position seen late, after a
// further one, is not a step back.
func (f *Furthest) See(l LSN) {
	for {
		old := f.v.Load()
		if uint64(l) <= old || f.v.CompareAndSwap(old, uint64(l)) {
			return
		}
	}
}
