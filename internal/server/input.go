package server

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/internal/apperr"
)

// checkBody reads a request body (already bounded by the body limit) of JSON for the binder,
// which decodes and checks it (decodeJSON); a body in another media type is refused here.
func checkBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
			return next(c)
		}
		switch ct := req.Header.Get(echo.HeaderContentType); {
		case ct == "":
			req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		case !isMediaType(ct, echo.MIMEApplicationJSON):
			return echo.NewHTTPError(http.StatusUnsupportedMediaType,
				fmt.Sprintf("the body must be JSON sent as Content-Type: application/json, not %q", ct))
		case !strings.HasPrefix(ct, echo.MIMEApplicationJSON):
			// Echo's binder knows the media type only in this spelling (not Application/JSON).
			req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			var tooLarge *errBodyTooLarge
			if errors.As(err, &tooLarge) {
				return tooLarge
			}
			return echo.NewHTTPError(http.StatusBadRequest, "the body could not be read").SetInternal(err)
		}
		c.Set(bodyKey, body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		return next(c)
	}
}

// checkNDJSON refuses an import body of another media type. Its lines are streamed and checked
// one by one by the import itself.
func checkNDJSON(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ct := c.Request().Header.Get(echo.HeaderContentType); ct != "" && !isMediaType(ct, "application/x-ndjson") {
			return echo.NewHTTPError(http.StatusUnsupportedMediaType,
				fmt.Sprintf("an import is NDJSON sent as Content-Type: application/x-ndjson, not %q", ct))
		}
		return next(c)
	}
}

// bodyKey is where checkBody leaves the body it read, for the JSON binder.
const bodyKey = "wazapin.body"

// jsonBinder decodes request bodies for the generated handlers with decodeJSON, from the bytes
// checkBody read; so every JSON body is read as strictly as openapi.yaml says, in one place.
type jsonBinder struct{ echo.DefaultJSONSerializer }

func (jsonBinder) Deserialize(c echo.Context, v any) error {
	body, ok := c.Get(bodyKey).([]byte)
	if !ok {
		var err error
		if body, err = io.ReadAll(c.Request().Body); err != nil {
			return err
		}
	}
	return decodeJSON(body, v, "body")
}

// isMediaType tells whether a Content-Type is the media type want (with any parameters).
func isMediaType(ct, want string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == want
}

// checkParams refuses path and query parameters that are not UTF-8 text or hold a NUL, naming the
// parameter, before they reach a query; and words the generated binding's refusal of a parameter
// of the wrong form as the spec declares the parameter (rules: its name → "must be an integer
// from 1 to 200"), where the binding would show Go's parsing error.
func checkParams(rules map[string]string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().URL.RawQuery != "" {
				for name, values := range c.QueryParams() {
					for _, v := range values {
						if !cleanText(v) {
							return apperr.BadParam(name, "must be UTF-8 text without NUL characters")
						}
					}
				}
			}
			values := c.ParamValues()
			for i, name := range c.ParamNames() {
				if i >= len(values) {
					break
				}
				v, err := url.PathUnescape(values[i])
				if err != nil || !cleanText(v) {
					return apperr.BadParam(name, "must be UTF-8 text without NUL characters")
				}
			}
			err := next(c)
			if name, ok := bindingParam(err); ok {
				if len(c.QueryParams()[name]) > 1 {
					return apperr.BadParam(name, "must be given once")
				}
				return apperr.BadParam(name, cmp.Or(rules[name], "has an invalid format"))
			}
			return err
		}
	}
}

// bindingParam tells whether err is the generated parameter binding's refusal, and of which
// parameter.
func bindingParam(err error) (string, bool) {
	var he *echo.HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusBadRequest {
		return "", false
	}
	msg, _ := he.Message.(string)
	if m := paramErr.FindStringSubmatch(msg); m != nil {
		return m[1], true
	}
	return "", false
}

// paramErr matches how the generated parameter binding refuses a parameter.
var paramErr = regexp.MustCompile(`^Invalid format for parameter (\w+)`)

// paramRule words what a parameter of schema s must be, for refusals of its form; "" when the
// schema says nothing a client could act on.
func paramRule(s *openapi3.Schema) string {
	switch {
	case s == nil:
	case s.Type.Is("integer") && s.Min != nil && s.Max != nil:
		return fmt.Sprintf("must be an integer from %g to %g", *s.Min, *s.Max)
	case s.Type.Is("integer"):
		return "must be an integer"
	case s.Type.Is("number"):
		return "must be a number"
	case s.Type.Is("boolean"):
		return "must be true or false"
	case s.Format == "date-time":
		return "must be a date-time as RFC 3339 writes it, such as 2025-05-20T16:20:14Z"
	case len(s.Enum) > 0:
		values := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			values[i] = fmt.Sprint(v)
		}
		return "must be one of " + strings.Join(values, ", ")
	}
	return ""
}

func cleanText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// timeInRange tells whether t, in UTC, has a year that RFC 3339 can write and clients can read.
func timeInRange(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// nameField reads a required name member: trimmed, not blank, at most max characters.
func nameField(errs *apperr.Fields, raw string, max int) string {
	name := strings.TrimSpace(raw)
	switch {
	case name == "":
		errs.Add("name", "must not be blank")
	case utf8.RuneCountInString(name) > max:
		errs.Add("name", fmt.Sprintf("must be at most %d characters", max))
	}
	return name
}
