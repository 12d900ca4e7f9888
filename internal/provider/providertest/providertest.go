// Package providertest runs local fakes of the providers that package provider talks to. Each fake
// speaks its protocol exactly, checks every request against it, and records what was wrong, so a
// test can assert that an adapter sent exactly the right requests, and it can be told to fail in
// each way a real provider does.
//
//	fake := providertest.NewGateway(t, providertest.Config{
//		Contacts: map[string]providertest.Contact{"6281234567890": {Name: "Budi"}},
//	})
//	p, _ := provider.New(provider.WhatsAppGateway, fake.Credentials(), provider.Options{})
//	results, err := p.Lookup(ctx, []string{"+6281234567890"})
//	// fake.Mismatches() is empty when every request followed the protocol.
package providertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Contact is an account a fake knows.
type Contact struct {
	Name       string // the name saved for the account (the gateway's "name")
	PushName   string // the name the account gave itself (the gateway's "pushname")
	IsBusiness bool
	PictureURL string
	WaID       string // WhatsApp's id, when its digits differ from the number's
}

// Mode is how a fake answers requests that follow the protocol.
type Mode string

// The modes. Requests are checked and recorded in every mode but Down.
const (
	Normal      Mode = ""            // answer as the protocol says
	ServerError Mode = "5xx"         // answer 500 and 503, alternately
	Malformed   Mode = "malformed"   // answer 200 with a body that is not JSON
	WrongShape  Mode = "wrong_shape" // answer 200 with JSON that is not what the protocol says
	Down        Mode = "down"        // listen nowhere: connections are refused
	Hang        Mode = "hang"        // never answer, until the request is cancelled or the fake closed
	ErrorsArray Mode = "errors"      // business API only: answer 200 with an errors array
)

// Config sets a fake up. The zero value is a working provider that knows no numbers.
type Config struct {
	// Contacts are the numbers on WhatsApp, by their digits ("6281234567890"); others are not.
	Contacts map[string]Contact
	// Delay is waited before answering each request (less if the request is cancelled).
	Delay time.Duration
	Mode  Mode
	// Session is the gateway session the fake serves. Empty serves the adapter's default,
	// "default", and leaves the session out of Credentials.
	Session string
	// ErrorCode is the code in the business API's errors array; 0 means 1014 (internal error).
	// 1005 is "access denied".
	ErrorCode int
}

// server is what the two fakes share: the listener, the counters, the mismatch record and the
// failure modes.
type server struct {
	cfg   Config
	srv   *httptest.Server
	url   string
	serve http.HandlerFunc // the protocol's own checks and answers

	closing   chan struct{} // releases hanging requests, so Close does not wait for them
	closeOnce sync.Once

	mu          sync.Mutex
	requests    int
	inFlight    int
	maxInFlight int
	failures    int
	mismatches  []string
}

func start(tb testing.TB, cfg Config, serve http.HandlerFunc) *server {
	s := &server{cfg: cfg, serve: serve, closing: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.url = s.srv.URL
	if cfg.Mode == Down {
		s.srv.Close()
	}
	if tb != nil {
		tb.Cleanup(s.Close)
	}
	return s
}

// URL is the provider's base URL.
func (s *server) URL() string { return s.url }

// Requests is how many requests the fake has received.
func (s *server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// MaxInFlight is the most requests the fake has been handling at once.
func (s *server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// Mismatches describes every way a request broke the protocol, in the order received; it is
// empty when all requests were right.
func (s *server) Mismatches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mismatches...)
}

// Close stops the fake; hanging requests are released. It is called when the test that created
// the fake ends, and may be called more than once.
func (s *server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.Close()
	})
}

func (s *server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	if !s.wait(r.Context(), s.cfg.Delay) {
		return
	}
	s.serve(w, r)
}

// wait sleeps for d and reports whether the request is still wanted.
func (s *server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closing:
	}
	return false
}

// refuse records why r breaks the protocol and answers it with status.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, status int, format string, args ...any) {
	s.mu.Lock()
	s.mismatches = append(s.mismatches, fmt.Sprintf("%s %s: ", r.Method, r.URL.Path)+fmt.Sprintf(format, args...))
	s.mu.Unlock()
	http.Error(w, http.StatusText(status), status)
}

// respond answers a request that follows the protocol in the fake's mode; answer is how the
// protocol says to, wrongShape valid JSON that is not, errorsBody the business API's errors.
func (s *server) respond(w http.ResponseWriter, r *http.Request, answer func(), wrongShape string, errorsBody any) {
	switch s.cfg.Mode {
	case ServerError:
		s.mu.Lock()
		s.failures++
		status := http.StatusInternalServerError
		if s.failures%2 == 0 {
			status = http.StatusServiceUnavailable
		}
		s.mu.Unlock()
		http.Error(w, "fake failure", status)
	case Malformed:
		writeRaw(w, http.StatusOK, `{"numberExists": tr`)
	case WrongShape:
		writeRaw(w, http.StatusOK, wrongShape)
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
	case ErrorsArray:
		if errorsBody != nil {
			writeJSON(w, http.StatusOK, errorsBody)
			return
		}
		answer()
	default:
		answer()
	}
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the fake's own answers always encode
	}
	writeRaw(w, status, string(b))
}

func credentials(v map[string]string) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
