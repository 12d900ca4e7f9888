package server

import (
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/gen/api"
)

// unmatched names, in logs and metrics, a request that matched no route.
const unmatched = "unmatched"

// specOperations reads from the embedded spec what each operation declares: its path and
// whether it needs an API key (`security: []` says it does not).
func specOperations() (map[string]specOperation, error) {
	// The spec as written: the copy oapi-codegen embeds has its operation ids renamed for Go,
	// while the generated router keys per-operation middleware by the ids as written.
	spec, err := openapi3.NewLoader().LoadFromData(api.SpecYAML)
	if err != nil {
		return nil, err
	}
	ops := map[string]specOperation{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			security := spec.Security
			if op.Security != nil {
				security = *op.Security
			}
			ops[op.OperationID] = specOperation{method: method, path: path, public: len(security) == 0}
		}
	}
	return ops, nil
}

type specOperation struct {
	method, path string
	public       bool
}

// echoPath is a spec path as Echo's router writes it: /v1/contacts/:contactID.
func echoPath(specPath string) string {
	return strings.NewReplacer("{", ":", "}", "").Replace(specPath)
}

// registerOperations adds every operation of the spec to e with the middleware its declaration
// asks for, in this order: the body limit that applies to it, the input checks, then
// authentication unless the operation is public. Unknown routes and the public pages outside
// the spec pass none of these: a 404 is answered before any key is asked for.
func (s *Server) registerOperations(e *echo.Echo) {
	ops, err := specOperations()
	if err != nil {
		panic("the embedded spec does not load: " + err.Error()) // generated from a spec that loaded
	}
	mw := map[string][]echo.MiddlewareFunc{}
	for id, op := range ops {
		limit := jsonBodyLimit
		if id == importOperation {
			limit = importBodyLimit
		}
		m := []echo.MiddlewareFunc{limitBody(limit), checkBody, checkParams}
		if !op.public {
			m = append(m, s.authenticate)
		}
		mw[id] = m
		timeout := s.cfg.DBTimeout
		switch id {
		case importOperation:
			timeout = importTimeout
		case lookupOperation:
			timeout = s.cfg.ProviderTimeout + s.cfg.DBTimeout
		}
		s.templates[echoPath(op.path)] = op.path
		if timeout != s.cfg.DBTimeout {
			s.timeouts[echoPath(op.path)] = timeout
		}
	}
	api.RegisterHandlersWithOptions(e, api.NewStrictHandler(s, nil), api.RegisterHandlersOptions{OperationMiddlewares: mw})
}

// routeOf returns the template of the route c matched, in the spec's spelling
// (/v1/contacts/{contactID}): the only form of a path that logs and metrics hold, since a raw
// path carries ids and phone numbers. It also returns how long the request may take.
func (s *Server) routeOf(c echo.Context) (template string, timeout time.Duration) {
	template, ok := s.templates[c.Path()]
	if !ok {
		template = unmatched
	}
	if t, ok := s.timeouts[c.Path()]; ok {
		return template, t
	}
	return template, s.cfg.DBTimeout
}
