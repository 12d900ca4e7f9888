// Package server implements the generated API (gen/api) on top of the generated queries (gen/db):
// one file per resource, each handler a thin translation between wire types and domain rules.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apikey"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/obs"
	"github.com/wazapin/wazapin/internal/provider"
	"github.com/wazapin/wazapin/internal/ratelimit"
	"github.com/wazapin/wazapin/internal/secretbox"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/tenant"
)

// Config is what a Server needs besides its store.
type Config struct {
	Log *slog.Logger
	// Secrets seals channel credentials; without it channels cannot be created or used.
	Secrets *secretbox.Box
	// ProviderTimeout bounds one channel lookup's calls to its provider (default 5s).
	ProviderTimeout time.Duration
	// Provider tunes the provider adapters (HTTP client, concurrency per channel).
	Provider provider.Options
	// BlockPrivateAddresses refuses channel providers and webhook endpoints on loopback, private,
	// link-local and other non-public addresses (internal/netguard), for servers whose
	// workspaces belong to parties that must not reach its network: webhook URLs that visibly
	// point there are refused when stored (422), and every connection is checked when dialled.
	BlockPrivateAddresses bool
	// DBTimeout bounds a request's wait for the database (default 5s): past it, or while the
	// database cannot be reached, the request answers 503 with Retry-After.
	DBTimeout time.Duration
	// Metrics records requests, pools, lookups and imports; by default a registry nobody reads.
	Metrics *obs.Metrics
	// RateLimit is the token bucket each API key is held to unless it has a limit of its own;
	// the zero Limit is off (a key's own limit still holds). See limitRate.
	RateLimit ratelimit.Limit
	// AuthFailureLimit is the token bucket of failed authentications of each client address;
	// the zero Limit is off. See authenticate.
	AuthFailureLimit ratelimit.Limit
	// IdempotencyTTL is how long the answer to a POST with an Idempotency-Key is kept and
	// replayed to its repeats (default 24h).
	IdempotencyTTL time.Duration
}

// Server answers the Contacts API for every workspace, stateless apart from its store.
type Server struct {
	store *store.Store
	log   *slog.Logger
	// accessLog writes the access lines: log without the request id added from the context.
	accessLog *slog.Logger
	cfg       Config
	auth      *tenant.Authenticator
	// slots holds, per channel, the gate of this process's lookups to the channel's places in
	// its provider bound (see channelSlots).
	slots sync.Map
	// draining is set once shutdown has begun (see Drain).
	draining atomic.Bool
	// running holds the workspace and Idempotency-Key of every keyed request this process is
	// serving, so that a repeat sent meanwhile answers 409 at once (see idempotent).
	running sync.Map
	ids     *obs.RequestIDs
	metrics *obs.Metrics
	// templates maps each route as Echo spells it to its template as the spec does.
	templates map[string]string
	// fieldPerms holds, by operation id, the permissions some body members need (see specOperation).
	fieldPerms map[string]map[string]apikey.Perms
	// keyBuckets and addrBuckets are the rate limits' buckets: per API key, and per client
	// address for failed authentications.
	keyBuckets  *ratelimit.Limiter[uuid.UUID]
	addrBuckets *ratelimit.Limiter[netip.Addr]
	// keyPolicy is the RateLimit-Policy of the keys held to cfg.RateLimit, made once.
	keyPolicy []string
}

var _ api.StrictServerInterface = (*Server)(nil)

// New returns a Server over st.
func New(st *store.Store, cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	accessLog := cfg.Log // access lines name their request id themselves
	cfg.Log = slog.New(requestIDHandler{cfg.Log.Handler()})
	if cfg.DBTimeout <= 0 {
		cfg.DBTimeout = 5 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = obs.NewMetrics()
	}
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.ProviderTimeout <= 0 {
		cfg.ProviderTimeout = 5 * time.Second
	}
	if cfg.Provider.Concurrency < 1 {
		cfg.Provider.Concurrency = 8
	}
	if cfg.Provider.Client == nil {
		cfg.Provider.Client = provider.NewClient(cfg.BlockPrivateAddresses)
	}
	cfg.Metrics.DeclareLookups([]string{provider.WhatsAppGateway, provider.WhatsAppBusinessAPI}, lookupOutcomes)
	cfg.Metrics.DeclareImportOutcomes(importOutcomes...)
	cfg.Metrics.DeclareSlotOutcomes(slotOutcomes...)
	st.Instrument(cfg.Metrics)
	return &Server{store: st,
		log: cfg.Log, accessLog: accessLog, cfg: cfg,
		auth:    tenant.NewAuthenticator(st, cfg.DBTimeout, cfg.Log),
		ids:     obs.NewRequestIDs(),
		metrics: cfg.Metrics, templates: map[string]string{}, fieldPerms: map[string]map[string]apikey.Perms{},
		keyBuckets:  ratelimit.New[uuid.UUID](ratelimit.Options{}),
		addrBuckets: ratelimit.New[netip.Addr](ratelimit.Options{}),
		keyPolicy:   []string{cfg.RateLimit.Policy(keyPolicyName)}}
}

// WatchKeys listens for API key revocations until ctx ends, so that a key revoked through any
// process stops working here as soon as the revocation commits. Without it a revocation takes up
// to a second.
func (s *Server) WatchKeys(ctx context.Context) { s.auth.Watch(ctx) }

// Handler returns the HTTP handler: the spec's operations, each behind the checks its declaration
// asks for (see registerOperations), and the public pages; every request observed and every error
// answered as a problem.
func (s *Server) Handler() http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.JSONSerializer = jsonBinder{}
	e.Use(s.observe)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true, LogErrorFunc: s.logPanic}))
	s.registerOperations(e)
	s.registerPublic(e)
	return e
}

func (s *Server) logPanic(c echo.Context, err error, stack []byte) error {
	route := s.routeOf(c)
	s.log.ErrorContext(c.Request().Context(), "panic", "method", methodOf(c.Request().Method), "route", route, "err", err, "stack", string(stack))
	return err
}

// scope returns the caller's workspace and the id of a path parameter written with prefix, which
// may not exist: an id of another shape answers 404 naming the noun, as an unknown one does.
func scope(ctx context.Context, raw, prefix, noun string) (tenant.Workspace, uuid.UUID, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return ws, uuid.UUID{}, err
	}
	id, ok := ids.Parse(prefix, raw)
	if !ok {
		return ws, id, apperr.NotFoundf("%s %q not found", noun, raw)
	}
	return ws, id, nil
}

// workspace returns the workspace that authenticated the request.
func workspace(ctx context.Context) (tenant.Workspace, error) {
	st := stateOf(ctx)
	if st == nil || !st.authed {
		return tenant.Workspace{}, &apperr.Error{Code: apperr.Unauthorized, Message: "missing or invalid API key"}
	}
	return st.key.Workspace, nil
}
