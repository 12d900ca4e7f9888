// Package apikey makes and checks API keys. A key is "wzk_<key id>_<secret>": the key id finds the
// stored row without a scan, and only a SHA-256 of the 256-bit secret is stored, compared in
// constant time. A fast hash is enough because the secret is random, not a password.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/ids"
)

var secretEnc = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// New returns a fresh key: its id, the text shown once to the user, and the hash to store.
func New() (id uuid.UUID, key string, hash []byte) {
	id = ids.New()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails on supported platforms
	s := secretEnc.EncodeToString(secret)
	return id, ids.Format(ids.APIKey, id) + "_" + s, Hash(s)
}

// Parse splits a key into its id and secret; ok is false for anything not shaped like a key.
func Parse(key string) (id uuid.UUID, secret string, ok bool) {
	i := strings.LastIndexByte(key, '_')
	if i < 0 {
		return uuid.UUID{}, "", false
	}
	id, ok = ids.Parse(ids.APIKey, key[:i])
	if !ok || i+1 == len(key) {
		return uuid.UUID{}, "", false
	}
	return id, key[i+1:], true
}

// Hash is what is stored for a secret.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Matches tells whether secret hashes to stored, in constant time.
func Matches(secret string, stored []byte) bool {
	return subtle.ConstantTimeCompare(Hash(secret), stored) == 1
}

// hintLen is how many characters of the secret, after the key id, make the prefix a key is
// recognised by in lists: enough to tell two keys apart by eye, far too few to guess the rest.
const hintLen = 4

// Hint is the part of a new key's secret that is stored to show in its prefix.
func Hint(key string) string {
	i := strings.LastIndexByte(key, '_')
	return key[i+1 : i+1+hintLen]
}
