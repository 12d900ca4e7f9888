package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/etag"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/provider"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/wire"
)

// lookupOperation asks a provider: its requests may take the provider timeout on top of the
// database's.
const lookupOperation = "lookupChannelContacts"

// Bounds of channel requests.
const (
	maxChannelNameLen = 100
	maxLookupNumbers  = 100
)

// Channel statuses, set from the outcome of provider calls.
const (
	statusConnected    = "connected"
	statusUnauthorized = "unauthorized"
	statusUnreachable  = "unreachable"
)

var errNoSecrets = apperr.New(apperr.Unavailable,
	"this server has no WAZAPIN_ENCRYPTION_KEY, so it cannot store or use channel credentials, webhook secrets, or the kept idempotent answers that hold a secret (an API key); set one (32 random bytes in base64) and restart")

// CreateChannel validates a channel's credentials for its platform and stores them sealed.
func (s *Server) CreateChannel(ctx context.Context, req api.CreateChannelRequestObject) (api.CreateChannelResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	if s.cfg.Secrets == nil {
		return nil, errNoSecrets
	}
	b := req.Body
	var errs apperr.Fields
	name := nameField(&errs, b.Name, maxChannelNameLen)
	switch {
	case !b.Platform.Valid():
		errs.Add("platform", "must be one of whatsapp_gateway, whatsapp_business_api")
	case len(b.Credentials) == 0:
		errs.Add("credentials", "is required")
	default:
		if _, err := provider.New(string(b.Platform), b.Credentials, s.cfg.Provider); err != nil {
			var e *apperr.Error
			if !errors.As(err, &e) {
				return nil, err
			}
			errs = append(errs, e.Fields...)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	id := ids.New()
	row, err := s.store.CreateChannel(ctx, store.NewChannel{
		WorkspaceID: ws.ID, ID: id, Name: name, Platform: string(b.Platform),
		Credentials: s.cfg.Secrets.Seal(b.Credentials, channelAD(ws.ID, id)),
	})
	if err != nil {
		return nil, err
	}
	out := wire.Channel(row)
	return api.CreateChannel201JSONResponse{Body: api.ChannelResponse{Data: out}, Headers: api.CreateChannel201ResponseHeaders{ETag: jsonETag(out)}}, nil
}

// ListChannels lists the workspace's channels.
func (s *Server) ListChannels(ctx context.Context, _ api.ListChannelsRequestObject) (api.ListChannelsResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Channels(ctx, ws.ID)
	if err != nil {
		return nil, err
	}
	return api.ListChannels200JSONResponse{Data: wire.Convert(rows, func(r dbq.ListChannelsRow) api.Channel {
		return wire.Channel(dbq.GetChannelRow(r))
	})}, nil
}

// GetChannel returns one channel, without its credentials; 304 when If-None-Match names its tag.
func (s *Server) GetChannel(ctx context.Context, req api.GetChannelRequestObject) (api.GetChannelResponseObject, error) {
	ws, id, err := channelScope(ctx, req.ChannelID)
	if err != nil {
		return nil, err
	}
	row, err := s.store.Channel(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	out := wire.Channel(row)
	tag := jsonETag(out)
	if h := req.Params.IfNoneMatch; h != nil && etag.Matches(*h, tag, false) {
		return api.GetChannel304Response{Headers: api.GetChannel304ResponseHeaders{ETag: tag}}, nil
	}
	return api.GetChannel200JSONResponse{Body: api.ChannelResponse{Data: out}, Headers: api.GetChannel200ResponseHeaders{ETag: tag}}, nil
}

// DeleteChannel forgets a channel and its credentials; with If-Match, only the version it names.
func (s *Server) DeleteChannel(ctx context.Context, req api.DeleteChannelRequestObject) (api.DeleteChannelResponseObject, error) {
	ws, id, err := channelScope(ctx, req.ChannelID)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteChannel(ctx, ws.ID, id, ifMatch(req.Params.IfMatch, channelETag)); err != nil {
		return nil, preconditionOf(req.Params.IfMatch, err)
	}
	return api.DeleteChannel204Response{}, nil
}

// LookupChannelContacts asks the channel's provider about phone numbers, marks which stored
// contacts own them, and, when asked, links the wa_ids found to those contacts.
func (s *Server) LookupChannelContacts(ctx context.Context, req api.LookupChannelContactsRequestObject) (api.LookupChannelContactsResponseObject, error) {
	// The provider gets ProviderTimeout; the database work around it a little more.
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProviderTimeout+5*time.Second)
	defer cancel()
	ws, chID, err := channelScope(ctx, req.ChannelID)
	if err != nil {
		return nil, err
	}
	link := req.Body.Link != nil && *req.Body.Link
	if link {
		// Before the provider is asked: a key that may not write contacts learns nothing.
		if err := require(ctx, s.fieldPerms[lookupOperation]["link"]); err != nil {
			return nil, err
		}
	}
	p, platform, err := s.channelProvider(ctx, ws, chID, req.ChannelID)
	if err != nil {
		return nil, err
	}
	phones, unique, err := lookupPhones(req.Body.PhoneNumbers, ws.DefaultRegion)
	if err != nil {
		return nil, err
	}
	results, err := s.askProvider(ctx, ws, chID, req.ChannelID, platform, p, unique)
	if err != nil {
		return nil, err
	}
	var (
		owners map[string]uuid.UUID
		links  map[string]store.Link
	)
	if link {
		found := make(map[string]string, len(results))
		for _, r := range results {
			if r.Exists && r.WaID != "" {
				found[r.Phone] = r.WaID
			}
		}
		owners, links, err = s.store.LinkWaIDs(ctx, ws.ID, unique, found)
	} else {
		owners, err = s.store.PhoneOwners(ctx, ws.ID, unique)
	}
	if err != nil {
		return nil, err
	}
	byPhone := entries(results, owners, links, req.Body.Link != nil && *req.Body.Link)
	out := make([]api.ChannelLookupResult, len(phones))
	for i, phone := range phones {
		out[i] = byPhone[phone].wire(req.Body.PhoneNumbers[i])
	}
	return api.LookupChannelContacts200JSONResponse{Body: api.ChannelLookupResponse{Data: out}}, nil
}

// entries pairs each provider result with the contact that owns its number and, when linking,
// what became of its wa_id.
func entries(results []provider.Result, owners map[string]uuid.UUID, links map[string]store.Link, linking bool) map[string]entry {
	byPhone := make(map[string]entry, len(results))
	for _, r := range results {
		e := entry{result: r}
		if owner, ok := owners[r.Phone]; ok {
			e.contact = &owner
		}
		if linking {
			e.link = linkOut(links[r.Phone])
		}
		byPhone[r.Phone] = e
	}
	return byPhone
}

// linkOut is the wire form of a link; a number without one had no wa_id to link.
func linkOut(l store.Link) *api.ChannelLookupLink {
	switch l.Status {
	case store.Linked:
		return &api.ChannelLookupLink{Status: api.ChannelLookupLinkStatusLinked}
	case store.AlreadyLinked:
		return &api.ChannelLookupLink{Status: api.ChannelLookupLinkStatusAlreadyLinked}
	case store.LinkConflict:
		return &api.ChannelLookupLink{Status: api.ChannelLookupLinkStatusConflict, OwnerContactId: ptr(ids.Format(ids.Contact, l.Owner))}
	case store.NoContact:
		return &api.ChannelLookupLink{Status: api.ChannelLookupLinkStatusNoContact}
	}
	return &api.ChannelLookupLink{Status: api.ChannelLookupLinkStatusNotFound}
}

// lookupPhones normalizes the numbers of a lookup: phones[i] is input i in E.164, unique lists
// each number once for the provider.
func lookupPhones(in []string, region string) (phones, unique []string, err error) {
	var errs apperr.Fields
	switch {
	case len(in) == 0:
		errs.Add("phone_numbers", "must list at least one number")
	case len(in) > maxLookupNumbers:
		errs.Add("phone_numbers", fmt.Sprintf("must list at most %d numbers", maxLookupNumbers))
	}
	if err := errs.Err(); err != nil {
		return nil, nil, err
	}
	seen := make(map[string]bool, len(in))
	phones = make([]string, len(in))
	for i, raw := range in {
		e164, err := identity.NormalizePhone(raw, region)
		if err != nil {
			errs.Add(fmt.Sprintf("phone_numbers[%d]", i), err.Error())
			continue
		}
		phones[i] = e164
		if !seen[e164] {
			seen[e164] = true
			unique = append(unique, e164)
		}
	}
	return phones, unique, errs.Err()
}

// channelProvider opens a channel's credentials and returns its provider adapter.
func (s *Server) channelProvider(ctx context.Context, ws tenant.Workspace, id uuid.UUID, raw string) (provider.Provider, string, error) {
	row, err := s.store.ChannelCredentials(ctx, ws.ID, id)
	if err != nil {
		return nil, "", err
	}
	if s.cfg.Secrets == nil {
		return nil, "", errNoSecrets
	}
	creds, err := s.cfg.Secrets.Open(row.Credentials, channelAD(ws.ID, id))
	if err != nil {
		s.log.ErrorContext(ctx, "channel credentials do not open: was WAZAPIN_ENCRYPTION_KEY changed?", "channel", raw)
		return nil, "", apperr.New(apperr.Unavailable, "channel %s: its credentials cannot be opened with this server's encryption key; recreate the channel", raw)
	}
	opts := s.cfg.Provider
	opts.Slots = s.channelSlots(ctx, ws.ID, id, raw)
	p, err := provider.New(row.Platform, creds, opts)
	if err != nil {
		return nil, "", apperr.New(apperr.Upstream, "channel %s: its stored credentials are no longer valid for %s; recreate the channel", raw, row.Platform)
	}
	return p, row.Platform, nil
}

// askProvider runs the lookup within the provider timeout, records the outcome as the channel's
// status, and words provider failures as problems naming the channel.
func (s *Server) askProvider(ctx context.Context, ws tenant.Workspace, id uuid.UUID, raw, platform string, p provider.Provider, phones []string) ([]provider.Result, error) {
	lctx, cancel := context.WithTimeout(ctx, s.cfg.ProviderTimeout)
	defer cancel()
	start := time.Now()
	results, err := p.Lookup(lctx, phones)
	if se := (*slotsError)(nil); errors.As(err, &se) {
		// The provider was not asked: the channel's status and the lookup metrics stay as they
		// are, and the database's failure (503) or the places that stayed taken (504) answer.
		return nil, se.err
	}
	if err == nil && len(results) != len(phones) {
		err = fmt.Errorf("the provider answered %d numbers for %d asked: %w", len(results), len(phones), provider.ErrBadResponse)
	}
	outcome, status := lookupOutcome(err)
	s.metrics.Lookup(platform, outcome, time.Since(start))
	if err != nil && outcome != "canceled" {
		// The cause goes to the log only: telling the caller what answered where would let a
		// channel's base_url probe the server's network.
		s.log.WarnContext(ctx, "provider lookup failed", "channel", raw, "platform", platform, "outcome", outcome, "err", err)
	}
	switch outcome {
	case "unauthorized":
		err = apperr.New(apperr.Upstream, "channel %s: the provider rejected the channel's credentials; check them and recreate the channel", raw)
	case "timeout":
		err = apperr.New(apperr.UpstreamSlow, "channel %s: the provider did not answer within %s", raw, s.cfg.ProviderTimeout)
	case "unavailable", "bad_response":
		err = apperr.New(apperr.Upstream, "channel %s: the provider could not be reached, failed, or answered something unusable", raw)
	case "canceled":
		return nil, err // the caller went away
	}
	// The request's context may be spent; the status is worth recording anyway.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer scancel()
	if serr := s.store.SetChannelStatus(sctx, ws.ID, id, status); serr != nil {
		s.log.WarnContext(ctx, "record channel status", "channel", raw, "err", serr)
	}
	if err != nil {
		return nil, err
	}
	return results, nil
}

// lookupOutcomes are the outcomes lookupOutcome names.
var lookupOutcomes = []string{"ok", "unauthorized", "timeout", "bad_response", "unavailable", "canceled"}

// lookupOutcome classifies a lookup's result for metrics and the channel's status.
func lookupOutcome(err error) (outcome, status string) {
	switch {
	case err == nil:
		return "ok", statusConnected
	case errors.Is(err, provider.ErrUnauthorized):
		return "unauthorized", statusUnauthorized
	case errors.Is(err, provider.ErrTimeout):
		return "timeout", statusUnreachable
	case errors.Is(err, provider.ErrBadResponse):
		return "bad_response", statusUnreachable
	case errors.Is(err, provider.ErrUnavailable):
		return "unavailable", statusUnreachable
	}
	return "canceled", ""
}

// leaseMargin is how long a lookup's places outlive its provider deadline: the places of a
// process that died mid-lookup come free that long after the lookup would have ended.
const leaseMargin = 2 * time.Second

// Waits between tries to take places while all are held: short at first, since a place comes
// free as soon as a lookup ends, then longer, so that waiting costs the database little.
const (
	firstSlotWait = 5 * time.Millisecond
	maxSlotWait   = 50 * time.Millisecond
)

// channelSlots returns the places of one lookup through channel raw in its provider bound
// (Provider.Concurrency requests in flight): a bound kept in the database (store.TakeChannelSlots),
// so that it holds across every server process, not per process.
func (s *Server) channelSlots(ctx context.Context, wsID, id uuid.UUID, raw string) *lookupSlots {
	gate, _ := s.slots.LoadOrStore(id, make(chan struct{}, 1))
	return &lookupSlots{s: s, ctx: ctx, raw: raw, gate: gate.(chan struct{}),
		sl: store.Slots{WorkspaceID: wsID, ChannelID: id, Holder: ids.New(), Bound: s.cfg.Provider.Concurrency}}
}

// lookupSlots are one lookup's places; it implements provider.Slots.
type lookupSlots struct {
	s   *Server
	ctx context.Context // the request's, for the log
	raw string          // the channel's id as the request wrote it
	sl  store.Slots
	// gate lets one lookup of this process at a time try the database for a channel's places:
	// while all are held, the other lookups here wait for it instead of asking too.
	gate chan struct{}
}

// slotsError is a lookup that got no place, so never asked its provider: the database failed,
// or every place stayed taken until the lookup's deadline.
type slotsError struct{ err error }

func (e *slotsError) Error() string { return "provider places of the channel: " + e.err.Error() }
func (e *slotsError) Unwrap() error { return e.err }

// Outcomes of a lookup's wait for places, as wazapin_channel_slot_wait_seconds names them.
var slotOutcomes = []string{"taken", "busy", "failed", "canceled"}

// Take takes up to want places, trying again while none is free, until ctx ends. The wait and
// how it ended go to the metrics: a channel whose lookups queue for places shows there first.
func (l *lookupSlots) Take(ctx context.Context, want int) (int, func(), error) {
	start := time.Now()
	n, err := l.wait(ctx, want)
	outcome := "taken"
	if se := (*slotsError)(nil); errors.As(err, &se) {
		outcome = "failed"
		if ae := (*apperr.Error)(nil); errors.As(se.err, &ae) && ae.Code == apperr.UpstreamSlow {
			outcome = "busy"
		}
	} else if err != nil {
		outcome = "canceled"
	}
	l.s.metrics.SlotWait(outcome, time.Since(start))
	if err != nil {
		return 0, nil, err
	}
	return n, l.give, nil
}

// wait takes up to want places, trying again while none is free, until ctx ends.
func (l *lookupSlots) wait(ctx context.Context, want int) (int, error) {
	select {
	case l.gate <- struct{}{}:
		defer func() { <-l.gate }()
	case <-ctx.Done():
		return 0, l.ended(ctx)
	}
	wait := firstSlotWait
	for {
		// The places are held until a little past the lookup's deadline, which bounds every
		// request it makes.
		lease := l.s.cfg.ProviderTimeout
		if d, ok := ctx.Deadline(); ok {
			lease = time.Until(d)
		}
		n, err := l.s.store.TakeChannelSlots(ctx, l.sl, want, lease+leaseMargin)
		switch {
		case err != nil && ctx.Err() != nil:
			return 0, l.ended(ctx)
		case err != nil:
			return 0, &slotsError{err}
		case n > 0:
			return n, nil
		}
		t := time.NewTimer(wait/2 + rand.N(wait)) // spread, so that waiters do not ask in step
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, l.ended(ctx)
		}
		wait = min(2*wait, maxSlotWait)
	}
}

// ended says why a lookup whose context ended got no place: its deadline passed with every
// place taken by other lookups (a busy channel, not an unreachable one), or its request went.
func (l *lookupSlots) ended(ctx context.Context) error {
	if ctx.Err() != context.DeadlineExceeded {
		return ctx.Err()
	}
	return &slotsError{apperr.New(apperr.UpstreamSlow,
		"channel %s: all %d of its provider places stayed taken by other lookups through it for %s; try again shortly",
		l.raw, l.sl.Bound, l.s.cfg.ProviderTimeout)}
}

// give gives the lookup's places back, also when its request has ended meanwhile. Places it
// fails to give back come free when their lease runs out.
func (l *lookupSlots) give() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), time.Second)
	defer cancel()
	if err := l.s.store.GiveChannelSlots(ctx, l.sl); err != nil {
		l.s.log.WarnContext(ctx, "give back a lookup's places in its channel's provider bound; they come free when their lease runs out", "err", err)
	}
}

// entry is one looked-up number with what the store knows of it.
type entry struct {
	result  provider.Result
	contact *uuid.UUID
	link    *api.ChannelLookupLink
}

func (e entry) wire(input string) api.ChannelLookupResult {
	r := e.result
	out := api.ChannelLookupResult{
		Input: input, PhoneNumber: r.Phone, Exists: r.Exists, Link: e.link,
		WaId: optional(r.WaID), ContactId: nullable.NewNullNullable[string](), Profile: nullable.NewNullNullable[api.ChannelLookupProfile](),
	}
	if e.contact != nil {
		out.ContactId.Set(ids.Format(ids.Contact, *e.contact))
	}
	if p := r.Profile; p != nil {
		prof := api.ChannelLookupProfile{Name: optional(p.Name), PictureUrl: optional(p.PictureURL), IsBusiness: nullable.NewNullNullable[bool]()}
		if p.IsBusiness != nil {
			prof.IsBusiness.Set(*p.IsBusiness)
		}
		out.Profile.Set(prof)
	}
	return out
}

// optional is null for an empty string.
func optional(s string) nullable.Nullable[string] {
	if s == "" {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(s)
}

func channelScope(ctx context.Context, raw string) (tenant.Workspace, uuid.UUID, error) {
	return scope(ctx, raw, ids.Channel, "channel")
}

// channelAD binds sealed credentials to their row.
func channelAD(wsID, id uuid.UUID) []byte {
	return append(wsID[:len(wsID):len(wsID)], id[:]...)
}
