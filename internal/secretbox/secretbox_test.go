package secretbox_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/wazapin/wazapin/internal/secretbox"
)

func newKey(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	box, err := secretbox.ParseKey(base64.StdEncoding.EncodeToString(newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"api_key":"s3cret"}`)
	sealed := box.Seal(plain, []byte("ws1/ch1"))
	if bytes.Contains(sealed, []byte("s3cret")) {
		t.Fatal("the sealed value contains the secret")
	}
	if again := box.Seal(plain, []byte("ws1/ch1")); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	got, err := box.Open(sealed, []byte("ws1/ch1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for name, tc := range map[string]struct {
		sealed []byte
		ad     string
	}{
		"other row":  {sealed, "ws1/ch2"},
		"truncated":  {sealed[:10], "ws1/ch1"},
		"flipped":    {append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1), "ws1/ch1"},
		"no version": {append([]byte{9}, sealed[1:]...), "ws1/ch1"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := box.Open(tc.sealed, []byte(tc.ad)); !errors.Is(err, secretbox.ErrOpen) {
				t.Fatalf("Open accepted: %v", err)
			}
		})
	}
	other, _ := secretbox.ParseKey(hex.EncodeToString(newKey(t)))
	if _, err := other.Open(sealed, []byte("ws1/ch1")); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatal("another key opened it")
	}
}

func TestParseKey(t *testing.T) {
	k := newKey(t)
	for name, s := range map[string]string{
		"base64":     base64.StdEncoding.EncodeToString(k),
		"base64 url": base64.RawURLEncoding.EncodeToString(k),
		"hex":        hex.EncodeToString(k),
		"newline":    base64.StdEncoding.EncodeToString(k) + "\n",
	} {
		if _, err := secretbox.ParseKey(s); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, s := range map[string]string{
		"empty":    "",
		"short":    base64.StdEncoding.EncodeToString(k[:16]),
		"password": "correct horse battery staple",
	} {
		if _, err := secretbox.ParseKey(s); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
