package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
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
	slots    Slots
}

func newEndpoint(opts Options, platform string, header http.Header) endpoint {
	// Redirects are handed back as unexpected statuses instead of being followed: Go forwards a
	// custom header such as X-Api-Key to wherever a redirect points, even another host.
	c := *opts.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return endpoint{client: &c, platform: platform, header: header, slots: opts.Slots}
}

// take takes places for want requests at once in the channel's shared bound, when it has one,
// and returns how many requests the lookup may have in flight and the function that gives the
// places back. The bound's own errors are returned as they are; its context's, worded like a
// request's.
func (e endpoint) take(ctx context.Context, want int) (int, func(), error) {
	if e.slots == nil || want < 1 {
		return want, func() {}, nil
	}
	n, give, err := e.slots.Take(ctx, want)
	switch {
	case err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return 0, nil, e.transportError(ctx, "waiting for a place in the channel's bound", err)
	case err != nil:
		return 0, nil, err
	}
	return n, give, nil
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
	resp, err := e.client.Do(req)
	if err != nil {
		return e.transportError(ctx, step, err)
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
		return e.transportError(ctx, step, err)
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
// it is done, that is the reason, whatever the transport reports. Otherwise the transport's
// cause is named for the log (see causeOf).
func (e endpoint) transportError(ctx context.Context, step string, cause error) error {
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return e.fail(step, "no answer before the deadline", ErrTimeout)
	case context.Canceled:
		return e.fail(step, "lookup cancelled", context.Canceled)
	}
	return e.fail(step, "request failed: "+causeOf(cause), ErrUnavailable)
}

// causeOf says why a request got no answer (refused, DNS, TLS, reset, timeout) in words that
// hold no host, address or URL: Go's network errors name them, and the base_url they come from
// is a credential.
func causeOf(err error) string {
	var (
		dnsErr   *net.DNSError
		errno    syscall.Errno
		opErr    *net.OpError
		certErr  *tls.CertificateVerificationError
		hostErr  x509.HostnameError
		authErr  x509.UnknownAuthorityError
		recErr   tls.RecordHeaderError
		netErr   net.Error
		maxBytes *http.MaxBytesError
	)
	switch {
	case errors.As(err, &dnsErr):
		return "DNS lookup failed: " + dnsErr.Err
	case errors.As(err, &errno):
		op := "network"
		if errors.As(err, &opErr) {
			op = opErr.Op
		}
		return op + ": " + errno.Error()
	case errors.As(err, &hostErr):
		return "TLS: the certificate is not valid for the provider's host name"
	case errors.As(err, &authErr), errors.As(err, &certErr):
		return "TLS: the provider's certificate is not trusted"
	case errors.As(err, &recErr):
		return "TLS: the provider does not speak TLS"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection closed before the answer"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "network timeout"
	case errors.As(err, &maxBytes):
		return "answer too large"
	}
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		err = u
	}
	if fmt.Sprintf("%T", err) == "*errors.errorString" {
		// A fixed message (net/http's "server gave HTTP response to HTTPS client"); the errors
		// that name addresses are the net package's types, handled above.
		return err.Error()
	}
	return fmt.Sprintf("transport error (%T)", err)
}
