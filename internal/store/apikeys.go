package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
)

// APIKey is a key as listed: everything but its secret.
type APIKey = dbq.APIKeyByIDRow

// GetAPIKey returns the live API key with this id and its workspace (pgx.ErrNoRows when there is
// none or it was revoked), for tenant.Authenticator.
func (s *Store) GetAPIKey(ctx context.Context, id uuid.UUID) (dbq.GetAPIKeyRow, error) {
	return s.q.GetAPIKey(ctx, id)
}

// CreateAPIKey stores a new key of a workspace.
func (s *Store) CreateAPIKey(ctx context.Context, p dbq.CreateAPIKeyParams) (key APIKey, err error) {
	err = s.write(ctx, s.main, "api_key.create", p.WorkspaceID, func(q *txn) error {
		r, err := q.CreateAPIKey(ctx, p)
		key = APIKey(r)
		return err
	})
	return key, err
}

// APIKeys lists a workspace's keys, revoked ones included, oldest first.
func (s *Store) APIKeys(ctx context.Context, wsID uuid.UUID) ([]APIKey, error) {
	rows, err := s.q.ListAPIKeys(ctx, wsID)
	keys := make([]APIKey, len(rows))
	for i, r := range rows {
		keys[i] = APIKey(r)
	}
	return keys, err
}

// APIKey returns one key of a workspace.
func (s *Store) APIKey(ctx context.Context, wsID, id uuid.UUID) (APIKey, error) {
	key, err := s.q.APIKeyByID(ctx, dbq.APIKeyByIDParams{WorkspaceID: wsID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return key, APIKeyNotFound(ids.Format(ids.APIKey, id))
	}
	return key, err
}

// RevokeAPIKey revokes a key and announces it, when the revocation commits, to every process
// that caches keys (ListenRevocations). Revoking a revoked key changes nothing.
func (s *Store) RevokeAPIKey(ctx context.Context, wsID, id uuid.UUID) error {
	return s.write(ctx, s.main, "api_key.revoke", wsID, func(q *txn) error {
		if _, err := q.RevokeAPIKey(ctx, dbq.RevokeAPIKeyParams{WorkspaceID: wsID, ID: id}); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return APIKeyNotFound(ids.Format(ids.APIKey, id))
			}
			return err
		}
		return q.NotifyAPIKeyRevoked(ctx, id.String())
	})
}

// TouchAPIKey records that a key was used now, unless that was recorded less than a minute ago.
func (s *Store) TouchAPIKey(ctx context.Context, wsID, id uuid.UUID) error {
	return s.write(ctx, s.main, "api_key.use", wsID, func(q *txn) error {
		return q.TouchAPIKey(ctx, dbq.TouchAPIKeyParams{WorkspaceID: wsID, ID: id})
	})
}

// ListenRevocations calls revoked with the id of every key revoked from now on, on a connection
// of its own, after calling listening once it listens. It returns when ctx ends or the
// connection fails; revocations committed while nobody listened are not reported.
func (s *Store) ListenRevocations(ctx context.Context, listening func(), revoked func(uuid.UUID)) error {
	conn, err := pgx.ConnectConfig(ctx, s.main.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := dbq.New(conn).ListenAPIKeyRevocations(ctx); err != nil {
		return err
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		id, err := uuid.Parse(n.Payload)
		if err != nil {
			return fmt.Errorf("a revocation names no key: %q", n.Payload)
		}
		revoked(id)
	}
}

// APIKeyNotFound is the answer for a key id the workspace does not have.
func APIKeyNotFound(id string) error {
	return apperr.NotFoundf("API key %q not found", id)
}
