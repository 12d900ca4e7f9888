package store

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
)

// MaxWebhookEndpoints is how many webhook endpoints a workspace may have.
const MaxWebhookEndpoints = 20

// WebhookEndpoint is an endpoint as the API shows it, without its secrets.
type WebhookEndpoint = dbq.GetWebhookEndpointRow

// NewWebhookEndpoint is an endpoint to store; its secret arrives sealed, bound to WorkspaceID
// and ID.
type NewWebhookEndpoint struct {
	WorkspaceID, ID uuid.UUID
	URL             string
	Description     *string
	EventTypes      []string // nil: every type
	Enabled         bool
	Secret          []byte
}

// WebhookEndpointPatch is a checked change of an endpoint's settings; what it does not set stays.
type WebhookEndpointPatch struct {
	URL            *string
	SetDescription bool
	Description    *string // with SetDescription; nil clears it
	SetEventTypes  bool
	EventTypes     []string // with SetEventTypes; nil delivers every type
	Enabled        *bool    // true also clears disabled_reason and the run of failures
}

// CreateWebhookEndpoint stores an endpoint, unless the workspace has MaxWebhookEndpoints already.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e NewWebhookEndpoint) (row WebhookEndpoint, err error) {
	err = s.write(ctx, s.main, "webhook_endpoint.create", e.WorkspaceID, func(q *txn) error {
		if err := q.LockWorkspaceEndpoints(ctx, e.WorkspaceID); err != nil {
			return err
		}
		n, err := q.CountWebhookEndpoints(ctx, e.WorkspaceID)
		if err != nil {
			return err
		}
		if n >= MaxWebhookEndpoints {
			return apperr.New(apperr.Conflict, "a workspace has at most %d webhook endpoints; delete one to create another", MaxWebhookEndpoints)
		}
		r, err := q.InsertWebhookEndpoint(ctx, dbq.InsertWebhookEndpointParams{
			WorkspaceID: e.WorkspaceID, ID: e.ID, Url: e.URL, Description: e.Description,
			EventTypes: e.EventTypes, Enabled: e.Enabled, Secret: e.Secret,
		})
		row = WebhookEndpoint(r)
		return err
	})
	return row, err
}

// WebhookEndpoints lists a workspace's endpoints, oldest first.
func (s *Store) WebhookEndpoints(ctx context.Context, wsID uuid.UUID) ([]dbq.ListWebhookEndpointsRow, error) {
	return s.q.ListWebhookEndpoints(ctx, wsID)
}

// WebhookEndpoint returns one endpoint, without its secrets.
func (s *Store) WebhookEndpoint(ctx context.Context, wsID, id uuid.UUID) (WebhookEndpoint, error) {
	row, err := s.q.GetWebhookEndpoint(ctx, dbq.GetWebhookEndpointParams{WorkspaceID: wsID, ID: id})
	return row, webhookEndpointErr(err, id)
}

// UpdateWebhookEndpoint applies a patch to an endpoint's settings. With a precondition, only an
// endpoint it holds for, as locked, is changed.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, wsID, id uuid.UUID, p WebhookEndpointPatch, cond Precondition[WebhookEndpoint]) (row WebhookEndpoint, err error) {
	err = s.write(ctx, s.main, "webhook_endpoint.update", wsID, func(q *txn) error {
		cur, err := q.LockWebhookEndpoint(ctx, dbq.LockWebhookEndpointParams{WorkspaceID: wsID, ID: id})
		if err != nil {
			return webhookEndpointErr(err, id)
		}
		if err := cond.check(WebhookEndpoint(cur), "webhook endpoint", ids.WebhookEndpoint, id); err != nil {
			return err
		}
		next := dbq.UpdateWebhookEndpointParams{
			WorkspaceID: wsID, ID: id,
			Url: cur.Url, Description: cur.Description, EventTypes: cur.EventTypes, Enabled: cur.Enabled,
		}
		if p.URL != nil {
			next.Url = *p.URL
		}
		if p.SetDescription {
			next.Description = p.Description
		}
		if p.SetEventTypes {
			next.EventTypes = p.EventTypes
		}
		if p.Enabled != nil {
			next.Enabled = *p.Enabled
		}
		r, err := q.UpdateWebhookEndpoint(ctx, next)
		row = WebhookEndpoint(r)
		return err
	})
	return row, err
}

// RotateWebhookSecret makes sealed (bound like the endpoint's first secret) its signing secret;
// the secret it replaces keeps signing for 24 hours.
func (s *Store) RotateWebhookSecret(ctx context.Context, wsID, id uuid.UUID, sealed []byte) (row WebhookEndpoint, err error) {
	err = s.write(ctx, s.main, "webhook_endpoint.rotate", wsID, func(q *txn) error {
		r, err := q.RotateWebhookSecret(ctx, dbq.RotateWebhookSecretParams{WorkspaceID: wsID, ID: id, Secret: sealed})
		row = WebhookEndpoint(r)
		return webhookEndpointErr(err, id)
	})
	return row, err
}

// DeleteWebhookEndpoint forgets an endpoint, its secrets and its deliveries. With a
// precondition, the endpoint is locked first and deleted only if the precondition holds for it
// as locked.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, wsID, id uuid.UUID, cond Precondition[WebhookEndpoint]) error {
	return s.write(ctx, s.main, "webhook_endpoint.delete", wsID, func(q *txn) error {
		if cond != nil {
			cur, err := q.LockWebhookEndpointForDelete(ctx, dbq.LockWebhookEndpointForDeleteParams{WorkspaceID: wsID, ID: id})
			if err != nil {
				return webhookEndpointErr(err, id)
			}
			if err := cond.check(WebhookEndpoint(cur), "webhook endpoint", ids.WebhookEndpoint, id); err != nil {
				return err
			}
		}
		n, err := q.DeleteWebhookEndpoint(ctx, dbq.DeleteWebhookEndpointParams{WorkspaceID: wsID, ID: id})
		if err == nil && n == 0 {
			err = webhookEndpointNotFound(id)
		}
		return err
	})
}

// WebhookSigningSecrets returns the sealed secrets that sign deliveries to an endpoint now: its
// current secret, then its previous one while a rotation lasts (24 hours). They open with the
// server's encryption key, bound to the workspace and endpoint (webhooksign.Open).
func (s *Store) WebhookSigningSecrets(ctx context.Context, wsID, id uuid.UUID) ([][]byte, error) {
	row, err := s.q.WebhookSigningSecrets(ctx, dbq.WebhookSigningSecretsParams{WorkspaceID: wsID, ID: id})
	if err != nil {
		return nil, webhookEndpointErr(err, id)
	}
	secrets := [][]byte{row.Secret}
	if row.PreviousSecretSigns && row.PreviousSecret != nil {
		secrets = append(secrets, row.PreviousSecret)
	}
	return secrets, nil
}

// webhookEndpointErr words a missing endpoint as not found.
func webhookEndpointErr(err error, id uuid.UUID) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return webhookEndpointNotFound(id)
	}
	return err
}

func webhookEndpointNotFound(id uuid.UUID) error {
	return apperr.NotFoundf("webhook endpoint %q not found", ids.Format(ids.WebhookEndpoint, id))
}
