package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/provider"
)

// secret marks credential values in tests, so any error text can be searched for a leak.
const secret = "s3cr3t"

func newProvider(t *testing.T, platform string, creds json.RawMessage, concurrency int) provider.Provider {
	t.Helper()
	p, err := provider.New(platform, creds, provider.Options{Concurrency: concurrency})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// checkInvalid asserts err is an Invalid error naming exactly fields, with no secret in its text.
func checkInvalid(t *testing.T, err error, fields []string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Invalid {
		t.Fatalf("err = %v, want an apperr Invalid error", err)
	}
	var got []string
	for _, f := range ae.Fields {
		got = append(got, f.Field)
		if strings.Contains(f.Message, secret) {
			t.Errorf("message of %s shows a credential: %q", f.Field, f.Message)
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(fields))
	if !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows a credential: %q", err)
	}
}

// checkFailure asserts err wraps want and shows none of leaks.
func checkFailure(t *testing.T, err, want error, leaks ...string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	for _, leak := range leaks {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q shows %q", err, leak)
		}
	}
}

type recorder interface{ Mismatches() []string }

func checkProtocol(t *testing.T, fake recorder) {
	t.Helper()
	for _, m := range fake.Mismatches() {
		t.Errorf("protocol mismatch: %s", m)
	}
}

// answering starts a provider that answers every request with handler, for answers the fakes
// never give.
func answering(t *testing.T, handler http.HandlerFunc) string {
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv.URL
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// slowBound is how long a lookup against a hanging provider may take once its deadline has
// passed: generous for noisy machines, far below the fake's hang, which lasts until the test ends.
const slowBound = 5 * time.Second

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
