package webhooksign

import (
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/secretbox"
)

// Seal seals an endpoint's key for the database, bound to the workspace and the endpoint.
func Seal(box *secretbox.Box, wsID, id uuid.UUID, key []byte) []byte {
	return box.Seal(key, ad(wsID, id))
}

// Open opens an endpoint's sealed secrets, as Store.WebhookSigningSecrets returns them, into the
// keys that sign its deliveries, in the same order. A secret that does not open (the encryption
// key was changed) is an error that names the endpoint and never the secret.
func Open(box *secretbox.Box, wsID, id uuid.UUID, sealed [][]byte) ([][]byte, error) {
	if box == nil {
		return nil, errors.New("this server has no WAZAPIN_ENCRYPTION_KEY to open the endpoint's signing secret with")
	}
	keys := make([][]byte, len(sealed))
	for i, sec := range sealed {
		key, err := box.Open(sec, ad(wsID, id))
		if err != nil {
			return nil, fmt.Errorf("webhook endpoint %s: its signing secret does not open with this server's encryption key (was WAZAPIN_ENCRYPTION_KEY changed?): %w",
				ids.Format(ids.WebhookEndpoint, id), err)
		}
		keys[i] = key
	}
	return keys, nil
}

// ad binds a sealed signing key to its endpoint. Its prefix sets it apart from the channels'
// binding, so a channel's sealed credentials never open as an endpoint's key, nor the reverse.
func ad(wsID, id uuid.UUID) []byte {
	b := make([]byte, 0, len("webhook_endpoint:")+2*len(id))
	b = append(b, "webhook_endpoint:"...)
	b = append(b, wsID[:]...)
	return append(b, id[:]...)
}
