package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/internal/apperr"
)

// checkBody reads a request body (already bounded by the body limit) and refuses, before any
// handler sees it, what JSON decoding would silently alter or PostgreSQL cannot store: bytes that
// are not UTF-8 (decoding would replace them) and the NUL character (text and jsonb reject it).
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
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			var tooLarge *errBodyTooLarge
			if errors.As(err, &tooLarge) {
				return tooLarge
			}
			return echo.NewHTTPError(http.StatusBadRequest, "the body could not be read").SetInternal(err)
		}
		if !utf8.Valid(body) {
			return echo.NewHTTPError(http.StatusBadRequest, "the body is not valid UTF-8")
		}
		if hasNULEscape(body) {
			return &apperr.Error{Code: apperr.Invalid, Message: `text must not contain the NUL character (\u0000)`}
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

// jsonBinder decodes request bodies for the generated handlers. Unlike Echo's streaming decoder
// it refuses data after the JSON value, and it decodes the bytes checkBody already read.
type jsonBinder struct{ echo.DefaultJSONSerializer }

func (jsonBinder) Deserialize(c echo.Context, v any) error {
	body, ok := c.Get(bodyKey).([]byte)
	if !ok {
		var err error
		if body, err = io.ReadAll(c.Request().Body); err != nil {
			return err
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON").SetInternal(err)
	}
	return nil
}

// isMediaType tells whether a Content-Type is the media type want (with any parameters).
func isMediaType(ct, want string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == want
}

// hasNULEscape tells whether JSON text holds the escape \u0000 (a backslash that is itself
// escaped, as in \\u0000, does not count).
func hasNULEscape(b []byte) bool {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(`u0000`))
		if j < 0 {
			return false
		}
		k := i + j // index of 'u'
		slashes := 0
		for p := k - 1; p >= 0 && b[p] == '\\'; p-- {
			slashes++
		}
		if slashes%2 == 1 {
			return true
		}
		i = k + 1
	}
}

// checkParams refuses path and query parameters that are not UTF-8 text or hold a NUL, naming the
// parameter, before they reach a query.
func checkParams(next echo.HandlerFunc) echo.HandlerFunc {
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
		return next(c)
	}
}

func cleanText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// timeInRange tells whether t, in UTC, has a year that RFC 3339 can write and clients can read.
func timeInRange(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}
