package server

import (
	"context"

	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/reach"
	"github.com/wazapin/wazapin/internal/resolve"
	"github.com/wazapin/wazapin/internal/wire"
)

// maxReachabilityIdentifiers bounds one reachability request: a campaign asks in batches.
const maxReachabilityIdentifiers = 1000

// CheckReachability answers, per identifier, whether it may be messaged on a channel now.
func (s *Server) CheckReachability(ctx context.Context, req api.CheckReachabilityRequestObject) (api.CheckReachabilityResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	if !b.Channel.Valid() {
		return nil, apperr.InvalidField("channel", "must be one of "+channelList)
	}
	lookup, err := resolve.ParseUpTo(identifiersIn(b.Identifiers), ws.DefaultRegion, maxReachabilityIdentifiers)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Reachability(ctx, ws.ID, string(b.Channel), lookup)
	if err != nil {
		return nil, err
	}
	out := make([]api.Reachability, len(b.Identifiers))
	for _, r := range rows {
		consent := ""
		if r.ConsentStatus != nil {
			consent = *r.ConsentStatus
		}
		ok, why := reach.Verdict(r.SuppressionReason != nil, consent, r.OptInRequired)
		a := api.Reachability{
			Identifier: b.Identifiers[r.Ord], Reachable: ok,
			Status: api.ReachabilityStatusReachable, ContactId: nullable.NewNullNullable[string](),
			Suppression: nullable.NewNullNullable[api.ReachabilitySuppression](), Consent: nullable.NewNullNullable[api.ReachabilityConsent](),
		}
		if !ok {
			a.Status = api.ReachabilityStatus(why)
		}
		if r.ContactID != nil {
			a.ContactId.Set(ids.Format(ids.Contact, *r.ContactID))
		}
		if r.SuppressionReason != nil {
			sup := api.ReachabilitySuppression{
				Reason: api.SuppressionReason(*r.SuppressionReason), Since: r.SuppressedAt.UTC(),
				ExpiresAt: wire.NullTime(r.SuppressionExpiresAt), Identifier: nullable.NewNullNullable[api.SuppressedIdentifier](),
			}
			if *r.SuppressedType != reach.Contact {
				sup.Identifier.Set(api.SuppressedIdentifier{Type: api.SuppressedIdentifierType(*r.SuppressedType), Value: *r.SuppressedSubject})
			}
			a.Suppression.Set(sup)
		}
		if r.ConsentStatus != nil {
			a.Consent.Set(api.ReachabilityConsent{Status: api.ConsentStatus(consent), Source: wire.NullString(r.ConsentSource), CapturedAt: r.ConsentCapturedAt.UTC()})
		}
		out[r.Ord] = a
	}
	return api.CheckReachability200JSONResponse{Data: out}, nil
}
