package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/provider"
	"github.com/wazapin/wazapin/internal/provider/providertest"
)

func TestGatewayCredentials(t *testing.T) {
	long := strings.Repeat(secret, 100)
	cases := []struct {
		name   string
		creds  string
		fields []string // nil: valid
	}{
		{"valid", `{"base_url": "https://gw.example/", "api_key": "k"}`, nil},
		{"valid with session and path", `{"base_url": "http://gw.example:3000/waha", "api_key": "k", "session": "sales_1-b"}`, nil},
		{"null session is the default", `{"base_url": "https://gw.example", "api_key": "k", "session": null}`, nil},
		{"not an object", `["https://gw.example"]`, []string{"credentials"}},
		{"null", `null`, []string{"credentials"}},
		{"empty", ``, []string{"credentials"}},
		{"trailing garbage", `{"base_url": "https://gw.example", "api_key": "k"} x`, []string{"credentials"}},
		{"empty object", `{}`, []string{"credentials.base_url", "credentials.api_key"}},
		{"base_url not http", `{"base_url": "ftp://` + secret + `.example", "api_key": "k"}`, []string{"credentials.base_url"}},
		{"base_url relative", `{"base_url": "/` + secret + `", "api_key": "k"}`, []string{"credentials.base_url"}},
		{"base_url without host", `{"base_url": "https://:80/` + secret + `", "api_key": "k"}`, []string{"credentials.base_url"}},
		{"base_url with query", `{"base_url": "https://gw.example/?token=` + secret + `", "api_key": "k"}`, []string{"credentials.base_url"}},
		{"base_url with fragment", `{"base_url": "https://gw.example/#` + secret + `", "api_key": "k"}`, []string{"credentials.base_url"}},
		{"base_url not a string", `{"base_url": 42, "api_key": "k"}`, []string{"credentials.base_url"}},
		{"api_key empty", `{"base_url": "https://gw.example", "api_key": ""}`, []string{"credentials.api_key"}},
		{"api_key too long", `{"base_url": "https://gw.example", "api_key": "` + long + `"}`, []string{"credentials.api_key"}},
		{"api_key with a newline", `{"base_url": "https://gw.example", "api_key": "` + secret + `\n"}`, []string{"credentials.api_key"}},
		{"session empty", `{"base_url": "https://gw.example", "api_key": "k", "session": ""}`, []string{"credentials.session"}},
		{"session with a space", `{"base_url": "https://gw.example", "api_key": "k", "session": "` + secret + ` 1"}`, []string{"credentials.session"}},
		{"session too long", `{"base_url": "https://gw.example", "api_key": "k", "session": "` + strings.Repeat("a", 101) + `"}`, []string{"credentials.session"}},
		{"session not a string", `{"base_url": "https://gw.example", "api_key": "k", "session": ["` + secret + `"]}`, []string{"credentials.session"}},
		{"misspelt key", `{"base_url": "https://gw.example", "apikey": "` + secret + `"}`, []string{"credentials.apikey", "credentials.api_key"}},
		{"everything wrong", `{"base_url": "gw.example", "api_key": "` + long + `", "session": "a/b", "token": "` + secret + `"}`,
			[]string{"credentials.base_url", "credentials.api_key", "credentials.session", "credentials.token"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := provider.New(provider.WhatsAppGateway, json.RawMessage(tc.creds), provider.Options{})
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

func TestGatewayLookup(t *testing.T) {
	yes, no := true, false
	fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{
		"6281111111111": {Name: "Budi Santoso", PushName: "budi", IsBusiness: true, PictureURL: "https://pps.whatsapp.net/v/1.jpg"},
		"6282222222222": {PushName: "Sari"},
		"6283333333333": {}, // on WhatsApp, but the gateway shows nothing of it
		"5511987654321": {Name: "Ana", WaID: "551187654321"},
	}})
	phones := []string{"+6283333333333", "+6284444444444", "+6281111111111", "+5511987654321", "+6282222222222"}
	want := []provider.Result{
		{Phone: "+6283333333333", Exists: true, WaID: "6283333333333"},
		{Phone: "+6284444444444"},
		{Phone: "+6281111111111", Exists: true, WaID: "6281111111111",
			Profile: &provider.Profile{Name: "Budi Santoso", PictureURL: "https://pps.whatsapp.net/v/1.jpg", IsBusiness: &yes}},
		{Phone: "+5511987654321", Exists: true, WaID: "551187654321", Profile: &provider.Profile{Name: "Ana", IsBusiness: &no}},
		{Phone: "+6282222222222", Exists: true, WaID: "6282222222222", Profile: &provider.Profile{Name: "Sari", IsBusiness: &no}},
	}

	t.Run("full, partial, hidden and missing profiles in order", func(t *testing.T) {
		got, err := newProvider(t, provider.WhatsAppGateway, fake.Credentials(), 3).Lookup(t.Context(), phones)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("results:\n got %s\nwant %s", show(got), show(want))
		}
		// Three calls per existing number, one for the missing one: profiles of numbers that
		// are not on WhatsApp are never asked for.
		if n := fake.Requests(); n != 4*3+1 {
			t.Errorf("requests = %d, want 13", n)
		}
		checkProtocol(t, fake)
	})

	t.Run("trailing slash and explicit session", func(t *testing.T) {
		fake := providertest.NewGateway(t, providertest.Config{
			Session:  "sales-2",
			Contacts: map[string]providertest.Contact{"6281111111111": {Name: "Budi"}},
		})
		creds := mustJSON(map[string]string{"base_url": fake.URL() + "/", "api_key": apiKey(t, fake.Credentials()), "session": "sales-2"})
		got, err := newProvider(t, provider.WhatsAppGateway, creds, 8).Lookup(t.Context(), []string{"+6281111111111"})
		if err != nil || len(got) != 1 || got[0].WaID != "6281111111111" || got[0].Profile.Name != "Budi" {
			t.Fatalf("Lookup = %s, %v", show(got), err)
		}
		checkProtocol(t, fake)
	})

	t.Run("no numbers", func(t *testing.T) {
		got, err := newProvider(t, provider.WhatsAppGateway, fake.Credentials(), 8).Lookup(t.Context(), nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("Lookup = %v, %v; want no results", got, err)
		}
	})
}

func TestGatewayFailures(t *testing.T) {
	contacts := map[string]providertest.Contact{"6281111111111": {Name: "Budi"}}
	phones := []string{"+6281111111111", "+6282222222222"}
	cases := []struct {
		name     string
		mode     providertest.Mode
		wrongKey bool
		timeout  time.Duration
		want     error
	}{
		{"5xx", providertest.ServerError, false, 0, provider.ErrUnavailable},
		{"wrong key", providertest.Normal, true, 0, provider.ErrUnauthorized},
		{"malformed JSON", providertest.Malformed, false, 0, provider.ErrBadResponse},
		{"wrong shape", providertest.WrongShape, false, 0, provider.ErrBadResponse},
		{"connection refused", providertest.Down, false, 0, provider.ErrUnavailable},
		{"hang past the deadline", providertest.Hang, false, 100 * time.Millisecond, provider.ErrTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := providertest.NewGateway(t, providertest.Config{Mode: tc.mode, Contacts: contacts})
			creds := fake.Credentials()
			key := apiKey(t, creds)
			if tc.wrongKey {
				key = "wrong-" + secret
				creds = mustJSON(map[string]string{"base_url": fake.URL(), "api_key": key})
			}
			ctx := t.Context()
			if tc.timeout > 0 {
				ctx = withTimeout(t, tc.timeout)
			}
			start := time.Now()
			got, err := newProvider(t, provider.WhatsAppGateway, creds, 8).Lookup(ctx, phones)
			if got != nil {
				t.Errorf("results = %s, want none with an error", show(got))
			}
			checkFailure(t, err, tc.want, key, host(fake.URL()))
			if elapsed := time.Since(start); elapsed > slowBound {
				t.Errorf("Lookup took %v", elapsed)
			}
		})
	}

	t.Run("first failure stops the rest", func(t *testing.T) {
		fake := providertest.NewGateway(t, providertest.Config{})
		creds := mustJSON(map[string]string{"base_url": fake.URL(), "api_key": "wrong"})
		_, err := newProvider(t, provider.WhatsAppGateway, creds, 4).Lookup(t.Context(), manyPhones(100))
		checkFailure(t, err, provider.ErrUnauthorized)
		// Each of the 4 workers stops at its own failure at the latest.
		if n := fake.Requests(); n > 4 {
			t.Errorf("requests = %d after the first failure, want at most 4", n)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		fake := providertest.NewGateway(t, providertest.Config{Mode: providertest.Hang})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := newProvider(t, provider.WhatsAppGateway, fake.Credentials(), 8).Lookup(ctx, phones)
		checkFailure(t, err, context.Canceled)
	})
}

// TestGatewayAnswers covers answers the fake never gives.
func TestGatewayAnswers(t *testing.T) {
	cases := []struct {
		name     string
		check    string // the check-exists answer
		contact  string // the /api/contacts answer; "" is a 404
		picture  string // the profile-picture answer; "" is a 404
		status   int    // of every answer; 0 is 200
		want     error
		wantProf *provider.Profile
	}{
		{name: "existing without chatId", check: `{"numberExists": true}`, want: provider.ErrBadResponse},
		{name: "existing with empty chatId", check: `{"numberExists": true, "chatId": "@c.us"}`, want: provider.ErrBadResponse},
		{name: "no numberExists", check: `{"chatId": "6281111111111@c.us"}`, want: provider.ErrBadResponse},
		{name: "null answer", check: `null`, want: provider.ErrBadResponse},
		{name: "array answer", check: `[]`, want: provider.ErrBadResponse},
		{name: "oversized answer", check: `{"numberExists": false, "pad": "` + strings.Repeat("x", 1<<20) + `"}`, want: provider.ErrBadResponse},
		{name: "403", status: http.StatusForbidden, want: provider.ErrUnauthorized},
		{name: "429", status: http.StatusTooManyRequests, want: provider.ErrUnavailable},
		{name: "302 is not followed", status: http.StatusFound, want: provider.ErrUnavailable},
		{name: "418", status: http.StatusTeapot, want: provider.ErrUnavailable},
		{name: "null picture and pushname only", check: `{"numberExists": true, "chatId": "6281111111111@c.us"}`,
			contact: `{"name": null, "pushname": "budi"}`, picture: `{"profilePictureURL": null}`,
			wantProf: &provider.Profile{Name: "budi"}},
		{name: "picture that is no web link is dropped", check: `{"numberExists": true, "chatId": "6281111111111@c.us"}`,
			picture: `{"profilePictureURL": "javascript:alert(1)"}`},
		{name: "contact of the wrong shape", check: `{"numberExists": true, "chatId": "6281111111111@c.us"}`,
			contact: `{"isBusiness": "yes"}`, want: provider.ErrBadResponse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := answering(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/elsewhere":
					// Following the redirect would end here, in an answer that succeeds.
					fmt.Fprint(w, `{"numberExists": false}`)
					return
				case tc.status == http.StatusFound:
					http.Redirect(w, r, "/elsewhere", tc.status)
					return
				case tc.status != 0:
					http.Error(w, "no", tc.status)
					return
				}
				body := map[string]string{
					"/api/contacts/check-exists":    tc.check,
					"/api/contacts":                 tc.contact,
					"/api/contacts/profile-picture": tc.picture,
				}[r.URL.Path]
				if body == "" {
					http.NotFound(w, r)
					return
				}
				fmt.Fprint(w, body)
			})
			creds := mustJSON(map[string]string{"base_url": base, "api_key": secret})
			got, err := newProvider(t, provider.WhatsAppGateway, creds, 8).Lookup(t.Context(), []string{"+6281111111111"})
			if tc.want != nil {
				checkFailure(t, err, tc.want, secret, host(base))
				return
			}
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if !reflect.DeepEqual(got[0].Profile, tc.wantProf) {
				t.Errorf("profile = %s, want %s", show(got[0].Profile), show(tc.wantProf))
			}
		})
	}
}

func TestGatewayConcurrency(t *testing.T) {
	phones := manyPhones(100)
	contacts := map[string]providertest.Contact{}
	for _, p := range phones[:50] {
		contacts[p[1:]] = providertest.Contact{Name: "n" + p}
	}
	fake := providertest.NewGateway(t, providertest.Config{Contacts: contacts, Delay: 20 * time.Millisecond})
	got, err := newProvider(t, provider.WhatsAppGateway, fake.Credentials(), 8).Lookup(t.Context(), phones)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	for i, r := range got {
		if r.Phone != phones[i] || r.Exists != (i < 50) {
			t.Fatalf("result %d = %s, want %s existing=%v", i, show(r), phones[i], i < 50)
		}
	}
	if n := fake.MaxInFlight(); n > 8 || n < 2 {
		t.Errorf("max in flight = %d, want 2 to 8", n)
	}
	checkProtocol(t, fake)
}

// manyPhones returns n distinct Indonesian mobile numbers.
func manyPhones(n int) []string {
	phones := make([]string, n)
	for i := range phones {
		phones[i] = fmt.Sprintf("+62812%08d", i)
	}
	return phones
}

func apiKey(t *testing.T, creds json.RawMessage) string {
	var c struct {
		APIKey      string `json:"api_key"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(creds, &c); err != nil {
		t.Fatal(err)
	}
	return c.APIKey + c.AccessToken
}

func host(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	return u.Host
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestBlockPrivateRefusesLoopback(t *testing.T) {
	fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{"6281234567890": {Name: "U"}}})
	p, err := provider.New(provider.WhatsAppGateway, fake.Credentials(), provider.Options{Client: provider.NewClient(true)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Lookup(context.Background(), []string{"+6281234567890"}); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("a loopback provider was reached: %v", err)
	}
	if fake.Requests() != 0 {
		t.Fatalf("the fake saw %d requests", fake.Requests())
	}
	open, _ := provider.New(provider.WhatsAppGateway, fake.Credentials(), provider.Options{Client: provider.NewClient(false)})
	if _, err := open.Lookup(context.Background(), []string{"+6281234567890"}); err != nil {
		t.Fatalf("without blocking: %v", err)
	}
}

// TestTransportFailuresNameTheirCause: the log must say why a provider could not be reached, in
// words that hold neither its address nor its key.
func TestTransportFailuresNameTheirCause(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	plain := answering(t, func(http.ResponseWriter, *http.Request) {})
	hangUp := answering(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	down := providertest.NewGateway(t, providertest.Config{Mode: providertest.Down}).URL()
	for _, tc := range []struct {
		name, baseURL, want string
	}{
		{"refused", down, "connection refused"},
		{"untrusted certificate", tlsSrv.URL, "certificate is not trusted"},
		{"plain HTTP spoken to as TLS", strings.Replace(plain, "http://", "https://", 1), "HTTP response to HTTPS client"},
		{"connection closed", hangUp, "closed before the answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds := mustJSON(map[string]string{"base_url": tc.baseURL, "api_key": secret})
			_, err := newProvider(t, provider.WhatsAppGateway, creds, 1).Lookup(t.Context(), []string{"+6281111111111"})
			checkFailure(t, err, provider.ErrUnavailable, secret, host(tc.baseURL))
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
