package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apikey"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/wire"
)

const (
	maxKeyNameLen = 100
	maxRate       = 1_000_000
)

// CreateApiKey makes a key holding some of the calling key's permissions; its secret is in this
// answer only.
func (s *Server) CreateApiKey(ctx context.Context, req api.CreateApiKeyRequestObject) (api.CreateApiKeyResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	var errs apperr.Fields
	name := nameField(&errs, b.Name, maxKeyNameLen)
	var perms apikey.Perms
	if len(b.Permissions) == 0 {
		errs.Add("permissions", "must list at least one permission")
	}
	for i, p := range b.Permissions {
		bit, known := apikey.PermOf(string(p))
		switch {
		case !known:
			errs.Add(fmt.Sprintf("permissions[%d]", i), "must be one of "+strings.Join(apikey.Permissions, ", "))
		case perms.Has(bit):
			errs.Add(fmt.Sprintf("permissions[%d]", i), "is listed twice")
		}
		perms |= bit
	}
	p, text := tenant.NewKey(ws.ID, name, perms)
	if b.ExpiresAt.IsSpecified() && !b.ExpiresAt.IsNull() {
		at := b.ExpiresAt.MustGet()
		if !at.After(time.Now()) {
			errs.Add("expires_at", "must be in the future")
		}
		p.ExpiresAt = &at
	}
	if rl := b.RateLimit; rl != nil {
		if !(rl.RequestsPerSecond >= 0.01 && rl.RequestsPerSecond <= maxRate) {
			errs.Add("rate_limit.requests_per_second", fmt.Sprintf("must be from 0.01 to %d", maxRate))
		}
		if rl.Burst < 1 || rl.Burst > maxRate {
			errs.Add("rate_limit.burst", fmt.Sprintf("must be from 1 to %d", maxRate))
		}
		burst := int32(min(max(rl.Burst, 0), maxRate))
		p.RatePerSecond, p.RateBurst = &rl.RequestsPerSecond, &burst
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	// A key can hand on only what it holds: otherwise any key that may make keys holds them all.
	if err := require(ctx, perms); err != nil {
		return nil, err
	}
	row, err := s.store.CreateAPIKey(ctx, p)
	if err != nil {
		return nil, err
	}
	return api.CreateApiKey201JSONResponse{Body: api.ApiKeyCreatedResponse{Data: wire.APIKeyCreated(row, text)}}, nil
}

// ListApiKeys lists the workspace's keys, revoked ones included.
func (s *Server) ListApiKeys(ctx context.Context, _ api.ListApiKeysRequestObject) (api.ListApiKeysResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.APIKeys(ctx, ws.ID)
	if err != nil {
		return nil, err
	}
	return api.ListApiKeys200JSONResponse{Data: wire.Convert(rows, wire.APIKey)}, nil
}

// GetApiKey returns one key, without its secret.
func (s *Server) GetApiKey(ctx context.Context, req api.GetApiKeyRequestObject) (api.GetApiKeyResponseObject, error) {
	ws, id, err := keyScope(ctx, req.KeyID)
	if err != nil {
		return nil, err
	}
	row, err := s.store.APIKey(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	return api.GetApiKey200JSONResponse{Data: wire.APIKey(row)}, nil
}

// RevokeApiKey revokes a key on every server process.
func (s *Server) RevokeApiKey(ctx context.Context, req api.RevokeApiKeyRequestObject) (api.RevokeApiKeyResponseObject, error) {
	ws, id, err := keyScope(ctx, req.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.store.RevokeAPIKey(ctx, ws.ID, id); err != nil {
		return nil, err
	}
	return api.RevokeApiKey204Response{}, nil
}

func keyScope(ctx context.Context, raw string) (tenant.Workspace, uuid.UUID, error) {
	return scope(ctx, raw, ids.APIKey, "API key")
}
