package server

import (
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/gen/api"
)

// The spec and its docs page need no key: they describe the API, they hold no workspace's data.
// They are not operations of the spec itself, which would describe itself.
var publicPaths = map[string]bool{
	"/v1/health": true, "/v1/health/ready": true,
	"/openapi.yaml": true, "/openapi.json": true,
}

// isPublic tells whether path is served without an API key.
func isPublic(path string) bool { return publicPaths[path] }

// specJSON is openapi.yaml as JSON, made once.
var specJSON = sync.OnceValues(func() ([]byte, error) {
	spec, err := api.GetSwagger()
	if err != nil {
		return nil, err
	}
	return spec.MarshalJSON()
})

// registerPublic adds the routes outside the spec: the spec itself, in both encodings.
func registerPublic(e *echo.Echo) {
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", api.SpecYAML)
	})
	e.GET("/openapi.json", func(c echo.Context) error {
		b, err := specJSON()
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
	})
}
