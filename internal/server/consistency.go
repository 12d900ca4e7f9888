package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/replica"
)

// consistencyHeader carries the consistency token: on the answer to a write, where the change
// lies in the primary's WAL; on a read, the latest such token the client had.
const consistencyHeader = "Wazapin-Consistency"

// readsFrom lets a read (an operation declaring the Wazapin-Consistency parameter) be served by
// a replica: any current one, or, with a token, one that has replayed past it (store.ReadFrom).
// It runs inside the request's deadline, which bounds the wait for a replica too.
func (s *Server) readsFrom(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var token replica.LSN
		if values := c.Request().Header.Values(consistencyHeader); len(values) > 0 {
			if len(values) > 1 {
				return apperr.BadParam(consistencyHeader, "must be given once")
			}
			var err error
			if token, err = replica.ParseLSN(values[0]); err != nil {
				return apperr.BadParam(consistencyHeader, err.Error())
			}
		}
		if !s.store.Replicated() {
			return next(c)
		}
		req := c.Request()
		c.SetRequest(req.WithContext(s.store.ReadFrom(req.Context(), token)))
		return next(c)
	}
}

// tokens gives the successful answer of a write its consistency token, read from the primary
// once the change has committed: as the answer's status is written, which a request with an
// Idempotency-Key does only after its commit (idempotent runs inside this). Only a server with
// replicas gives tokens; without, every read sees every committed write.
func (s *Server) tokens(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		w := res.Writer
		res.Writer = &tokenWriter{ResponseWriter: w, s: s, ctx: c.Request().Context()}
		defer func() { res.Writer = w }()
		return next(c)
	}
}

// tokenTimeout bounds reading the token: past it the answer goes without one.
const tokenTimeout = time.Second

type tokenWriter struct {
	http.ResponseWriter
	s       *Server
	ctx     context.Context // the request's, without the handler's deadline
	written bool
}

func (w *tokenWriter) WriteHeader(status int) {
	if !w.written && status < http.StatusBadRequest {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), tokenTimeout)
		lsn, err := w.s.store.Position(ctx)
		cancel()
		if err != nil {
			// The change has committed; its answer goes without a token, and a read that
			// follows may miss it on a replica for as long as the replica lags.
			w.s.log.WarnContext(w.ctx, "consistency token not read; the answer goes without one", "err", err)
		} else {
			w.Header().Set(consistencyHeader, lsn.String())
		}
	}
	w.written = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *tokenWriter) Write(p []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *tokenWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
