package server

import (
	"context"
	"errors"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/internal/apikey"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/tenant"
)

// authenticate resolves the request's API key (X-Api-Key, or Authorization: Bearer) to its
// workspace and permissions and puts them in the request's state, where every handler finds
// them. It runs on the operations whose spec declares a security requirement (see
// registerOperations). A missing, unknown, revoked or expired key counts against the client's
// address (Config.AuthFailureLimit), and an address over that limit is refused before its key
// is looked up.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.refuseFailingAddress(c); err != nil {
			return err
		}
		req := c.Request()
		text := req.Header.Get("X-Api-Key")
		if text == "" {
			if scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
				text = strings.TrimSpace(token)
			}
		}
		key, err := s.auth.Authenticate(req.Context(), text)
		switch {
		case errors.Is(err, tenant.ErrBadKey):
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="wazapin"`)
			return s.authFailed(c, &apperr.Error{Code: apperr.Unauthorized, Message: "missing or invalid API key: send it as X-Api-Key or Authorization: Bearer"})
		case errors.Is(err, tenant.ErrExpiredKey):
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="wazapin", error="invalid_token"`)
			return s.authFailed(c, &apperr.Error{Code: apperr.Unauthorized, Message: err.Error()})
		case err != nil:
			return err
		}
		st := stateOf(req.Context())
		st.key, st.authed = key, true
		return next(c)
	}
}

// permit lets a request through only when its key holds every permission the operation
// declares in the spec (x-permissions).
func permit(need apikey.Perms) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := require(c.Request().Context(), need); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// require answers 403 naming the first permission of need the request's key lacks.
func require(ctx context.Context, need apikey.Perms) error {
	st := stateOf(ctx)
	if st == nil || !st.authed {
		return &apperr.Error{Code: apperr.Unauthorized, Message: "missing or invalid API key"}
	}
	if lack := st.key.Perms.Missing(need); lack != "" {
		return &apperr.Error{Code: apperr.Forbidden, Permission: lack, Message: "this API key lacks the permission " + lack}
	}
	return nil
}
