package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/cursor"
	"github.com/wazapin/wazapin/internal/etag"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
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
	row, created, err := s.store.Upsert(ctx, ws.ID, u)
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
		rows, err = s.store.SearchContacts(ctx, search)
	} else {
		rows, err = s.store.ListContacts(ctx, args)
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
	row, err := s.store.Contact(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	if h := req.Params.IfNoneMatch; h != nil {
		if tag := contactETag(row); etag.Matches(*h, tag, false) {
			return api.GetContact304Response{Headers: api.GetContact304ResponseHeaders{ETag: tag}}, nil
		}
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
	row, ok, err := s.store.ContactByIdentity(ctx, ws.ID, identity.Key{Type: identity.Phone, Value: e164})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.NotFoundf("no contact has phone number %s", e164)
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
	row, err := s.store.Patch(ctx, ws.ID, id, p, ifMatch(req.Params.IfMatch, contactETag))
	if err != nil {
		return nil, preconditionOf(req.Params.IfMatch, err)
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
	if err := s.store.DeleteContact(ctx, ws.ID, id, ifMatch(req.Params.IfMatch, contactETag)); err != nil {
		return nil, preconditionOf(req.Params.IfMatch, err)
	}
	return api.DeleteContact204Response{}, nil
}

func contactNotFound(id string) error {
	return apperr.NotFoundf("contact %q not found", id)
}

// contactScope returns the caller's workspace and the contact id of a path, which may not exist.
func contactScope(ctx context.Context, raw string) (tenant.Workspace, uuid.UUID, error) {
	return scope(ctx, raw, ids.Contact, "contact")
}

func contactIDs(in []uuid.UUID) []string {
	out := make([]string, len(in))
	for i, id := range in {
		out[i] = ids.Format(ids.Contact, id)
	}
	return out
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
