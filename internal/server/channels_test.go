package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/provider/providertest"
	"github.com/wazapin/wazapin/internal/server"
)

// channel registers a channel and insists it was created.
func (e *env) channel(platform api.Platform, creds json.RawMessage) api.Channel {
	e.t.Helper()
	res, err := e.c.CreateChannelWithResponse(bg, nil, api.ChannelCreate{Name: "Main number", Platform: platform, Credentials: creds})
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusCreated, res.Body)
	return res.JSON201.Data
}

// lookup asks a channel about numbers through the raw API and returns the status and the entries.
func (e *env) lookup(channelID string, link bool, numbers ...string) (int, []api.ChannelLookupResult, []byte) {
	e.t.Helper()
	res, err := e.c.LookupChannelContactsWithResponse(bg, channelID, nil, api.ChannelLookupRequest{PhoneNumbers: numbers, Link: &link})
	if err != nil {
		e.t.Fatal(err)
	}
	if res.JSON200 != nil {
		return res.StatusCode(), res.JSON200.Data, res.Body
	}
	return res.StatusCode(), nil, res.Body
}

func withCredential(t *testing.T, creds json.RawMessage, key, value string) json.RawMessage {
	var m map[string]string
	if err := json.Unmarshal(creds, &m); err != nil {
		t.Fatal(err)
	}
	m[key] = value
	b, _ := json.Marshal(m)
	return b
}

func TestChannelCRUD(t *testing.T) {
	e := newEnv(t)
	fake := providertest.NewGateway(t, providertest.Config{})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	if !strings.HasPrefix(ch.Id, "ch_") || ch.Name != "Main number" || ch.Status != api.ChannelStatusPending || !ch.StatusCheckedAt.IsNull() {
		t.Errorf("channel %+v", ch)
	}
	got, _ := e.c.GetChannelWithResponse(bg, ch.Id, nil)
	wantStatus(t, got.StatusCode(), 200, got.Body)
	list, _ := e.c.ListChannelsWithResponse(bg)
	if len(list.JSON200.Data) != 1 || list.JSON200.Data[0].Id != ch.Id {
		t.Errorf("list %s", list.Body)
	}
	del, _ := e.c.DeleteChannelWithResponse(bg, ch.Id, nil)
	wantStatus(t, del.StatusCode(), 204, del.Body)
	for _, id := range []string{ch.Id, "ch_123", "cnt_06H1HWXJT9Y619F5GCJ4072F68"} {
		got, _ = e.c.GetChannelWithResponse(bg, id, nil)
		wantStatus(t, got.StatusCode(), 404, got.Body)
	}
	del, _ = e.c.DeleteChannelWithResponse(bg, ch.Id, nil)
	wantStatus(t, del.StatusCode(), 404, del.Body)
}

func TestCreateChannelRejects(t *testing.T) {
	e := newEnv(t)
	fake := providertest.NewGateway(t, providertest.Config{})
	good := string(fake.Credentials())
	for _, tc := range []struct {
		name, body string
		fields     []string
	}{
		{"unknown platform", `{"name": "x", "platform": "telegram", "credentials": ` + good + `}`, []string{"platform"}},
		{"blank name", `{"name": " ", "platform": "whatsapp_gateway", "credentials": ` + good + `}`, []string{"name"}},
		{"no credentials", `{"name": "x", "platform": "whatsapp_gateway"}`, []string{"credentials"}},
		{"credentials not an object", `{"name": "x", "platform": "whatsapp_gateway", "credentials": "key"}`, []string{"credentials"}},
		{"bad base_url", `{"name": "x", "platform": "whatsapp_gateway", "credentials": {"base_url": "ftp://x", "api_key": "k"}}`, []string{"credentials.base_url"}},
		{"missing api_key", `{"name": "x", "platform": "whatsapp_gateway", "credentials": {"base_url": "http://127.0.0.1:1"}}`, []string{"credentials.api_key"}},
		{"typo in a key", `{"name": "x", "platform": "whatsapp_gateway", "credentials": {"base_url": "http://127.0.0.1:1", "api_key": "k", "sesion": "a"}}`, []string{"credentials.sesion"}},
		{"business api token", `{"name": "x", "platform": "whatsapp_business_api", "credentials": {"base_url": "https://bsp.example.com"}}`, []string{"credentials.access_token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("POST", "/v1/channels", []byte(tc.body))
			wantStatus(t, status, 422, body)
			if f := fields(problem(t, 422, body)); !slices.Equal(f, tc.fields) {
				t.Errorf("fields %v, want %v", f, tc.fields)
			}
		})
	}
}

func TestChannelsNeedAnEncryptionKey(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Secrets = nil })
	fake := providertest.NewGateway(t, providertest.Config{})
	res, _ := e.c.CreateChannelWithResponse(bg, nil, api.ChannelCreate{Name: "x", Platform: api.WhatsappGateway, Credentials: fake.Credentials()})
	wantStatus(t, res.StatusCode(), 503, res.Body)
	if p := problem(t, 503, res.Body); !strings.Contains(*p.Detail, "WAZAPIN_ENCRYPTION_KEY") {
		t.Errorf("the problem does not say what is missing: %s", res.Body)
	}
	var n int
	if err := e.pool.QueryRow(bg, "SELECT count(*) FROM channels").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d channels stored without a key (%v)", n, err)
	}
}

func TestChannelLookup(t *testing.T) {
	e := newEnv(t)
	fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{
		"6281234567890": {Name: "Ujang", IsBusiness: true, PictureURL: "https://pps.example.com/ujang.jpg"},
		"6281299990000": {PushName: "Siti"},
		"6281277770000": {},
	}})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	ujang := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	inputs := []string{"0812-3456-7890", "+62 812 9999 0000", "6281277770000", "+6281255550000", "+6281234567890"}
	status, got, body := e.lookup(ch.Id, false, inputs...)
	wantStatus(t, status, 200, body)
	if len(got) != len(inputs) {
		t.Fatalf("%d entries for %d inputs", len(got), len(inputs))
	}
	type want struct {
		phone, waID, name, contact string
		exists, profile, business  bool
	}
	for i, w := range []want{
		{"+6281234567890", "6281234567890", "Ujang", ujang.Id, true, true, true},
		{"+6281299990000", "6281299990000", "Siti", "", true, true, false},
		{"+6281277770000", "6281277770000", "", "", true, false, false},
		{"+6281255550000", "", "", "", false, false, false},
		{"+6281234567890", "6281234567890", "Ujang", ujang.Id, true, true, true},
	} {
		r := got[i]
		if r.Input != inputs[i] || r.PhoneNumber != w.phone || r.Exists != w.exists || orEmpty(r.WaId) != w.waID || orEmpty(r.ContactId) != w.contact || r.Link != nil {
			t.Errorf("entry %d: %s", i, mustJSON(r))
		}
		if r.Profile.IsNull() == w.profile {
			t.Errorf("entry %d: profile %s", i, mustJSON(r.Profile))
			continue
		}
		if w.profile {
			p := r.Profile.MustGet()
			if orEmpty(p.Name) != w.name || (w.business && !p.IsBusiness.MustGet()) {
				t.Errorf("entry %d: profile %s", i, mustJSON(p))
			}
		}
	}
	if m := fake.Mismatches(); len(m) > 0 {
		t.Errorf("requests off the protocol: %v", m)
	}
	// The repeated number was asked once: 4 check-exists, and 2 profile calls for each of the 3 that exist.
	if n := fake.Requests(); n != 4+3*2 {
		t.Errorf("%d provider requests, want 10", n)
	}
	if ch := e.getChannel(ch.Id); ch.Status != api.ChannelStatusConnected || ch.StatusCheckedAt.IsNull() {
		t.Errorf("channel status %s after a lookup that worked", ch.Status)
	}
}

func (e *env) getChannel(id string) api.Channel {
	e.t.Helper()
	res, err := e.c.GetChannelWithResponse(bg, id, nil)
	if err != nil || res.JSON200 == nil {
		e.t.Fatalf("get channel: %v %s", err, res.Body)
	}
	return res.JSON200.Data
}

func TestChannelLookupLinksWaIDs(t *testing.T) {
	e := newEnv(t)
	// WhatsApp ids that differ from the numbers' digits prove that resolve finds the linked
	// identity, not the phone number.
	fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{
		"6281234567890": {Name: "Ujang", WaID: "wa-ujang"},
		"6281299990000": {Name: "Siti", WaID: "wa-siti"},
		"6281277770000": {Name: "Nobody stored"},
	}})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	ujang := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	siti := e.create(api.ContactCreate{PhoneNumber: ptr("+6281299990000")})
	other := e.create(api.ContactCreate{PhoneNumber: ptr("+6281300000000")})
	// Siti's wa_id already belongs to another contact: it must stay there.
	if _, err := e.pool.Exec(bg, `INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
		SELECT workspace_id, 'wa_id', '', 'wa-siti', id FROM contacts WHERE phone_number = '+6281300000000'`); err != nil {
		t.Fatal(err)
	}
	numbers := []string{"+6281234567890", "+6281299990000", "+6281277770000", "+6281255550000"}
	status, got, body := e.lookup(ch.Id, true, numbers...)
	wantStatus(t, status, 200, body)
	wantLinks := []api.ChannelLookupLinkStatus{api.ChannelLookupLinkStatusLinked, api.ChannelLookupLinkStatusConflict, api.ChannelLookupLinkStatusNoContact, api.ChannelLookupLinkStatusNotFound}
	for i, w := range wantLinks {
		if got[i].Link == nil || got[i].Link.Status != w {
			t.Errorf("entry %d: link %s, want %s", i, mustJSON(got[i].Link), w)
		}
	}
	if l := got[1].Link; l == nil || l.OwnerContactId == nil || *l.OwnerContactId != other.Id {
		t.Errorf("the conflict does not name the owner: %s", mustJSON(l))
	}
	_, again, _ := e.lookup(ch.Id, true, numbers[0])
	if again[0].Link.Status != api.ChannelLookupLinkStatusAlreadyLinked {
		t.Errorf("second link: %s", again[0].Link.Status)
	}
	for waID, want := range map[string]string{"wa-ujang": ujang.Id, "wa-siti": other.Id} {
		r, _ := e.c.ResolveContactWithResponse(bg, nil, api.ResolveRequest{Identifiers: []api.Identifier{{Type: api.IdentifierTypeWaId, Value: waID}}})
		wantStatus(t, r.StatusCode(), 200, r.Body)
		if r.JSON200.Data.Id != want {
			t.Errorf("wa_id %s resolves to %s, want %s", waID, r.JSON200.Data.Id, want)
		}
	}
	_ = siti
}

func TestChannelLookupFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mode       providertest.Mode
		wrongKey   bool
		status     int
		detail     string
		chanStatus api.ChannelStatus
	}{
		{"provider down", providertest.Down, false, 502, "", api.ChannelStatusUnreachable},
		{"provider fails", providertest.ServerError, false, 502, "", api.ChannelStatusUnreachable},
		{"malformed answer", providertest.Malformed, false, 502, "", api.ChannelStatusUnreachable},
		{"wrong answer shape", providertest.WrongShape, false, 502, "", api.ChannelStatusUnreachable},
		{"credentials rejected", providertest.Normal, true, 502, "credentials", api.ChannelStatusUnauthorized},
		{"provider too slow", providertest.Hang, false, 504, "did not answer", api.ChannelStatusUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			fake := providertest.NewGateway(t, providertest.Config{Mode: tc.mode, Contacts: map[string]providertest.Contact{"6281234567890": {Name: "U"}}})
			creds := fake.Credentials()
			if tc.wrongKey {
				creds = withCredential(t, creds, "api_key", "not-the-key")
			}
			ch := e.channel(api.WhatsappGateway, creds)
			status, _, body := e.lookup(ch.Id, true, "+6281234567890", "+6281234567891")
			wantStatus(t, status, tc.status, body)
			p := problem(t, tc.status, body)
			if !strings.Contains(*p.Detail, ch.Id) || !strings.Contains(*p.Detail, tc.detail) {
				t.Errorf("the problem does not name the channel and the cause: %s", *p.Detail)
			}
			if got := e.getChannel(ch.Id); got.Status != tc.chanStatus {
				t.Errorf("channel status %s, want %s", got.Status, tc.chanStatus)
			}
			var links int
			if err := e.pool.QueryRow(bg, "SELECT count(*) FROM contact_identities WHERE type = 'wa_id'").Scan(&links); err != nil || links != 0 {
				t.Errorf("%d wa_ids linked by a failed lookup", links)
			}
			secret := secretOf(t, creds)
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("the credentials appear in the server log:\n%s", e.logs.String())
			}
		})
	}
}

func secretOf(t *testing.T, creds json.RawMessage) string {
	var m map[string]string
	if err := json.Unmarshal(creds, &m); err != nil {
		t.Fatal(err)
	}
	return m["api_key"] + m["access_token"]
}

func TestChannelLookupRejectsBadNumbers(t *testing.T) {
	e := newEnv(t)
	fake := providertest.NewGateway(t, providertest.Config{})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("+62812%08d", i)
	}
	for _, tc := range []struct {
		name    string
		numbers []string
		fields  []string
	}{
		{"none", []string{}, []string{"phone_numbers"}},
		{"too many", many, []string{"phone_numbers"}},
		{"invalid ones named", []string{"+6281234567890", "hello", "+62 12"}, []string{"phone_numbers[1]", "phone_numbers[2]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.lookup(ch.Id, false, tc.numbers...)
			wantStatus(t, status, 422, body)
			if f := fields(problem(t, 422, body)); !slices.Equal(f, tc.fields) {
				t.Errorf("fields %v, want %v", f, tc.fields)
			}
		})
	}
	if n := fake.Requests(); n != 0 {
		t.Errorf("%d provider requests for refused lookups", n)
	}
}

// TestChannelLookupConcurrency looks up 100 numbers against a provider that takes 50 ms per
// request: the lookup runs them side by side, but never more than 8 at once.
func TestChannelLookupConcurrency(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.ProviderTimeout = 0 })
	fake := providertest.NewGateway(t, providertest.Config{Delay: 50_000_000})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	numbers := make([]string, 100)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+62812%08d", i)
	}
	status, got, body := e.lookup(ch.Id, false, numbers...)
	wantStatus(t, status, 200, body)
	if len(got) != 100 {
		t.Fatalf("%d entries", len(got))
	}
	if m := fake.MaxInFlight(); m < 2 || m > 8 {
		t.Errorf("%d requests in flight at most, want 2 to 8", m)
	}
}

func TestBusinessAPIChannel(t *testing.T) {
	e := newEnv(t)
	fake := providertest.NewBusinessAPI(t, providertest.Config{Contacts: map[string]providertest.Contact{"6281234567890": {}}})
	ch := e.channel(api.WhatsappBusinessApi, fake.Credentials())
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	status, got, body := e.lookup(ch.Id, true, "081234567890", "+6281255550000")
	wantStatus(t, status, 200, body)
	if !got[0].Exists || orEmpty(got[0].WaId) != "6281234567890" || orEmpty(got[0].ContactId) != c.Id || got[0].Link.Status != api.ChannelLookupLinkStatusLinked || !got[0].Profile.IsNull() {
		t.Errorf("entry 0: %s", mustJSON(got[0]))
	}
	if got[1].Exists || !got[1].WaId.IsNull() {
		t.Errorf("entry 1: %s", mustJSON(got[1]))
	}
	if m := fake.Mismatches(); len(m) > 0 {
		t.Errorf("requests off the protocol: %v", m)
	}
	t.Run("access denied in an errors array", func(t *testing.T) {
		denied := providertest.NewBusinessAPI(t, providertest.Config{Mode: providertest.ErrorsArray, ErrorCode: 1005})
		ch := e.channel(api.WhatsappBusinessApi, denied.Credentials())
		status, _, body := e.lookup(ch.Id, false, "+6281234567890")
		wantStatus(t, status, 502, body)
		if !strings.Contains(string(body), "credentials") {
			t.Errorf("detail: %s", body)
		}
	})
}

func TestCredentialsAreNeverShown(t *testing.T) {
	e := newEnv(t)
	fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{"6281234567890": {Name: "U"}}})
	creds := fake.Credentials()
	secret := secretOf(t, creds)
	res, _ := e.c.CreateChannelWithResponse(bg, nil, api.ChannelCreate{Name: "x", Platform: api.WhatsappGateway, Credentials: creds})
	ch := res.JSON201.Data
	var bodies []string
	bodies = append(bodies, string(res.Body))
	for _, path := range []string{"/v1/channels", "/v1/channels/" + ch.Id} {
		_, b := e.do("GET", path, nil)
		bodies = append(bodies, string(b))
	}
	_, _, b := e.lookup(ch.Id, true, "+6281234567890")
	bodies = append(bodies, string(b))
	for _, b := range bodies {
		if strings.Contains(b, secret) || strings.Contains(b, "credentials") {
			t.Errorf("a response shows the credentials: %s", b)
		}
	}
	var stored []byte
	if err := e.pool.QueryRow(bg, "SELECT credentials FROM channels").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), secret) || strings.Contains(string(stored), "api_key") {
		t.Error("the credentials are stored in plain text")
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Error("the credentials appear in the log")
	}
}

func TestOtherWorkspacesChannelsAreNotFound(t *testing.T) {
	e := newEnv(t)
	fake := providertest.NewGateway(t, providertest.Config{})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	other, _ := e.workspace("Other", "ID")
	e.wantNotFoundAs(t, other.APIKey, ch.Id, []request{
		{"GET", "/v1/channels/" + ch.Id, ""},
		{"DELETE", "/v1/channels/" + ch.Id, ""},
		{"POST", "/v1/channels/" + ch.Id + "/contacts/lookup", `{"phone_numbers": ["+6281234567890"]}`},
	})
	_, body := e.do("GET", "/v1/channels", nil, "X-Api-Key", other.APIKey)
	if strings.Contains(string(body), ch.Id) {
		t.Errorf("another workspace lists the channel: %s", body)
	}
	if n := fake.Requests(); n != 0 {
		t.Errorf("another workspace reached the provider %d times", n)
	}
	e.getChannel(ch.Id) // still there
}

// request is a raw request of a table of cases; an empty body is none.
type request struct{ method, path, body string }

// wantNotFoundAs sends each request with another workspace's key and insists on a 404; id, the
// resource they are about, is written {id} in the subtests' names.
func (e *env) wantNotFoundAs(t *testing.T, key, id string, requests []request) {
	t.Helper()
	for _, r := range requests {
		t.Run(r.method+" "+strings.Replace(r.path, id, "{id}", 1), func(t *testing.T) {
			var b []byte
			if r.body != "" {
				b = []byte(r.body)
			}
			status, body := e.do(r.method, r.path, b, "X-Api-Key", key)
			wantStatus(t, status, 404, body)
		})
	}
}

func orEmpty[T any](n interface {
	IsNull() bool
	Get() (T, error)
}) T {
	v, _ := n.Get()
	return v
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestProviderAnswersAreBounded feeds the service what a provider should never send: wa_ids that
// cannot be identities and profiles far too large. Bad wa_ids fail the lookup as the provider's
// fault and link nothing; long profile text is clipped.
func TestProviderAnswersAreBounded(t *testing.T) {
	for name, waID := range map[string]string{
		"huge wa_id":          strings.Repeat("9", 10_000),
		"wa_id with NUL":      "62812\x0034",
		"wa_id with a space":  " 6281234567890",
		"wa_id too long":      strings.Repeat("1", 65),
		"wa_id of whitespace": "   ",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			fake := providertest.NewBusinessAPI(t, providertest.Config{Contacts: map[string]providertest.Contact{
				"6281234567891": {}, "6281234567890": {WaID: waID},
			}})
			ch := e.channel(api.WhatsappBusinessApi, fake.Credentials())
			e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
			e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567891")})
			status, _, body := e.lookup(ch.Id, true, "+6281234567891", "+6281234567890")
			wantStatus(t, status, 502, body)
			var links int
			if err := e.pool.QueryRow(bg, "SELECT count(*) FROM contact_identities WHERE type = 'wa_id'").Scan(&links); err != nil || links != 0 {
				t.Errorf("%d wa_ids linked by a failed lookup", links)
			}
		})
	}
	t.Run("long profile text is clipped", func(t *testing.T) {
		e := newEnv(t)
		fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{
			"6281234567890": {Name: strings.Repeat("N", 100_000), PictureURL: "https://pps.example.com/" + strings.Repeat("p", 100_000)},
		}})
		ch := e.channel(api.WhatsappGateway, fake.Credentials())
		status, got, body := e.lookup(ch.Id, false, "+6281234567890")
		wantStatus(t, status, 200, body)
		p := got[0].Profile.MustGet()
		if n := len(orEmpty(p.Name)); n != 256 || !p.PictureUrl.IsNull() {
			t.Errorf("name of %d characters, picture %v", n, p.PictureUrl)
		}
	})
}

// TestChannelConcurrencyIsSharedAcrossLookups runs four lookups through one channel at once:
// together they never have more requests in flight than one lookup may.
func TestChannelConcurrencyIsSharedAcrossLookups(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.ProviderTimeout = 0; c.Provider.Concurrency = 4 })
	fake := providertest.NewGateway(t, providertest.Config{Delay: 20_000_000})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	done := make(chan int)
	for w := range 4 {
		go func() {
			numbers := make([]string, 20)
			for i := range numbers {
				numbers[i] = fmt.Sprintf("+62812%04d%04d", w, i)
			}
			status, _, _ := e.lookup(ch.Id, false, numbers...)
			done <- status
		}()
	}
	for range 4 {
		if status := <-done; status != 200 {
			t.Errorf("status %d", status)
		}
	}
	if m := fake.MaxInFlight(); m > 4 {
		t.Errorf("%d requests in flight to one channel's provider, want at most 4", m)
	}
}

func TestUnknownChannelIsNotFoundBeforeNumbersAreChecked(t *testing.T) {
	e := newEnv(t)
	status, _, body := e.lookup("ch_06H1J37WBHVXZDYBZ1SNCCAEJC", false, "not a number")
	wantStatus(t, status, 404, body)
}

// TestChannelBoundIsKeptInTheDatabase: a channel's places (Provider.Concurrency requests in
// flight to its provider) are rows every server process on the database shares. Here the
// places another process holds are written as rows, as that process would have.
func TestChannelBoundIsKeptInTheDatabase(t *testing.T) {
	e := newEnv(t)
	wsID, _ := ids.Parse(ids.Workspace, e.ws.WorkspaceID)
	// channel makes a channel on a fake of its own, whose counts are the subtest's.
	channel := func(cfg providertest.Config) (string, *providertest.FakeGateway) {
		fake := providertest.NewGateway(t, cfg)
		return e.channel(api.WhatsappGateway, fake.Credentials()).Id, fake
	}
	// held gives places 1 to n of a channel to a lookup of another process, until lease ends.
	held := func(channelID string, n int, lease time.Duration) {
		t.Helper()
		chID, _ := ids.Parse(ids.Channel, channelID)
		_, err := e.pool.Exec(bg, `INSERT INTO channel_slots (workspace_id, channel_id, slot, holder, expires_at)
			SELECT $1, $2, i, $3, now() + $4 * interval '1 millisecond' FROM generate_series(1, $5::int) AS i`,
			wsID, chID, uuid.New(), lease.Milliseconds(), n)
		if err != nil {
			t.Fatal(err)
		}
	}
	numbers := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("+62813%08d", i)
		}
		return out
	}
	// taken counts the places held: a place given back keeps its row, free.
	taken := func() int { return e.count("channel_slots WHERE expires_at > now()") }
	// waited is a series of the lookups' waits for places by outcome: "count" or "sum" (seconds).
	waited := func(series, outcome string) float64 {
		return e.metric(fmt.Sprintf("wazapin_channel_slot_wait_seconds_%s{outcome=%q}", series, outcome))
	}

	t.Run("a lookup gives its places back, also when the provider fails", func(t *testing.T) {
		takenBefore := waited("count", "taken")
		ok, _ := channel(providertest.Config{})
		status, _, body := e.lookup(ok, false, numbers(20)...)
		wantStatus(t, status, 200, body)
		failing, _ := channel(providertest.Config{Mode: providertest.ServerError})
		status, _, body = e.lookup(failing, false, numbers(20)...)
		wantStatus(t, status, 502, body)
		if n := taken(); n != 0 {
			t.Errorf("%d places still held after the lookups ended", n)
		}
		if n := waited("count", "taken") - takenBefore; n != 2 {
			t.Errorf("the metrics count %v lookups that took places, want 2", n)
		}
	})
	t.Run("places held elsewhere leave a lookup the rest", func(t *testing.T) {
		ch, fake := channel(providertest.Config{Delay: 20 * time.Millisecond})
		held(ch, 6, time.Minute)
		status, _, body := e.lookup(ch, false, numbers(20)...)
		wantStatus(t, status, 200, body)
		if m := fake.MaxInFlight(); m != 2 {
			t.Errorf("%d requests in flight at most, want the 2 places of 8 left", m)
		}
		if n := taken(); n != 6 {
			t.Errorf("%d places held after the lookup, want the other process's 6", n)
		}
	})
	t.Run("with every place held past the deadline the lookup answers 504 without asking", func(t *testing.T) {
		ch, fake := channel(providertest.Config{})
		held(ch, 8, time.Minute)
		busyBefore := waited("count", "busy")
		status, _, body := e.lookup(ch, false, numbers(3)...)
		wantStatus(t, status, 504, body)
		if p := problem(t, 504, body); p.Detail == nil || !strings.Contains(*p.Detail, "all 8 of its provider places stayed taken") {
			t.Errorf("detail %v, want one saying the places stayed taken", p.Detail)
		}
		if n := fake.Requests(); n != 0 {
			t.Errorf("%d provider requests without a place", n)
		}
		if n := waited("count", "busy") - busyBefore; n != 1 {
			t.Errorf("the metrics count %v lookups that found every place taken, want 1", n)
		}
		// A busy channel is not an unreachable one.
		if got := e.getChannel(ch).Status; got != api.ChannelStatusPending {
			t.Errorf("channel status %s, want it untouched (pending)", got)
		}
	})
	t.Run("the places of a process that died come free when their lease ends", func(t *testing.T) {
		ch, _ := channel(providertest.Config{})
		held(ch, 8, 200*time.Millisecond)
		waitedBefore := waited("sum", "taken")
		start := time.Now()
		status, _, body := e.lookup(ch, false, numbers(3)...)
		wantStatus(t, status, 200, body)
		if waited := time.Since(start); waited < 150*time.Millisecond {
			t.Errorf("answered after %s, before the leases ended", waited)
		}
		if w := waited("sum", "taken") - waitedBefore; w < 0.15 {
			t.Errorf("the metrics say the lookup waited %.3fs for its places, want the leases' 0.2s or about", w)
		}
	})
	t.Run("a deleted channel takes its places with it", func(t *testing.T) {
		ch, _ := channel(providertest.Config{})
		held(ch, 3, time.Minute)
		before := e.count("channel_slots")
		res, err := e.c.DeleteChannelWithResponse(bg, ch, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.StatusCode(), 204, res.Body)
		if n := e.count("channel_slots"); n != before-3 {
			t.Errorf("%d places left, want %d", n, before-3)
		}
	})
}
