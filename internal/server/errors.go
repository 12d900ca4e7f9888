package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/wire"
)

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[apperr.Code]int{
	apperr.Internal:     http.StatusInternalServerError,
	apperr.BadRequest:   http.StatusBadRequest,
	apperr.Invalid:      http.StatusUnprocessableEntity,
	apperr.NotFound:     http.StatusNotFound,
	apperr.Conflict:     http.StatusConflict,
	apperr.Unauthorized: http.StatusUnauthorized,
	apperr.Unavailable:  http.StatusServiceUnavailable,
	apperr.Upstream:     http.StatusBadGateway,
	apperr.UpstreamSlow: http.StatusGatewayTimeout,
	apperr.TooLarge:     http.StatusRequestEntityTooLarge,
	apperr.Gone:         http.StatusGone,
	apperr.Precondition: http.StatusPreconditionFailed,
	apperr.Forbidden:    http.StatusForbidden,
	apperr.RateLimited:  http.StatusTooManyRequests,
}

// handleError answers every error, from a handler, the binder, the router or a panic, as an RFC
// 9457 problem carrying the request's id. Unexpected errors are logged with their cause and never
// shown. A request whose client has gone is not answered: nobody would read it.
func (s *Server) handleError(err error, c echo.Context) {
	st := stateOf(c.Request().Context())
	p := problemOf(err)
	if st != nil && st.clientGone() {
		st.gone = true
		if p.Status == http.StatusInternalServerError && !errors.Is(err, context.Canceled) {
			s.logFailure(c, slog.LevelError, p.Status, err) // a fault, whoever was waiting for it
		}
		hangUp(c)
		return
	}
	if c.Response().Committed {
		return
	}
	if st != nil {
		p.RequestId = &st.id
	}
	h := c.Response().Header()
	switch p.Status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	case http.StatusRequestEntityTooLarge:
		var tooLarge *errBodyTooLarge
		errors.As(err, &tooLarge)
		drainBody(c, tooLarge)
	}
	if p.Status >= 500 && !errors.Is(err, errDraining) {
		// A 500 is a fault of this server; a 502, 503 or 504 one of what it depends on, worth a
		// warning with its cause (an outage logs one per request).
		level := slog.LevelWarn
		if p.Status == http.StatusInternalServerError {
			level = slog.LevelError
		}
		s.logFailure(c, level, p.Status, err)
	}
	h.Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(c.Response()).Encode(p)
}

// logFailure logs an answer the server could not give as asked, with its cause.
func (s *Server) logFailure(c echo.Context, level slog.Level, status int, err error) {
	s.log.LogAttrs(c.Request().Context(), level, "request failed",
		slog.String("method", methodOf(c.Request().Method)), slog.String("route", s.routeOf(c)), slog.Int("status", status), slog.Any("err", err))
}

// hangUp closes the connection without an answer. Left alone, net/http would complete the
// response with an empty 200, which a client that only half-closed would read as a success.
func hangUp(c echo.Context) {
	if conn, _, err := http.NewResponseController(c.Response().Writer).Hijack(); err == nil {
		_ = conn.Close()
	}
}

func problemOf(err error) api.Problem {
	var (
		appErr   *apperr.Error
		httpErr  *echo.HTTPError
		tooLarge *errBodyTooLarge
	)
	switch {
	case errors.As(err, &appErr):
		p := problem(statusOf[appErr.Code], appErr.Message)
		if appErr.Code == apperr.Internal {
			p.Detail = nil
		}
		if len(appErr.Fields) > 0 {
			p.Errors = ptr(fieldErrors(appErr.Fields))
		}
		if len(appErr.Candidates) > 0 {
			p.Candidates = &appErr.Candidates
		}
		if appErr.Permission != "" {
			p.Permission = &appErr.Permission
		}
		return p
	case pg.IsUnstorableText(err):
		return problem(http.StatusUnprocessableEntity, "a value contains characters that cannot be stored (such as NUL)")
	case errors.Is(err, pg.ErrContended):
		return problem(http.StatusServiceUnavailable, err.Error())
	case errors.As(err, &tooLarge):
		return problem(http.StatusRequestEntityTooLarge, tooLarge.Error())
	case errors.As(err, &httpErr):
		return problemOfHTTPError(httpErr)
	case errors.Is(err, context.DeadlineExceeded):
		return problem(http.StatusServiceUnavailable, "the database did not answer in time; try again shortly")
	case pg.Unavailable(err):
		return problem(http.StatusServiceUnavailable, "the database cannot be reached; try again shortly")
	default:
		p := problem(http.StatusInternalServerError, "")
		p.Detail = nil
		return p
	}
}

// problemOfHTTPError words the errors of Echo's router and body limit, and of the generated
// parameter binding (which checkParams words before they get here; a message of the binding that
// reaches here anyway is not shown, since it holds Go's parsing error).
func problemOfHTTPError(e *echo.HTTPError) api.Problem {
	if e == echo.ErrNotFound { // the router's: no route matched
		return problem(http.StatusNotFound, "there is no such route; the API is described at /docs")
	}
	if name, ok := bindingParam(e); ok {
		p := problem(http.StatusBadRequest, name+" has an invalid format")
		p.Errors = &[]api.FieldError{{Field: name, Message: "has an invalid format"}}
		return p
	}
	msg, _ := e.Message.(string)
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	return problem(e.Code, msg)
}

// fieldErrors is the wire form of a domain error's invalid fields.
func fieldErrors(fs []apperr.FieldError) []api.FieldError {
	return wire.Convert(fs, func(f apperr.FieldError) api.FieldError { return api.FieldError{Field: f.Field, Message: f.Message} })
}

func problem(status int, detail string) api.Problem {
	p := api.Problem{Type: "about:blank", Title: http.StatusText(status), Status: status}
	if detail != "" {
		p.Detail = &detail
	}
	return p
}

func ptr[T any](v T) *T { return &v }
