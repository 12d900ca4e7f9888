package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/internal/tenant"
)

// reqState is what the server learns about a request while serving it, kept in its context.
type reqState struct {
	id string
	// conn is the context net/http gave the request: done when the client goes away.
	conn   context.Context
	key    tenant.Key
	authed bool
	// gone is set when the client went away before an answer could be written.
	gone bool
	// draining is whether shutdown had begun when the request came: read once, so that its
	// answer (readiness, Connection: close) says one thing.
	draining bool
}

// clientGone tells whether the client closed its side of the connection mid-request. It must be
// asked before the request is answered: net/http ends that context once the handler returns.
func (st *reqState) clientGone() bool { return st.conn.Err() != nil }

type stateKey struct{}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// statusClientClosed is what logs and metrics record for a request whose client went away
// before its answer (nginx's convention); nothing is sent.
const statusClientClosed = 499

// observe gives every request its id and its state, answers its error, and
// records it: one access log line and its metrics. The line holds the route template, never the
// raw path, query string, key or body, which carry ids and personal data.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		res := c.Response()
		st := &reqState{id: s.ids.For(req.Header.Get(echo.HeaderXRequestID)), conn: req.Context(), draining: s.draining.Load()}
		h := res.Header()
		h[echo.HeaderXRequestID] = []string{st.id} // already canonical
		if st.draining {
			// A client that keeps this connection would send its next request to a server
			// about to close it.
			h[echo.HeaderConnection] = []string{"close"}
		}
		route := s.routeOf(c)
		method := methodOf(req.Method)
		ctx := context.WithValue(st.conn, stateKey{}, st)
		c.SetRequest(req.WithContext(ctx))
		s.metrics.RequestStarted()
		defer s.metrics.RequestEnded()
		if err := next(c); err != nil {
			c.Error(err)
		}
		status := res.Status
		if st.gone || (!res.Committed && st.clientGone()) {
			status = statusClientClosed
		}
		d := time.Since(start)
		s.metrics.RequestDone(method, route, status, d)
		if !s.accessLog.Enabled(ctx, slog.LevelInfo) {
			return nil
		}
		attrs := make([]slog.Attr, 0, 8)
		attrs = append(attrs,
			slog.String("request_id", st.id),
			slog.String("method", method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int64("bytes_out", res.Size))
		if st.authed {
			attrs = append(attrs, slog.String("workspace_id", st.key.Workspace.Ref))
		}
		if status == statusClientClosed {
			attrs = append(attrs, slog.String("outcome", "the client went away before the answer"))
		}
		s.accessLog.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
		return nil
	}
}

// requestIDHandler adds the request id to every record logged with a request's context, so that
// a handler's warning and the request's access line can be matched.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if st := stateOf(ctx); st != nil {
		r.AddAttrs(slog.String("request_id", st.id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
