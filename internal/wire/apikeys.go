package wire

import (
	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/ids"
)

// APIKey is a key as listed: never its secret nor its hash.
func APIKey(k dbq.APIKeyByIDRow) api.ApiKey {
	id := ids.Format(ids.APIKey, k.ID)
	out := api.ApiKey{
		Id: id, Name: k.Name, Prefix: id + "_" + k.SecretHint,
		Permissions: make([]api.Permission, len(k.Permissions)),
		CreatedAt:   k.CreatedAt.UTC(),
		ExpiresAt:   NullTime(k.ExpiresAt), LastUsedAt: NullTime(k.LastUsedAt), RevokedAt: NullTime(k.RevokedAt),
	}
	for i, p := range k.Permissions {
		out.Permissions[i] = api.Permission(p)
	}
	out.RateLimit.SetNull()
	if k.RatePerSecond != nil && k.RateBurst != nil {
		out.RateLimit.Set(api.RateLimit{RequestsPerSecond: *k.RatePerSecond, Burst: int(*k.RateBurst)})
	}
	return out
}

// APIKeyCreated is a key as its creation answers it: with its text, shown this once.
func APIKeyCreated(row dbq.APIKeyByIDRow, text string) api.ApiKeyCreated {
	k := APIKey(row)
	return api.ApiKeyCreated{
		Id: k.Id, Name: k.Name, Prefix: k.Prefix, Permissions: k.Permissions, RateLimit: k.RateLimit,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt,
		Key: text,
	}
}
