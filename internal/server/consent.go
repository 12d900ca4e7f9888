package server

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/wire"
)

const maxConsentSourceLen = 200

// PutContactConsent records a contact's consent on one channel.
func (s *Server) PutContactConsent(ctx context.Context, req api.PutContactConsentRequestObject) (api.PutContactConsentResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	b := req.Body
	var errs apperr.Fields
	if !req.Channel.Valid() {
		errs.Add("channel", "must be one of "+channelList)
	}
	if !b.Status.Valid() {
		errs.Add("status", "must be opted_in or opted_out")
	}
	var source *string
	if b.Source != nil && strings.TrimSpace(*b.Source) != "" {
		source = ptr(strings.TrimSpace(*b.Source))
		if utf8.RuneCountInString(*source) > maxConsentSourceLen {
			errs.Add("source", "must be at most 200 characters")
		}
	}
	captured := time.Now()
	if b.CapturedAt != nil {
		captured = *b.CapturedAt
		switch {
		case !timeInRange(captured):
			errs.Add("captured_at", "must be between the years 1 and 9999")
		case captured.After(time.Now().Add(5 * time.Minute)):
			errs.Add("captured_at", "must not be in the future")
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	c, created, err := s.store.PutConsent(ctx, ws.ID, id, store.NewConsent{
		Channel: string(req.Channel), Status: string(b.Status), Source: source, CapturedAt: captured,
	})
	if err != nil {
		return nil, err
	}
	if created {
		return api.PutContactConsent201JSONResponse{Data: wire.Consent(c)}, nil
	}
	return api.PutContactConsent200JSONResponse{Data: wire.Consent(c)}, nil
}

// ListContactConsents lists the consent that speaks for a contact on each channel.
func (s *Server) ListContactConsents(ctx context.Context, req api.ListContactConsentsRequestObject) (api.ListContactConsentsResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Consents(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	return api.ListContactConsents200JSONResponse{Data: wire.Convert(rows, wire.Consent)}, nil
}

const channelList = "whatsapp, sms, email, voice, rcs, telegram, instagram, messenger, line"
