package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/gen/api"
)

// unmatched names, in logs and metrics, a request that matched no route.
const unmatched = "unmatched"

// specOperations reads from the embedded spec what each operation declares: its path, whether it
// needs an API key (`security: []` says it does not) and what its parameters must be.
func specOperations() (map[string]specOperation, error) {
	// The spec as written: the copy oapi-codegen embeds has its operation ids renamed for Go,
	// while the generated router keys per-operation middleware by the ids as written.
	spec, err := openapi3.NewLoader().LoadFromData(api.SpecYAML)
	if err != nil {
		return nil, err
	}
	ops := map[string]specOperation{}
	for path, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			security := spec.Security
			if op.Security != nil {
				security = *op.Security
			}
			rules := map[string]string{}
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if p.Value != nil && p.Value.Schema != nil {
					rules[p.Value.Name] = paramRule(p.Value.Schema.Value)
				}
			}
			ops[op.OperationID] = specOperation{path: path, public: len(security) == 0, params: rules}
		}
	}
	return ops, nil
}

type specOperation struct {
	path   string
	public bool
	params map[string]string // parameter name → what it must be (paramRule)
}

// echoPath is a spec path as Echo's router writes it: /v1/contacts/:contactID.
func echoPath(specPath string) string {
	return strings.NewReplacer("{", ":", "}", "").Replace(specPath)
}

// registerOperations adds every operation of the spec to e with the middleware its declaration
// asks for, in this order: the body limit that applies to it, authentication unless the operation
// is public, Idempotency-Key when it declares the header, the checks of its body and parameters,
// and the deadline of its work. Unknown routes and the public pages outside the spec pass none of
// these: a 404 is answered before any key is asked for.
func (s *Server) registerOperations(e *echo.Echo) {
	ops, err := specOperations()
	if err != nil {
		panic("the embedded spec does not load: " + err.Error()) // generated from a spec that loaded
	}
	mw := map[string][]echo.MiddlewareFunc{}
	for id, op := range ops {
		limit, body := jsonBodyLimit, checkBody
		if id == importOperation {
			limit, body = importBodyLimit, checkNDJSON
		}
		m := []echo.MiddlewareFunc{limitBody(limit)}
		if !op.public {
			m = append(m, s.authenticate)
		}
		if _, ok := op.params[idempotencyHeader]; ok {
			// Before the body is read: it hashes the body as it goes.
			m = append(m, s.idempotent(id))
		}
		m = append(m, body, checkParams(op.params))
		switch id {
		case importOperation:
			// An import reads its body as it goes; it sets its deadline once it has (importTimeout).
		case lookupOperation:
			m = append(m, deadline(s.cfg.ProviderTimeout+s.cfg.DBTimeout))
		default:
			m = append(m, deadline(s.cfg.DBTimeout))
		}
		mw[id] = m
		s.templates[echoPath(op.path)] = op.path
	}
	api.RegisterHandlersWithOptions(e, api.NewStrictHandler(s, nil), api.RegisterHandlersOptions{OperationMiddlewares: mw})
}

// deadline bounds a request's work once its body is in, so that a database that does not answer
// makes it a 503 within d rather than a hang. A slow upload is bounded by the server's ReadTimeout
// instead, and is not mistaken for a slow database.
func deadline(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// routeOf returns the template of the route c matched, in the spec's spelling
// (/v1/contacts/{contactID}): the only form of a path that logs and metrics hold, since a raw
// path carries ids and phone numbers.
func (s *Server) routeOf(c echo.Context) string {
	if template, ok := s.templates[c.Path()]; ok {
		return template
	}
	return unmatched
}

// methodOf is the request's method for logs and metrics: one of the standard ones, or _OTHER
// (as OpenTelemetry names it), since a client may send any token and each would be a new series.
func methodOf(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}
