package webhooksign_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/webhooksign"
)

// TestSignatureMatchesTheStandard signs the example of the Standard Webhooks specification and
// of its reference libraries' tests, and must get their signature.
func TestSignatureMatchesTheStandard(t *testing.T) {
	key, err := webhooksign.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := webhooksign.Signature([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

func TestSecretRoundTrip(t *testing.T) {
	key := webhooksign.NewKey()
	if len(key) != webhooksign.KeySize || bytes.Equal(key, webhooksign.NewKey()) {
		t.Fatalf("key %x", key)
	}
	secret := webhooksign.Secret(key)
	if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+44 {
		t.Errorf("secret %q", secret)
	}
	back, err := webhooksign.ParseSecret(secret)
	if err != nil || !bytes.Equal(back, key) {
		t.Errorf("ParseSecret(%q) = %x, %v", secret, back, err)
	}
	for _, bad := range []string{"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!"} {
		if _, err := webhooksign.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted", bad)
		}
	}
}

func TestTwoKeysSignTwice(t *testing.T) {
	current, previous := webhooksign.NewKey(), webhooksign.NewKey()
	body := []byte(`{"type":"contact.created"}`)
	both := webhooksign.Signature([][]byte{current, previous}, "evt_1", 1700000000, body)
	parts := strings.Split(both, " ")
	if len(parts) != 2 ||
		parts[0] != webhooksign.Signature([][]byte{current}, "evt_1", 1700000000, body) ||
		parts[1] != webhooksign.Signature([][]byte{previous}, "evt_1", 1700000000, body) {
		t.Errorf("signature %q", both)
	}
}

func TestOpenWithoutAKeyIsAnError(t *testing.T) {
	if _, err := webhooksign.Open(nil, uuid.New(), uuid.New(), [][]byte{[]byte("sealed")}); err == nil {
		t.Error("opened a secret without an encryption key")
	}
}
