package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// bodyLimit is the most a request body may hold, and how a 413 names it.
type bodyLimit struct {
	max  int64
	name string
}

var (
	jsonBodyLimit   = bodyLimit{max: 1 << 20, name: "the 1 MiB limit of a JSON body"}
	importBodyLimit = bodyLimit{max: 64 << 20, name: "the 64 MiB limit of an import"}
)

// maxDrain is how much of an over-limit body is read and thrown away before the 413 is sent.
// A server that answers and closes while the client is still sending makes the client's kernel
// see a reset, and most clients then report that instead of the 413; past this bound the
// connection is closed anyway, a body that large being more likely abuse than a mistake.
const maxDrain = 32 << 20

// errBodyTooLarge is a body over its limit; unread when its Content-Length said so before any
// of it was read.
type errBodyTooLarge struct {
	limit  bodyLimit
	unread bool
}

func (e *errBodyTooLarge) Error() string {
	return fmt.Sprintf("the body is larger than %s", e.limit.name)
}

// limitBody refuses a body over l: at once when its Content-Length says so, otherwise when the
// reading passes l.
func limitBody(l bodyLimit) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.ContentLength > l.max {
				return &errBodyTooLarge{limit: l, unread: true}
			}
			if req.Body != nil && req.Body != http.NoBody {
				req.Body = &limitedBody{ReadCloser: req.Body, left: l.max, limit: l}
			}
			return next(c)
		}
	}
}

// limitedBody reads at most left bytes more, then fails with errBodyTooLarge.
type limitedBody struct {
	io.ReadCloser
	left  int64
	limit bodyLimit
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, &errBodyTooLarge{limit: b.limit}
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the limit tells a body at the limit from one over it
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, &errBodyTooLarge{limit: b.limit}
	}
	return n, err
}

// drainBody reads what is left of a refused request's body, up to maxDrain, so that the answer
// reaches a client that is still sending; the connection is closed after the answer either way.
// It reads nothing when reading would not help: a client waiting for "100 Continue" has sent
// nothing yet (reading would invite the body), and a body that says it is larger than the
// bound would be cut off anyway.
func drainBody(c echo.Context, tooLarge *errBodyTooLarge) {
	c.Response().Header().Set(echo.HeaderConnection, "close")
	req := c.Request()
	body := req.Body
	if body == nil {
		return
	}
	if tooLarge != nil && tooLarge.unread &&
		(strings.EqualFold(req.Header.Get("Expect"), "100-continue") || req.ContentLength > tooLarge.limit.max+maxDrain) {
		return
	}
	if lb, ok := body.(*limitedBody); ok {
		body = lb.ReadCloser // the limit has been passed; read past it
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain))
}
