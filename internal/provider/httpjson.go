package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxBody bounds what is read of any answer: a provider is outside our control, and a lookup
// answer is a few hundred bytes per number.
const maxBody = 1 << 20

// endpoint sends one platform's requests and turns every way they can fail into one of the
// package's errors. Its messages name the platform and the step only: the URL holds the base_url
// credential and a response body may echo anything, so neither is ever put in an error.
type endpoint struct {
	client   *http.Client
	platform string      // as it reads in messages: "whatsapp gateway"
	header   http.Header // authentication and content negotiation, sent with every request
	slots    chan struct{}
}

func newEndpoint(opts Options, platform string, header http.Header) endpoint {
	// Redirects are handed back as unexpected statuses instead of being followed: Go forwards a
	// custom header such as X-Api-Key to wherever a redirect points, even another host.
	c := *opts.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return endpoint{client: &c, platform: platform, header: header, slots: opts.Slots}
}

// statusError is an answer with a non-2xx status.
type statusError struct {
	platform, step string
	code           int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: %s: answered HTTP %d: %v", e.platform, e.step, e.code, e.Unwrap())
}

func (e *statusError) Unwrap() error {
	if e.code == http.StatusUnauthorized || e.code == http.StatusForbidden {
		return ErrUnauthorized
	}
	return ErrUnavailable
}

// isNotFound reports whether err is a 404 answer, which some steps read as "nothing known".
func isNotFound(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == http.StatusNotFound
}

// fail is how every adapter error is made, so that none carries more than it should.
func (e endpoint) fail(step, what string, sentinel error) error {
	return fmt.Errorf("%s: %s: %s: %w", e.platform, step, what, sentinel)
}

// call sends one request, with body as JSON when it is not nil, and decodes a 2xx answer, which
// must be a JSON object, into out.
func (e endpoint) call(ctx context.Context, step, method, url string, body, out any) error {
	var payload io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return e.fail(step, "request could not be encoded", ErrUnavailable)
		}
		payload = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, payload)
	if err != nil {
		return e.fail(step, "request could not be built", ErrUnavailable)
	}
	for k, v := range e.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.slots != nil {
		select {
		case e.slots <- struct{}{}:
			defer func() { <-e.slots }()
		case <-ctx.Done():
			return e.transportError(ctx, step)
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return e.transportError(ctx, step)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		// Draining a little lets the connection be reused: a gateway's 404 is a normal answer.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &statusError{platform: e.platform, step: step, code: resp.StatusCode}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		return e.transportError(ctx, step)
	case len(data) > maxBody:
		return e.fail(step, "answer is larger than 1 MiB", ErrBadResponse)
	}
	// Unmarshal alone would take null for an empty object and leave out untouched.
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, out) != nil {
		return e.fail(step, "answer is not the expected JSON object", ErrBadResponse)
	}
	return nil
}

// transportError words a request that got no complete answer. The context is asked first: when
// it is done, that is the reason, whatever the transport reports.
func (e endpoint) transportError(ctx context.Context, step string) error {
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return e.fail(step, "no answer before the deadline", ErrTimeout)
	case context.Canceled:
		return e.fail(step, "lookup cancelled", context.Canceled)
	}
	return e.fail(step, "request failed", ErrUnavailable)
}
