package store

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/reach"
	"github.com/wazapin/wazapin/internal/wire"
)

// NewConsent is a consent to record through a contact.
type NewConsent struct {
	Channel, Status string
	Source          *string
	CapturedAt      time.Time
}

// PutConsent records a contact's consent on one channel, kept against the contact and its
// identifiers that reach the channel. created says the contact showed no consent on the channel
// before.
func (s *Store) PutConsent(ctx context.Context, wsID, contactID uuid.UUID, c NewConsent) (out reach.Consent, created bool, err error) {
	err = s.follow(ctx, wsID, contactID, func(id uuid.UUID) (err error) {
		out, created, err = s.putConsent(ctx, wsID, id, c)
		return err
	})
	return out, created, err
}

func (s *Store) putConsent(ctx context.Context, wsID, contactID uuid.UUID, c NewConsent) (out reach.Consent, created bool, err error) {
	err = s.write(ctx, s.main, "consent.put", wsID, func(q *txn) error {
		types, vals, err := subjectsOf(ctx, q.Queries, wsID, contactID, reach.IdentityTypes(c.Channel))
		if err != nil {
			return err
		}
		before, err := consentsOf(ctx, q.Queries, wsID, contactID)
		if err != nil {
			return err
		}
		had := slices.ContainsFunc(before, func(r reach.Consent) bool { return r.Channel == c.Channel })
		if err := q.PutConsents(ctx, dbq.PutConsentsParams{
			WorkspaceID: wsID, Channel: c.Channel, Types: types, Vals: vals, ContactID: contactID,
			Status: c.Status, Source: c.Source, CapturedAt: c.CapturedAt,
		}); err != nil {
			return err
		}
		after, err := consentsOf(ctx, q.Queries, wsID, contactID)
		if err != nil {
			return err
		}
		out, _ = ownConsent(after, contactID, c.Channel)
		created = !had
		var was any
		if prev, ok := ownConsent(before, contactID, c.Channel); ok {
			was = wire.Consent(prev)
		}
		if e, ok := events.Change(events.ConsentChanged, ids.Format(ids.Contact, contactID), &contactID, was, wire.Consent(out)); ok {
			q.emit(e)
		}
		return nil
	})
	return out, created, err
}

// Consents lists, per channel, the latest consent kept against a contact or its identifiers.
func (s *Store) Consents(ctx context.Context, wsID, contactID uuid.UUID) (rows []reach.Consent, err error) {
	err = s.follow(ctx, wsID, contactID, func(id uuid.UUID) (err error) {
		rows, err = s.consents(ctx, wsID, id)
		return err
	})
	return rows, err
}

func (s *Store) consents(ctx context.Context, wsID, contactID uuid.UUID) ([]reach.Consent, error) {
	if err := s.ContactExists(ctx, wsID, contactID); err != nil {
		return nil, err
	}
	rows, err := consentsOf(ctx, s.q, wsID, contactID)
	return reach.Latest(rows), err
}

func consentsOf(ctx context.Context, q *dbq.Queries, wsID, contactID uuid.UUID) ([]reach.Consent, error) {
	rows, err := q.ContactConsents(ctx, dbq.ContactConsentsParams{WorkspaceID: wsID, ContactID: contactID, ContactRef: contactID.String()})
	out := make([]reach.Consent, len(rows))
	for i, r := range rows {
		out[i] = reach.Consent{
			Channel: r.Channel, Subject: reach.Subject{Type: r.SubjectType, Value: r.Subject}, Status: r.Status,
			Source: r.Source, CapturedAt: r.CapturedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		}
	}
	return out, err
}

// ownConsent is the consent kept against the contact itself on a channel.
func ownConsent(rows []reach.Consent, contactID uuid.UUID, channel string) (reach.Consent, bool) {
	for _, r := range rows {
		if r.Channel == channel && r.Subject == (reach.Subject{Type: reach.Contact, Value: contactID.String()}) {
			return r, true
		}
	}
	return reach.Consent{}, false
}
