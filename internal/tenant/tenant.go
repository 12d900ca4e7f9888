// Package tenant creates workspaces with their first API key and authenticates requests by key.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
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

// FirstKeyName names the key a workspace is made with.
const FirstKeyName = "first key"

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
	key, text := NewKey(wsID, FirstKeyName, apikey.All)
	err := store.New(pool, store.Options{}).CreateWorkspace(ctx,
		dbq.CreateWorkspaceParams{ID: wsID, Name: name, DefaultRegion: region},
		key)
	if err != nil {
		return Created{}, err
	}
	return Created{WorkspaceID: ids.Format(ids.Workspace, wsID), Name: name, DefaultRegion: region, APIKey: text}, nil
}

// ErrBadKey is returned for a missing, malformed, unknown or revoked key.
var ErrBadKey = errors.New("missing or invalid API key")

// ErrExpiredKey is returned for a key past its expires_at.
var ErrExpiredKey = errors.New("this API key has expired")

// Key is an authenticated API key: whose it is and what it may do.
type Key struct {
	ID        uuid.UUID
	Workspace Workspace
	Perms     apikey.Perms
	// Limit is the key's own rate limit, nil for the server's.
	Limit *RateLimit
}

// RateLimit is a token bucket of Burst requests refilled at PerSecond.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Timing of the key cache.
const (
	// unwatchedTTL is how long a key read from the database is trusted while no revocation
	// listener runs (Watch): the bound on how late a revocation takes effect then.
	unwatchedTTL = time.Second
	// watchedTTL bounds how long a key is trusted while the listener runs, in case it missed a
	// notification without noticing.
	watchedTTL = 5 * time.Minute
	// touchEvery is how often a key's last_used_at is written at most.
	touchEvery = time.Minute
	// maxCachedKeys bounds the cache; past it, it starts again empty.
	maxCachedKeys = 10_000
)

// Authenticator finds the key and workspace of a request. It caches the keys it has read, so
// that a busy client costs no query per request. A revoked key stops working on every process
// within a second: while Watch runs, each revocation drops the key from the cache as it commits;
// while it does not, a cached key is trusted for one second only.
type Authenticator struct {
	keys KeyStore
	// timeout bounds the look-up of a key that is not cached.
	timeout time.Duration
	log     *slog.Logger
	// unwatched is how long a key is trusted while no listener runs (unwatchedTTL).
	unwatched time.Duration

	mu     sync.RWMutex
	cached map[uuid.UUID]*cachedKey
	// watching is the listener's generation while it listens, 0 while it does not.
	watching atomic.Uint64
	// revoked counts the revocations heard, so that a key read before one is not cached after it.
	revoked atomic.Uint64
}

// KeyStore reads live API keys and records their use.
type KeyStore interface {
	// GetAPIKey returns pgx.ErrNoRows for a key that does not exist or was revoked.
	GetAPIKey(ctx context.Context, id uuid.UUID) (dbq.GetAPIKeyRow, error)
	TouchAPIKey(ctx context.Context, wsID, id uuid.UUID) error
	ListenRevocations(ctx context.Context, listening func(), revoked func(uuid.UUID)) error
}

type cachedKey struct {
	key     Key
	hash    []byte
	expires *time.Time // the key's own end
	readAt  time.Time
	gen     uint64 // the listener's generation when it was read; 0 if none listened
	// touched is when last_used_at was last written (or asked to be), in Unix nanoseconds.
	touched atomic.Int64
}

// NewAuthenticator returns an Authenticator that gives up looking a key up after timeout.
func NewAuthenticator(keys KeyStore, timeout time.Duration, log *slog.Logger) *Authenticator {
	return &Authenticator{keys: keys, timeout: timeout, log: log, unwatched: unwatchedTTL, cached: make(map[uuid.UUID]*cachedKey)}
}

// Authenticate returns the key a request presented, with its workspace.
func (a *Authenticator) Authenticate(ctx context.Context, text string) (Key, error) {
	keyID, secret, ok := apikey.Parse(text)
	if !ok {
		return Key{}, ErrBadKey
	}
	now := time.Now()
	a.mu.RLock()
	c, hit := a.cached[keyID]
	a.mu.RUnlock()
	if !hit || !a.fresh(c, now) {
		var err error
		if c, err = a.read(ctx, keyID, now); err != nil {
			return Key{}, err
		}
	}
	if !apikey.Matches(secret, c.hash) {
		return Key{}, ErrBadKey
	}
	if c.expires != nil && !now.Before(*c.expires) {
		return Key{}, ErrExpiredKey
	}
	a.touch(c, now)
	return c.key, nil
}

// fresh tells whether a cached key may still be trusted.
func (a *Authenticator) fresh(c *cachedKey, now time.Time) bool {
	age := now.Sub(c.readAt)
	if gen := a.watching.Load(); gen != 0 && c.gen == gen {
		return age < watchedTTL
	}
	return age < a.unwatched
}

func (a *Authenticator) read(ctx context.Context, keyID uuid.UUID, now time.Time) (*cachedKey, error) {
	gen, revoked := a.watching.Load(), a.revoked.Load()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	row, err := a.keys.GetAPIKey(ctx, keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrBadKey
	}
	if err != nil {
		return nil, err
	}
	perms, err := apikey.ParsePerms(row.Permissions)
	if err != nil {
		return nil, fmt.Errorf("API key %s: %w", ids.Format(ids.APIKey, keyID), err)
	}
	key := Key{ID: keyID, Perms: perms,
		Workspace: Workspace{ID: row.WorkspaceID, DefaultRegion: row.DefaultRegion, Ref: ids.Format(ids.Workspace, row.WorkspaceID)}}
	if row.RatePerSecond != nil && row.RateBurst != nil {
		key.Limit = &RateLimit{PerSecond: *row.RatePerSecond, Burst: int(*row.RateBurst)}
	}
	c := &cachedKey{key: key, hash: row.SecretHash, expires: row.ExpiresAt, readAt: now, gen: gen}
	if row.LastUsedAt != nil {
		c.touched.Store(row.LastUsedAt.UnixNano())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// A revocation heard while the key was read may be of this key, read before it committed:
	// use it for this request, which began before, but do not keep it.
	if a.revoked.Load() == revoked {
		if len(a.cached) >= maxCachedKeys {
			clear(a.cached)
		}
		a.cached[keyID] = c
	}
	return c, nil
}

// touch records the key's use in the background, at most once a minute per key and process
// (and the statement itself skips keys another process touched within the minute).
func (a *Authenticator) touch(c *cachedKey, now time.Time) {
	last := c.touched.Load()
	if now.UnixNano()-last < int64(touchEvery) || !c.touched.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
		defer cancel()
		if err := a.keys.TouchAPIKey(ctx, c.key.Workspace.ID, c.key.ID); err != nil {
			a.log.Warn("could not record an API key's last use", "key", ids.Format(ids.APIKey, c.key.ID), "err", err)
		}
	}()
}

// Watch listens for revocations until ctx ends, reconnecting when its connection fails. While it
// listens, cached keys are trusted until revoked; while it does not, for a second.
func (a *Authenticator) Watch(ctx context.Context) {
	var gen uint64
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := a.keys.ListenRevocations(ctx, func() {
			gen++
			a.mu.Lock()
			clear(a.cached) // whatever was revoked while nobody listened
			a.mu.Unlock()
			a.watching.Store(gen)
			wait = 100 * time.Millisecond
		}, a.drop)
		a.watching.Store(0)
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("not listening for API key revocations; cached keys are trusted for a second until it listens again", "err", err, "retry_in", wait.String())
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

// drop forgets a revoked key.
func (a *Authenticator) drop(id uuid.UUID) {
	a.mu.Lock()
	a.revoked.Add(1)
	delete(a.cached, id)
	a.mu.Unlock()
}

// NewKey makes a fresh key of a workspace: what to store, and its text, to show once.
func NewKey(wsID uuid.UUID, name string, perms apikey.Perms) (dbq.CreateAPIKeyParams, string) {
	id, text, hash := apikey.New()
	return dbq.CreateAPIKeyParams{ID: id, WorkspaceID: wsID, SecretHash: hash, SecretHint: apikey.Hint(text),
		Name: name, Permissions: perms.Names()}, text
}
