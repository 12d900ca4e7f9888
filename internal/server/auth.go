package server

import (
	"errors"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/tenant"
)

// authenticate resolves the request's API key (X-Api-Key, or Authorization: Bearer) to its
// workspace and puts that in the request's state, where every handler finds it. It runs on the
// operations whose spec declares a security requirement (see registerOperations).
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		key := req.Header.Get("X-Api-Key")
		if key == "" {
			if scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
				key = strings.TrimSpace(token)
			}
		}
		ws, err := s.auth.Authenticate(req.Context(), key)
		if errors.Is(err, tenant.ErrBadKey) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="wazapin"`)
			return &apperr.Error{Code: apperr.Unauthorized, Message: "missing or invalid API key: send it as X-Api-Key or Authorization: Bearer"}
		}
		if err != nil {
			return err
		}
		st := stateOf(req.Context())
		st.ws, st.authed = ws, true
		return next(c)
	}
}
