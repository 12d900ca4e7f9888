// Package webhooksign holds the signing secrets of webhook endpoints and signs deliveries with
// them, per the Standard Webhooks specification (https://www.standardwebhooks.com): a secret is
// "whsec_" followed by the base64 of its key, and a delivery's webhook-signature header is
// "v1,<base64 HMAC-SHA256 of {webhook-id}.{webhook-timestamp}.{body}>", one such signature per
// key that signs, separated by spaces.
package webhooksign

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// Prefix starts every secret.
const Prefix = "whsec_"

// KeySize is the size of the keys this service makes, in bytes.
const KeySize = 32

// NewKey returns a fresh random key.
func NewKey() []byte {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	return key
}

// Secret writes a key as the secret a receiver is given: whsec_ and the key in base64.
func Secret(key []byte) string {
	return Prefix + base64.StdEncoding.EncodeToString(key)
}

// ErrSecret is the error of ParseSecret.
var ErrSecret = errors.New(`a webhook secret is "whsec_" followed by base64`)

// ParseSecret returns the key of a secret written by Secret.
func ParseSecret(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, Prefix)
	if !ok {
		return nil, ErrSecret
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) == 0 {
		return nil, ErrSecret
	}
	return key, nil
}

// Signature is the webhook-signature header of a delivery: a "v1,<signature>" for each key, in
// the order of keys (the current key first, then the previous one while a rotation lasts),
// separated by spaces. timestamp is the webhook-timestamp header's value, in Unix seconds.
func Signature(keys [][]byte, id string, timestamp int64, body []byte) string {
	ts := strconv.FormatInt(timestamp, 10)
	var b strings.Builder
	for i, key := range keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return b.String()
}
