package apikey_test

import (
	"strings"
	"testing"

	"github.com/wazapin/wazapin/internal/apikey"
)

func TestNewKeyParsesAndMatches(t *testing.T) {
	id, key, hash := apikey.New()
	if !strings.HasPrefix(key, "wzk_") {
		t.Fatalf("key %q lacks its prefix", key)
	}
	gotID, secret, ok := apikey.Parse(key)
	if !ok || gotID != id {
		t.Fatalf("Parse(%q) = %v, %v", key, gotID, ok)
	}
	if !apikey.Matches(secret, hash) {
		t.Fatal("the secret does not match its own hash")
	}
	if apikey.Matches(secret+"x", hash) {
		t.Fatal("a different secret matched")
	}
	if strings.Contains(string(hash), secret) {
		t.Fatal("the stored hash contains the secret")
	}
}

func TestParseRejects(t *testing.T) {
	_, key, _ := apikey.New()
	for name, s := range map[string]string{
		"empty":        "",
		"no secret":    key[:strings.LastIndexByte(key, '_')+1],
		"no separator": strings.ReplaceAll(key, "_", ""),
		"wrong prefix": "wzx" + key[3:],
		"bearer word":  "Bearer " + key,
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, ok := apikey.Parse(s); ok {
				t.Fatalf("Parse(%q) accepted", s)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	_, key, _ := apikey.New()
	f.Add(key)
	f.Add("wzk__")
	f.Fuzz(func(t *testing.T, s string) {
		_, secret, ok := apikey.Parse(s)
		if ok && (secret == "" || !strings.HasSuffix(s, "_"+secret)) {
			t.Fatalf("Parse(%q) returned secret %q", s, secret)
		}
	})
}
