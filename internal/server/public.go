package server

import (
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/docs"
)

// specJSON is openapi.yaml as JSON, made once.
var specJSON = sync.OnceValues(func() ([]byte, error) {
	spec, err := api.GetSwagger()
	if err != nil {
		return nil, err
	}
	return spec.MarshalJSON()
})

// registerPublic adds the routes outside the spec, which need no key: they describe the API and
// hold no workspace's data. They are not operations of the spec, which would describe itself.
func (s *Server) registerPublic(e *echo.Echo) {
	s.publicGET(e, "/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", api.SpecYAML)
	})
	s.publicGET(e, "/openapi.json", func(c echo.Context) error {
		b, err := specJSON()
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
	})
	// The reference rendered from the spec, its files below it, and / leading to it.
	docsHandler := echo.WrapHandler(docs.Handler())
	s.publicGET(e, docs.Path, docsHandler)
	s.publicGET(e, docs.Path+"/*", func(c echo.Context) error {
		if !docs.Serves(c.Request().URL.Path) {
			return echo.ErrNotFound
		}
		return docsHandler(c)
	})
	s.publicGET(e, "/", func(c echo.Context) error { return c.Redirect(http.StatusFound, docs.Path) })
}

// publicGET adds a GET route outside the spec; logs and metrics name it by path, which holds no
// ids (Echo's spelling: a trailing * for a subtree).
func (s *Server) publicGET(e *echo.Echo, path string, h echo.HandlerFunc) {
	e.GET(path, h)
	s.templates[path] = path
}
