package server

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/etag"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/netguard"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/webhooksign"
	"github.com/wazapin/wazapin/internal/wire"
)

// Bounds of webhook endpoint requests.
const (
	maxWebhookURLLen         = 2048
	maxWebhookDescriptionLen = 500
)

// CreateWebhookEndpoint stores an endpoint with a new signing secret, sealed, and answers the
// secret this once.
func (s *Server) CreateWebhookEndpoint(ctx context.Context, req api.CreateWebhookEndpointRequestObject) (api.CreateWebhookEndpointResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	if s.cfg.Secrets == nil {
		return nil, errNoSecrets
	}
	b := req.Body
	var errs apperr.Fields
	u := s.webhookURL(&errs, b.Url)
	var description *string
	if b.Description != nil {
		description = webhookDescription(&errs, *b.Description)
	}
	types := eventTypes(&errs, b.EventTypes)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	id, key := ids.New(), webhooksign.NewKey()
	row, err := s.store.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{
		WorkspaceID: ws.ID, ID: id, URL: u, Description: description, EventTypes: types,
		Enabled: b.Enabled == nil || *b.Enabled,
		Secret:  webhooksign.Seal(s.cfg.Secrets, ws.ID, id, key),
	})
	if err != nil {
		return nil, err
	}
	out := webhookEndpointOut(row)
	return api.CreateWebhookEndpoint201JSONResponse{
		Body:    api.WebhookEndpointSecretResponse{Data: withSecret(out, key)},
		Headers: api.CreateWebhookEndpoint201ResponseHeaders{ETag: jsonETag(out)},
	}, nil
}

// ListWebhookEndpoints lists the workspace's endpoints, oldest first.
func (s *Server) ListWebhookEndpoints(ctx context.Context, _ api.ListWebhookEndpointsRequestObject) (api.ListWebhookEndpointsResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.WebhookEndpoints(ctx, ws.ID)
	if err != nil {
		return nil, err
	}
	return api.ListWebhookEndpoints200JSONResponse{Data: wire.Convert(rows, func(r dbq.ListWebhookEndpointsRow) api.WebhookEndpoint {
		return webhookEndpointOut(store.WebhookEndpoint(r))
	})}, nil
}

// GetWebhookEndpoint returns one endpoint, without its secret; 304 when If-None-Match names its
// tag.
func (s *Server) GetWebhookEndpoint(ctx context.Context, req api.GetWebhookEndpointRequestObject) (api.GetWebhookEndpointResponseObject, error) {
	ws, id, err := webhookScope(ctx, req.EndpointID)
	if err != nil {
		return nil, err
	}
	row, err := s.store.WebhookEndpoint(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	out := webhookEndpointOut(row)
	tag := jsonETag(out)
	if h := req.Params.IfNoneMatch; h != nil && etag.Matches(*h, tag, false) {
		return api.GetWebhookEndpoint304Response{Headers: api.GetWebhookEndpoint304ResponseHeaders{ETag: tag}}, nil
	}
	return api.GetWebhookEndpoint200JSONResponse{Body: api.WebhookEndpointResponse{Data: out}, Headers: api.GetWebhookEndpoint200ResponseHeaders{ETag: tag}}, nil
}

// UpdateWebhookEndpoint changes an endpoint's settings, as a merge patch; with If-Match, only
// the version it names.
func (s *Server) UpdateWebhookEndpoint(ctx context.Context, req api.UpdateWebhookEndpointRequestObject) (api.UpdateWebhookEndpointResponseObject, error) {
	ws, id, err := webhookScope(ctx, req.EndpointID)
	if err != nil {
		return nil, err
	}
	b := req.Body
	var errs apperr.Fields
	p := store.WebhookEndpointPatch{Enabled: b.Enabled}
	if b.Url != nil {
		p.URL = ptr(s.webhookURL(&errs, *b.Url))
	}
	if b.Description.IsSpecified() {
		p.SetDescription = true
		if !b.Description.IsNull() {
			p.Description = webhookDescription(&errs, b.Description.MustGet())
		}
	}
	if b.EventTypes.IsSpecified() {
		p.SetEventTypes = true
		p.EventTypes = eventTypes(&errs, b.EventTypes)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	row, err := s.store.UpdateWebhookEndpoint(ctx, ws.ID, id, p, ifMatch(req.Params.IfMatch, endpointETag))
	if err != nil {
		return nil, preconditionOf(req.Params.IfMatch, err)
	}
	out := webhookEndpointOut(row)
	return api.UpdateWebhookEndpoint200JSONResponse{Body: api.WebhookEndpointResponse{Data: out}, Headers: api.UpdateWebhookEndpoint200ResponseHeaders{ETag: jsonETag(out)}}, nil
}

// DeleteWebhookEndpoint forgets an endpoint, its secrets and its deliveries; with If-Match,
// only the version it names.
func (s *Server) DeleteWebhookEndpoint(ctx context.Context, req api.DeleteWebhookEndpointRequestObject) (api.DeleteWebhookEndpointResponseObject, error) {
	ws, id, err := webhookScope(ctx, req.EndpointID)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteWebhookEndpoint(ctx, ws.ID, id, ifMatch(req.Params.IfMatch, endpointETag)); err != nil {
		return nil, preconditionOf(req.Params.IfMatch, err)
	}
	return api.DeleteWebhookEndpoint204Response{}, nil
}

// RotateWebhookEndpointSecret gives an endpoint a new signing secret and answers it this once;
// the previous one keeps signing for 24 hours.
func (s *Server) RotateWebhookEndpointSecret(ctx context.Context, req api.RotateWebhookEndpointSecretRequestObject) (api.RotateWebhookEndpointSecretResponseObject, error) {
	ws, id, err := webhookScope(ctx, req.EndpointID)
	if err != nil {
		return nil, err
	}
	if s.cfg.Secrets == nil {
		return nil, errNoSecrets
	}
	key := webhooksign.NewKey()
	row, err := s.store.RotateWebhookSecret(ctx, ws.ID, id, webhooksign.Seal(s.cfg.Secrets, ws.ID, id, key))
	if err != nil {
		return nil, err
	}
	out := webhookEndpointOut(row)
	return api.RotateWebhookEndpointSecret200JSONResponse{
		Body:    api.WebhookEndpointSecretResponse{Data: withSecret(out, key)},
		Headers: api.RotateWebhookEndpointSecret200ResponseHeaders{ETag: jsonETag(out)},
	}, nil
}

// WebhookSigningKeys returns the keys that sign deliveries to an endpoint now, for
// webhooksign.Signature: its current key, then its previous one while a rotation lasts.
func (s *Server) WebhookSigningKeys(ctx context.Context, wsID, id uuid.UUID) ([][]byte, error) {
	if s.cfg.Secrets == nil {
		return nil, errNoSecrets
	}
	sealed, err := s.store.WebhookSigningSecrets(ctx, wsID, id)
	if err != nil {
		return nil, err
	}
	return webhooksign.Open(s.cfg.Secrets, wsID, id, sealed)
}

// webhookURL checks an endpoint's URL and returns it as sent. A URL that visibly points into a
// private network is refused up front when the server blocks private addresses; the dial-time
// check of the delivery client (netguard) is the one that holds.
func (s *Server) webhookURL(errs *apperr.Fields, raw string) string {
	const field = "url"
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		errs.Add(field, "is required")
	case utf8.RuneCountInString(raw) > maxWebhookURLLen:
		errs.Add(field, fmt.Sprintf("must be at most %d characters", maxWebhookURLLen))
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		errs.Add(field, "must not contain spaces or control characters")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "":
		errs.Add(field, "must be an absolute http or https URL")
	case u.User != nil:
		errs.Add(field, "must not hold a user name or password; the signature proves a delivery genuine")
	case strings.Contains(raw, "#"):
		errs.Add(field, "must not have a fragment")
	case !validPort(u.Port()):
		errs.Add(field, "must have a port from 1 to 65535")
	case netguard.CheckURL(u, s.cfg.BlockPrivateAddresses) != nil:
		errs.Add(field, "must not point to localhost or a loopback, private or link-local address (this server blocks them)")
	default:
		return raw
	}
	return ""
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// webhookDescription trims a description; a blank one is none.
func webhookDescription(errs *apperr.Fields, in string) *string {
	d := strings.TrimSpace(in)
	switch {
	case d == "":
		return nil
	case utf8.RuneCountInString(d) > maxWebhookDescriptionLen:
		errs.Add("description", fmt.Sprintf("must be at most %d characters", maxWebhookDescriptionLen))
		return nil
	}
	return &d
}

// eventTypes checks the event types an endpoint asks for; nil (absent or null) is every type.
func eventTypes(errs *apperr.Fields, in nullable.Nullable[[]api.EventType]) []string {
	if !in.IsSpecified() || in.IsNull() {
		return nil
	}
	list := in.MustGet()
	if len(list) == 0 {
		errs.Add("event_types", "must list at least one event type; null delivers every type")
		return nil
	}
	out := make([]string, 0, len(list))
	for i, t := range list {
		field := fmt.Sprintf("event_types[%d]", i)
		switch {
		case !t.Valid():
			errs.Add(field, "must be one of "+eventTypeList())
		case slices.Contains(out, string(t)):
			errs.Add(field, fmt.Sprintf("lists %s again; list each event type once", t))
		default:
			out = append(out, string(t))
		}
	}
	return out
}

// eventTypeList is the event types of openapi.yaml, as a refusal names them.
var eventTypeList = sync.OnceValue(func() string {
	spec, err := api.GetSwagger()
	if err != nil {
		return "the event types of EventType (see /docs)"
	}
	var names []string
	for _, v := range spec.Components.Schemas["EventType"].Value.Enum {
		names = append(names, fmt.Sprint(v))
	}
	return strings.Join(names, ", ")
})

func webhookScope(ctx context.Context, raw string) (tenant.Workspace, uuid.UUID, error) {
	return scope(ctx, raw, ids.WebhookEndpoint, "webhook endpoint")
}

func webhookEndpointOut(r store.WebhookEndpoint) api.WebhookEndpoint {
	out := api.WebhookEndpoint{
		Id: ids.Format(ids.WebhookEndpoint, r.ID), Url: r.Url, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		Description: nullable.NewNullNullable[string](), DisabledReason: nullable.NewNullNullable[string](),
		EventTypes: nullable.NewNullNullable[[]api.EventType](), PreviousSecretExpiresAt: nullable.NewNullNullable[time.Time](),
	}
	if r.Description != nil {
		out.Description.Set(*r.Description)
	}
	if r.DisabledReason != nil {
		out.DisabledReason.Set(*r.DisabledReason)
	}
	if r.EventTypes != nil {
		out.EventTypes.Set(wire.Convert(r.EventTypes, func(t string) api.EventType { return api.EventType(t) }))
	}
	if r.PreviousSecretSigns && r.PreviousSecretUntil != nil {
		out.PreviousSecretExpiresAt.Set(r.PreviousSecretUntil.UTC())
	}
	return out
}

// withSecret is the endpoint with the secret of key, for the answers that show it.
func withSecret(e api.WebhookEndpoint, key []byte) api.WebhookEndpointWithSecret {
	return api.WebhookEndpointWithSecret{
		Id: e.Id, Url: e.Url, Description: e.Description, EventTypes: e.EventTypes, Enabled: e.Enabled,
		DisabledReason: e.DisabledReason, PreviousSecretExpiresAt: e.PreviousSecretExpiresAt,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Secret: webhooksign.Secret(key),
	}
}
