package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/provider/providertest"
	"github.com/wazapin/wazapin/internal/server"
	"github.com/wazapin/wazapin/internal/store"
)

func (a answer) replayed() bool { return a.header.Get("Idempotent-Replayed") == "true" }

// keyed sends a request to the server at base with an Idempotency-Key (none when key is nil),
// as roundTrip does; from any goroutine: a request that could not be sent fails the test and
// answers status 0.
func (e *env) keyed(base string, key *string, method, path, body string, header ...string) answer {
	if key != nil {
		header = append([]string{"Idempotency-Key", *key}, header...)
	}
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	a, err := e.roundTrip(base, method, path, b, header...)
	if err != nil {
		e.t.Errorf("%s %s: %v", method, path, err)
	}
	return a
}

// changes reads what the writes below change: events, deliveries, notes, tags, contacts, API keys and secrets.
func (e *env) changes() string {
	e.t.Helper()
	var out string
	if err := e.pool.QueryRow(bg, `SELECT concat_ws('|', (SELECT count(*) FROM events), (SELECT count(*) FROM webhook_deliveries),
		(SELECT count(*) FROM notes), (SELECT count(*) FROM contact_tags), (SELECT count(*) FROM contacts), (SELECT count(*) FROM api_keys),
		(SELECT string_agg(md5(secret), ',' ORDER BY id) FROM webhook_endpoints))`).Scan(&out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// another starts a second server over the test's database, with pools of maxConns connections
// each, as another process would be: its own pools and its own requests in flight. prepare, when
// not nil, runs before each connection of its pools is handed out.
func (e *env) another(maxConns int32, prepare func(context.Context, *pgx.Conn) (bool, error)) string {
	e.t.Helper()
	open := func(plans pg.Plans) *pgxpool.Pool {
		cfg, err := pg.Config(e.pool.Config().ConnString(), plans)
		if err != nil {
			e.t.Fatal(err)
		}
		cfg.MaxConns, cfg.PrepareConn = maxConns, prepare
		pool, err := pg.OpenConfig(bg, cfg)
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(pool.Close)
		return pool
	}
	main, planned := open(pg.GenericPlans), open(pg.CustomPlans)
	srv := server.New(store.New(main, store.Options{Planned: planned}), server.Config{Secrets: e.secrets, ProviderTimeout: providerTimeout})
	hs := httptest.NewServer(srv.Handler())
	e.t.Cleanup(hs.Close)
	return hs.URL
}

// TestIdempotencyKeyReplaysTheAnswer sends each kind of write twice with one key, through a
// server whose pools have one connection each (so a request that held its transaction and
// waited for another connection would hang): the first changes something and answers; the
// second changes nothing and answers the same status, headers and bytes, marked replayed.
func TestIdempotencyKeyReplaysTheAnswer(t *testing.T) {
	e := newEnv(t)
	base := e.another(1, nil)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001"), Name: ptr("Ujang")})
	other := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000002")})
	hook := e.endpoint(api.WebhookEndpointCreate{Url: "https://hooks.example.com/x"})
	fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{"6281100000001": {WaID: "wa-1"}}})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	for i, tc := range []struct {
		name, path, body string
		header           []string
		want             int
	}{
		{name: "createContact", path: "/v1/contacts", body: `{"phone_number": "+6281100000003", "name": "Asep"}`, want: 201},
		{name: "createContact upsert", path: "/v1/contacts", body: `{"phone_number": "+6281100000001", "name": "Ujang S."}`, want: 200},
		{name: "createContactNote", path: "/v1/contacts/" + c.Id + "/notes", body: `{"body": "called back"}`, want: 201},
		{name: "assignContactTag", path: "/v1/contacts/" + c.Id + "/tags", body: `{"name": "VIP"}`, want: 201},
		{name: "upsertContactSuppression", path: "/v1/contacts/" + c.Id + "/suppressions", body: `{"channel": "sms", "reason": "bounced"}`, want: 201},
		{name: "importContacts", path: "/v1/contacts/import", body: "{\"phone_number\": \"+6281100000004\"}\n{\"email\": \"x\"}\n",
			header: []string{"Content-Type", "application/x-ndjson"}, want: 200},
		{name: "lookupChannelContacts with link", path: "/v1/channels/" + ch.Id + "/contacts/lookup",
			body: `{"phone_numbers": ["+6281100000001"], "link": true}`, want: 200},
		{name: "createWebhookEndpoint", path: "/v1/webhook-endpoints", body: `{"url": "https://hooks.example.com/y"}`, want: 201},
		{name: "rotateWebhookEndpointSecret", path: "/v1/webhook-endpoints/" + hook.Id + "/rotate-secret", want: 200},
		{name: "testWebhookEndpoint", path: "/v1/webhook-endpoints/" + hook.Id + "/test", want: 202},
		{name: "mergeContacts", path: "/v1/contacts/" + c.Id + "/merge", body: fmt.Sprintf(`{"contact_ids": [%q]}`, other.Id), want: 200},
		{name: "createApiKey", path: "/v1/api-keys", body: `{"name": "retried", "permissions": ["contacts:read"]}`, want: 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("key-%d", i)
			before := e.changes()
			first := e.keyed(base, &key, "POST", tc.path, tc.body, tc.header...)
			wantStatus(t, first.status, tc.want, first.body)
			if first.replayed() {
				t.Errorf("the first answer says it is replayed")
			}
			changed := e.changes()
			if changed == before {
				t.Fatalf("the first request changed nothing")
			}
			again := e.keyed(base, &key, "POST", tc.path, tc.body, tc.header...)
			if again.status != first.status || !bytes.Equal(again.body, first.body) || !again.replayed() {
				t.Fatalf("repeat answered %d %q (replayed %v), want %d %q replayed", again.status, again.body, again.replayed(), first.status, first.body)
			}
			for _, h := range []string{"Content-Type", "ETag", "Location"} {
				if again.header.Get(h) != first.header.Get(h) {
					t.Errorf("%s %q, first %q", h, again.header.Get(h), first.header.Get(h))
				}
			}
			if after := e.changes(); after != changed {
				t.Errorf("the repeat changed something: %s -> %s", changed, after)
			}
			// An answer holding a secret is kept sealed.
			var stored []byte
			if err := e.pool.QueryRow(bg, `SELECT body FROM idempotency_keys WHERE key = $1`, key).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			var created struct{ Data struct{ Key string } }
			_ = json.Unmarshal(first.body, &created)
			if bytes.Contains(stored, []byte("whsec_")) || (created.Data.Key != "" && bytes.Contains(stored, []byte(created.Data.Key))) {
				t.Errorf("an answer with a secret is kept in the clear")
			}
		})
	}
	if e.count("idempotency_keys") != 12 {
		t.Errorf("%d answers kept, want 12", e.count("idempotency_keys"))
	}
}

// TestIdempotencyKeyWithAnotherRequest answers 422 naming the header to a key sent again with
// another body or path, and changes nothing.
func TestIdempotencyKeyWithAnotherRequest(t *testing.T) {
	e := newEnv(t)
	a := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001")})
	b := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000002")})
	key := "5f0c7e1e-3d4b-4a8e-9d0a-2b1c3e4f5a6b"
	first := e.keyed(e.url, &key, "POST", "/v1/contacts/"+a.Id+"/notes", `{"body": "one"}`)
	wantStatus(t, first.status, 201, first.body)
	before := e.changes()
	for _, tc := range []struct{ name, path, body string }{
		{"another body", "/v1/contacts/" + a.Id + "/notes", `{"body": "two"}`},
		{"the same body spelt otherwise", "/v1/contacts/" + a.Id + "/notes", `{"body":"one"}`},
		{"another path", "/v1/contacts/" + b.Id + "/notes", `{"body": "one"}`},
		{"another operation", "/v1/contacts/" + a.Id + "/tags", `{"name": "one"}`},
		{"a read", "/v1/contacts/resolve", `{"identifiers": [{"type": "phone", "value": "+6281100000001"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.keyed(e.url, &key, "POST", tc.path, tc.body)
			wantStatus(t, got.status, http.StatusUnprocessableEntity, got.body)
			if f := fields(problem(t, 422, got.body)); len(f) != 1 || f[0] != "Idempotency-Key" {
				t.Errorf("fields %v, want Idempotency-Key", f)
			}
		})
	}
	if after := e.changes(); after != before {
		t.Errorf("refused repeats changed something: %s -> %s", before, after)
	}
}

// TestIdempotencyKeyMustBeVisibleASCII refuses a key of the wrong form with 400 naming the header.
func TestIdempotencyKeyMustBeVisibleASCII(t *testing.T) {
	e := newEnv(t)
	before := e.changes()
	for name, keys := range map[string][]string{
		"empty": {""}, "a space": {"a b"}, "too long": {strings.Repeat("k", 256)}, "not ASCII": {"kunci-é"},
		"a tab": {"a\tb"}, "given twice": {"a", "b"},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.url+"/v1/contacts", strings.NewReader(`{"phone_number": "+6281100000001"}`))
			req.Header.Set("X-Api-Key", e.ws.APIKey)
			req.Header["Idempotency-Key"] = keys
			res, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			wantStatus(t, res.StatusCode, http.StatusBadRequest, body)
			if f := fields(problem(t, 400, body)); len(f) != 1 || f[0] != "Idempotency-Key" {
				t.Errorf("fields %v, want Idempotency-Key", f)
			}
		})
	}
	long := strings.Repeat("k", 255)
	wantStatus(t, e.keyed(e.url, &long, "POST", "/v1/contacts", `{"phone_number": "+6281100000001"}`).status, 201, nil)
	if after := e.changes(); after == before || e.count("contacts") != 1 {
		t.Errorf("refused keys changed something, or a 255-character key did not work: %s -> %s", before, after)
	}
}

// TestIdempotencyKeyBodyOverTheLimit: a body sent without a length and past its limit is answered
// 413 with a key as without one, read on past the limit (the drain of a refusal) rather than cut
// off, which a client still sending would see as a reset.
func TestIdempotencyKeyBodyOverTheLimit(t *testing.T) {
	e := newEnv(t)
	header := map[string]string{"X-Api-Key": e.ws.APIKey, "Content-Type": "application/json",
		"Transfer-Encoding": "chunked", "Idempotency-Key": "big"}
	for i := range 3 {
		res, body, err := rawRequest(t, e.url, "POST", "/v1/contacts", header, bytes.Repeat([]byte("a"), 24<<20))
		if err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		if res.StatusCode != 413 {
			t.Fatalf("upload %d: %d %s", i, res.StatusCode, body)
		}
	}
}

// TestIdempotencyKeyKeepsNoRefusal: a 4xx is not kept, so the request sent again with its
// mistake fixed, and the same key, runs.
func TestIdempotencyKeyKeepsNoRefusal(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001")})
	key := "note-1"
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"/v1/contacts/cnt_06BJ3ZKQ4N7G1XG2R0M8W5T4CC/notes", `{"body": "hello"}`, 404},
		{"/v1/contacts/" + c.Id + "/notes", `{"body": "  "}`, 422},
		{"/v1/contacts/" + c.Id + "/notes", `{"body": 1}`, 400},
		{"/v1/contacts/" + c.Id + "/notes", `{"body": "hello"}`, 201},
	} {
		got := e.keyed(e.url, &key, "POST", tc.path, tc.body)
		wantStatus(t, got.status, tc.want, got.body)
		if got.replayed() {
			t.Errorf("%s %s: replayed", tc.path, tc.body)
		}
	}
	if got := e.keyed(e.url, &key, "POST", "/v1/contacts/"+c.Id+"/notes", `{"body": "hello"}`); got.status != 201 || !got.replayed() {
		t.Errorf("the fixed request sent again: %d replayed %v", got.status, got.replayed())
	}
	if n := e.count("notes"); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
}

// TestIdempotencyKeyKeepsNoRead: POSTs that only read keep no answer, so the same key may be
// sent with another body and simply runs again.
func TestIdempotencyKeyKeepsNoRead(t *testing.T) {
	e := newEnv(t)
	a := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001")})
	b := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000002")})
	fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{"6281100000001": {WaID: "wa-1"}}})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	for _, tc := range []struct{ name, path, body1, body2 string }{
		{"resolve", "/v1/contacts/resolve", `{"identifiers": [{"type": "phone", "value": "+6281100000001"}]}`, `{"identifiers": [{"type": "phone", "value": "+6281100000002"}]}`},
		{"lookup", "/v1/contacts/lookup", `{"identifiers": [{"type": "phone", "value": "+6281100000001"}]}`, `{"identifiers": [{"type": "phone", "value": "+6281100000002"}]}`},
		{"reachability", "/v1/contacts/reachability", `{"channel": "sms", "identifiers": [{"type": "phone", "value": "+6281100000001"}]}`, `{"channel": "email", "identifiers": [{"type": "phone", "value": "+6281100000001"}]}`},
		{"merge dry run", "/v1/contacts/" + a.Id + "/merge", fmt.Sprintf(`{"contact_ids": [%q], "dry_run": true}`, b.Id), fmt.Sprintf(`{"dry_run": true, "contact_ids": [%q]}`, b.Id)},
		{"channel lookup without link", "/v1/channels/" + ch.Id + "/contacts/lookup", `{"phone_numbers": ["+6281100000001"]}`, `{"phone_numbers": ["+6281100000002"], "link": false}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "read-" + strings.ReplaceAll(tc.name, " ", "-")
			first := e.keyed(e.url, &key, "POST", tc.path, tc.body1)
			again := e.keyed(e.url, &key, "POST", tc.path, tc.body1)
			other := e.keyed(e.url, &key, "POST", tc.path, tc.body2)
			if first.status >= 300 || again.status != first.status || again.replayed() || other.status == 422 || other.replayed() {
				t.Errorf("answers %d, %d (replayed %v), %d (replayed %v): %s", first.status, again.status, again.replayed(), other.status, other.replayed(), other.body)
			}
		})
	}
	if n := e.count("idempotency_keys"); n != 0 {
		t.Errorf("%d answers kept for reads", n)
	}
}

// TestIdempotencyKeysArePerWorkspace: one key in two workspaces is two keys.
func TestIdempotencyKeysArePerWorkspace(t *testing.T) {
	e := newEnv(t)
	theirs, _ := e.workspace("Other", "ID")
	key := "shared"
	for _, apiKey := range []string{e.ws.APIKey, theirs.APIKey} {
		got := e.keyed(e.url, &key, "POST", "/v1/contacts", `{"phone_number": "+6281100000001"}`, "X-Api-Key", apiKey)
		if got.status != 201 || got.replayed() {
			t.Errorf("status %d, replayed %v, want a new contact in each workspace", got.status, got.replayed())
		}
	}
	if n := e.count("contacts"); n != 2 {
		t.Errorf("%d contacts, want 2", n)
	}
}

// TestIdempotencyKeyExpires: an answer past the TTL is ignored (the request runs again, and its
// answer replaces the expired one), and retention deletes expired answers.
func TestIdempotencyKeyExpires(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.IdempotencyTTL = time.Microsecond })
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001")})
	key := "soon-gone"
	for range 2 {
		got := e.keyed(e.url, &key, "POST", "/v1/contacts/"+c.Id+"/notes", `{"body": "hello"}`)
		if got.status != 201 || got.replayed() {
			t.Errorf("status %d, replayed %v: an expired answer was replayed", got.status, got.replayed())
		}
	}
	if n := e.count("notes"); n != 2 {
		t.Errorf("%d notes, want 2", n)
	}
	if n := e.count("idempotency_keys"); n != 1 {
		t.Errorf("%d answers kept, want the one that replaced the other", n)
	}
	if n, err := e.st.DeleteExpiredIdempotencyKeys(bg, time.Now().Add(time.Second), 1000); err != nil || n != 1 {
		t.Errorf("retention deleted %d (%v), want 1", n, err)
	}
}

// TestIdempotencyKeyRepeatsAtOnceMakeOneNote sends 16 requests with one key at once: exactly one
// note is made, and every other answer is its replay or a 409 with Retry-After.
func TestIdempotencyKeyRepeatsAtOnceMakeOneNote(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001")})
	key := "burst"
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers []answer
	)
	start := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			<-start
			got := e.keyed(e.url, &key, "POST", "/v1/contacts/"+c.Id+"/notes", `{"body": "once"}`)
			mu.Lock()
			answers = append(answers, got)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	var created []byte
	made := 0
	for _, a := range answers {
		switch {
		case a.status == 201 && !a.replayed():
			made++
			created = a.body
		case a.status == 409 && a.header.Get("Retry-After") == "1", a.status == 201 && a.replayed():
		default:
			t.Errorf("answer %d %s", a.status, a.body)
		}
	}
	for _, a := range answers {
		if a.status == 201 && !bytes.Equal(a.body, created) {
			t.Errorf("replayed %s, made %s", a.body, created)
		}
	}
	if n := e.count("notes"); made != 1 || n != 1 {
		t.Errorf("%d answers made a note and %d notes exist, want 1 and 1", made, n)
	}
}

// TestIdempotencyKeyHeldByAnotherServer: a request whose key another server's request holds
// (mid-transaction, waiting for a row lock) answers 409 with Retry-After, and once that one is
// done, its answer.
func TestIdempotencyKeyHeldByAnotherServer(t *testing.T) {
	e := newEnv(t)
	second := e.another(4, nil)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001")})
	id, _ := ids.Parse(ids.Contact, c.Id)
	tx, err := e.pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg) //nolint:errcheck // committed or rolled back below
	if _, err := tx.Exec(bg, `SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	key := "held"
	path, body := "/v1/contacts/"+c.Id+"/notes", `{"body": "once"}`
	first := make(chan answer, 1)
	go func() { first <- e.keyed(e.url, &key, "POST", path, body) }()
	e.waitLocked(1)
	got := e.keyed(second, &key, "POST", path, body)
	wantStatus(t, got.status, http.StatusConflict, got.body)
	if got.header.Get("Retry-After") != "1" {
		t.Errorf("409 without Retry-After: %v", got.header)
	}
	if err := tx.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	made := <-first
	wantStatus(t, made.status, 201, made.body)
	again := e.keyed(second, &key, "POST", path, body)
	if again.status != 201 || !again.replayed() || !bytes.Equal(again.body, made.body) {
		t.Errorf("after the first: %d replayed %v %s", again.status, again.replayed(), again.body)
	}
	if n := e.count("notes"); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
}

// waitLocked waits until n backends wait for a lock.
func (e *env) waitLocked(n int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := e.pool.QueryRow(bg, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			e.t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d backends wait for a lock, want %d", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIdempotencyKeyAnsweredMeanwhile: a repeat that committed its answer after this request
// looked for one and before it took the key's lock is found, whether this request's own change
// then succeeds (a second note, rolled back) or fails (a merge done already): the repeat's answer
// is given, and one change stays.
func TestIdempotencyKeyAnsweredMeanwhile(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		want       int
	}{
		{"a change that succeeds again", "/notes", 201},
		{"a change that fails the second time", "/merge", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001")})
			o := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000002")})
			body := `{"body": "once"}`
			if tc.path == "/merge" {
				body = fmt.Sprintf(`{"contact_ids": [%q]}`, o.Id)
			}
			// Once armed, the second server stops a request at its second connection, its
			// transaction's: after it looked for an answer, before it takes the key's lock.
			var (
				acquired atomic.Int32
				armed    atomic.Bool
				reached  = make(chan struct{})
				release  = make(chan struct{})
			)
			second := e.another(2, func(context.Context, *pgx.Conn) (bool, error) {
				if armed.Load() && acquired.Add(1) == 2 {
					close(reached)
					<-release
				}
				return true, nil
			})
			e.keyed(second, nil, "GET", "/v1/contacts/"+c.Id, "") // its key is checked and remembered
			key := "meanwhile"
			path := "/v1/contacts/" + c.Id + tc.path
			first := e.keyed(e.url, &key, "POST", path, body)
			wantStatus(t, first.status, tc.want, first.body)
			before := e.changes()
			// The answer is hidden while the second request looks, and back before it locks.
			if _, err := e.pool.Exec(bg, `CREATE TABLE hidden AS SELECT * FROM idempotency_keys; DELETE FROM idempotency_keys`); err != nil {
				t.Fatal(err)
			}
			armed.Store(true)
			got := make(chan answer, 1)
			go func() { got <- e.keyed(second, &key, "POST", path, body) }()
			<-reached
			if _, err := e.pool.Exec(bg, `INSERT INTO idempotency_keys SELECT * FROM hidden`); err != nil {
				t.Fatal(err)
			}
			close(release)
			a := <-got
			if a.status != first.status || !a.replayed() || !bytes.Equal(a.body, first.body) {
				t.Errorf("answer %d replayed %v %s, want the first's", a.status, a.replayed(), a.body)
			}
			if after := e.changes(); after != before {
				t.Errorf("the repeat changed something: %s -> %s", before, after)
			}
		})
	}
}

// TestSecretAnswersAreSealed: every operation that takes an Idempotency-Key and answers a member
// named secret (a webhook signing secret) or key (an API key) keeps its answers sealed.
func TestSecretAnswersAreSealed(t *testing.T) {
	spec, err := openapi3.NewLoader().LoadFromData(api.SpecYAML) // operation ids as written
	if err != nil {
		t.Fatal(err)
	}
	var holdsSecret func(s *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) bool
	holdsSecret = func(s *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) bool {
		if s == nil || s.Value == nil || seen[s.Value] {
			return false
		}
		seen[s.Value] = true
		for name, p := range s.Value.Properties {
			if name == "secret" || name == "key" || holdsSecret(p, seen) {
				return true
			}
		}
		for _, group := range []openapi3.SchemaRefs{s.Value.AllOf, s.Value.OneOf, s.Value.AnyOf} {
			for _, sub := range group {
				if holdsSecret(sub, seen) {
					return true
				}
			}
		}
		return holdsSecret(s.Value.Items, seen)
	}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Parameters.GetByInAndName("header", "Idempotency-Key") == nil {
				continue
			}
			secret := false
			for status, r := range op.Responses.Map() {
				if strings.HasPrefix(status, "2") && r.Value != nil {
					if mt := r.Value.Content.Get("application/json"); mt != nil && holdsSecret(mt.Schema, map[*openapi3.Schema]bool{}) {
						secret = true
					}
				}
			}
			if secret != server.SealedAnswers[op.OperationID] {
				t.Errorf("%s answers a secret: %v; its answers are sealed: %v", op.OperationID, secret, server.SealedAnswers[op.OperationID])
			}
		}
	}
}
