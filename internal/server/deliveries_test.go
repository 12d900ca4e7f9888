package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/servertest"
	"github.com/wazapin/wazapin/internal/webhooks"
)

// delivered is one request a receiver got.
type delivered struct {
	id, timestamp, signature string
	body                     []byte
	event                    feedEvent
}

// receiver is a webhook endpoint's server: it records every request and answers with answer
// (200 when nil).
type receiver struct {
	t      *testing.T
	url    string
	mu     sync.Mutex
	got    []delivered
	answer func(n int, d delivered) (int, http.Header)
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivered{id: req.Header.Get("webhook-id"), timestamp: req.Header.Get("webhook-timestamp"), signature: req.Header.Get("webhook-signature"), body: body}
		if err := json.Unmarshal(body, &d.event); err != nil {
			t.Errorf("delivery body %q: %v", body, err)
		}
		r.mu.Lock()
		r.got = append(r.got, d)
		n, answer := len(r.got), r.answer
		r.mu.Unlock()
		status := http.StatusOK
		if answer != nil {
			var h http.Header
			status, h = answer(n, d)
			for k, v := range h {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("thanks"))
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/hooks"
	return r
}

func (r *receiver) requests() []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitFor waits until the receiver has n requests.
func (r *receiver) waitFor(n int) []delivered {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := r.requests()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the receiver got %d requests, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verify checks a delivery's signature as the Standard Webhooks reference algorithm does: any
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" in the header made with the secret's key, and a
// timestamp within five minutes.
func verify(secret string, d delivered) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	ts, err := strconv.ParseInt(d.timestamp, 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(d.id + "." + d.timestamp + "."))
	mac.Write(d.body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(d.signature) {
		version, b64, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// fastRetries is a schedule for tests: the same number of attempts, in milliseconds.
var fastRetries = []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond,
	20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}

func newDeliveringEnv(t *testing.T) *env {
	return newEnvWith(t, func(s *servertest.Setup) {
		s.Webhooks = &webhooks.Config{Workers: 4, Schedule: fastRetries}
	})
}

func (e *env) deliveries(endpointID string) []api.WebhookDelivery {
	e.t.Helper()
	res, err := e.c.ListWebhookDeliveriesWithResponse(bg, endpointID, &api.ListWebhookDeliveriesParams{Limit: ptr(200)})
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), 200, res.Body)
	return res.JSON200.Data
}

func TestWebhookDeliveriesAreSignedEvents(t *testing.T) {
	e := newDeliveringEnv(t)
	r := newReceiver(t)
	ep := e.endpoint(api.WebhookEndpointCreate{Url: r.url})
	c := e.create(api.ContactCreate{Name: ptr("Budi"), Email: ptr("budi@example.com")})
	got := r.waitFor(2)
	feed, _ := e.feedUntil(0, 2, nil)
	byID := map[string]feedEvent{}
	for _, ev := range feed {
		byID[ev.ID] = ev
	}
	for _, d := range got {
		if !verify(ep.Secret, d) {
			t.Errorf("delivery %s: signature %q does not verify", d.id, d.signature)
		}
		ev, ok := byID[d.id]
		if !ok || d.event.ID != d.id || d.event.Sequence != ev.Sequence || d.event.Type != ev.Type || string(d.event.Data) != string(ev.Data) {
			t.Errorf("delivery %s is not the feed's event: %s", d.id, d.body)
		}
		if d.event.ContactID == nil || *d.event.ContactID != c.Id {
			t.Errorf("delivery %s: contact %v", d.id, d.event.ContactID)
		}
	}
	if tampered := (delivered{id: got[0].id, timestamp: got[0].timestamp, signature: got[0].signature, body: append(slices.Clone(got[0].body), ' ')}); verify(ep.Secret, tampered) {
		t.Error("a tampered body verifies")
	}
	e.waitDeliveries(ep.Id, 2, func(d api.WebhookDelivery) bool { return d.Status == api.WebhookDeliveryStatusDelivered })
	ds := e.deliveries(ep.Id)
	for _, d := range ds {
		if d.Attempts != 1 || d.LastStatusCode.MustGet() != 200 || !d.NextAttemptAt.IsNull() {
			t.Errorf("delivery %s", mustJSON(d))
		}
	}

	t.Run("during a rotation both secrets sign", func(t *testing.T) {
		res, err := e.c.RotateWebhookEndpointSecretWithResponse(bg, ep.Id, nil)
		if err != nil || res.StatusCode() != 200 {
			t.Fatalf("rotate: %v %s", err, res.Body)
		}
		e.create(api.ContactCreate{Email: ptr("siti@example.com")})
		got := r.waitFor(4)
		for _, d := range got[2:] {
			if !verify(ep.Secret, d) || !verify(res.JSON200.Data.Secret, d) || len(strings.Fields(d.signature)) != 2 {
				t.Errorf("delivery %s during a rotation: %q", d.id, d.signature)
			}
		}
	})
	t.Run("a test delivery", func(t *testing.T) {
		res, err := e.c.TestWebhookEndpointWithResponse(bg, ep.Id, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.StatusCode(), 202, res.Body)
		got := r.waitFor(5)
		d := got[4]
		if d.event.Type != "webhook.test" || d.event.Sequence != 0 || d.id != res.JSON202.Data.EventId || d.event.ObjectID != ep.Id {
			t.Errorf("test delivery %s", d.body)
		}
		if p := e.feed(0, url.Values{"limit": {"1000"}}); slices.Contains(typesOf(p.Data), "webhook.test") {
			t.Error("the test event is in the feed")
		}
	})
}

// waitDeliveries waits until an endpoint has n deliveries that all satisfy done.
func (e *env) waitDeliveries(endpointID string, n int, done func(api.WebhookDelivery) bool) []api.WebhookDelivery {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ds := e.deliveries(endpointID)
		if len(ds) >= n && !slices.ContainsFunc(ds, func(d api.WebhookDelivery) bool { return !done(d) }) {
			return ds
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("deliveries: %s", mustJSON(ds))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAReceiverThatFailsTwiceGetsTheEventOnTheThirdAttempt(t *testing.T) {
	e := newDeliveringEnv(t)
	r := newReceiver(t)
	r.answer = func(n int, _ delivered) (int, http.Header) {
		if n <= 2 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusNoContent, nil
	}
	ep := e.endpoint(api.WebhookEndpointCreate{Url: r.url, EventTypes: types(api.EventTypeNoteCreated)})
	c := e.create(api.ContactCreate{Email: ptr("budi@example.com")})
	res, _ := e.c.CreateContactNoteWithResponse(bg, c.Id, nil, api.NoteCreate{Body: "hello"})
	wantStatus(t, res.StatusCode(), 201, res.Body)
	ds := e.waitDeliveries(ep.Id, 1, func(d api.WebhookDelivery) bool { return d.Status == api.WebhookDeliveryStatusDelivered })
	got := r.requests()
	if len(got) != 3 || got[0].id != got[2].id || got[2].event.Type != "note.created" {
		t.Fatalf("requests %d, types %v", len(got), got)
	}
	for _, d := range got {
		if !verify(ep.Secret, d) {
			t.Errorf("attempt %s: signature does not verify", d.timestamp)
		}
	}
	if d := ds[0]; d.Attempts != 3 || d.LastStatusCode.MustGet() != 204 || d.EventType != "note.created" {
		t.Errorf("delivery %s", mustJSON(d))
	}
	if got := e.getEndpoint(ep.Id); !got.Enabled {
		t.Errorf("endpoint %s", mustJSON(got))
	}
}

func TestDeliveryFailures(t *testing.T) {
	e := newDeliveringEnv(t)
	t.Run("a receiver that always fails uses up the schedule", func(t *testing.T) {
		r := newReceiver(t)
		r.answer = func(int, delivered) (int, http.Header) { return http.StatusBadGateway, nil }
		ep := e.endpoint(api.WebhookEndpointCreate{Url: r.url, EventTypes: types(api.EventTypeContactCreated)})
		e.create(api.ContactCreate{Email: ptr("a@example.com")})
		ds := e.waitDeliveries(ep.Id, 1, func(d api.WebhookDelivery) bool { return d.Status == api.WebhookDeliveryStatusFailed })
		if d := ds[0]; d.Attempts != len(fastRetries)+1 || !strings.Contains(d.LastError.MustGet(), "502") || !d.NextAttemptAt.IsNull() {
			t.Errorf("delivery %s", mustJSON(d))
		}
		if n := len(r.requests()); n != len(fastRetries)+1 {
			t.Errorf("%d attempts", n)
		}
		t.Run("and is sent again by hand, with a fresh schedule", func(t *testing.T) {
			spent := len(r.requests())
			r.mu.Lock()
			r.answer = func(n int, _ delivered) (int, http.Header) {
				if n == spent+1 {
					return http.StatusServiceUnavailable, nil // the first manual attempt fails too
				}
				return http.StatusOK, nil
			}
			r.mu.Unlock()
			res, err := e.c.RetryWebhookDeliveryWithResponse(bg, ep.Id, ds[0].Id, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, res.StatusCode(), 202, res.Body)
			again := e.waitDeliveries(ep.Id, 1, func(d api.WebhookDelivery) bool { return d.Status == api.WebhookDeliveryStatusDelivered })
			if again[0].Attempts != 2 {
				t.Errorf("after a manual retry: %s", mustJSON(again[0]))
			}
			res, _ = e.c.RetryWebhookDeliveryWithResponse(bg, ep.Id, "whd_06H2SXA9M1VQ5W2JS0R5K6Q7C8", nil)
			wantStatus(t, res.StatusCode(), 404, res.Body)
		})
	})
	t.Run("410 disables the endpoint at once", func(t *testing.T) {
		r := newReceiver(t)
		r.answer = func(int, delivered) (int, http.Header) { return http.StatusGone, nil }
		ep := e.endpoint(api.WebhookEndpointCreate{Url: r.url, EventTypes: types(api.EventTypeContactCreated)})
		e.create(api.ContactCreate{Email: ptr("b@example.com")})
		ds := e.waitDeliveries(ep.Id, 1, func(d api.WebhookDelivery) bool { return d.Status == api.WebhookDeliveryStatusFailed })
		if ds[0].Attempts != 1 {
			t.Errorf("delivery %s", mustJSON(ds[0]))
		}
		got := e.getEndpoint(ep.Id)
		if got.Enabled || !strings.Contains(got.DisabledReason.MustGet(), "410") {
			t.Errorf("endpoint %s", mustJSON(got))
		}
		e.create(api.ContactCreate{Email: ptr("c@example.com")})
		time.Sleep(300 * time.Millisecond)
		if n := len(r.requests()); n != 1 {
			t.Errorf("a disabled endpoint got %d requests", n)
		}
	})
	t.Run("Retry-After on 429 is honoured", func(t *testing.T) {
		r := newReceiver(t)
		r.answer = func(n int, _ delivered) (int, http.Header) {
			if n == 1 {
				return http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}
			}
			return http.StatusOK, nil
		}
		ep := e.endpoint(api.WebhookEndpointCreate{Url: r.url, EventTypes: types(api.EventTypeContactCreated)})
		e.create(api.ContactCreate{Email: ptr("d@example.com")})
		got := r.waitFor(2)
		a, _ := strconv.ParseInt(got[0].timestamp, 10, 64)
		b, _ := strconv.ParseInt(got[1].timestamp, 10, 64)
		if b-a < 2 {
			t.Errorf("the second attempt came %ds after the first", b-a)
		}
		e.waitDeliveries(ep.Id, 1, func(d api.WebhookDelivery) bool { return d.Status == api.WebhookDeliveryStatusDelivered })
	})
	t.Run("an endpoint failing for five days is disabled and says why", func(t *testing.T) {
		r := newReceiver(t)
		r.answer = func(int, delivered) (int, http.Header) { return http.StatusInternalServerError, nil }
		ep := e.endpoint(api.WebhookEndpointCreate{Url: r.url, EventTypes: types(api.EventTypeContactCreated)})
		if _, err := e.pool.Exec(bg, `UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute' WHERE url = $1`, r.url); err != nil {
			t.Fatal(err)
		}
		e.create(api.ContactCreate{Email: ptr("e@example.com")})
		ds := e.waitDeliveries(ep.Id, 1, func(d api.WebhookDelivery) bool { return d.Status == api.WebhookDeliveryStatusFailed })
		got := e.getEndpoint(ep.Id)
		if got.Enabled || !strings.Contains(got.DisabledReason.MustGet(), "no delivery succeeded since") || ds[0].Attempts != 1 {
			t.Errorf("endpoint %s, delivery %s", mustJSON(got), mustJSON(ds[0]))
		}
	})
}

func TestAnotherWorkspacesEndpointGetsNothing(t *testing.T) {
	e := newDeliveringEnv(t)
	mine, theirs := newReceiver(t), newReceiver(t)
	e.endpoint(api.WebhookEndpointCreate{Url: mine.url})
	_, other := e.workspace("Other", "ID")
	res, err := other.CreateWebhookEndpointWithResponse(bg, nil, api.WebhookEndpointCreate{Url: theirs.url})
	if err != nil || res.StatusCode() != 201 {
		t.Fatalf("other endpoint: %v %s", err, res.Body)
	}
	for i := range 5 {
		e.create(api.ContactCreate{Email: ptr("x" + strconv.Itoa(i) + "@example.com")})
	}
	got := mine.waitFor(10)
	time.Sleep(300 * time.Millisecond)
	if n := len(theirs.requests()); n != 0 {
		t.Errorf("another workspace's endpoint got %d deliveries", n)
	}
	for _, d := range got {
		if d.event.WorkspaceID != e.ws.WorkspaceID {
			t.Errorf("delivery of workspace %s", d.event.WorkspaceID)
		}
	}
}

func TestAnImportsEventsAreDelivered(t *testing.T) {
	e := newDeliveringEnv(t)
	r := newReceiver(t)
	e.endpoint(api.WebhookEndpointCreate{Url: r.url, EventTypes: types(api.EventTypeContactCreated, api.EventTypeImportCompleted)})
	e.importNDJSON(`{"email":"a@example.com"}`, `{"email":"b@example.com"}`, `{"email":"c@example.com"}`)
	got := r.waitFor(4)
	var kinds []string
	for _, d := range got {
		kinds = append(kinds, d.event.Type)
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"contact.created", "contact.created", "contact.created", "import.completed"}) {
		t.Errorf("delivered %v", kinds)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(r.requests()); n != 4 {
		t.Errorf("%d deliveries", n)
	}
}
