package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wazapin/wazapin/internal/apperr"
)

// credentialReader reads a channel's credentials object and collects everything wrong with it, so one
// error names every bad field. Its messages are fixed text: channel creation echoes them to the
// client and they may be logged, so a credential's value must never reach them.
type credentialReader struct {
	values map[string]string
	bad    map[string]bool // keys that already have an error, so they are not reported twice
	broken bool            // not an object at all: per-field errors on top would only be noise
	fields apperr.Fields
}

// readCredentials parses raw and refuses keys outside known: a misspelt optional key ("sesion")
// would otherwise be dropped silently and the channel would run with the default.
func readCredentials(raw json.RawMessage, known ...string) *credentialReader {
	c := &credentialReader{values: map[string]string{}, bad: map[string]bool{}}
	var obj map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &obj) != nil {
		c.broken = true
		c.fields.Add("credentials", "must be a JSON object")
		return c
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		var s *string
		switch {
		case !slices.Contains(known, k):
			c.fields.Add("credentials."+k, "is not a known field; expected one of "+strings.Join(known, ", "))
		case json.Unmarshal(obj[k], &s) != nil:
			c.fail(k, "must be a string")
		case s != nil:
			c.values[k] = *s
		}
	}
	return c
}

func (c *credentialReader) fail(key, message string) {
	c.bad[key] = true
	c.fields.Add("credentials."+key, message)
}

// str returns the string under key and whether it still needs checking.
func (c *credentialReader) str(key string) (string, bool) {
	if c.broken || c.bad[key] {
		return "", false
	}
	return c.values[key], true
}

// baseURL returns the provider's root URL without a trailing slash, so paths can be appended.
func (c *credentialReader) baseURL(key string) string {
	s, ok := c.str(key)
	if !ok {
		return ""
	}
	if s == "" {
		c.fail(key, "is required")
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case len(s) > 2048:
		c.fail(key, "must be at most 2048 characters")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		c.fail(key, "must be an absolute http or https URL")
	case strings.ContainsAny(s, "?#"):
		// A query or fragment would end up in front of the paths the adapter appends.
		c.fail(key, "must not have a query or fragment")
	default:
		return strings.TrimRight(s, "/")
	}
	return ""
}

// secret returns a required token sent in a header.
func (c *credentialReader) secret(key string, maxLen int) string {
	s, ok := c.str(key)
	switch {
	case !ok:
	case s == "":
		c.fail(key, "is required")
	case utf8.RuneCountInString(s) > maxLen:
		c.fail(key, fmt.Sprintf("must be at most %d characters", maxLen))
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		// Go refuses such header values at request time; saying so now beats a failing channel.
		c.fail(key, "must not contain control characters")
	default:
		return s
	}
	return ""
}

// optional returns the string under key and true, or def and false when the key is absent, null
// or already reported.
func (c *credentialReader) optional(key, def string) (string, bool) {
	s, present := c.values[key]
	if !present {
		return def, false
	}
	return s, true
}

func (c *credentialReader) err() error { return c.fields.Err() }
