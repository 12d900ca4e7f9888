package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/secretbox"
	"github.com/wazapin/wazapin/internal/server"
	"github.com/wazapin/wazapin/internal/servertest"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/webhooksign"
)

// endpoint creates a webhook endpoint and insists it was created.
func (e *env) endpoint(body api.WebhookEndpointCreate) api.WebhookEndpointWithSecret {
	e.t.Helper()
	res, err := e.c.CreateWebhookEndpointWithResponse(bg, nil, body)
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusCreated, res.Body)
	return res.JSON201.Data
}

func (e *env) getEndpoint(id string) api.WebhookEndpoint {
	e.t.Helper()
	res, err := e.c.GetWebhookEndpointWithResponse(bg, id, nil)
	if err != nil || res.JSON200 == nil {
		e.t.Fatalf("get endpoint: %v %s", err, res.Body)
	}
	return res.JSON200.Data
}

// keyOf reads a secret as answered and checks its form: whsec_ and the base64 of 32 bytes.
func keyOf(t *testing.T, secret string) []byte {
	t.Helper()
	key, err := webhooksign.ParseSecret(secret)
	if err != nil || len(key) != 32 {
		t.Fatalf("secret %q is not whsec_ and the base64 of 32 bytes (%v)", secret, err)
	}
	return key
}

func types(ts ...api.EventType) nullable.Nullable[[]api.EventType] {
	return nullable.NewNullableWithValue(ts)
}

func TestWebhookEndpointCRUD(t *testing.T) {
	e := newEnv(t)
	first := e.endpoint(api.WebhookEndpointCreate{
		Url: "https://hooks.example.com/wazapin", Description: ptr("  CRM sync "),
		EventTypes: types(api.EventTypeContactCreated, api.EventTypeContactDeleted),
	})
	key := keyOf(t, first.Secret)
	if !strings.HasPrefix(first.Id, "we_") || first.Url != "https://hooks.example.com/wazapin" || orEmpty(first.Description) != "CRM sync" ||
		!first.Enabled || !first.DisabledReason.IsNull() || !first.PreviousSecretExpiresAt.IsNull() ||
		!slices.Equal(first.EventTypes.MustGet(), []api.EventType{api.EventTypeContactCreated, api.EventTypeContactDeleted}) {
		t.Errorf("endpoint %s", mustJSON(first))
	}
	second := e.endpoint(api.WebhookEndpointCreate{Url: "http://hooks.example.com:8080/all", Enabled: ptr(false), Description: ptr(" ")})
	if !second.EventTypes.IsNull() || second.Enabled || !second.Description.IsNull() || second.Secret == first.Secret {
		t.Errorf("second endpoint %s", mustJSON(second))
	}

	t.Run("the secret is answered once", func(t *testing.T) {
		var bodies [][]byte
		for _, path := range []string{"/v1/webhook-endpoints", "/v1/webhook-endpoints/" + first.Id} {
			status, b := e.do("GET", path, nil)
			wantStatus(t, status, 200, b)
			bodies = append(bodies, b)
		}
		status, b := e.do("PATCH", "/v1/webhook-endpoints/"+first.Id, []byte(`{"enabled": true}`))
		wantStatus(t, status, 200, b)
		bodies = append(bodies, b)
		for _, b := range bodies {
			if strings.Contains(string(b), "secret\"") || strings.Contains(string(b), first.Secret[len("whsec_"):]) {
				t.Errorf("an answer shows the secret: %s", b)
			}
		}
		var stored []byte
		if err := e.pool.QueryRow(bg, "SELECT secret FROM webhook_endpoints WHERE url = $1", first.Url).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored, key) || bytes.Contains(stored, []byte(first.Secret)) {
			t.Error("the secret is stored in plain text")
		}
	})

	t.Run("list, oldest first", func(t *testing.T) {
		list, _ := e.c.ListWebhookEndpointsWithResponse(bg)
		wantStatus(t, list.StatusCode(), 200, list.Body)
		if got := list.JSON200.Data; len(got) != 2 || got[0].Id != first.Id || got[1].Id != second.Id {
			t.Errorf("list %s", list.Body)
		}
	})

	t.Run("patch", func(t *testing.T) {
		status, b := e.do("PATCH", "/v1/webhook-endpoints/"+first.Id, []byte(`{"url": "https://hooks.example.com/v2"}`))
		wantStatus(t, status, 200, b)
		got := e.getEndpoint(first.Id)
		if got.Url != "https://hooks.example.com/v2" || orEmpty(got.Description) != "CRM sync" || len(got.EventTypes.MustGet()) != 2 || !got.Enabled {
			t.Errorf("a patch of the url changed more: %s", mustJSON(got))
		}
		if !got.UpdatedAt.After(first.UpdatedAt) || !got.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("created %s updated %s, first updated %s", got.CreatedAt, got.UpdatedAt, first.UpdatedAt)
		}
		status, b = e.do("PATCH", "/v1/webhook-endpoints/"+first.Id, []byte(`{"description": null, "event_types": null, "enabled": false}`))
		wantStatus(t, status, 200, b)
		got = e.getEndpoint(first.Id)
		if !got.Description.IsNull() || !got.EventTypes.IsNull() || got.Enabled || got.Url != "https://hooks.example.com/v2" {
			t.Errorf("after clearing: %s", mustJSON(got))
		}
		status, b = e.do("PATCH", "/v1/webhook-endpoints/"+first.Id, []byte(`{"event_types": ["tag.added"], "description": "tags"}`))
		wantStatus(t, status, 200, b)
		got = e.getEndpoint(first.Id)
		if !slices.Equal(got.EventTypes.MustGet(), []api.EventType{api.EventTypeTagAdded}) || orEmpty(got.Description) != "tags" || got.Enabled {
			t.Errorf("after setting: %s", mustJSON(got))
		}
		status, b = e.do("PATCH", "/v1/webhook-endpoints/"+first.Id, []byte(`{}`))
		wantStatus(t, status, 200, b)
		if again := e.getEndpoint(first.Id); mustJSON(again.EventTypes) != mustJSON(got.EventTypes) || again.Url != got.Url {
			t.Errorf("an empty patch changed %s to %s", mustJSON(got), mustJSON(again))
		}
	})

	t.Run("delete", func(t *testing.T) {
		del, _ := e.c.DeleteWebhookEndpointWithResponse(bg, second.Id, nil)
		wantStatus(t, del.StatusCode(), 204, del.Body)
		for _, id := range []string{second.Id, "we_123", "ch_06BEWZPZ4NT3DDVP509YNTV5E0", ids.Format(ids.WebhookEndpoint, uuid.New())} {
			got, _ := e.c.GetWebhookEndpointWithResponse(bg, id, nil)
			wantStatus(t, got.StatusCode(), 404, got.Body)
			if p := problem(t, 404, got.Body); !strings.Contains(*p.Detail, "webhook endpoint") {
				t.Errorf("404 detail %q", *p.Detail)
			}
		}
		del, _ = e.c.DeleteWebhookEndpointWithResponse(bg, second.Id, nil)
		wantStatus(t, del.StatusCode(), 404, del.Body)
		for _, method := range []string{"PATCH", "POST"} {
			path := "/v1/webhook-endpoints/" + second.Id
			body := []byte(`{"enabled": true}`)
			if method == "POST" {
				path, body = path+"/rotate-secret", nil
			}
			status, b := e.do(method, path, body)
			wantStatus(t, status, 404, b)
		}
		list, _ := e.c.ListWebhookEndpointsWithResponse(bg)
		if len(list.JSON200.Data) != 1 || list.JSON200.Data[0].Id != first.Id {
			t.Errorf("list after delete %s", list.Body)
		}
	})
}

func TestWebhookEndpointRejects(t *testing.T) {
	e := newEnv(t)
	existing := e.endpoint(api.WebhookEndpointCreate{Url: "https://hooks.example.com/x"})
	const ok = `"url": "https://hooks.example.com/wazapin"`
	for _, tc := range []struct {
		name, body string
		status     int
		fields     []string
	}{
		{"no url", `{}`, 422, []string{"url"}},
		{"ftp", `{"url": "ftp://example.com/hooks"}`, 422, []string{"url"}},
		{"no scheme", `{"url": "hooks.example.com/wazapin"}`, 422, []string{"url"}},
		{"relative", `{"url": "/v1/hooks"}`, 422, []string{"url"}},
		{"no host", `{"url": "https:///hooks"}`, 422, []string{"url"}},
		{"opaque", `{"url": "mailto:ops@example.com"}`, 422, []string{"url"}},
		{"javascript", `{"url": "javascript:alert(1)"}`, 422, []string{"url"}},
		{"too long", `{"url": "https://example.com/` + strings.Repeat("a", 2029) + `"}`, 422, []string{"url"}},
		{"user and password", `{"url": "https://user:pw@example.com/hooks"}`, 422, []string{"url"}},
		{"fragment", `{"url": "https://example.com/hooks#top"}`, 422, []string{"url"}},
		{"space", `{"url": "https://example.com/my hooks"}`, 422, []string{"url"}},
		{"port out of range", `{"url": "https://example.com:70000/hooks"}`, 422, []string{"url"}},
		{"unknown event type", `{` + ok + `, "event_types": ["contact.created", "contact.exploded"]}`, 422, []string{"event_types[1]"}},
		{"event type twice", `{` + ok + `, "event_types": ["tag.added", "note.created", "tag.added"]}`, 422, []string{"event_types[2]"}},
		{"no event types", `{` + ok + `, "event_types": []}`, 422, []string{"event_types"}},
		{"description too long", `{` + ok + `, "description": "` + strings.Repeat("d", 501) + `"}`, 422, []string{"description"}},
		{"several at once", `{"url": "ftp://x", "event_types": ["nope"]}`, 422, []string{"url", "event_types[0]"}},
		{"unknown member", `{` + ok + `, "secret": "whsec_AAAA"}`, 400, []string{"secret"}},
		{"event types not an array", `{` + ok + `, "event_types": "contact.created"}`, 400, []string{"event_types"}},
		{"url not a string", `{"url": 42}`, 400, []string{"url"}},
		{"enabled not a boolean", `{` + ok + `, "enabled": "yes"}`, 400, []string{"enabled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("POST", "/v1/webhook-endpoints", []byte(tc.body))
			wantStatus(t, status, tc.status, body)
			if f := fields(problem(t, tc.status, body)); !slices.Equal(f, tc.fields) {
				t.Errorf("fields %v, want %v: %s", f, tc.fields, body)
			}
		})
	}
	var n int
	if err := e.pool.QueryRow(bg, "SELECT count(*) FROM webhook_endpoints").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d endpoints stored, want the 1 made first (%v)", n, err)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		fields     []string
	}{
		{"patch ftp", `{"url": "ftp://example.com/"}`, 422, []string{"url"}},
		{"patch empty url", `{"url": ""}`, 422, []string{"url"}},
		{"patch no event types", `{"event_types": []}`, 422, []string{"event_types"}},
		{"patch unknown event type", `{"event_types": ["contact.created", "x"]}`, 422, []string{"event_types[1]"}},
		{"patch description too long", `{"description": "` + strings.Repeat("d", 501) + `"}`, 422, []string{"description"}},
		{"patch the secret", `{"secret": "whsec_AAAA"}`, 400, []string{"secret"}},
		{"patch enabled not a boolean", `{"enabled": "no"}`, 400, []string{"enabled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("PATCH", "/v1/webhook-endpoints/"+existing.Id, []byte(tc.body))
			wantStatus(t, status, tc.status, body)
			if f := fields(problem(t, tc.status, body)); !slices.Equal(f, tc.fields) {
				t.Errorf("fields %v, want %v: %s", f, tc.fields, body)
			}
		})
	}
	if got := e.getEndpoint(existing.Id); got.Url != existing.Url || !got.EventTypes.IsNull() {
		t.Errorf("refused patches changed the endpoint: %s", mustJSON(got))
	}
}

// TestWebhookURLsAndThePrivateAddressGuard: with WAZAPIN_BLOCK_PRIVATE_ADDRESSES on, a URL that
// visibly points into a private network is a 422 naming url, on create and on patch; off, it is
// accepted (a receiver on the same host or network is a normal set-up then).
func TestWebhookURLsAndThePrivateAddressGuard(t *testing.T) {
	private := []string{
		"http://127.0.0.1:8080/hooks", "http://localhost/hooks", "https://LocalHost./hooks", "http://app.localhost/",
		"http://10.0.0.7/hooks", "http://192.168.1.20:3000/", "http://[::1]:8080/", "http://169.254.169.254/latest/meta-data",
		"http://[fd00:ec2::254]/", "http://100.100.100.200/", "http://0.0.0.0:80/", "http://2130706433/",
	}
	t.Run("blocked", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.BlockPrivateAddresses = true })
		for _, u := range private {
			status, body := e.do("POST", "/v1/webhook-endpoints", []byte(`{"url": "`+u+`"}`))
			wantStatus(t, status, 422, body)
			p := problem(t, 422, body)
			if f := fields(p); !slices.Equal(f, []string{"url"}) || !strings.Contains(*p.Detail, "private") {
				t.Errorf("%s: %s", u, body)
			}
		}
		ep := e.endpoint(api.WebhookEndpointCreate{Url: "https://hooks.example.com/wazapin"})
		status, body := e.do("PATCH", "/v1/webhook-endpoints/"+ep.Id, []byte(`{"url": "http://127.0.0.1:9000/"}`))
		wantStatus(t, status, 422, body)
		if got := e.getEndpoint(ep.Id); got.Url != "https://hooks.example.com/wazapin" {
			t.Errorf("url changed to %s", got.Url)
		}
	})
	t.Run("allowed when off", func(t *testing.T) {
		e := newEnv(t)
		for _, u := range private {
			ep := e.endpoint(api.WebhookEndpointCreate{Url: u})
			if ep.Url != u {
				t.Errorf("url %q stored as %q", u, ep.Url)
			}
		}
	})
}

// TestRotateWebhookSecret: a rotation answers a new secret once; the previous one keeps signing
// for 24 hours and then stops, by the database's clock, in what the store and the server give a
// delivery worker and in what the endpoint shows.
func TestRotateWebhookSecret(t *testing.T) {
	box := servertest.Secrets(t)
	e := newEnv(t, func(c *server.Config) { c.Secrets = box })
	st := store.New(e.pool, store.Options{})
	wsID, _ := ids.Parse(ids.Workspace, e.ws.WorkspaceID)
	ep := e.endpoint(api.WebhookEndpointCreate{Url: "https://hooks.example.com/wazapin"})
	id, _ := ids.Parse(ids.WebhookEndpoint, ep.Id)
	k1 := keyOf(t, ep.Secret)

	// signing says which keys sign now, through the server's helper and through the store and
	// webhooksign.Open (as a worker without a Server would), and insists they agree.
	signing := func() [][]byte {
		t.Helper()
		keys, err := e.srv.WebhookSigningKeys(bg, wsID, id)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := st.WebhookSigningSecrets(bg, wsID, id)
		if err != nil {
			t.Fatal(err)
		}
		opened, err := webhooksign.Open(box, wsID, id, sealed)
		if err != nil || !slices.EqualFunc(opened, keys, bytes.Equal) {
			t.Fatalf("the store's secrets open to %x, the server's keys are %x (%v)", opened, keys, err)
		}
		return keys
	}
	if keys := signing(); len(keys) != 1 || !bytes.Equal(keys[0], k1) {
		t.Fatalf("before a rotation: keys %x, want the created secret's", keys)
	}

	rotate := func() api.WebhookEndpointWithSecret {
		t.Helper()
		res, err := e.c.RotateWebhookEndpointSecretWithResponse(bg, ep.Id, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.StatusCode(), 200, res.Body)
		return res.JSON200.Data
	}
	before := time.Now()
	r1 := rotate()
	k2 := keyOf(t, r1.Secret)
	if r1.Secret == ep.Secret || r1.Id != ep.Id || r1.Url != ep.Url {
		t.Errorf("rotation answered %s", mustJSON(r1))
	}
	until := r1.PreviousSecretExpiresAt.MustGet()
	if d := until.Sub(before); d < 24*time.Hour-time.Minute || d > 24*time.Hour+time.Minute {
		t.Errorf("the previous secret signs until %s, %s from now; want 24h", until, d)
	}
	if got := e.getEndpoint(ep.Id); !got.PreviousSecretExpiresAt.MustGet().Equal(until) {
		t.Errorf("get shows previous_secret_expires_at %v, the rotation %s", got.PreviousSecretExpiresAt, until)
	}
	if keys := signing(); len(keys) != 2 || !bytes.Equal(keys[0], k2) || !bytes.Equal(keys[1], k1) {
		t.Fatalf("during the rotation: keys %x, want the new then the previous", keys)
	}
	// What a delivery would carry: both signatures, the new secret's first, each verifiable with a
	// secret as the receiver holds it.
	body := []byte(`{"type":"contact.created"}`)
	header := webhooksign.Signature(signing(), "evt_1", 1700000000, body)
	for i, secret := range []string{r1.Secret, ep.Secret} {
		want := webhooksign.Signature([][]byte{keyOf(t, secret)}, "evt_1", 1700000000, body)
		if parts := strings.Split(header, " "); len(parts) != 2 || parts[i] != want {
			t.Errorf("webhook-signature %q lacks %q at %d", header, want, i)
		}
	}

	r2 := rotate()
	k3 := keyOf(t, r2.Secret)
	if keys := signing(); len(keys) != 2 || !bytes.Equal(keys[0], k3) || !bytes.Equal(keys[1], k2) {
		t.Fatalf("after a second rotation: keys %x, want the newest two", keys)
	}

	if _, err := e.pool.Exec(bg, "UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
	if keys := signing(); len(keys) != 1 || !bytes.Equal(keys[0], k3) {
		t.Fatalf("once the rotation is over: keys %x, want the current one alone", keys)
	}
	if got := e.getEndpoint(ep.Id); !got.PreviousSecretExpiresAt.IsNull() {
		t.Errorf("previous_secret_expires_at %v after it passed", got.PreviousSecretExpiresAt)
	}

	t.Run("another workspace's endpoint", func(t *testing.T) {
		other, _ := e.workspace("Other", "ID")
		otherID, _ := ids.Parse(ids.Workspace, other.WorkspaceID)
		if _, err := e.srv.WebhookSigningKeys(bg, otherID, id); !isNotFound(err) {
			t.Errorf("signing keys of another workspace's endpoint: %v", err)
		}
		if _, err := st.WebhookSigningSecrets(bg, otherID, id); !isNotFound(err) {
			t.Errorf("sealed secrets of another workspace's endpoint: %v", err)
		}
		sealed, _ := st.WebhookSigningSecrets(bg, wsID, id)
		if _, err := webhooksign.Open(box, otherID, id, sealed); !errors.Is(err, secretbox.ErrOpen) {
			t.Errorf("a secret opened bound to another workspace: %v", err)
		}
	})
}

func isNotFound(err error) bool {
	var e *apperr.Error
	return errors.As(err, &e) && e.Code == apperr.NotFound
}

func TestWebhookEndpointsNeedAnEncryptionKey(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Secrets = nil })
	res, _ := e.c.CreateWebhookEndpointWithResponse(bg, nil, api.WebhookEndpointCreate{Url: "https://hooks.example.com/x"})
	wantStatus(t, res.StatusCode(), 503, res.Body)
	if p := problem(t, 503, res.Body); !strings.Contains(*p.Detail, "WAZAPIN_ENCRYPTION_KEY") {
		t.Errorf("the problem does not say what is missing: %s", res.Body)
	}
	var n int
	if err := e.pool.QueryRow(bg, "SELECT count(*) FROM webhook_endpoints").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d endpoints stored without a key (%v)", n, err)
	}
	// An endpoint stored by a server that had a key: it can be read, changed and deleted, not rotated.
	wsID, _ := ids.Parse(ids.Workspace, e.ws.WorkspaceID)
	id := ids.New()
	if _, err := e.pool.Exec(bg, "INSERT INTO webhook_endpoints (workspace_id, id, url, secret) VALUES ($1, $2, 'https://hooks.example.com/x', '\\x01')", wsID, id); err != nil {
		t.Fatal(err)
	}
	epID := ids.Format(ids.WebhookEndpoint, id)
	rot, _ := e.c.RotateWebhookEndpointSecretWithResponse(bg, epID, nil)
	wantStatus(t, rot.StatusCode(), 503, rot.Body)
	e.getEndpoint(epID)
	status, body := e.do("PATCH", "/v1/webhook-endpoints/"+epID, []byte(`{"enabled": false}`))
	wantStatus(t, status, 200, body)
	if _, err := e.srv.WebhookSigningKeys(bg, wsID, id); server.StatusOf(err) != 503 {
		t.Errorf("signing keys without an encryption key: %v", err)
	}
	del, _ := e.c.DeleteWebhookEndpointWithResponse(bg, epID, nil)
	wantStatus(t, del.StatusCode(), 204, del.Body)
}

// TestReenablingClearsWhyTheServiceDisabled: disabled_reason and the run of failures (written
// here as the delivery worker will) are cleared by enabling the endpoint, and only by that.
func TestReenablingClearsWhyTheServiceDisabled(t *testing.T) {
	e := newEnv(t)
	ep := e.endpoint(api.WebhookEndpointCreate{Url: "https://hooks.example.com/x"})
	disable := func() {
		t.Helper()
		if _, err := e.pool.Exec(bg, `UPDATE webhook_endpoints SET enabled = false,
			disabled_reason = 'the endpoint answered 410 Gone', failing_since = now() - interval '5 days'`); err != nil {
			t.Fatal(err)
		}
	}
	failingSince := func() *time.Time {
		var at *time.Time
		if err := e.pool.QueryRow(bg, "SELECT failing_since FROM webhook_endpoints").Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	disable()
	got := e.getEndpoint(ep.Id)
	if got.Enabled || orEmpty(got.DisabledReason) != "the endpoint answered 410 Gone" {
		t.Fatalf("disabled endpoint %s", mustJSON(got))
	}
	for _, body := range []string{`{"description": "x"}`, `{"enabled": false}`, `{"url": "https://hooks.example.com/y"}`} {
		status, b := e.do("PATCH", "/v1/webhook-endpoints/"+ep.Id, []byte(body))
		wantStatus(t, status, 200, b)
		if got := e.getEndpoint(ep.Id); got.DisabledReason.IsNull() || got.Enabled || failingSince() == nil {
			t.Errorf("%s cleared why the service disabled it: %s", body, mustJSON(got))
		}
	}
	status, b := e.do("PATCH", "/v1/webhook-endpoints/"+ep.Id, []byte(`{"enabled": true}`))
	wantStatus(t, status, 200, b)
	if got := e.getEndpoint(ep.Id); !got.Enabled || !got.DisabledReason.IsNull() || failingSince() != nil {
		t.Errorf("after enabling: %s, failing since %v", mustJSON(got), failingSince())
	}
}

// TestWebhookEndpointLimit: a workspace has at most 20 endpoints, also when creations race; a
// deletion makes room; another workspace has its own 20.
func TestWebhookEndpointLimit(t *testing.T) {
	e := newEnv(t)
	var made []string
	for i := range store.MaxWebhookEndpoints - 2 {
		made = append(made, e.endpoint(api.WebhookEndpointCreate{Url: fmt.Sprintf("https://hooks.example.com/%d", i)}).Id)
	}
	// Six at once for the last two places: exactly two get them.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses []int
	)
	for i := range 6 {
		wg.Go(func() {
			status, body := e.do("POST", "/v1/webhook-endpoints", []byte(fmt.Sprintf(`{"url": "https://hooks.example.com/race/%d"}`, i)))
			mu.Lock()
			defer mu.Unlock()
			statuses = append(statuses, status)
			if status == 409 {
				if p := problem(t, 409, body); !strings.Contains(*p.Detail, "at most 20 webhook endpoints") {
					t.Errorf("409 detail %q", *p.Detail)
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(statuses)
	if want := []int{201, 201, 409, 409, 409, 409}; !slices.Equal(statuses, want) {
		t.Fatalf("racing creations answered %v, want %v", statuses, want)
	}
	var n int
	if err := e.pool.QueryRow(bg, "SELECT count(*) FROM webhook_endpoints").Scan(&n); err != nil || n != store.MaxWebhookEndpoints {
		t.Fatalf("%d endpoints stored (%v)", n, err)
	}
	del, _ := e.c.DeleteWebhookEndpointWithResponse(bg, made[0], nil)
	wantStatus(t, del.StatusCode(), 204, del.Body)
	e.endpoint(api.WebhookEndpointCreate{Url: "https://hooks.example.com/again"})
	status, body := e.do("POST", "/v1/webhook-endpoints", []byte(`{"url": "https://hooks.example.com/one-too-many"}`))
	wantStatus(t, status, 409, body)

	other, _ := e.workspace("Other", "ID")
	status, body = e.do("POST", "/v1/webhook-endpoints", []byte(`{"url": "https://hooks.example.com/other"}`), "X-Api-Key", other.APIKey)
	wantStatus(t, status, 201, body)
}

func TestOtherWorkspacesWebhookEndpointsAreNotFound(t *testing.T) {
	e := newEnv(t)
	ep := e.endpoint(api.WebhookEndpointCreate{Url: "https://hooks.example.com/x", EventTypes: types(api.EventTypeNoteCreated)})
	other, _ := e.workspace("Other", "ID")
	e.wantNotFoundAs(t, other.APIKey, ep.Id, []request{
		{"GET", "/v1/webhook-endpoints/" + ep.Id, ""},
		{"PATCH", "/v1/webhook-endpoints/" + ep.Id, `{"url": "https://attacker.example.com/", "event_types": null}`},
		{"DELETE", "/v1/webhook-endpoints/" + ep.Id, ""},
		{"POST", "/v1/webhook-endpoints/" + ep.Id + "/rotate-secret", ""},
	})
	_, body := e.do("GET", "/v1/webhook-endpoints", nil, "X-Api-Key", other.APIKey)
	if strings.Contains(string(body), ep.Id) {
		t.Errorf("another workspace lists the endpoint: %s", body)
	}
	got := e.getEndpoint(ep.Id)
	if got.Url != ep.Url || got.EventTypes.IsNull() || !got.PreviousSecretExpiresAt.IsNull() {
		t.Errorf("another workspace changed the endpoint: %s", mustJSON(got))
	}
}
