// Package server implements the generated API (gen/api) on top of the generated queries (gen/db):
// one file per resource, each handler a thin translation between wire types and domain rules.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/provider"
	"github.com/wazapin/wazapin/internal/secretbox"
	"github.com/wazapin/wazapin/internal/tenant"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Config is what a Server needs besides its pool.
type Config struct {
	Log *slog.Logger
	// Secrets seals channel credentials; without it channels cannot be created or used.
	Secrets *secretbox.Box
	// ProviderTimeout bounds one channel lookup's calls to its provider (default 5s).
	ProviderTimeout time.Duration
	// Provider tunes the provider adapters (HTTP client, concurrency per channel).
	Provider provider.Options
	// CustomPlanPool, when set, runs the statements whose best plan depends on their values
	// (searches, bulk imports; see pg.CustomPlans); otherwise they share the main pool.
	CustomPlanPool *pgxpool.Pool
	// BlockPrivateProviders refuses provider addresses that are loopback, private or link-local,
	// for servers whose workspaces belong to parties that must not reach its network.
	BlockPrivateProviders bool
}

// Server answers the Contacts API for every workspace, stateless apart from its pool.
type Server struct {
	pool *pgxpool.Pool
	q    *dbq.Queries
	// planned is the pool and queries of CustomPlanPool (or the main ones).
	planned  *pgxpool.Pool
	qPlanned *dbq.Queries
	// qOneShot runs on planned too, each statement planned for its values on every execution.
	qOneShot *dbq.Queries
	log      *slog.Logger
	cfg      Config
	auth     *tenant.Authenticator
	// slots bounds, per channel, the requests in flight to its provider (see channelSlots).
	slots sync.Map
	// draining is set once shutdown has begun (see Drain).
	draining atomic.Bool
}

var _ api.StrictServerInterface = (*Server)(nil)

// New returns a Server over pool.
func New(pool *pgxpool.Pool, cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ProviderTimeout <= 0 {
		cfg.ProviderTimeout = 5 * time.Second
	}
	if cfg.Provider.Concurrency < 1 {
		cfg.Provider.Concurrency = 8
	}
	if cfg.Provider.Client == nil {
		cfg.Provider.Client = provider.NewClient(cfg.BlockPrivateProviders)
	}
	q := dbq.New(pool)
	planned := cfg.CustomPlanPool
	if planned == nil {
		planned = pool
	}
	return &Server{pool: pool, q: q, planned: planned, qPlanned: dbq.New(planned), qOneShot: dbq.New(pg.OneShot(planned)),
		log: cfg.Log, cfg: cfg,
		auth: tenant.NewAuthenticator(q, 30*time.Second)}
}

// Handler returns the HTTP handler: the generated routes behind body limits and authentication,
// with every error answered as a problem.
func (s *Server) Handler() http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.JSONSerializer = jsonBinder{}
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true, LogErrorFunc: s.logPanic}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "1M", Skipper: isImport}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: importBodyLimit, Skipper: func(c echo.Context) bool { return !isImport(c) }}))
	e.Use(checkBody)
	e.Use(checkParams)
	e.Use(s.authenticate)
	api.RegisterHandlers(e, api.NewStrictHandler(s, nil))
	registerPublic(e)
	return e
}

func isImport(c echo.Context) bool { return c.Request().URL.Path == importPath }

func (s *Server) logPanic(c echo.Context, err error, stack []byte) error {
	s.log.Error("panic", "method", c.Request().Method, "path", c.Path(), "err", err, "stack", string(stack))
	return err
}

// workspace returns the workspace that authenticated the request.
func workspace(ctx context.Context) (tenant.Workspace, error) {
	ws, ok := tenant.From(ctx)
	if !ok {
		return ws, &apperr.Error{Code: apperr.Unauthorized, Message: "missing or invalid API key"}
	}
	return ws, nil
}
