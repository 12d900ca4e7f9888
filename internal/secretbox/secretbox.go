// Package secretbox seals small secrets (channel credentials) with AES-256-GCM before they are
// stored. The sealed form is version || nonce || ciphertext+tag; the caller passes associated data
// (the owning row's ids) so a sealed value copied to another row does not open.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const version = 1

// Box seals and opens with one key.
type Box struct {
	aead cipher.AEAD
}

// ErrOpen means a sealed value was damaged, or sealed under another key or for another row.
var ErrOpen = errors.New("secretbox: the sealed value does not open with this key")

// ParseKey reads a 32-byte key written in base64 (standard or URL alphabet) or hex, as
// WAZAPIN_ENCRYPTION_KEY holds it.
func ParseKey(s string) (*Box, error) {
	s = strings.TrimSpace(s)
	var key []byte
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			key = b
			break
		}
	}
	if key == nil {
		return nil, fmt.Errorf("the encryption key must be 32 bytes written in base64 or hex (e.g. the output of: openssl rand -base64 32)")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain, bound to ad.
func (b *Box) Seal(plain, ad []byte) []byte {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	out[0] = version
	_, _ = rand.Read(out[1:]) // crypto/rand.Read never fails on supported platforms
	return b.aead.Seal(out, out[1:], plain, ad)
}

// Open decrypts what Seal returned for the same ad.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
