package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/provider"
	"github.com/wazapin/wazapin/internal/provider/providertest"
)

func TestBusinessAPICredentials(t *testing.T) {
	cases := []struct {
		name   string
		creds  string
		fields []string // nil: valid
	}{
		{"valid", `{"base_url": "https://waba.example/", "access_token": "t"}`, nil},
		{"long token", `{"base_url": "https://waba.example", "access_token": "` + strings.Repeat("t", 2000) + `"}`, nil},
		{"not an object", `"https://waba.example"`, []string{"credentials"}},
		{"empty object", `{}`, []string{"credentials.base_url", "credentials.access_token"}},
		{"base_url not http", `{"base_url": "mailto:` + secret + `@example.com", "access_token": "t"}`, []string{"credentials.base_url"}},
		{"base_url with query", `{"base_url": "https://waba.example?k=` + secret + `", "access_token": "t"}`, []string{"credentials.base_url"}},
		{"access_token empty", `{"base_url": "https://waba.example", "access_token": ""}`, []string{"credentials.access_token"}},
		{"access_token too long", `{"base_url": "https://waba.example", "access_token": "` + strings.Repeat(secret, 1000) + `"}`, []string{"credentials.access_token"}},
		{"access_token not a string", `{"base_url": "https://waba.example", "access_token": {"v": "` + secret + `"}}`, []string{"credentials.access_token"}},
		{"gateway key given", `{"base_url": "https://waba.example", "api_key": "` + secret + `"}`, []string{"credentials.api_key", "credentials.access_token"}},
		{"session refused", `{"base_url": "https://waba.example", "access_token": "t", "session": "default"}`, []string{"credentials.session"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := provider.New(provider.WhatsAppBusinessAPI, json.RawMessage(tc.creds), provider.Options{})
			if tc.fields == nil {
				if err != nil || p == nil {
					t.Fatalf("New = %v, %v; want a provider", p, err)
				}
				return
			}
			checkInvalid(t, err, tc.fields)
		})
	}
}

func TestBusinessAPILookup(t *testing.T) {
	contacts := map[string]providertest.Contact{
		"6281111111111": {Name: "Budi"},
		"5511987654321": {WaID: "551187654321"},
	}

	t.Run("valid and invalid numbers in order", func(t *testing.T) {
		fake := providertest.NewBusinessAPI(t, providertest.Config{Contacts: contacts})
		phones := []string{"+6282222222222", "+6281111111111", "+5511987654321"}
		got, err := newProvider(t, provider.WhatsAppBusinessAPI, fake.Credentials(), 8).Lookup(t.Context(), phones)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		want := []provider.Result{
			{Phone: "+6282222222222"},
			{Phone: "+6281111111111", Exists: true, WaID: "6281111111111"},
			{Phone: "+5511987654321", Exists: true, WaID: "551187654321"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("results:\n got %s\nwant %s", show(got), show(want))
		}
		if n := fake.Requests(); n != 1 {
			t.Errorf("requests = %d, want 1", n)
		}
		checkProtocol(t, fake)
	})

	t.Run("batches of at most 100", func(t *testing.T) {
		fake := providertest.NewBusinessAPI(t, providertest.Config{Contacts: contacts})
		phones := append(manyPhones(249), "+6281111111111")
		got, err := newProvider(t, provider.WhatsAppBusinessAPI, fake.Credentials(), 2).Lookup(t.Context(), phones)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		for i, r := range got {
			if r.Phone != phones[i] || r.Exists != (i == 249) {
				t.Fatalf("result %d = %s", i, show(r))
			}
		}
		if n := fake.Requests(); n != 3 {
			t.Errorf("requests = %d, want 3", n)
		}
		checkProtocol(t, fake) // a batch over 100 would be a mismatch
	})
}

func TestBusinessAPIFailures(t *testing.T) {
	phones := []string{"+6281111111111", "+6282222222222"}
	cases := []struct {
		name       string
		cfg        providertest.Config
		wrongToken bool
		timeout    time.Duration
		want       error
	}{
		{"5xx", providertest.Config{Mode: providertest.ServerError}, false, 0, provider.ErrUnavailable},
		{"wrong token", providertest.Config{}, true, 0, provider.ErrUnauthorized},
		{"malformed JSON", providertest.Config{Mode: providertest.Malformed}, false, 0, provider.ErrBadResponse},
		{"wrong shape", providertest.Config{Mode: providertest.WrongShape}, false, 0, provider.ErrBadResponse},
		{"connection refused", providertest.Config{Mode: providertest.Down}, false, 0, provider.ErrUnavailable},
		{"hang past the deadline", providertest.Config{Mode: providertest.Hang}, false, 100 * time.Millisecond, provider.ErrTimeout},
		{"errors array, access denied", providertest.Config{Mode: providertest.ErrorsArray, ErrorCode: 1005}, false, 0, provider.ErrUnauthorized},
		{"errors array, other code", providertest.Config{Mode: providertest.ErrorsArray}, false, 0, provider.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := providertest.NewBusinessAPI(t, tc.cfg)
			creds := fake.Credentials()
			token := apiKey(t, creds)
			if tc.wrongToken {
				token = "wrong-" + secret
				creds = mustJSON(map[string]string{"base_url": fake.URL(), "access_token": token})
			}
			ctx := t.Context()
			if tc.timeout > 0 {
				ctx = withTimeout(t, tc.timeout)
			}
			start := time.Now()
			got, err := newProvider(t, provider.WhatsAppBusinessAPI, creds, 8).Lookup(ctx, phones)
			if got != nil {
				t.Errorf("results = %s, want none with an error", show(got))
			}
			checkFailure(t, err, tc.want, token, host(fake.URL()))
			if elapsed := time.Since(start); elapsed > slowBound {
				t.Errorf("Lookup took %v", elapsed)
			}
		})
	}

	t.Run("cancelled", func(t *testing.T) {
		fake := providertest.NewBusinessAPI(t, providertest.Config{Mode: providertest.Hang})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := newProvider(t, provider.WhatsAppBusinessAPI, fake.Credentials(), 8).Lookup(ctx, phones)
		checkFailure(t, err, context.Canceled)
	})
}

// TestBusinessAPIAnswers covers answers the fake never gives.
func TestBusinessAPIAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int // 0 is 200
		body   string
		want   error // nil: +6281111111111 is valid as 6281111111111
	}{
		{"input echoed without +", 0, `{"contacts": [{"input": "6281111111111", "status": "valid", "wa_id": "6281111111111"}]}`, nil},
		{"extra and repeated entries", 0, `{"contacts": [{"input": "+6281111111111", "status": "valid", "wa_id": "6281111111111"},
			{"input": "+6281111111111", "status": "invalid"}, {"input": "+6299", "status": "valid", "wa_id": "6299"}]}`, nil},
		{"no entry for the number", 0, `{"contacts": []}`, provider.ErrBadResponse},
		{"no contacts at all", 0, `{"meta": {}}`, provider.ErrBadResponse},
		{"valid without wa_id", 0, `{"contacts": [{"input": "+6281111111111", "status": "valid"}]}`, provider.ErrBadResponse},
		{"unknown status", 0, `{"contacts": [{"input": "+6281111111111", "status": "processing"}]}`, provider.ErrBadResponse},
		{"null", 0, `null`, provider.ErrBadResponse},
		{"errors beside contacts", 0, `{"contacts": [{"input": "+6281111111111", "status": "invalid"}], "errors": [{"code": 1015, "title": "` + secret + `"}]}`, provider.ErrUnavailable},
		{"401 with errors body", http.StatusUnauthorized, `{"errors": [{"code": 1005, "title": "Access denied"}]}`, provider.ErrUnauthorized},
		{"403", http.StatusForbidden, `{}`, provider.ErrUnauthorized},
		{"429", http.StatusTooManyRequests, `{}`, provider.ErrUnavailable},
		{"404", http.StatusNotFound, `{}`, provider.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := answering(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(max(tc.status, http.StatusOK))
				fmt.Fprint(w, tc.body)
			})
			creds := mustJSON(map[string]string{"base_url": base, "access_token": secret})
			got, err := newProvider(t, provider.WhatsAppBusinessAPI, creds, 8).Lookup(t.Context(), []string{"+6281111111111"})
			if tc.want != nil {
				checkFailure(t, err, tc.want, secret, host(base))
				return
			}
			want := []provider.Result{{Phone: "+6281111111111", Exists: true, WaID: "6281111111111"}}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("Lookup = %s, %v; want %s", show(got), err, show(want))
			}
		})
	}
}

func TestBusinessAPIConcurrency(t *testing.T) {
	fake := providertest.NewBusinessAPI(t, providertest.Config{Delay: 20 * time.Millisecond})
	phones := manyPhones(1000)
	got, err := newProvider(t, provider.WhatsAppBusinessAPI, fake.Credentials(), 4).Lookup(t.Context(), phones)
	if err != nil || len(got) != len(phones) {
		t.Fatalf("Lookup = %d results, %v", len(got), err)
	}
	if n := fake.Requests(); n != 10 {
		t.Errorf("requests = %d, want 10", n)
	}
	if n := fake.MaxInFlight(); n > 4 || n < 2 {
		t.Errorf("max in flight = %d, want 2 to 4", n)
	}
	checkProtocol(t, fake)
}
