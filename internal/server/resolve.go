package server

import (
	"context"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/resolve"
)

// ResolveContact finds the stored contact that a set of identifiers leads to.
func (s *Server) ResolveContact(ctx context.Context, req api.ResolveContactRequestObject) (api.ResolveContactResponseObject, error) {
	res, err := s.resolve(ctx, req.Body)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// LookupContact is the compatibility alias of ResolveContact, served by the same code.
func (s *Server) LookupContact(ctx context.Context, req api.LookupContactRequestObject) (api.LookupContactResponseObject, error) {
	res, err := s.resolve(ctx, req.Body)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// resolve answers with one statement: every identifier's matches, joined to their contacts.
func (s *Server) resolve(ctx context.Context, body *api.ResolveRequest) (resolvedBody, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return resolvedBody{}, err
	}
	lookup, err := resolve.Parse(identifiersIn(body.Identifiers), ws.DefaultRegion)
	if err != nil {
		return resolvedBody{}, err
	}
	rows, err := s.store.Resolve(ctx, ws.ID, lookup)
	if err != nil {
		return resolvedBody{}, err
	}
	matches := make([]resolve.Match, len(rows))
	for i, r := range rows {
		matches[i] = resolve.Match{Ord: r.Ord, Contact: r.ID}
	}
	out := resolve.Decide(matches)
	switch {
	case len(out.Candidates) > 1:
		return resolvedBody{}, apperr.Conflictf(contactIDs(out.Candidates),
			"the identifiers lead to %d different contacts", len(out.Candidates))
	case !out.Found:
		return resolvedBody{}, apperr.NotFoundf("no contact matches these identifiers")
	}
	res := resolvedBody{c: resolvedContact(rows[0]), matched: make([]api.Identifier, len(out.MatchedOrd))}
	for i, ord := range out.MatchedOrd {
		res.matched[i] = body.Identifiers[ord]
	}
	return res, nil
}

// identifiersIn are the identifiers of a request as the resolve rules take them.
func identifiersIn(in []api.Identifier) []resolve.Identifier {
	out := make([]resolve.Identifier, len(in))
	for i, it := range in {
		out[i] = resolve.Identifier{Type: string(it.Type), Value: it.Value, Source: it.Source}
	}
	return out
}

// resolvedContact is the contact of a resolve row. The query names the columns of a LATERAL
// subquery rather than the contacts table (which sqlc.embed needs), so sqlc flattens them.
func resolvedContact(r dbq.ResolveIdentifiersRow) dbq.Contact {
	return dbq.Contact{
		WorkspaceID: r.WorkspaceID, ID: r.ID, Name: r.Name, NameKey: r.NameKey, PhoneNumber: r.PhoneNumber,
		Email: r.Email, ExternalSource: r.ExternalSource, ExternalID: r.ExternalID,
		CustomFields: r.CustomFields, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, MergedIds: r.MergedIds,
	}
}
