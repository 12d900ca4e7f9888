// Package identity normalizes the identifiers that lead to a contact (phone numbers, emails,
// external ids, WhatsApp ids) into the keys stored in contact_identities. It knows nothing of HTTP
// or SQL, so every rule here is tested on its own and fuzzed.
package identity

import (
	"cmp"
	"errors"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Types of stored identities.
const (
	Phone      = "phone"
	Email      = "email"
	ExternalID = "external_id"
	WaID       = "wa_id"
)

// Key is one stored identity: unique per workspace, it leads to exactly one contact. Source is
// empty except for external ids.
type Key struct {
	Type   string
	Source string
	Value  string
}

// Limits on identifier text, generous for real data and small enough to keep indexes lean.
const (
	maxPhoneLen      = 64
	maxEmailLen      = 254
	maxSourceLen     = 64
	maxExternalIDLen = 255
	maxWaIDLen       = 64
)

// Errors say what is wrong with a value; callers put the field name in front.
var (
	ErrEmpty    = errors.New("must not be empty")
	ErrTooLong  = errors.New("is too long")
	ErrBadPhone = errors.New("is not a valid phone number")
	ErrBadEmail = errors.New("is not a valid email address")
	ErrBadSrc   = errors.New("must be 1 to 64 characters of a-z, 0-9, '_', '.', '-'")
	ErrControl  = errors.New("must not contain control characters")
)

// NormalizePhone returns the E.164 form of a phone number written in any common spelling. A
// number without a country code is read in region (an ISO 3166 code such as "ID"); digits that do
// not form a valid number there are tried once more as an international number without its "+".
func NormalizePhone(raw, region string) (string, error) {
	return normalizePhone(raw, region, true)
}

func normalizePhone(raw, region string, fast bool) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", ErrEmpty
	}
	if len(s) > maxPhoneLen {
		return "", ErrTooLong
	}
	if fast && canonicalE164(s) {
		return s, nil
	}
	if e164, ok := parsePhone(s, region); ok {
		return e164, nil
	}
	if s[0] != '+' && s[0] != '0' && onlyDigits(s) {
		if e164, ok := parsePhone("+"+s, ""); ok {
			return e164, nil
		}
	}
	return "", ErrBadPhone
}

// canonicalE164 tells whether s is already a valid number in E.164, the spelling most API clients
// send. It checks validity without phonenumbers.Parse, whose general-purpose regular expressions
// are most of the cost of reading a number; FuzzCanonicalE164 pins that it agrees with Parse.
func canonicalE164(s string) bool {
	if len(s) < 4 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	// Country calling codes are prefix-free: the first prefix that is one is the one.
	for n := 1; n <= 3 && n < len(s)-1; n++ {
		cc, _ := strconv.Atoi(s[1 : 1+n])
		if phonenumbers.GetRegionCodeForCountryCode(cc) == phonenumbers.UNKNOWN_REGION {
			continue
		}
		national := s[1+n:]
		if national[0] == '0' {
			return false // leading zeros (Italy and others) are Parse's business
		}
		nn, err := strconv.ParseUint(national, 10, 64)
		if err != nil {
			return false
		}
		cc32 := int32(cc)
		return phonenumbers.IsValidNumber(&phonenumbers.PhoneNumber{CountryCode: &cc32, NationalNumber: &nn})
	}
	return false
}

func parsePhone(s, region string) (string, bool) {
	num, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}

// ValidRegion tells whether region is a region phone numbers can be read in.
func ValidRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(region) != 0
}

// NormalizeEmail trims an email address and returns it as written and as the lower-cased key it
// is matched by.
func NormalizeEmail(raw string) (display, key string, err error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", "", ErrEmpty
	}
	if utf8.RuneCountInString(s) > maxEmailLen {
		return "", "", ErrTooLong
	}
	addr, perr := mail.ParseAddress(s)
	if perr != nil || addr.Name != "" || addr.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", "", ErrBadEmail
	}
	return s, Fold(s), nil
}

// Fold is the case-insensitive key of a text: emails, tag names and contact names are matched by
// it. It is computed here rather than by the database's lower(), which folds only ASCII letters
// under the C locale.
func Fold(s string) string {
	return strings.ToLower(s)
}

// NormalizeSource lower-cases the name of an external system ("Shopify" is "shopify").
func NormalizeSource(raw string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" {
		return "", ErrEmpty
	}
	if len(s) > maxSourceLen {
		return "", ErrBadSrc
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return "", ErrBadSrc
		}
	}
	return s, nil
}

// NormalizeExternalID trims an id from an external system; its case is kept because external
// systems' ids are case-sensitive.
func NormalizeExternalID(raw string) (string, error) {
	return normalizeOpaque(raw, maxExternalIDLen)
}

// NormalizeWaID trims a WhatsApp id. It is digits today, but WhatsApp may change that, so only
// its length and printability are checked.
func NormalizeWaID(raw string) (string, error) {
	return normalizeOpaque(raw, maxWaIDLen)
}

func normalizeOpaque(raw string, max int) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", ErrEmpty
	}
	if utf8.RuneCountInString(s) > max {
		return "", ErrTooLong
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", ErrControl
	}
	return s, nil
}

func onlyDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// WaIDKeys returns the keys a wa_id identifier matches: stored wa_id identities and, when it is
// all digits and forms a valid number, the phone number +digits.
func WaIDKeys(raw string) ([]Key, error) {
	v, err := NormalizeWaID(raw)
	if err != nil {
		return nil, err
	}
	keys := []Key{{Type: WaID, Value: v}}
	if onlyDigits(v) {
		if e164, ok := parsePhone("+"+v, ""); ok {
			keys = append(keys, Key{Type: Phone, Value: e164})
		}
	}
	return keys, nil
}

// PhonePrefix turns a search text that looks like the start of a phone number into the E.164
// prefix it stands for ("0812" in region ID is "+62812", "62812" and "+62 812" are "+62812"). ok
// is false for text that is not number-like.
func PhonePrefix(q, region string) (prefix string, ok bool) {
	var digits strings.Builder
	plus := false
	for i, r := range strings.TrimSpace(q) {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	d := digits.String()
	if d == "" {
		return "", false
	}
	if !plus && d[0] == '0' {
		cc := phonenumbers.GetCountryCodeForRegion(region)
		if cc == 0 {
			return "", false
		}
		return "+" + strconv.Itoa(cc) + d[1:], true
	}
	return "+" + d, true
}

// Compare orders keys by type, source and value: the one order in which every writer inserts
// identities, so that two transactions waiting on each other's new identities cannot both wait.
func Compare(a, b Key) int {
	return cmp.Or(strings.Compare(a.Type, b.Type), strings.Compare(a.Source, b.Source), strings.Compare(a.Value, b.Value))
}

// Sorted returns keys in Compare order.
func Sorted(keys []Key) []Key {
	return slices.SortedFunc(slices.Values(keys), Compare)
}
