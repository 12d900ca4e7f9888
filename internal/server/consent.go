package server

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
)

const maxConsentSourceLen = 200

// PutContactConsent upserts the consent row of one channel.
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
	row, err := s.store.PutConsent(ctx, dbq.UpsertConsentParams{
		WorkspaceID: ws.ID, ContactID: id, Channel: string(req.Channel), Status: string(b.Status),
		Source: source, CapturedAt: captured,
	})
	if err != nil {
		return nil, err
	}
	out := consentOut(dbq.ListConsentsRow{
		Channel: row.Channel, Status: row.Status, Source: row.Source,
		CapturedAt: row.CapturedAt, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt,
	})
	if row.Inserted {
		return api.PutContactConsent201JSONResponse{Data: out}, nil
	}
	return api.PutContactConsent200JSONResponse{Data: out}, nil
}

// ListContactConsents lists a contact's consent rows.
func (s *Server) ListContactConsents(ctx context.Context, req api.ListContactConsentsRequestObject) (api.ListContactConsentsResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Consents(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	return api.ListContactConsents200JSONResponse{Data: convert(rows, consentOut)}, nil
}

func consentOut(r dbq.ListConsentsRow) api.Consent {
	return api.Consent{
		Channel: api.MessagingChannel(r.Channel), Status: api.ConsentStatus(r.Status), Source: nstr(r.Source),
		CapturedAt: r.CapturedAt.UTC(), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

const channelList = "whatsapp, sms, email, voice, rcs, telegram, instagram, messenger, line"
