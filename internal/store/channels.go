package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/wire"
)

// NewChannel is a channel to store; its credentials arrive sealed, bound to WorkspaceID and ID.
type NewChannel struct {
	WorkspaceID, ID uuid.UUID
	Name, Platform  string
	Credentials     []byte
}

// CreateChannel stores a channel.
func (s *Store) CreateChannel(ctx context.Context, c NewChannel) (row dbq.GetChannelRow, err error) {
	err = s.write(ctx, s.main, "channel.create", c.WorkspaceID, func(q *txn) error {
		r, err := q.InsertChannel(ctx, dbq.InsertChannelParams{
			WorkspaceID: c.WorkspaceID, ID: c.ID, Name: c.Name, Platform: c.Platform, Credentials: c.Credentials,
		})
		if err != nil {
			return err
		}
		row = dbq.GetChannelRow(r)
		q.emit(events.Channel(events.ChannelCreated, row))
		return nil
	})
	return row, err
}

// Channels lists a workspace's channels.
func (s *Store) Channels(ctx context.Context, wsID uuid.UUID) ([]dbq.ListChannelsRow, error) {
	return s.q.ListChannels(ctx, wsID)
}

// Channel returns one channel, without its credentials.
func (s *Store) Channel(ctx context.Context, wsID, id uuid.UUID) (dbq.GetChannelRow, error) {
	row, err := s.q.GetChannel(ctx, dbq.GetChannelParams{WorkspaceID: wsID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return row, channelNotFound(id)
	}
	return row, err
}

// ChannelCredentials returns a channel's platform and sealed credentials.
func (s *Store) ChannelCredentials(ctx context.Context, wsID, id uuid.UUID) (dbq.GetChannelCredentialsRow, error) {
	row, err := s.q.GetChannelCredentials(ctx, dbq.GetChannelCredentialsParams{WorkspaceID: wsID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return row, channelNotFound(id)
	}
	return row, err
}

// DeleteChannel forgets a channel and its credentials. With a precondition, the channel is
// locked first and deleted only if the precondition holds for it as locked.
func (s *Store) DeleteChannel(ctx context.Context, wsID, id uuid.UUID, cond Precondition[dbq.GetChannelRow]) error {
	return s.write(ctx, s.main, "channel.delete", wsID, func(q *txn) error {
		if cond != nil {
			cur, err := q.LockChannel(ctx, dbq.LockChannelParams{WorkspaceID: wsID, ID: id})
			if errors.Is(err, pgx.ErrNoRows) {
				return channelNotFound(id)
			}
			if err != nil {
				return err
			}
			if err := cond.check(dbq.GetChannelRow(cur), "channel", ids.Channel, id); err != nil {
				return err
			}
		}
		gone, err := q.DeleteChannel(ctx, dbq.DeleteChannelParams{WorkspaceID: wsID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return channelNotFound(id)
		}
		if err != nil {
			return err
		}
		q.emit(events.Channel(events.ChannelDeleted, dbq.GetChannelRow(gone)))
		return nil
	})
}

// SetChannelStatus records what the channel's provider last answered; a channel deleted in the
// meantime is left alone. It commits on its own, also in a request with an Idempotency-Key: it
// records what the provider said whatever becomes of the request, and it is no change the
// request's answer describes (a lookup without link changes nothing else, and is not kept). It
// runs before the lookup's links, while the request holds no transaction.
func (s *Store) SetChannelStatus(ctx context.Context, wsID, id uuid.UUID, status string) error {
	ctx = context.WithValue(ctx, claimKey{}, (*Claim)(nil))
	return s.write(ctx, s.main, "channel.status", wsID, func(q *txn) error {
		r, err := q.SetChannelStatus(ctx, dbq.SetChannelStatusParams{WorkspaceID: wsID, ID: id, Status: status})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if r.PreviousStatus != r.Status {
			after := dbq.GetChannelRow{ID: r.ID, Name: r.Name, Platform: r.Platform, Status: r.Status, StatusCheckedAt: r.StatusCheckedAt, CreatedAt: r.CreatedAt}
			before := after
			before.Status = r.PreviousStatus
			e, _ := events.Change(events.ChannelUpdated, ids.Format(ids.Channel, id), nil, wire.Channel(before), wire.Channel(after))
			q.emit(e)
		}
		return nil
	})
}

// Slots are a lookup's places in its channel's provider bound (see TakeChannelSlots).
type Slots struct {
	WorkspaceID, ChannelID uuid.UUID
	Holder                 uuid.UUID // the lookup
	Bound                  int       // places in all: the most requests in flight to the provider
}

// TakeChannelSlots takes up to want of the free places of sl's channel for sl.Holder, until
// lease from now, and says how many it took: none when every place is held. The places are
// shared by every process on the database; a place whose lease ran out (its process died
// mid-lookup) is free again.
//
// It is not a write: a place is no change of the workspace's data, has no event, and must not
// wait in a request's transaction (an Idempotency-Key's claim) for its commit, where no other
// process would see it. It is one statement on the primary's pool that commits on its own, on a
// connection held for that statement only, so none is held while the provider answers; it never
// follows the request's claim or its reads (s.q would) to a transaction or a replica.
func (s *Store) TakeChannelSlots(ctx context.Context, sl Slots, want int, lease time.Duration) (int, error) {
	taken, err := dbq.New(s.main).TakeChannelSlots(ctx, dbq.TakeChannelSlotsParams{
		WorkspaceID: sl.WorkspaceID, ChannelID: sl.ChannelID, Holder: sl.Holder,
		LeaseSeconds: lease.Seconds(), Slots: int32(sl.Bound), Want: int32(want),
	})
	if pg.IsForeignKeyViolation(err) {
		return 0, channelNotFound(sl.ChannelID) // deleted while the lookup was starting
	}
	return len(taken), err
}

// GiveChannelSlots gives back every place sl.Holder took, on its own like TakeChannelSlots.
func (s *Store) GiveChannelSlots(ctx context.Context, sl Slots) error {
	return dbq.New(s.main).GiveChannelSlots(ctx, dbq.GiveChannelSlotsParams{WorkspaceID: sl.WorkspaceID, ChannelID: sl.ChannelID, Holder: sl.Holder})
}

// PhoneOwners maps E.164 numbers to the contacts that hold them.
func (s *Store) PhoneOwners(ctx context.Context, wsID uuid.UUID, phones []string) (map[string]uuid.UUID, error) {
	rows, err := s.q.PhoneOwners(ctx, dbq.PhoneOwnersParams{WorkspaceID: wsID, Phones: phones})
	return ownerMap(rows), err
}

// LinkStatus is what linking a wa_id did.
type LinkStatus int

// The outcomes of linking a number's wa_id.
const (
	Linked        LinkStatus = iota + 1 // the wa_id now leads to the number's contact
	AlreadyLinked                       // it did already
	LinkConflict                        // another contact holds the wa_id; it stays there
	NoContact                           // no contact holds the number
)

// Link is the outcome for one number.
type Link struct {
	Status LinkStatus
	Owner  uuid.UUID // the contact that holds the wa_id, for LinkConflict
}

// LinkWaIDs attaches the wa_id a provider found for each number (waIDs: E.164 → wa_id) to the
// contact that holds the number, never taking one from another contact. It returns the owners of
// phones, as PhoneOwners does, and the outcome for each number of waIDs.
func (s *Store) LinkWaIDs(ctx context.Context, wsID uuid.UUID, phones []string, waIDs map[string]string) (owners map[string]uuid.UUID, links map[string]Link, err error) {
	err = s.write(ctx, s.main, "contact.link_wa_id", wsID, func(q *txn) error {
		locked, err := q.LockPhoneOwners(ctx, dbq.LockPhoneOwnersParams{WorkspaceID: wsID, Phones: phones})
		if err != nil {
			return err
		}
		rows, err := q.PhoneOwners(ctx, dbq.PhoneOwnersParams{WorkspaceID: wsID, Phones: phones})
		if err != nil {
			return err
		}
		owners = ownerMap(rows)
		links = make(map[string]Link, len(waIDs))
		type job struct {
			phone string
			key   identity.Key
			owner uuid.UUID
		}
		var jobs []job
		for phone, waID := range waIDs {
			owner, ok := owners[phone]
			switch {
			case !ok:
				links[phone] = Link{Status: NoContact}
			case !slices.Contains(locked, owner):
				return pg.ErrRetry // the number moved to a contact not locked
			default:
				jobs = append(jobs, job{phone, identity.Key{Type: identity.WaID, Value: waID}, owner})
			}
		}
		slices.SortFunc(jobs, func(a, b job) int { return identity.Compare(a.key, b.key) })
		for _, j := range jobs {
			inserted, err := attach(ctx, q, wsID, j.owner, j.key)
			var taken *takenError
			switch {
			case errors.As(err, &taken):
				links[j.phone] = Link{Status: LinkConflict, Owner: taken.owner}
			case err != nil:
				return err
			case inserted:
				links[j.phone] = Link{Status: Linked}
			default:
				links[j.phone] = Link{Status: AlreadyLinked}
			}
		}
		return nil
	})
	return owners, links, err
}

func ownerMap(rows []dbq.PhoneOwnersRow) map[string]uuid.UUID {
	m := make(map[string]uuid.UUID, len(rows))
	for _, r := range rows {
		m[r.Phone] = r.ContactID
	}
	return m
}

func channelNotFound(id uuid.UUID) error {
	return apperr.NotFoundf("channel %q not found", ids.Format(ids.Channel, id))
}
