package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/obs"
	"github.com/wazapin/wazapin/internal/store"
)

// idempotencyHeader is the header that makes a retry of a POST safe (IdempotencyKey in
// openapi.yaml); every operation that declares it runs behind idempotent.
const idempotencyHeader = "Idempotency-Key"

// maxIdempotencyKey bounds a key's length.
const maxIdempotencyKey = 255

// sealedAnswers are the operations whose answers hold a secret shown once (a webhook endpoint's
// signing secret, an API key): their stored answers are sealed with WAZAPIN_ENCRYPTION_KEY, so
// the database never holds them in the clear. Without that key such a request with an
// Idempotency-Key answers 503 before it runs.
var sealedAnswers = map[string]bool{"createWebhookEndpoint": true, "rotateWebhookEndpointSecret": true, "createApiKey": true}

// idempotent makes a POST sent with an Idempotency-Key safe to retry (see IdempotencyKey in
// openapi.yaml). The first request with a key runs with a claim in its context: its writes stay
// in one open transaction (store.Claim), its answer is held back, and a 2xx or 3xx is stored in
// that transaction, committed, and only then sent; anything else rolls the changes back. A
// request that wrote nothing (one that only reads) is answered as it is, and nothing is kept. A
// repeat of the request gets the stored answer; one of another request 422; one while a request
// with the key is running in this process, or holds the key's lock in another, 409. A request
// without the header costs nothing here: no query, no buffering.
func (s *Server) idempotent(operation string) echo.MiddlewareFunc {
	seal := sealedAnswers[operation]
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			keys, sent := req.Header[idempotencyHeader]
			if !sent {
				return next(c)
			}
			if len(keys) != 1 {
				return apperr.BadParam(idempotencyHeader, "must be given once")
			}
			key := keys[0]
			if !obs.VisibleASCII(key, maxIdempotencyKey) {
				return apperr.BadParam(idempotencyHeader, "must be 1 to 255 visible ASCII characters")
			}
			if seal && s.cfg.Secrets == nil {
				return errNoSecrets
			}
			ws, err := workspace(req.Context())
			if err != nil {
				return err
			}
			running := ws.ID.String() + key
			if _, busy := s.running.LoadOrStore(running, struct{}{}); busy {
				return keyInUse(c)
			}
			defer s.running.Delete(running)

			r := &keyedRequest{s: s, c: c, ws: ws.ID, key: key, seal: seal, fp: sha256.New()}
			r.fp.Write([]byte(req.Method + " " + req.URL.RequestURI() + "\n"))
			if body := req.Body; body != nil && body != http.NoBody {
				req.Body = &hashedBody{ReadCloser: body, h: r.fp}
				defer func() { req.Body = body }() // as the body limit left it, for a 413's drain
			}
			a, ok, err := r.lookUp()
			switch {
			case err != nil:
				return err
			case ok:
				return r.replay(a)
			}
			return r.run(next)
		}
	}
}

// keyedRequest is one request with an Idempotency-Key.
type keyedRequest struct {
	s    *Server
	c    echo.Context
	ws   uuid.UUID
	key  string
	seal bool
	fp   hash.Hash // of the method, the path with its query, and the body as read
}

// run serves the request with its claim, keeps its answer when it changed something, and sends
// it.
func (r *keyedRequest) run(next echo.HandlerFunc) error {
	c, req, res := r.c, r.c.Request(), r.c.Response()
	claim := store.NewClaim(r.ws, r.key)
	held, w := &heldResponse{header: http.Header{}}, res.Writer
	defer func() { // also after a panic, which the recovery answers
		claim.Rollback(req.Context())
		res.Writer = w
		c.SetRequest(req)
	}()
	c.SetRequest(req.WithContext(store.WithClaim(req.Context(), claim)))
	res.Writer = held
	err := next(c)
	res.Writer = w
	c.SetRequest(req) // the handler's has a deadline that has passed
	switch {
	case claim.Busy(): // another request holds the key's lock
		r.unsend()
		return keyInUse(c)
	case err != nil:
		claim.Rollback(req.Context())
		r.unsend()
		if a, ok := r.answeredMeanwhile(claim); ok {
			return r.replay(a)
		}
		return err
	case held.status == 0 || held.status >= http.StatusBadRequest || !claim.Open():
		// A refusal written as an answer undoes what was written; a read, a dry run, changed
		// nothing: either way nothing is kept.
		claim.Rollback(req.Context())
		if held.status >= http.StatusBadRequest {
			if a, ok := r.answeredMeanwhile(claim); ok {
				r.unsend()
				return r.replay(a)
			}
		}
		return held.send(w)
	}
	switch err := r.commit(claim, held); {
	case errors.Is(err, store.ErrAnswered):
		r.unsend()
		a, ok, err := r.lookUp()
		if err != nil {
			return err
		}
		if !ok { // expired at once: only a TTL shorter than the request can do that
			return keyInUse(c)
		}
		return r.replay(a)
	case err != nil:
		r.unsend()
		return err
	}
	return held.send(w)
}

// commit commits the request's changes with its answer, held.
func (r *keyedRequest) commit(claim *store.Claim, held *heldResponse) error {
	ctx, cancel := context.WithTimeout(r.c.Request().Context(), r.s.cfg.DBTimeout)
	defer cancel()
	if err := r.drain(); err != nil {
		return err
	}
	a := store.Answer{
		Fingerprint: r.fp.Sum(nil), Status: held.status, ContentType: held.header.Get(echo.HeaderContentType),
		Location: headerValue(held.header, echo.HeaderLocation), ETag: headerValue(held.header, "ETag"),
		Body: held.body.Bytes(), Sealed: r.seal,
	}
	if r.seal {
		if r.s.cfg.Secrets == nil {
			return errNoSecrets
		}
		a.Body = r.s.cfg.Secrets.Seal(a.Body, r.sealAD())
	}
	return claim.Commit(ctx, a, r.s.cfg.IdempotencyTTL)
}

// answeredMeanwhile finds the answer a repeat of the request stored after this one looked for
// one and before it took the key's lock, when it took it: the failure of this one may be its
// doing (a merge done already), and its answer is the one to give.
func (r *keyedRequest) answeredMeanwhile(claim *store.Claim) (store.Answer, bool) {
	if !claim.Locked() {
		return store.Answer{}, false
	}
	a, ok, err := r.lookUp()
	return a, ok && err == nil
}

// lookUp finds the answer stored for the key.
func (r *keyedRequest) lookUp() (store.Answer, bool, error) {
	ctx, cancel := context.WithTimeout(r.c.Request().Context(), r.s.cfg.DBTimeout)
	defer cancel()
	return r.s.store.IdempotentAnswer(ctx, r.ws, r.key)
}

// replay answers a, stored for the key, when the request is the one that stored it.
func (r *keyedRequest) replay(a store.Answer) error {
	if err := r.drain(); err != nil {
		return err
	}
	if !bytes.Equal(r.fp.Sum(nil), a.Fingerprint) {
		return &apperr.Error{Code: apperr.Invalid,
			Message: "Idempotency-Key was used with another request (method, path or body); use a new key for a new request",
			Fields:  []apperr.FieldError{{Field: idempotencyHeader, Message: "was used with another request; use a new key for a new request"}}}
	}
	body := a.Body
	if a.Sealed {
		var err error
		if r.s.cfg.Secrets == nil {
			return errNoSecrets
		}
		if body, err = r.s.cfg.Secrets.Open(body, r.sealAD()); err != nil {
			return apperr.New(apperr.Unavailable, "the answer kept for this Idempotency-Key cannot be opened with this server's encryption key")
		}
	}
	h := r.c.Response().Header()
	if a.ContentType != "" {
		h.Set(echo.HeaderContentType, a.ContentType)
	}
	if a.Location != nil {
		h.Set(echo.HeaderLocation, *a.Location)
	}
	if a.ETag != nil {
		h.Set("ETag", *a.ETag)
	}
	h.Set("Idempotent-Replayed", "true")
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	res := r.c.Response()
	res.WriteHeader(a.Status)
	_, err := res.Write(body)
	return err
}

// drain reads what is left of the body, for its fingerprint.
func (r *keyedRequest) drain() error {
	if b := r.c.Request().Body; b != nil {
		_, err := io.Copy(io.Discard, b)
		return err
	}
	return nil
}

// unsend forgets an answer the handler wrote and that will not be sent.
func (r *keyedRequest) unsend() {
	res := r.c.Response()
	res.Committed, res.Status, res.Size = false, 0, 0
}

// sealAD binds a sealed answer to its workspace and key.
func (r *keyedRequest) sealAD() []byte {
	return append(r.ws[:len(r.ws):len(r.ws)], r.key...)
}

// keyInUse answers 409: a request with the key is running.
func keyInUse(c echo.Context) error {
	c.Response().Header().Set("Retry-After", "1")
	return store.ErrKeyInUse
}

func headerValue(h http.Header, name string) *string {
	if v := h.Get(name); v != "" {
		return &v
	}
	return nil
}

// hashedBody feeds a request body to a hash as it is read.
type hashedBody struct {
	io.ReadCloser
	h hash.Hash
}

func (b *hashedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.h.Write(p[:n])
	return n, err
}

// heldResponse holds a handler's answer until it may be sent.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldResponse) Write(p []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return h.body.Write(p)
}

// send writes the answer held to w.
func (h *heldResponse) send(w http.ResponseWriter) error {
	if h.status == 0 {
		return nil // nothing was answered: the error handler answers
	}
	dst := w.Header()
	for k, v := range h.header {
		dst[k] = v
	}
	dst.Set(echo.HeaderContentLength, strconv.Itoa(h.body.Len()))
	w.WriteHeader(h.status)
	_, err := w.Write(h.body.Bytes())
	return err
}
