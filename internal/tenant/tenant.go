// Package tenant creates workspaces with their first API key and authenticates requests by key.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apikey"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/store"
)

// Workspace is the tenant a request acts for.
type Workspace struct {
	ID            uuid.UUID
	DefaultRegion string
	// Ref is ID as the API writes it (ws_…), made once per cached key rather than per request.
	Ref string
}

// Created is what creating a workspace prints: the only time the key's secret is shown.
type Created struct {
	WorkspaceID   string `json:"workspace_id"`
	Name          string `json:"name"`
	DefaultRegion string `json:"default_region"`
	APIKey        string `json:"api_key"`
}

// Create makes a workspace and its first API key.
func Create(ctx context.Context, pool *pgxpool.Pool, name, region string) (Created, error) {
	name = strings.TrimSpace(name)
	region = strings.ToUpper(strings.TrimSpace(region))
	if name == "" {
		return Created{}, errors.New("workspace name must not be empty")
	}
	if !identity.ValidRegion(region) {
		return Created{}, fmt.Errorf("default region %q is not a region code phone numbers can be read in (e.g. ID, US, SG)", region)
	}
	wsID := ids.New()
	keyID, key, hash := apikey.New()
	err := store.New(pool, store.Options{}).CreateWorkspace(ctx,
		dbq.CreateWorkspaceParams{ID: wsID, Name: name, DefaultRegion: region},
		dbq.CreateAPIKeyParams{ID: keyID, WorkspaceID: wsID, SecretHash: hash})
	if err != nil {
		return Created{}, err
	}
	return Created{WorkspaceID: ids.Format(ids.Workspace, wsID), Name: name, DefaultRegion: region, APIKey: key}, nil
}

// ErrBadKey is returned for a missing, malformed, unknown or revoked key.
var ErrBadKey = errors.New("missing or invalid API key")

// Authenticator finds the workspace of an API key. It remembers keys it has read for a short
// while, so that a busy client costs no query per request; a key revoked in the database stops
// working within that while.
type Authenticator struct {
	keys KeyReader
	ttl  time.Duration
	// timeout bounds the look-up of a key that is not cached.
	timeout time.Duration

	mu     sync.RWMutex
	cached map[uuid.UUID]cachedKey
}

// KeyReader reads a live API key and its workspace, pgx.ErrNoRows when there is none.
type KeyReader interface {
	GetAPIKey(ctx context.Context, id uuid.UUID) (dbq.GetAPIKeyRow, error)
}

type cachedKey struct {
	ws      Workspace
	hash    []byte
	expires time.Time
}

// maxCachedKeys bounds the cache; past it, it starts again empty.
const maxCachedKeys = 10_000

// NewAuthenticator returns an Authenticator that remembers keys for ttl and gives up looking one
// up after timeout.
func NewAuthenticator(keys KeyReader, ttl, timeout time.Duration) *Authenticator {
	return &Authenticator{keys: keys, ttl: ttl, timeout: timeout, cached: make(map[uuid.UUID]cachedKey)}
}

// Authenticate returns the workspace a key belongs to.
func (a *Authenticator) Authenticate(ctx context.Context, key string) (Workspace, error) {
	keyID, secret, ok := apikey.Parse(key)
	if !ok {
		return Workspace{}, ErrBadKey
	}
	now := time.Now()
	a.mu.RLock()
	c, hit := a.cached[keyID]
	a.mu.RUnlock()
	if !hit || now.After(c.expires) {
		ctx, cancel := context.WithTimeout(ctx, a.timeout)
		defer cancel()
		row, err := a.keys.GetAPIKey(ctx, keyID)
		if errors.Is(err, pgx.ErrNoRows) {
			return Workspace{}, ErrBadKey
		}
		if err != nil {
			return Workspace{}, err
		}
		ws := Workspace{ID: row.WorkspaceID, DefaultRegion: row.DefaultRegion, Ref: ids.Format(ids.Workspace, row.WorkspaceID)}
		c = cachedKey{ws: ws, hash: row.SecretHash, expires: now.Add(a.ttl)}
		a.mu.Lock()
		if len(a.cached) >= maxCachedKeys {
			clear(a.cached)
		}
		a.cached[keyID] = c
		a.mu.Unlock()
	}
	if !apikey.Matches(secret, c.hash) {
		return Workspace{}, ErrBadKey
	}
	return c.ws, nil
}
