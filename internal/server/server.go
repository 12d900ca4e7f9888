// Package server implements the generated API (gen/api) on top of the generated queries (gen/db):
// one file per resource, each handler a thin translation between wire types and domain rules.
package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/tenant"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Server answers the Contacts API for every workspace, stateless apart from its pool.
type Server struct {
	pool *pgxpool.Pool
	q    *dbq.Queries
	log  *slog.Logger
}

var _ api.StrictServerInterface = (*Server)(nil)

// New returns a Server over pool.
func New(pool *pgxpool.Pool, log *slog.Logger) *Server {
	return &Server{pool: pool, q: dbq.New(pool), log: log}
}

// Handler returns the HTTP handler: the generated routes behind body limits and authentication,
// with every error answered as a problem.
func (s *Server) Handler() http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true, LogErrorFunc: s.logPanic}))
	e.Use(middleware.BodyLimit("1M"))
	e.Use(checkBody)
	e.Use(checkParams)
	e.Use(s.authenticate)
	api.RegisterHandlers(e, api.NewStrictHandler(s, nil))
	return e
}

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
