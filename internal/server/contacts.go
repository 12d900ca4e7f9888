package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/cursor"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/tenant"
)

// Page sizes of paginated lists.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// CreateContact creates a contact or upserts the one its identifiers lead to.
func (s *Server) CreateContact(ctx context.Context, req api.CreateContactRequestObject) (api.CreateContactResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	u, err := parseCreate(*req.Body, ws.DefaultRegion)
	if err != nil {
		return nil, err
	}
	row, created, err := s.upsert(ctx, ws.ID, u)
	if err != nil {
		return nil, err
	}
	if created {
		return contactBody{http.StatusCreated, row}, nil
	}
	return contactBody{http.StatusOK, row}, nil
}

// parseCreate applies the POST /v1/contacts rules to a body (an import's lines get the same).
func parseCreate(b api.ContactCreate, region string) (contact.Upsert, error) {
	var custom json.RawMessage
	if b.CustomFields != nil {
		custom = *b.CustomFields
	}
	return contact.ParseUpsert(contact.UpsertInput{
		Name: b.Name, Phone: b.PhoneNumber, Email: b.Email,
		ExternalSource: b.ExternalSource, ExternalID: b.ExternalId, CustomFields: custom,
	}, region)
}

// upsert is get-or-create by identity. The owners of the identifiers are looked up first, outside
// any transaction: when there are none, the contact and its identities are created in one
// statement (two round trips in all, the common case of a first message from a new number);
// when there are several, the answer is a conflict. One owner, or a lost race for an identity,
// goes to upsertContact, which decides again under row locks.
func (s *Server) upsert(ctx context.Context, wsID uuid.UUID, u contact.Upsert) (dbq.Contact, bool, error) {
	keys := u.Keys()
	owners, err := s.q.FindIdentityOwners(ctx, ownersParams(wsID, keys))
	if err != nil {
		return dbq.Contact{}, false, err
	}
	var hint uuid.UUID
	switch len(owners) {
	case 0:
		row, err := createContact(ctx, s.q, wsID, u, keys)
		if !pg.Raced(err) {
			return row, err == nil, err
		}
		// Another transaction took or was taking one of the identities (a unique violation, or a
		// deadlock with one that inserts identities in another order): the statement undid itself;
		// decide again in a transaction.
	case 1:
		hint = owners[0]
	default:
		return dbq.Contact{}, false, ownersConflict(owners)
	}
	var (
		row     dbq.Contact
		created bool
	)
	err = pg.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		row, created, err = upsertContact(ctx, s.q.WithTx(tx), wsID, u, hint)
		hint = uuid.Nil // a retry starts from a fresh look-up
		return err
	})
	return row, created, err
}

// upsertContact is the locked half of upsert: look up the owners (unless hint names the one a
// look-up outside the transaction found), then create when there are none, update the one, or
// refuse when there are several. Nothing rests on the unlocked read: the owner is locked and
// checked to still hold the identities. Losing a race for an identity returns pg.ErrRetry (or a
// unique violation), and the transaction starts again from the look-up.
func upsertContact(ctx context.Context, q *dbq.Queries, wsID uuid.UUID, u contact.Upsert, hint uuid.UUID) (dbq.Contact, bool, error) {
	keys := u.Keys()
	owners := []uuid.UUID{hint}
	if hint == uuid.Nil {
		var err error
		if owners, err = q.FindIdentityOwners(ctx, ownersParams(wsID, keys)); err != nil {
			return dbq.Contact{}, false, err
		}
	}
	switch len(owners) {
	case 0:
		row, err := createContact(ctx, q, wsID, u, keys)
		return row, err == nil, err
	case 1:
		cur, err := q.GetContactForUpdate(ctx, dbq.GetContactForUpdateParams{WorkspaceID: wsID, ID: owners[0]})
		if errors.Is(err, pgx.ErrNoRows) {
			return dbq.Contact{}, false, pg.ErrRetry // deleted since the look-up
		}
		if err != nil {
			return dbq.Contact{}, false, err
		}
		// The identities may have moved between the look-up and the lock; they cannot move while
		// the row is locked, so deciding again now is final.
		again, err := q.FindIdentityOwners(ctx, ownersParams(wsID, keys))
		if err != nil {
			return dbq.Contact{}, false, err
		}
		if len(again) != 1 || again[0] != cur.ID {
			return dbq.Contact{}, false, pg.ErrRetry
		}
		row, err := updateContact(ctx, q, cur, u.Apply(fieldsOf(cur)), u.Custom)
		return row, false, retryIfTaken(err)
	default:
		return dbq.Contact{}, false, ownersConflict(owners)
	}
}

// createContact inserts a new contact holding keys; a unique violation means one was taken.
func createContact(ctx context.Context, q *dbq.Queries, wsID uuid.UUID, u contact.Upsert, keys []identity.Key) (dbq.Contact, error) {
	set, err := customJSON(u.Custom.Set)
	if err != nil {
		return dbq.Contact{}, err
	}
	k := ownersParams(wsID, keys)
	row, err := q.CreateContact(ctx, dbq.CreateContactParams{
		WorkspaceID: wsID, ID: ids.New(), Name: u.Name, NameKey: u.NameKey(), PhoneNumber: u.Phone, Email: u.Email,
		ExternalSource: u.ExternalSource, ExternalID: u.ExternalID, CustomFields: set,
		Types: k.Types, Sources: k.Sources, Vals: k.Vals,
	})
	return dbq.Contact(row), err
}

func ownersConflict(owners []uuid.UUID) error {
	return apperr.Conflictf(contactIDs(owners), "the identifiers belong to %d different contacts; nothing was changed", len(owners))
}

// updateContact writes next over the locked row cur, moving identities whose values changed.
func updateContact(ctx context.Context, q *dbq.Queries, cur dbq.Contact, next contact.Fields, custom contact.CustomFields) (dbq.Contact, error) {
	remove, add := contact.Moves(fieldsOf(cur), next)
	for _, k := range remove {
		if err := q.DeleteContactIdentity(ctx, dbq.DeleteContactIdentityParams{
			WorkspaceID: cur.WorkspaceID, ContactID: cur.ID, Type: k.Type, Source: k.Source,
		}); err != nil {
			return dbq.Contact{}, err
		}
	}
	for _, k := range add {
		if err := attach(ctx, q, cur.WorkspaceID, cur.ID, k); err != nil {
			return dbq.Contact{}, err
		}
	}
	set, err := customJSON(custom.Set)
	if err != nil {
		return dbq.Contact{}, err
	}
	del := custom.Delete
	if del == nil {
		del = []string{}
	}
	row, err := q.UpdateContact(ctx, dbq.UpdateContactParams{
		WorkspaceID: cur.WorkspaceID, ID: cur.ID,
		Name: next.Name, NameKey: next.NameKey(), PhoneNumber: next.Phone, Email: next.Email,
		ExternalSource: next.ExternalSource, ExternalID: next.ExternalID,
		ResetFields: custom.Reset, SetFields: set, DeleteFields: del,
	})
	if err == nil && len(custom.Set) > 0 {
		err = contact.CheckStored(row.CustomFields)
	}
	return row, err
}

// takenError says an identity belongs to another contact.
type takenError struct {
	key   identity.Key
	owner uuid.UUID
}

func (e *takenError) Error() string {
	return fmt.Sprintf("%s %s belongs to contact %s", fieldOfKey(e.key), e.key.Value, ids.Format(ids.Contact, e.owner))
}

// attach gives identity k to the contact, unless another contact holds it.
func attach(ctx context.Context, q *dbq.Queries, wsID, contactID uuid.UUID, k identity.Key) error {
	n, err := q.InsertIdentity(ctx, dbq.InsertIdentityParams{
		WorkspaceID: wsID, Type: k.Type, Source: k.Source, Value: k.Value, ContactID: contactID,
	})
	if err != nil || n == 1 {
		return err
	}
	owner, err := q.GetIdentityOwner(ctx, dbq.GetIdentityOwnerParams{WorkspaceID: wsID, Type: k.Type, Source: k.Source, Value: k.Value})
	if errors.Is(err, pgx.ErrNoRows) {
		return pg.ErrRetry // the owner let go of it in between
	}
	if err != nil || owner == contactID {
		return err
	}
	return &takenError{key: k, owner: owner}
}

// retryIfTaken turns a lost identity race of an upsert into a retry: the next attempt sees the
// new owner in its look-up and decides again.
func retryIfTaken(err error) error {
	var taken *takenError
	if errors.As(err, &taken) {
		return pg.ErrRetry
	}
	return err
}

// conflictIfTaken turns a taken identity of a patch into a conflict naming the owner.
func conflictIfTaken(err error) error {
	var taken *takenError
	if errors.As(err, &taken) {
		e := apperr.Conflictf([]string{ids.Format(ids.Contact, taken.owner)}, "%s", taken.Error())
		e.Fields = []apperr.FieldError{{Field: fieldOfKey(taken.key), Message: "belongs to another contact"}}
		return e
	}
	return err
}

func fieldOfKey(k identity.Key) string {
	switch k.Type {
	case identity.Phone:
		return "phone_number"
	case identity.ExternalID:
		return "external_id"
	}
	return k.Type
}

// ListContacts pages through the workspace's contacts, newest first.
func (s *Server) ListContacts(ctx context.Context, req api.ListContactsRequestObject) (api.ListContactsResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	p := req.Params
	limit, before, err := page(p.Limit, p.Cursor)
	if err != nil {
		return nil, err
	}
	args := dbq.ListContactsParams{WorkspaceID: ws.ID, BeforeID: before, UpdatedSince: p.UpdatedSince, PageSize: int32(limit + 1)}
	if p.UpdatedSince != nil && !timeInRange(*p.UpdatedSince) {
		return nil, apperr.BadParam("updated_since", "must be between the years 1 and 9999")
	}
	if p.Tag != nil && strings.TrimSpace(*p.Tag) != "" {
		args.TagKey = ptr(identity.Fold(strings.TrimSpace(*p.Tag)))
	}
	var rows []dbq.Contact
	if p.Q != nil && strings.TrimSpace(*p.Q) != "" {
		q := identity.Fold(strings.TrimSpace(*p.Q))
		if utf8.RuneCountInString(q) > 200 {
			return nil, apperr.BadParam("q", "must be at most 200 characters")
		}
		search := dbq.SearchContactsParams{WorkspaceID: args.WorkspaceID, BeforeID: args.BeforeID, Q: q,
			UpdatedSince: args.UpdatedSince, TagKey: args.TagKey, PageSize: args.PageSize}
		if args.UpdatedSince == nil && args.TagKey == nil {
			search.BranchLimit = &args.PageSize
		}
		if prefix, ok := identity.PhonePrefix(q, ws.DefaultRegion); ok {
			search.PhonePrefix = &prefix
		}
		rows, err = s.qOneShot.SearchContacts(ctx, search)
	} else {
		rows, err = s.q.ListContacts(ctx, args)
	}
	if err != nil {
		return nil, err
	}
	return contactPage{rows: rows[:min(len(rows), limit)], more: len(rows) > limit}, nil
}

// page reads the limit and cursor of a paginated list.
func page(limit *int, cur *string) (int, uuid.UUID, error) {
	n := defaultPageSize
	if limit != nil {
		n = *limit
	}
	if n < 1 || n > maxPageSize {
		return 0, uuid.UUID{}, apperr.BadParam("limit", fmt.Sprintf("must be between 1 and %d", maxPageSize))
	}
	before, ok := cursor.Decode(cur)
	if !ok {
		return 0, uuid.UUID{}, apperr.BadParam("cursor", "is not a cursor this API returned")
	}
	return n, before, nil
}

func nextPage(more bool, last func() uuid.UUID) api.PageMeta {
	if !more {
		return api.PageMeta{NextCursor: nullable.NewNullNullable[string]()}
	}
	return api.PageMeta{NextCursor: nullable.NewNullableWithValue(cursor.Encode(last()))}
}

// GetContact returns one contact.
func (s *Server) GetContact(ctx context.Context, req api.GetContactRequestObject) (api.GetContactResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	row, err := s.q.GetContact(ctx, dbq.GetContactParams{WorkspaceID: ws.ID, ID: id})
	if err != nil {
		return nil, notFound(err, req.ContactID)
	}
	return contactBody{http.StatusOK, row}, nil
}

// GetContactByPhone returns the contact that owns a phone number, written in any spelling.
func (s *Server) GetContactByPhone(ctx context.Context, req api.GetContactByPhoneRequestObject) (api.GetContactByPhoneResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	e164, err := identity.NormalizePhone(req.Phone, ws.DefaultRegion)
	if err != nil {
		return nil, apperr.InvalidField("phone", err.Error())
	}
	row, err := s.q.GetContactByIdentity(ctx, dbq.GetContactByIdentityParams{WorkspaceID: ws.ID, Type: identity.Phone, Value: e164})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.NotFoundf("no contact has phone number %s", e164)
	}
	if err != nil {
		return nil, err
	}
	return contactBody{http.StatusOK, row}, nil
}

// UpdateContact applies a JSON merge patch.
func (s *Server) UpdateContact(ctx context.Context, req api.UpdateContactRequestObject) (api.UpdateContactResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	b := req.Body
	in := contact.PatchInput{
		Name: opt(b.Name), Phone: opt(b.PhoneNumber), Email: opt(b.Email),
		ExternalSource: opt(b.ExternalSource), ExternalID: opt(b.ExternalId),
		CustomFieldsSet: b.CustomFields.IsSpecified(),
	}
	if b.CustomFields.IsSpecified() && !b.CustomFields.IsNull() {
		in.CustomFields = b.CustomFields.MustGet()
	}
	p, err := contact.ParsePatch(in, ws.DefaultRegion)
	if err != nil {
		return nil, err
	}
	var row dbq.Contact
	err = pg.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		cur, err := q.GetContactForUpdate(ctx, dbq.GetContactForUpdateParams{WorkspaceID: ws.ID, ID: id})
		if err != nil {
			return notFound(err, req.ContactID)
		}
		next, err := p.Apply(fieldsOf(cur))
		if err != nil {
			return err
		}
		row, err = updateContact(ctx, q, cur, next, p.Custom)
		return conflictIfTaken(err)
	})
	if err != nil {
		return nil, err
	}
	return contactBody{http.StatusOK, row}, nil
}

// DeleteContact removes a contact; its identities, notes, tags, consents and suppressions go with
// it through the foreign keys.
func (s *Server) DeleteContact(ctx context.Context, req api.DeleteContactRequestObject) (api.DeleteContactResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	n, err := s.q.DeleteContact(ctx, dbq.DeleteContactParams{WorkspaceID: ws.ID, ID: id})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, contactNotFound(req.ContactID)
	}
	return api.DeleteContact204Response{}, nil
}

// contactID reads a contact id from a path; one that cannot be ours is simply not found.
func contactID(s string) (uuid.UUID, error) {
	id, ok := ids.Parse(ids.Contact, s)
	if !ok {
		return id, contactNotFound(s)
	}
	return id, nil
}

func contactNotFound(id string) error {
	return apperr.NotFoundf("contact %q not found", id)
}

// notFound words a missing contact; other errors pass through.
func notFound(err error, id string) error {
	if errors.Is(err, pgx.ErrNoRows) || pg.IsForeignKeyViolation(err) {
		return contactNotFound(id)
	}
	return err
}

// contactScope returns the caller's workspace and the contact id of a path, which may not exist.
func contactScope(ctx context.Context, raw string) (tenant.Workspace, uuid.UUID, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return ws, uuid.UUID{}, err
	}
	id, err := contactID(raw)
	return ws, id, err
}

// existingContact is contactScope for a contact that must exist in the workspace (404 if not),
// for reads of the rows hanging off it.
func (s *Server) existingContact(ctx context.Context, raw string) (tenant.Workspace, uuid.UUID, error) {
	ws, id, err := contactScope(ctx, raw)
	if err != nil {
		return ws, id, err
	}
	ok, err := s.q.ContactExists(ctx, dbq.ContactExistsParams{WorkspaceID: ws.ID, ID: id})
	if err == nil && !ok {
		err = contactNotFound(raw)
	}
	return ws, id, err
}

// convert maps rows to their wire form.
func convert[R, T any](rows []R, out func(R) T) []T {
	res := make([]T, len(rows))
	for i, r := range rows {
		res[i] = out(r)
	}
	return res
}

func fieldsOf(c dbq.Contact) contact.Fields {
	return contact.Fields{Name: c.Name, Phone: c.PhoneNumber, Email: c.Email, ExternalSource: c.ExternalSource, ExternalID: c.ExternalID}
}

func ownersParams(wsID uuid.UUID, keys []identity.Key) dbq.FindIdentityOwnersParams {
	p := dbq.FindIdentityOwnersParams{WorkspaceID: wsID}
	for _, k := range keys {
		p.Types = append(p.Types, k.Type)
		p.Sources = append(p.Sources, k.Source)
		p.Vals = append(p.Vals, k.Value)
	}
	return p
}

func contactIDs(in []uuid.UUID) []string {
	out := make([]string, len(in))
	for i, id := range in {
		out[i] = ids.Format(ids.Contact, id)
	}
	return out
}

func customJSON(set map[string]json.RawMessage) (json.RawMessage, error) {
	if len(set) == 0 {
		return json.RawMessage(`{}`), nil
	}
	return json.Marshal(set)
}

func opt(n nullable.Nullable[string]) contact.Opt {
	if !n.IsSpecified() {
		return contact.Opt{}
	}
	if n.IsNull() {
		return contact.Opt{Set: true}
	}
	v := n.MustGet()
	return contact.Opt{Set: true, Value: &v}
}

func nstr(s *string) nullable.Nullable[string] {
	if s == nil {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(*s)
}
