package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apikey"
)

// unmatched names, in logs and metrics, a request that matched no route.
const unmatched = "unmatched"

// specOperations reads from the embedded spec what each operation declares: its path, whether it
// needs an API key (`security: []` says it does not), what its parameters must be, the
// permissions its key must hold (x-permissions) and what it costs of the key's rate limit
// (x-rate-cost).
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
			so := specOperation{path: path, public: len(security) == 0, params: rules}
			if so.perms, err = permsOf(op.Extensions); err != nil {
				return nil, fmt.Errorf("%s: %w", op.OperationID, err)
			}
			if !so.public && so.perms == 0 {
				return nil, fmt.Errorf("%s needs an API key but declares no x-permissions", op.OperationID)
			}
			if so.fieldPerms, err = fieldPermsOf(op.RequestBody); err != nil {
				return nil, fmt.Errorf("%s: %w", op.OperationID, err)
			}
			if so.cost, err = costOf(op.Extensions); err != nil {
				return nil, fmt.Errorf("%s: %w", op.OperationID, err)
			}
			if so.public && so.cost != 1 {
				return nil, fmt.Errorf("%s needs no API key, so no rate limit, but declares x-rate-cost", op.OperationID)
			}
			ops[op.OperationID] = so
		}
	}
	return ops, nil
}

type specOperation struct {
	path   string
	public bool
	params map[string]string // parameter name → what it must be (paramRule)
	// perms is what the API key must hold (x-permissions).
	perms apikey.Perms
	// fieldPerms is what the key must hold besides when a body member is set (x-permissions on
	// a property of the body's schema), by member name.
	fieldPerms map[string]apikey.Perms
	// cost is what a request takes from its key's rate limit, in requests (x-rate-cost; 1 unless
	// declared).
	cost int
}

// maxRateCost bounds x-rate-cost: an operation no key's burst could ever pay for is a typo.
const maxRateCost = 1000

// costOf reads an x-rate-cost extension: what a request costs of its key's rate limit.
func costOf(ext map[string]any) (int, error) {
	raw, ok := ext["x-rate-cost"]
	if !ok {
		return 1, nil
	}
	// The loader reads YAML numbers as float64.
	f, ok := raw.(float64)
	if !ok || f != math.Trunc(f) || f < 1 || f > maxRateCost {
		return 0, fmt.Errorf("x-rate-cost must be a whole number from 1 to %d, not %v", maxRateCost, raw)
	}
	return int(f), nil
}

// permsOf reads an x-permissions extension: the permissions a key must hold.
func permsOf(ext map[string]any) (apikey.Perms, error) {
	raw, ok := ext["x-permissions"]
	if !ok {
		return 0, nil
	}
	list, ok := raw.([]any)
	names := make([]string, len(list))
	for i, v := range list {
		if names[i], ok = v.(string); !ok {
			break
		}
	}
	if !ok || len(names) == 0 {
		return 0, fmt.Errorf("x-permissions must be a list of permission names, not %v", raw)
	}
	return apikey.ParsePerms(names)
}

// fieldPermsOf reads the x-permissions of the top-level members of a JSON request body.
func fieldPermsOf(body *openapi3.RequestBodyRef) (map[string]apikey.Perms, error) {
	if body == nil || body.Value == nil {
		return nil, nil
	}
	mt := body.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil, nil
	}
	var out map[string]apikey.Perms
	for name, prop := range mt.Schema.Value.Properties {
		p, err := permsOf(prop.Value.Extensions)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if p != 0 {
			if out == nil {
				out = map[string]apikey.Perms{}
			}
			out[name] = p
		}
	}
	return out, nil
}

// echoPath is a spec path as Echo's router writes it: /v1/contacts/:contactID.
func echoPath(specPath string) string {
	return strings.NewReplacer("{", ":", "}", "").Replace(specPath)
}

// registerOperations adds every operation of the spec to e with the middleware its declaration
// asks for, in this order: the body limit that applies to it, unless the operation is public
// authentication, the key's rate limit and its permissions, the consistency token of a write's
// answer when the server reads from replicas, Idempotency-Key when the operation declares the
// header, the checks of its body and parameters, the deadline of its work, and where a read
// goes (an operation that declares Wazapin-Consistency reads, and may read a replica).
// Unknown routes and the public pages outside the spec pass none of these: a 404 is answered
// before any key is asked for.
func (s *Server) registerOperations(e *echo.Echo) {
	ops, err := specOperations()
	if err != nil {
		panic("the embedded spec does not load or declares what the server cannot enforce: " + err.Error()) // every test that starts a server meets it
	}
	mw := map[string][]echo.MiddlewareFunc{}
	for id, op := range ops {
		limit, body := jsonBodyLimit, checkBody
		if id == importOperation {
			limit, body = importBodyLimit, checkNDJSON
		}
		m := []echo.MiddlewareFunc{limitBody(limit)}
		if !op.public {
			m = append(m, s.authenticate, s.limitRate(op.cost), permit(op.perms))
		}
		if op.fieldPerms != nil {
			s.fieldPerms[id] = op.fieldPerms
		}
		_, reads := op.params[consistencyHeader]
		if !op.public && !reads && s.store.Replicated() {
			// Outside idempotent, whose answer is written once its transaction commits.
			m = append(m, s.tokens)
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
		if reads {
			m = append(m, s.readsFrom)
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
