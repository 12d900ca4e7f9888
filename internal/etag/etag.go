// Package etag makes the entity tags of the API's objects and matches them against the
// If-Match and If-None-Match headers (RFC 9110, section 13.1).
package etag

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Of is the strong entity tag of an object's JSON: a digest of the bytes the API answers, so it
// changes whenever the answer would, whatever changed it.
func Of(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

// Matches tells whether a header's list of entity tags names tag, or is "*". strong asks for the
// strong comparison If-Match uses (a weak tag, W/"…", never matches); If-None-Match compares
// weakly.
func Matches(header, tag string, strong bool) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "*":
			return true
		case strings.HasPrefix(t, "W/"):
			if !strong && t[2:] == tag {
				return true
			}
		case t == tag:
			return true
		}
	}
	return false
}
