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
	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/reach"
	"github.com/wazapin/wazapin/internal/wire"
)

// Upsert is get-or-create by identity: the contact the upsert's identifiers lead to is updated,
// or created when they lead nowhere; identifiers of several contacts are a conflict. created says
// which.
func (s *Store) Upsert(ctx context.Context, wsID uuid.UUID, u contact.Upsert) (row dbq.Contact, created bool, err error) {
	keys := identity.Sorted(u.Keys())
	custom, err := contact.MergeCustom(nil, u.Custom)
	if err != nil {
		return row, false, err
	}
	err = s.write(ctx, s.main, "contact.upsert", wsID, func(q *txn) error {
		// The contact it would create, and its events, which the same statement writes.
		now := time.Now().UTC().Truncate(time.Microsecond)
		fresh := dbq.Contact{
			WorkspaceID: wsID, ID: ids.New(), Name: u.Name, NameKey: u.NameKey(), PhoneNumber: u.Phone, Email: u.Email,
			ExternalSource: u.ExternalSource, ExternalID: u.ExternalID, CustomFields: custom, CreatedAt: now, UpdatedAt: now,
		}
		evs := []events.Event{events.Contact(events.ContactCreated, fresh)}
		for _, k := range keys {
			evs = append(evs, identityEvent(events.IdentityAttached, fresh.ID, k, now))
		}
		ev := eventColumns(evs)
		// A unique violation here means another transaction took an identifier first: the
		// retry finds its owner.
		k := ownersParams(wsID, keys)
		r, err := q.CreateUnlessHeld(ctx, dbq.CreateUnlessHeldParams{
			WorkspaceID: wsID, ID: fresh.ID, Name: u.Name, NameKey: u.NameKey(), PhoneNumber: u.Phone, Email: u.Email,
			ExternalSource: u.ExternalSource, ExternalID: u.ExternalID, CustomFields: custom, Now: now,
			Types: k.Types, Sources: k.Sources, Vals: k.Vals,
			EvIds: ev.Ids, EvTypes: ev.Types, EvObjectIds: ev.ObjectIds, EvData: ev.Data,
		})
		switch {
		case err != nil:
			return err
		case r.ID != nil:
			row, created = dbq.Contact{
				WorkspaceID: *r.WorkspaceID, ID: *r.ID, Name: r.Name, NameKey: r.NameKey, PhoneNumber: r.PhoneNumber,
				Email: r.Email, ExternalSource: r.ExternalSource, ExternalID: r.ExternalID, CustomFields: r.CustomFields,
				CreatedAt: *r.CreatedAt, UpdatedAt: *r.UpdatedAt,
			}, true
			return nil
		case len(r.Owners) == 1:
			created = false
			row, err = s.updateOwner(ctx, q, wsID, r.Owners[0], keys, u)
			return err
		}
		return contact.OwnersConflict(r.Owners)
	})
	return row, created, err
}

// updateOwner applies an upsert to the contact its identifiers led to, once it is locked and
// still holds them; otherwise the transaction starts again from the look-up.
func (s *Store) updateOwner(ctx context.Context, q *txn, wsID, owner uuid.UUID, keys []identity.Key, u contact.Upsert) (dbq.Contact, error) {
	cur, err := q.GetContactForUpdate(ctx, dbq.GetContactForUpdateParams{WorkspaceID: wsID, ID: owner})
	if errors.Is(err, pgx.ErrNoRows) {
		return dbq.Contact{}, pg.ErrRetry // deleted since the look-up
	}
	if err != nil {
		return dbq.Contact{}, err
	}
	// Identities cannot leave a locked contact, nor join it; reading the owners again now makes
	// the decision final.
	again, err := q.FindIdentityOwners(ctx, ownersParams(wsID, keys))
	if err != nil {
		return dbq.Contact{}, err
	}
	if len(again) != 1 || again[0] != cur.ID {
		return dbq.Contact{}, pg.ErrRetry
	}
	row, err := updateContact(ctx, q, cur, u.Apply(fieldsOf(cur)), u.Custom)
	var taken *takenError
	if errors.As(err, &taken) {
		return row, pg.ErrRetry // taken since the look-up: the next attempt sees the owner
	}
	return row, err
}

// Patch applies a merge patch to a contact. The contact is locked first, then the identities it
// would take are checked: one held by another contact is a conflict, and nothing changes.
// With a precondition, only a contact it holds for, as locked, is changed (see Precondition).
func (s *Store) Patch(ctx context.Context, wsID, id uuid.UUID, p contact.Patch, cond Precondition[dbq.Contact]) (row dbq.Contact, err error) {
	err = s.follow(ctx, wsID, id, func(id uuid.UUID) error { return s.patch(ctx, wsID, id, p, cond, &row) })
	return row, err
}

func (s *Store) patch(ctx context.Context, wsID, id uuid.UUID, p contact.Patch, cond Precondition[dbq.Contact], row *dbq.Contact) error {
	return s.write(ctx, s.main, "contact.update", wsID, func(q *txn) error {
		cur, err := lockContact(ctx, q.Queries, wsID, id)
		if err != nil {
			return err
		}
		if err := cond.check(cur, "contact", ids.Contact, cur.ID); err != nil {
			return err
		}
		next, err := p.Apply(fieldsOf(cur))
		if err != nil {
			return err
		}
		if err := checkFree(ctx, q.Queries, wsID, cur.ID, movesOf(cur, next)); err != nil {
			return err
		}
		*row, err = updateContact(ctx, q, cur, next, p.Custom)
		var taken *takenError
		if errors.As(err, &taken) {
			return pg.ErrRetry // taken since checkFree: the next attempt names the owner
		}
		return err
	})
}

// checkFree refuses identities another contact holds, naming the first; those the contact holds
// itself (after a merge, several of one type) are free to it.
func checkFree(ctx context.Context, q *dbq.Queries, wsID, self uuid.UUID, add []identity.Key) error {
	for _, k := range add {
		owner, err := q.GetIdentityOwner(ctx, dbq.GetIdentityOwnerParams{WorkspaceID: wsID, Type: k.Type, Source: k.Source, Value: k.Value})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			continue
		case err != nil:
			return err
		case owner != self:
			return (&takenError{key: k, owner: owner}).conflict()
		}
	}
	return nil
}

func movesOf(cur dbq.Contact, next contact.Fields) []identity.Key {
	_, add := contact.Moves(fieldsOf(cur), next)
	return identity.Sorted(add)
}

// DeleteContact removes a contact with its identities, notes and tags, and forgets the opt-ins
// kept against it and its identifiers. Its suppressions and opt-outs stay, kept against its
// identifiers: a contact created again with one of them shows them again.
func (s *Store) DeleteContact(ctx context.Context, wsID, id uuid.UUID, cond Precondition[dbq.Contact]) error {
	return s.follow(ctx, wsID, id, func(id uuid.UUID) error { return s.deleteContact(ctx, wsID, id, cond) })
}

func (s *Store) deleteContact(ctx context.Context, wsID, id uuid.UUID, cond Precondition[dbq.Contact]) error {
	return s.write(ctx, s.main, "contact.delete", wsID, func(q *txn) error {
		if cond != nil {
			cur, err := lockContact(ctx, q.Queries, wsID, id)
			if err != nil {
				return err
			}
			if err := cond.check(cur, "contact", ids.Contact, cur.ID); err != nil {
				return err
			}
		}
		types, vals, err := subjectsOf(ctx, q.Queries, wsID, id, reach.SubjectTypes)
		if err != nil {
			return err
		}
		for i := range types {
			if err := q.ForgetOptIn(ctx, dbq.ForgetOptInParams{WorkspaceID: wsID, SubjectType: types[i], Subject: vals[i]}); err != nil {
				return err
			}
		}
		gone, err := q.DeleteContact(ctx, dbq.DeleteContactParams{WorkspaceID: wsID, ID: id})
		if err != nil {
			return err
		}
		q.emit(events.Contact(events.ContactDeleted, gone))
		return nil
	})
}

// Contact returns one contact.
func (s *Store) Contact(ctx context.Context, wsID, id uuid.UUID) (row dbq.Contact, err error) {
	err = s.follow(ctx, wsID, id, func(id uuid.UUID) error {
		row, err = s.q.GetContact(ctx, dbq.GetContactParams{WorkspaceID: wsID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return contactNotFound(id)
		}
		return err
	})
	return row, err
}

// ContactByIdentity returns the contact that holds an identity, or ok false.
func (s *Store) ContactByIdentity(ctx context.Context, wsID uuid.UUID, k identity.Key) (row dbq.Contact, ok bool, err error) {
	row, err = s.q.GetContactByIdentity(ctx, dbq.GetContactByIdentityParams{WorkspaceID: wsID, Type: k.Type, Source: k.Source, Value: k.Value})
	if errors.Is(err, pgx.ErrNoRows) {
		return row, false, nil
	}
	return row, err == nil, err
}

// ListContacts is a page of contacts, newest first.
func (s *Store) ListContacts(ctx context.Context, p dbq.ListContactsParams) ([]dbq.Contact, error) {
	return s.q.ListContacts(ctx, p)
}

// SearchWalkRows is how many rows below the cursor a search walks (db/queries/contacts.sql,
// SearchContacts, step _w) before it reads every match of a branch by its index range instead.
const SearchWalkRows = 100_000

// SearchContacts is a page of the contacts a search text matches, newest first; planned for the
// text on every execution (see pg.OneShot). p's walk bound is the store's.
func (s *Store) SearchContacts(ctx context.Context, p dbq.SearchContactsParams) ([]dbq.Contact, error) {
	p.WalkRows = SearchWalkRows
	return s.qOneShot.SearchContacts(ctx, p)
}

// ContactExists says 404 for a contact the workspace does not have, for reads of the rows that
// hang off it.
func (s *Store) ContactExists(ctx context.Context, wsID, id uuid.UUID) error {
	ok, err := s.q.ContactExists(ctx, dbq.ContactExistsParams{WorkspaceID: wsID, ID: id})
	if err == nil && !ok {
		err = contactNotFound(id)
	}
	return err
}

// updateContact writes next over the locked row cur, moving the identities whose values changed
// (contact.Moves: a field set to a value the contact holds already detaches nothing), and records
// what changed.
func updateContact(ctx context.Context, q *txn, cur dbq.Contact, next contact.Fields, custom contact.CustomFields) (dbq.Contact, error) {
	merged, err := contact.MergeCustom(cur.CustomFields, custom)
	if err != nil {
		return dbq.Contact{}, err
	}
	remove, add := contact.Moves(fieldsOf(cur), next)
	for _, r := range remove {
		// The statement itself checks r.Unless: a value the contact holds already cancels it.
		gone, err := q.DeleteContactIdentity(ctx, dbq.DeleteContactIdentityParams{
			WorkspaceID: cur.WorkspaceID, ContactID: cur.ID, Type: r.Key.Type, Source: r.Key.Source,
			Value: r.Key.Value, Unless: r.Unless,
		})
		if err != nil {
			return dbq.Contact{}, err
		}
		for _, g := range gone {
			q.emit(events.Identity(events.IdentityDetached, cur.ID, wire.Identity(dbq.ListContactIdentitiesRow(g))))
		}
	}
	// A value the contact held already (it only shows it now) is left as it is by attach.
	for _, k := range identity.Sorted(add) {
		if _, err := attach(ctx, q, cur.WorkspaceID, cur.ID, k); err != nil {
			return dbq.Contact{}, err
		}
	}
	row, err := q.UpdateContact(ctx, dbq.UpdateContactParams{
		WorkspaceID: cur.WorkspaceID, ID: cur.ID,
		Name: next.Name, NameKey: next.NameKey(), PhoneNumber: next.Phone, Email: next.Email,
		ExternalSource: next.ExternalSource, ExternalID: next.ExternalID, CustomFields: merged,
	})
	if e, ok := events.ContactChange(cur, row); ok && err == nil {
		q.emit(e)
	}
	return row, err
}

func contactNotFound(id uuid.UUID) error {
	return &missingContactError{id: id, err: apperr.NotFoundf("contact %q not found", ids.Format(ids.Contact, id))}
}

// missingContactError is the 404 of an id that names no contact, or none any more: the id of a
// contact merged into another then leads to it (see follow).
type missingContactError struct {
	id  uuid.UUID
	err *apperr.Error
}

func (e *missingContactError) Error() string { return e.err.Error() }
func (e *missingContactError) Unwrap() error { return e.err }

// maxFollow bounds the redirects one request follows. Redirects point at contacts that exist, so
// one is enough unless merges run meanwhile.
const maxFollow = 5

// follow runs fn on the contact id names and, when fn finds no such contact because it was
// merged into another, again on the contact the id leads to now: a merged id answers for its
// survivor. The common request, whose contact exists, pays nothing for it.
func (s *Store) follow(ctx context.Context, wsID, id uuid.UUID, fn func(id uuid.UUID) error) error {
	err := fn(id)
	for range maxFollow {
		var missing *missingContactError
		if !errors.As(err, &missing) || missing.id != id {
			return err
		}
		to, lookErr := liveID(ctx, s.q, wsID, id)
		if lookErr != nil {
			return lookErr
		}
		if to == id {
			return err
		}
		id = to
		err = fn(id)
	}
	return err
}

func fieldsOf(c dbq.Contact) contact.Fields {
	return contact.Fields{Name: c.Name, Phone: c.PhoneNumber, Email: c.Email, ExternalSource: c.ExternalSource, ExternalID: c.ExternalID}
}

func ownersParams(wsID uuid.UUID, keys []identity.Key) dbq.FindIdentityOwnersParams {
	p := dbq.FindIdentityOwnersParams{WorkspaceID: wsID}
	p.Types, p.Sources, p.Vals = keyColumns(keys)
	return p
}

// keyColumns splits identity keys into the parallel arrays the statements unnest.
func keyColumns(keys []identity.Key) (types, sources, vals []string) {
	types, sources, vals = make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		types[i], sources[i], vals[i] = k.Type, k.Source, k.Value
	}
	return types, sources, vals
}

func compareIDs(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) }
