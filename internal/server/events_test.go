package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/provider/providertest"
)

// feedEvent is an event as the feed answers it (the spec's Event, read loosely).
type feedEvent struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Sequence    int64           `json:"sequence"`
	WorkspaceID string          `json:"workspace_id"`
	ObjectID    string          `json:"object_id"`
	ContactID   *string         `json:"contact_id"`
	Data        json.RawMessage `json:"data"`
}

type feedPage struct {
	Data []feedEvent `json:"data"`
	Meta struct {
		NextCursor string `json:"next_cursor"`
		HasMore    bool   `json:"has_more"`
	} `json:"meta"`
}

// feed reads one page of the feed after a sequence number, with more query parameters.
func (e *env) feed(after int64, query url.Values) feedPage {
	e.t.Helper()
	if query == nil {
		query = url.Values{}
	}
	query.Set("after", strconv.FormatInt(after, 10))
	status, body := e.do("GET", "/v1/events?"+query.Encode(), nil)
	wantStatus(e.t, status, 200, body)
	var p feedPage
	if err := json.Unmarshal(body, &p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// feedUntil reads the feed from after until it has seen n events (the newest appear once the
// transactions before them end: other tests share the cluster) and returns them and the cursor.
func (e *env) feedUntil(after int64, n int, query url.Values) ([]feedEvent, int64) {
	e.t.Helper()
	var got []feedEvent
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < n {
		p := e.feed(after, query)
		got = append(got, p.Data...)
		next, err := strconv.ParseInt(p.Meta.NextCursor, 10, 64)
		if err != nil {
			e.t.Fatal(err)
		}
		after = next
		if len(p.Data) == 0 {
			if time.Now().After(deadline) {
				e.t.Fatalf("the feed showed %d events, want %d: %v", len(got), n, typesOf(got))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return got, after
}

func typesOf(evs []feedEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

func TestEveryChangeRecordsItsEvent(t *testing.T) {
	e := newEnv(t)
	fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{
		"6281234567890": {Name: "Ujang", WaID: "wa-ujang"},
	}})
	var (
		after  int64
		budi   api.Contact
		seen   = map[string]bool{}
		ch     api.Channel
		merge  string
		before = time.Now().Add(-time.Minute)
	)
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"a new contact with two identifiers", func() {
			budi = e.create(api.ContactCreate{Name: ptr("Budi"), PhoneNumber: ptr("+6281234567890"), Email: ptr("budi@example.com")})
		}, []string{"contact.created", "identity.attached", "identity.attached"}},
		{"an upsert that changes nothing", func() {
			res, _ := e.c.CreateContactWithResponse(bg, nil, api.ContactCreate{Name: ptr("Budi"), PhoneNumber: ptr("+6281234567890")})
			wantStatus(t, res.StatusCode(), 200, res.Body)
		}, nil},
		{"a patch that renames and sets an external id", func() {
			res, err := e.c.UpdateContactWithBodyWithResponse(bg, budi.Id, nil, "application/json",
				strings.NewReader(`{"name":"Budi Santoso","external_source":"shopify","external_id":"7012"}`))
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, res.StatusCode(), 200, res.Body)
		}, []string{"identity.attached", "contact.updated"}},
		{"a note", func() {
			res, _ := e.c.CreateContactNoteWithResponse(bg, budi.Id, nil, api.NoteCreate{Body: "Asked about shipping"})
			wantStatus(t, res.StatusCode(), 201, res.Body)
		}, []string{"note.created"}},
		{"a tag, assigned twice", func() {
			for range 2 {
				res, _ := e.c.AssignContactTagWithResponse(bg, budi.Id, nil, api.TagAssign{Name: "VIP"})
				if res.StatusCode() >= 300 {
					t.Fatalf("assign: %d %s", res.StatusCode(), res.Body)
				}
			}
		}, []string{"tag.added"}},
		{"the tag removed", func() {
			res, _ := e.c.UnassignContactTagWithResponse(bg, budi.Id, "vip")
			wantStatus(t, res.StatusCode(), 204, res.Body)
		}, []string{"tag.removed"}},
		{"consent, recorded twice the same", func() {
			for range 2 {
				res, _ := e.c.PutContactConsentWithResponse(bg, budi.Id, api.MessagingChannelWhatsapp, api.ConsentPut{Status: api.ConsentStatusOptedIn, CapturedAt: &before})
				if res.StatusCode() >= 300 {
					t.Fatalf("consent: %d %s", res.StatusCode(), res.Body)
				}
			}
		}, []string{"consent.changed"}},
		{"consent withdrawn", func() {
			res, _ := e.c.PutContactConsentWithResponse(bg, budi.Id, api.MessagingChannelWhatsapp, api.ConsentPut{Status: api.ConsentStatusOptedOut})
			wantStatus(t, res.StatusCode(), 200, res.Body)
		}, []string{"consent.changed"}},
		{"a suppression", func() {
			res, _ := e.c.UpsertContactSuppressionWithResponse(bg, budi.Id, nil, api.SuppressionCreate{Channel: api.MessagingChannelSms, Reason: api.SuppressionReasonUnsubscribed})
			wantStatus(t, res.StatusCode(), 201, res.Body)
		}, []string{"suppression.added"}},
		{"the suppression lifted, twice", func() {
			for range 2 {
				res, _ := e.c.LiftContactSuppressionWithResponse(bg, budi.Id, api.MessagingChannelSms, &api.LiftContactSuppressionParams{})
				wantStatus(t, res.StatusCode(), 200, res.Body)
			}
		}, []string{"suppression.lifted"}},
		{"a channel", func() {
			ch = e.channel(api.WhatsappGateway, fake.Credentials())
		}, []string{"channel.created"}},
		{"a lookup that links a wa_id and connects the channel", func() {
			status, _, body := e.lookup(ch.Id, true, "+6281234567890")
			wantStatus(t, status, 200, body)
		}, []string{"channel.updated", "identity.attached"}},
		{"the channel deleted", func() {
			res, _ := e.c.DeleteChannelWithResponse(bg, ch.Id, nil)
			wantStatus(t, res.StatusCode(), 204, res.Body)
		}, []string{"channel.deleted"}},
		{"an import that updates one contact and creates another", func() {
			e.importNDJSON(`{"email":"budi@example.com","custom_fields":{"city":"Bandung"}}`, `{"email":"siti@example.com"}`, `{"email":"not an email"}`)
		}, []string{"contact.updated", "contact.created", "import.completed"}},
		{"a phone number replaced", func() {
			res, err := e.c.UpdateContactWithBodyWithResponse(bg, budi.Id, nil, "application/json", strings.NewReader(`{"phone_number":"+6281234500000"}`))
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, res.StatusCode(), 200, res.Body)
		}, []string{"identity.detached", "identity.attached", "contact.updated"}},
		{"another contact merged into it, and a dry run that records nothing", func() {
			other := e.create(api.ContactCreate{Name: ptr("Budi S"), Email: ptr("budi.s@example.com")})
			_, after = e.feedUntil(after, 2, nil)
			dry := true
			res, _ := e.c.MergeContactsWithResponse(bg, budi.Id, nil, api.MergeRequest{ContactIds: []string{other.Id}, DryRun: &dry})
			wantStatus(t, res.StatusCode(), 200, res.Body)
			res, _ = e.c.MergeContactsWithResponse(bg, budi.Id, nil, api.MergeRequest{ContactIds: []string{other.Id}})
			wantStatus(t, res.StatusCode(), 200, res.Body)
			merge = res.JSON200.Data.Merge.Id
		}, []string{"contact.merged"}},
		{"the merge undone", func() {
			res, _ := e.c.UndoMergeWithResponse(bg, merge, nil)
			wantStatus(t, res.StatusCode(), 200, res.Body)
		}, []string{"contact.unmerged"}},
		{"the contact deleted", func() {
			res, _ := e.c.DeleteContactWithResponse(bg, budi.Id, nil)
			wantStatus(t, res.StatusCode(), 204, res.Body)
		}, []string{"contact.deleted"}},
	}
	var all []feedEvent
	for _, s := range steps {
		s.do()
		got, next := e.feedUntil(after, len(s.want), nil)
		if !slices.Equal(typesOf(got), s.want) {
			t.Fatalf("%s: events %v, want %v", s.name, typesOf(got), s.want)
		}
		after = next
		for _, ev := range got {
			seen[ev.Type] = true
		}
		all = append(all, got...)
		// Nothing more shows up once the change's transaction is long over.
		if p := e.feed(after, nil); len(p.Data) > 0 {
			t.Fatalf("%s: unexpected events %v", s.name, typesOf(p.Data))
		}
	}
	for _, typ := range events.Types {
		if !seen[typ] {
			t.Errorf("no %s event seen", typ)
		}
	}
	for i, ev := range all {
		if i > 0 && ev.Sequence <= all[i-1].Sequence {
			t.Errorf("event %d: sequence %d after %d", i, ev.Sequence, all[i-1].Sequence)
		}
		if ev.WorkspaceID != e.ws.WorkspaceID {
			t.Errorf("event %d: workspace %s", i, ev.WorkspaceID)
		}
	}

	t.Run("contact.updated names the changed fields with their previous values", func(t *testing.T) {
		var d struct {
			Object   api.Contact                `json:"object"`
			Previous map[string]json.RawMessage `json:"previous_attributes"`
		}
		if err := json.Unmarshal(all[4].Data, &d); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"name": `"Budi"`, "external_source": "null", "external_id": "null"}
		if len(d.Previous) != len(want) {
			t.Errorf("previous_attributes %s", mustJSON(d.Previous))
		}
		for k, v := range want {
			if string(d.Previous[k]) != v {
				t.Errorf("previous %s = %s, want %s", k, d.Previous[k], v)
			}
		}
		if d.Object.Name.MustGet() != "Budi Santoso" || d.Object.Id != budi.Id {
			t.Errorf("object %s", mustJSON(d.Object))
		}
	})
	t.Run("filters by type and by contact", func(t *testing.T) {
		p := e.feed(0, url.Values{"type": {"tag.added", "tag.removed"}})
		if !slices.Equal(typesOf(p.Data), []string{"tag.added", "tag.removed"}) {
			t.Errorf("types %v", typesOf(p.Data))
		}
		p = e.feed(0, url.Values{"contact_id": {budi.Id}, "limit": {"1000"}})
		for _, ev := range p.Data {
			if ev.ContactID == nil || *ev.ContactID != budi.Id {
				t.Errorf("%s of contact %v", ev.Type, ev.ContactID)
			}
		}
		if n := len(p.Data); n < 15 {
			t.Errorf("%d events of the contact", n)
		}
	})
	t.Run("another workspace sees none of them", func(t *testing.T) {
		_, other := e.workspace("Other", "ID")
		res, err := other.ListEventsWithResponse(bg, &api.ListEventsParams{})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.StatusCode(), 200, res.Body)
		if len(res.JSON200.Data) != 0 {
			t.Errorf("another workspace sees %d events", len(res.JSON200.Data))
		}
	})
	t.Run("bad parameters name themselves", func(t *testing.T) {
		for _, c := range []struct{ query, field string }{
			{"after=-1", "after"}, {"limit=0", "limit"}, {"limit=1001", "limit"}, {"type=contact.exploded", "type"},
			{"contact_id=note_1", "contact_id"}, {"after=abc", "after"},
		} {
			status, body := e.do("GET", "/v1/events?"+c.query, nil)
			if status != 400 || !slices.Contains(fields(problem(t, status, body)), c.field) {
				t.Errorf("%s: %d %s", c.query, status, body)
			}
		}
	})
	t.Run("a cursor older than retention is gone", func(t *testing.T) {
		if _, err := e.pool.Exec(bg, `UPDATE events SET created_at = created_at - interval '40 days' WHERE seq <= $1`, all[3].Sequence); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.DeleteExpiredEvents(bg, time.Now().Add(-30*24*time.Hour), 1000); err != nil {
			t.Fatal(err)
		}
		status, body := e.do("GET", fmt.Sprintf("/v1/events?after=%d", all[1].Sequence), nil)
		wantStatus(t, status, 410, body)
		if p := e.feed(all[3].Sequence, nil); len(p.Data) == 0 || p.Data[0].ID != all[4].ID {
			t.Errorf("resuming at the horizon: %v", typesOf(p.Data))
		}
		if p := e.feed(0, nil); len(p.Data) == 0 || p.Data[0].ID != all[4].ID {
			t.Errorf("from the start: %v", typesOf(p.Data))
		}
	})
}

// TestFeedResumedFromACursorMissesNothing reads the feed page by page while writers commit
// changes concurrently, and checks that what it saw is every event, each once, in order.
func TestFeedResumedFromACursorMissesNothing(t *testing.T) {
	e := newEnv(t)
	const writers, each = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Updates of a few shared contacts make transactions wait on each other's locks.
				body := api.ContactCreate{Email: ptr(fmt.Sprintf("shared%d@example.com", i%3)), Name: ptr(fmt.Sprintf("w%d-%d", w, i))}
				if i%2 == 0 {
					body = api.ContactCreate{Email: ptr(fmt.Sprintf("w%d-%d@example.com", w, i))}
				}
				res, err := e.c.CreateContactWithResponse(bg, nil, body)
				if err != nil || res.StatusCode() >= 300 {
					t.Errorf("upsert: %v %s", err, res.Body)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var (
		got   []feedEvent
		after int64
	)
	read := func() {
		p := e.feed(after, url.Values{"limit": {"7"}})
		got = append(got, p.Data...)
		after, _ = strconv.ParseInt(p.Meta.NextCursor, 10, 64)
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			read()
		}
	}
	var total int
	if err := e.pool.QueryRow(bg, "SELECT count(*) FROM events").Scan(&total); err != nil {
		t.Fatal(err)
	}
	rest, _ := e.feedUntil(after, total-len(got), url.Values{"limit": {"7"}})
	got = append(got, rest...)
	ids := map[string]bool{}
	for i, ev := range got {
		if ids[ev.ID] {
			t.Errorf("event %s seen twice", ev.ID)
		}
		ids[ev.ID] = true
		if i > 0 && ev.Sequence <= got[i-1].Sequence {
			t.Errorf("sequence %d after %d", ev.Sequence, got[i-1].Sequence)
		}
	}
	if len(got) != total {
		t.Errorf("the feed showed %d events, the table holds %d", len(got), total)
	}
	// Every write made at least its contact event.
	if total < writers*each/2 {
		t.Errorf("%d events for %d upserts", total, writers*each)
	}
}

// TestFeedWaitsForAnEarlierNumberStillUncommitted holds a transaction that took a sequence
// number open while a later change commits: the feed must not show the later event until the
// earlier transaction has ended, or a consumer resuming after it would skip the earlier one.
func TestFeedWaitsForAnEarlierNumberStillUncommitted(t *testing.T) {
	e := newEnv(t)
	first := e.create(api.ContactCreate{Email: ptr("first@example.com")})
	seen, after := e.feedUntil(0, 2, nil)
	object, err := json.Marshal(map[string]api.Contact{"object": first})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := e.pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg) //nolint:errcheck // committed below
	// The slow change: its own write first, then its event, as the store does.
	if _, err := tx.Exec(bg, `UPDATE contacts SET name = 'slow' WHERE email = 'first@example.com'`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(bg, `INSERT INTO events (workspace_id, id, type, object_id, contact_id, data)
		SELECT workspace_id, gen_random_uuid(), 'contact.created', $1, id, $2 FROM contacts WHERE email = 'first@example.com'`,
		first.Id, string(object)); err != nil {
		t.Fatal(err)
	}
	e.create(api.ContactCreate{Email: ptr("second@example.com")})
	if p := e.feed(after, nil); len(p.Data) != 0 {
		t.Fatalf("the feed shows %v while an earlier number is uncommitted", typesOf(p.Data))
	}
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}
	got, _ := e.feedUntil(after, 3, nil)
	if got[0].ObjectID != first.Id || got[0].Sequence <= seen[len(seen)-1].Sequence {
		t.Errorf("the slow change's event is not first: %v", typesOf(got))
	}
}

// TestFeedWaitsForAnEarlierNumberWithALaterTransactionID: T2 takes its transaction id, then T1
// takes a later id and an earlier event number, then T2 takes the next number and commits. A
// snapshot then shows no running transaction below its xmax (T1's id is above it), yet T1 may
// still commit number n1 < n2: the feed must wait for T1 all the same.
func TestFeedWaitsForAnEarlierNumberWithALaterTransactionID(t *testing.T) {
	e := newEnv(t)
	a := e.create(api.ContactCreate{Email: ptr("a@example.com")})
	b := e.create(api.ContactCreate{Email: ptr("b@example.com")})
	_, after := e.feedUntil(0, 4, nil)
	begin := func(email string) pgx.Tx {
		tx, err := e.pool.Begin(bg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tx.Rollback(bg) })
		if _, err := tx.Exec(bg, `UPDATE contacts SET name = 'x' WHERE email = $1`, email); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	event := func(tx pgx.Tx, c api.Contact) {
		object, err := json.Marshal(map[string]api.Contact{"object": c})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(bg, `INSERT INTO events (workspace_id, id, type, object_id, contact_id, data)
			SELECT workspace_id, gen_random_uuid(), 'contact.created', $1, id, $2 FROM contacts WHERE email = $3`,
			c.Id, string(object), c.Email.MustGet()); err != nil {
			t.Fatal(err)
		}
	}
	t2 := begin("b@example.com") // the earlier transaction id
	t1 := begin("a@example.com") // the later one
	event(t1, a)                 // the earlier number
	event(t2, b)
	if err := t2.Commit(bg); err != nil {
		t.Fatal(err)
	}
	if p := e.feed(after, nil); len(p.Data) != 0 {
		t.Fatalf("the feed shows %v while a transaction holding an earlier number runs", typesOf(p.Data))
	}
	if err := t1.Commit(bg); err != nil {
		t.Fatal(err)
	}
	got, _ := e.feedUntil(after, 2, nil)
	if got[0].ObjectID != a.Id || got[1].ObjectID != b.Id {
		t.Errorf("events %v %v, want a's then b's", got[0].ObjectID, got[1].ObjectID)
	}
}
