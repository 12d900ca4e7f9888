package server

import (
	"context"
	"time"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
)

// UpsertContactSuppression creates or replaces the suppression of one channel.
func (s *Server) UpsertContactSuppression(ctx context.Context, req api.UpsertContactSuppressionRequestObject) (api.UpsertContactSuppressionResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	b := req.Body
	var errs apperr.Fields
	if !b.Channel.Valid() {
		errs.Add("channel", "must be one of "+channelList)
	}
	if !b.Reason.Valid() {
		errs.Add("reason", "must be one of unsubscribed, bounced, complained, blocked, invalid, manual")
	}
	switch {
	case b.ExpiresAt == nil:
	case !timeInRange(*b.ExpiresAt):
		errs.Add("expires_at", "must be between the years 1 and 9999")
	case !b.ExpiresAt.After(time.Now()):
		errs.Add("expires_at", "must be in the future")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	row, err := s.store.PutSuppression(ctx, dbq.UpsertSuppressionParams{
		WorkspaceID: ws.ID, ContactID: id, Channel: string(b.Channel), Reason: string(b.Reason), ExpiresAt: b.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}
	out := suppressionOut(dbq.ListSuppressionsRow{
		Channel: row.Channel, Reason: row.Reason, ExpiresAt: row.ExpiresAt, Active: row.Active,
		CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt,
	})
	if row.Inserted {
		return api.UpsertContactSuppression201JSONResponse{Data: out}, nil
	}
	return api.UpsertContactSuppression200JSONResponse{Data: out}, nil
}

// ListContactSuppressions lists a contact's suppressions, expired ones marked inactive.
func (s *Server) ListContactSuppressions(ctx context.Context, req api.ListContactSuppressionsRequestObject) (api.ListContactSuppressionsResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Suppressions(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	return api.ListContactSuppressions200JSONResponse{Data: convert(rows, suppressionOut)}, nil
}

func suppressionOut(r dbq.ListSuppressionsRow) api.Suppression {
	out := api.Suppression{
		Channel: api.MessagingChannel(r.Channel), Reason: api.SuppressionReason(r.Reason), Active: r.Active,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.ExpiresAt != nil {
		out.ExpiresAt.Set(r.ExpiresAt.UTC())
	} else {
		out.ExpiresAt.SetNull()
	}
	return out
}
