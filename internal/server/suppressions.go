package server

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/wire"
)

const maxLiftReasonLen = 200

// UpsertContactSuppression suppresses a channel for a contact and its identifiers.
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
	if b.ExpiresAt != nil && !timeInRange(*b.ExpiresAt) {
		errs.Add("expires_at", "must be between the years 1 and 9999")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	e, created, err := s.store.Suppress(ctx, ws.ID, id, string(b.Channel), string(b.Reason), b.ExpiresAt)
	if err != nil {
		return nil, err
	}
	if created {
		return api.UpsertContactSuppression201JSONResponse{Body: api.SuppressionResponse{Data: wire.Suppression(e)}}, nil
	}
	return api.UpsertContactSuppression200JSONResponse{Body: api.SuppressionResponse{Data: wire.Suppression(e)}}, nil
}

// LiftContactSuppression lifts a contact's suppression of one channel, keeping the record.
func (s *Server) LiftContactSuppression(ctx context.Context, req api.LiftContactSuppressionRequestObject) (api.LiftContactSuppressionResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	if !req.Channel.Valid() {
		return nil, apperr.BadParam("channel", "must be one of "+channelList)
	}
	var why *string
	if r := req.Params.Reason; r != nil && strings.TrimSpace(*r) != "" {
		why = ptr(strings.TrimSpace(*r))
		if utf8.RuneCountInString(*why) > maxLiftReasonLen {
			return nil, apperr.BadParam("reason", "must be at most 200 characters")
		}
	}
	e, err := s.store.LiftSuppression(ctx, ws.ID, id, string(req.Channel), why)
	if err != nil {
		return nil, err
	}
	return api.LiftContactSuppression200JSONResponse{Data: wire.Suppression(e)}, nil
}

// ListContactSuppressions lists the suppression that speaks for a contact on each channel.
func (s *Server) ListContactSuppressions(ctx context.Context, req api.ListContactSuppressionsRequestObject) (api.ListContactSuppressionsResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	entries, err := s.store.Suppressions(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	return api.ListContactSuppressions200JSONResponse{Data: wire.Convert(entries, wire.Suppression)}, nil
}
