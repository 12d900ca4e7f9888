package server_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wazapin/wazapin/gen/api"
)

// The races of merging (issue 11, item 4). Each test starts its requests together from their own
// goroutines, over and over (raceRounds), so that they meet in different orders, and then holds
// the end state to what some serial order of the same requests would have left. Every answer is
// checked against openapi.yaml by the harness; a 5xx fails the test.

// raceRounds is how many times each race runs.
const raceRounds = 20

// call is one request of a race.
type call struct{ method, path, body string }

func mergeCall(survivor string, dryRun bool, others ...string) call {
	b, _ := json.Marshal(api.MergeRequest{ContactIds: others, DryRun: &dryRun})
	return call{http.MethodPost, "/v1/contacts/" + survivor + "/merge", string(b)}
}

func upsertCall(c api.ContactCreate) call {
	b, _ := json.Marshal(c)
	return call{http.MethodPost, "/v1/contacts", string(b)}
}

func deleteCall(id string) call { return call{http.MethodDelete, "/v1/contacts/" + id, ""} }

// race sends the calls at once, each from its own goroutine, all released together, and answers
// their responses in the calls' order. An answer that is no answer (status 0) or a 5xx fails the
// test.
func (e *env) race(calls ...call) []response {
	e.t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		out   = make([]response, len(calls))
	)
	for i, c := range calls {
		wg.Go(func() {
			<-start
			out[i] = e.send(c)
		})
	}
	close(start)
	wg.Wait()
	for i, r := range out {
		if r.status == 0 || r.status >= 500 {
			e.t.Errorf("%s %s %s: answered %d: %s", calls[i].method, calls[i].path, calls[i].body, r.status, r.body)
		}
	}
	return out
}

// send is e.do for goroutines other than the test's: a request that could not be sent answers
// status 0 instead of ending the test.
func (e *env) send(c call) response {
	var body []byte
	if c.body != "" {
		body = []byte(c.body)
	}
	a, err := e.roundTrip(e.url, c.method, c.path, body)
	if err != nil {
		return response{0, []byte(err.Error())}
	}
	return response{a.status, a.body}
}

func decodeMerge(t *testing.T, r response) api.MergeResult {
	t.Helper()
	var v struct{ Data api.MergeResult }
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("merge answer: %v: %s", err, r.body)
	}
	return v.Data
}

func decodeContact(t *testing.T, r response) api.Contact {
	t.Helper()
	var v struct{ Data api.Contact }
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("contact answer: %v: %s", err, r.body)
	}
	return v.Data
}

// answersAs is the id of the contact GET /v1/contacts/{id} answers with, or "" for a 404.
func (e *env) answersAs(id string) string {
	e.t.Helper()
	res, err := e.c.GetContactWithResponse(bg, id, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	switch res.StatusCode() {
	case http.StatusOK:
		return res.JSON200.Data.Id
	case http.StatusNotFound:
		return ""
	}
	e.t.Fatalf("GET %s: %d %s", id, res.StatusCode(), res.Body)
	return ""
}

// wantListed fails the test unless the workspace lists exactly the contacts of want: none
// created by a race, none lost, no merged one.
func (e *env) wantListed(round int, want map[string]bool) {
	e.t.Helper()
	got := map[string]bool{}
	var cursor *string
	for {
		res, err := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{Limit: ptr(200), Cursor: cursor})
		if err != nil {
			e.t.Fatal(err)
		}
		wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
		for _, c := range res.JSON200.Data {
			if got[c.Id] {
				e.t.Errorf("round %d: %s listed twice", round, c.Id)
			}
			got[c.Id] = true
		}
		next, err := res.JSON200.Meta.NextCursor.Get()
		if err != nil || next == "" {
			break
		}
		cursor = &next
	}
	for id := range got {
		if !want[id] {
			e.t.Errorf("round %d: %s is listed, and should not exist", round, id)
		}
	}
	for id := range want {
		if !got[id] {
			e.t.Errorf("round %d: %s is not listed", round, id)
		}
	}
}

// wantResolve fails the test unless every identifier leads to the contact to ("" for none).
func (e *env) wantResolve(round int, to string, identifiers ...string) {
	e.t.Helper()
	for _, id := range identifiers {
		if got := e.resolveTo(id); got != to {
			e.t.Errorf("round %d: %s resolves to %q, want %q", round, id, got, to)
		}
	}
}

// wantNoOrphans fails the test if an identifier leads to a contact that GET says does not exist.
func (e *env) wantNoOrphans(round int, identifiers ...string) {
	e.t.Helper()
	for _, id := range identifiers {
		if to := e.resolveTo(id); to != "" && e.answersAs(to) != to {
			e.t.Errorf("round %d: %s resolves to %s, which GET does not answer for", round, id, to)
		}
	}
}

// eventsOf answers the feed's events of a type: the n expected, and any after them.
func (e *env) eventsOf(typ string, n int) []feedEvent {
	e.t.Helper()
	q := url.Values{"type": {typ}}
	evs, cursor := e.feedUntil(0, n, q)
	return append(evs, e.feed(cursor, url.Values{"type": {typ}}).Data...)
}

// wantMergedEvents fails the test unless the feed holds exactly one contact.merged event for each
// merge answered 200 (dry runs aside), and no other.
func (e *env) wantMergedEvents(mergeIDs []string) {
	e.t.Helper()
	var got []string
	for _, ev := range e.eventsOf("contact.merged", len(mergeIDs)) {
		var d struct {
			MergeID string `json:"merge_id"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			e.t.Fatal(err)
		}
		got = append(got, d.MergeID)
	}
	if !slices.Equal(sorted(got), sorted(mergeIDs)) {
		e.t.Errorf("contact.merged events for merges %v; the merges answered 200 were %v", sorted(got), sorted(mergeIDs))
	}
}

func customKeys(t *testing.T, c api.Contact) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(c.CustomFields, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// identifier formats an identifier as identities and resolveTo spell it.
func phoneID(v string) string { return "phone:" + v }
func emailID(v string) string { return "email:" + v }
func shopID(v string) string  { return "external_id:shop:" + v }

// TestMergeRacingUpserts merges B into A while upserts name A's and B's identifiers, each setting
// a custom field of its own (one a name too), and a dry run of the same merge. Each upsert finds
// the contact holding its identifier, A or B before the merge (then the merge carries its change)
// or the survivor A after it: never a new contact, never a conflict. Afterwards A holds every
// identifier of both, every upsert's change, and is the only contact of the round.
func TestMergeRacingUpserts(t *testing.T) {
	e := newEnv(t)
	live := map[string]bool{}
	var merges []string
	onB, dryRuns := 0, 0
	for round := range raceRounds {
		pa, pb := fmt.Sprintf("+62811%08d", 2*round), fmt.Sprintf("+62811%08d", 2*round+1)
		ea, xb := fmt.Sprintf("a%d@example.com", round), fmt.Sprintf("b%d", round)
		name := fmt.Sprintf("Upserted %d", round)
		newA := func() api.Contact {
			return e.create(api.ContactCreate{PhoneNumber: &pa, Email: &ea, CustomFields: rawJSON(`{"a": 1}`)})
		}
		newB := func() api.Contact {
			return e.create(api.ContactCreate{PhoneNumber: &pb, ExternalSource: ptr("shop"), ExternalId: &xb, CustomFields: rawJSON(`{"b": 2}`)})
		}
		// Which is older, so which the merge locks first, alternates.
		var a, b api.Contact
		if round%2 == 0 {
			a, b = newA(), newB()
		} else {
			b, a = newB(), newA()
		}
		upserts := []api.ContactCreate{
			{PhoneNumber: &pb, CustomFields: rawJSON(`{"u0": 0}`)},
			{ExternalSource: ptr("shop"), ExternalId: &xb, Name: &name, CustomFields: rawJSON(`{"u1": 1}`)},
			{PhoneNumber: &pb, CustomFields: rawJSON(`{"u2": 2}`)},
			{ExternalSource: ptr("shop"), ExternalId: &xb, CustomFields: rawJSON(`{"u3": 3}`)},
			{PhoneNumber: &pa, CustomFields: rawJSON(`{"u4": 4}`)},
			{Email: &ea, CustomFields: rawJSON(`{"u5": 5}`)},
		}
		calls := []call{mergeCall(a.Id, false, b.Id), mergeCall(a.Id, true, b.Id)}
		for _, u := range upserts {
			calls = append(calls, upsertCall(u))
		}
		res := e.race(calls...)

		if res[0].status != http.StatusOK {
			t.Errorf("round %d: the merge answered %d: %s", round, res[0].status, res[0].body)
			continue
		}
		m := decodeMerge(t, res[0])
		merges = append(merges, m.Merge.Id)
		if m.Contact.Id != a.Id || !slices.Equal(m.Merge.MergedIds, []string{b.Id}) {
			t.Errorf("round %d: merged %v into %s, want %s into %s", round, m.Merge.MergedIds, m.Contact.Id, b.Id, a.Id)
		}
		// The dry run came before the merge (and previewed it) or after it (b is a's already).
		switch res[1].status {
		case http.StatusOK:
			dryRuns++
			d := decodeMerge(t, res[1])
			if !d.Merge.DryRun || d.Contact.Id != a.Id {
				t.Errorf("round %d: the dry run answered %s", round, res[1].body)
			}
			status, body := e.do(http.MethodGet, "/v1/merges/"+d.Merge.Id, nil)
			wantStatus(t, status, http.StatusNotFound, body)
		case http.StatusConflict:
		default:
			t.Errorf("round %d: the dry run answered %d: %s", round, res[1].status, res[1].body)
		}
		for i, r := range res[2:] {
			if r.status != http.StatusOK {
				t.Errorf("round %d: upsert %s answered %d, want 200 on the contact holding its identifier: %s", round, calls[2+i].body, r.status, r.body)
				continue
			}
			switch decodeContact(t, r).Id {
			case a.Id:
			case b.Id:
				onB++
			default:
				t.Errorf("round %d: upsert %s landed on another contact: %s", round, calls[2+i].body, r.body)
			}
		}

		got := e.get(b.Id)
		if got.Id != a.Id {
			t.Errorf("round %d: GET %s answered %s, want the survivor %s", round, b.Id, got.Id, a.Id)
			continue
		}
		if want := []string{"a", "b", "u0", "u1", "u2", "u3", "u4", "u5"}; !slices.Equal(customKeys(t, got), want) {
			t.Errorf("round %d: the survivor's custom fields %s, want the keys %v (every upsert's change)", round, got.CustomFields, want)
		}
		if n, _ := got.Name.Get(); n != name {
			t.Errorf("round %d: the survivor's name %q, want the upsert's %q", round, n, name)
		}
		if !slices.Equal(got.MergedIds, []string{b.Id}) {
			t.Errorf("round %d: merged_ids %v, want [%s]", round, got.MergedIds, b.Id)
		}
		all := sorted([]string{phoneID(pa), emailID(ea), phoneID(pb), shopID(xb)})
		if ids := e.identities(a.Id); !slices.Equal(ids, all) {
			t.Errorf("round %d: the survivor holds %v, want %v", round, ids, all)
		}
		e.wantResolve(round, a.Id, append(all, "contact_id:"+b.Id)...)
		live[a.Id] = true
		e.wantListed(round, live)
	}
	e.wantMergedEvents(merges)
	t.Logf("%d rounds: %d upserts landed on the merged contact before the merge; %d dry runs came before the merge", raceRounds, onB, dryRuns)
	if n := e.deadlocks(); n != 0 {
		t.Errorf("%d deadlocks", n)
	}
}

// TestMergesOfOnePairInOppositeDirections merges A into B and B into A at once (in odd rounds
// twice each way): one merge answers 200, every other 409 naming the contact merged away and its
// survivor. Afterwards one of them is listed, the other's id answers for it, and it holds the
// identifiers and notes of both and a single merge.
func TestMergesOfOnePairInOppositeDirections(t *testing.T) {
	e := newEnv(t)
	live := map[string]bool{}
	var merges []string
	wonAs := map[string]int{}
	for round := range raceRounds {
		pa, pb := fmt.Sprintf("+62812%08d", 2*round), fmt.Sprintf("+62812%08d", 2*round+1)
		ea, xb := fmt.Sprintf("a%d@example.com", round), fmt.Sprintf("b%d", round)
		a := e.create(api.ContactCreate{PhoneNumber: &pa, Email: &ea})
		b := e.create(api.ContactCreate{PhoneNumber: &pb, ExternalSource: ptr("shop"), ExternalId: &xb})
		e.note(a.Id, fmt.Sprintf("a's note %d", round))
		e.note(b.Id, fmt.Sprintf("b's note %d", round))
		calls := []call{mergeCall(a.Id, false, b.Id), mergeCall(b.Id, false, a.Id)}
		if round%2 == 1 {
			calls = append(calls, calls...)
		}
		res := e.race(calls...)

		var won []int
		for i, r := range res {
			if r.status == http.StatusOK {
				won = append(won, i)
			} else if r.status != http.StatusConflict {
				t.Errorf("round %d: %s %s answered %d, want 200 or 409: %s", round, calls[i].path, calls[i].body, r.status, r.body)
			}
		}
		if len(won) != 1 {
			t.Errorf("round %d: %d merges answered 200, want exactly one", round, len(won))
			continue
		}
		w := decodeMerge(t, res[won[0]])
		merges = append(merges, w.Merge.Id)
		s, l := a, b
		if won[0]%2 == 1 {
			s, l = b, a
			wonAs["A into B"]++
		} else {
			wonAs["B into A"]++
		}
		if w.Contact.Id != s.Id || !slices.Equal(w.Merge.MergedIds, []string{l.Id}) {
			t.Errorf("round %d: the winner merged %v into %s, want %s into %s", round, w.Merge.MergedIds, w.Contact.Id, l.Id, s.Id)
		}
		for i, r := range res {
			if r.status != http.StatusConflict {
				continue
			}
			p := problem(t, http.StatusConflict, r.body)
			if p.Detail == nil || !strings.Contains(*p.Detail, l.Id) || strings.Index(*p.Detail, l.Id) > strings.LastIndex(*p.Detail, s.Id) {
				t.Errorf("round %d: %s %s: the 409 does not say %s is merged into %s: %s", round, calls[i].path, calls[i].body, l.Id, s.Id, r.body)
			}
		}

		for _, id := range []string{a.Id, b.Id} {
			if got := e.answersAs(id); got != s.Id {
				t.Errorf("round %d: GET %s answered %q, want the survivor %s", round, id, got, s.Id)
			}
		}
		if got := e.get(s.Id); !slices.Equal(got.MergedIds, []string{l.Id}) {
			t.Errorf("round %d: merged_ids %v, want [%s]", round, got.MergedIds, l.Id)
		}
		all := sorted([]string{phoneID(pa), emailID(ea), phoneID(pb), shopID(xb)})
		if ids := e.identities(s.Id); !slices.Equal(ids, all) {
			t.Errorf("round %d: the survivor holds %v, want %v", round, ids, all)
		}
		e.wantResolve(round, s.Id, append(all, "contact_id:"+a.Id, "contact_id:"+b.Id)...)
		if notes, want := e.notes(s.Id), sorted([]string{fmt.Sprintf("a's note %d", round), fmt.Sprintf("b's note %d", round)}); !slices.Equal(notes, want) {
			t.Errorf("round %d: the survivor's notes %v, want %v", round, notes, want)
		}
		hist, err := e.c.ListContactMergesWithResponse(bg, l.Id)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, hist.StatusCode(), http.StatusOK, hist.Body)
		if n := len(hist.JSON200.Data); n != 1 || hist.JSON200.Data[0].Id != w.Merge.Id {
			t.Errorf("round %d: the history holds %d merges, want only %s: %s", round, n, w.Merge.Id, hist.Body)
		}
		live[s.Id] = true
		e.wantListed(round, live)
	}
	e.wantMergedEvents(merges)
	t.Logf("%d rounds: won %v", raceRounds, wonAs)
	if n := e.deadlocks(); n != 0 {
		t.Errorf("%d deadlocks", n)
	}
}

// TestMergeRacingDelete merges B into A while B is deleted, and while A is deleted. The delete
// answers 204 either way (a merged id answers for its survivor, DELETE included), and the end
// state is one of the two serial orders: the delete first (the merge answers 404 naming the
// deleted contact, whose identifiers lead nowhere; the other is intact), or the merge first (the
// delete removed the survivor: both ids answer 404, no identifier of either resolves). No
// identifier leads to a contact that does not exist; contact.deleted names the contact deleted.
func TestMergeRacingDelete(t *testing.T) {
	e := newEnv(t)
	live := map[string]bool{}
	var merges, deleted []string
	outcomes := map[string]int{}
	for round := range raceRounds {
		for v, victimIs := range []string{"merged", "survivor"} {
			n := 4*round + 2*v
			pa, pb := fmt.Sprintf("+62813%08d", n), fmt.Sprintf("+62813%08d", n+1)
			ea, xb := fmt.Sprintf("a%d@example.com", n), fmt.Sprintf("b%d", n)
			newA := func() api.Contact { return e.create(api.ContactCreate{PhoneNumber: &pa, Email: &ea}) }
			newB := func() api.Contact {
				return e.create(api.ContactCreate{PhoneNumber: &pb, ExternalSource: ptr("shop"), ExternalId: &xb})
			}
			var a, b api.Contact
			if round%2 == 0 {
				a, b = newA(), newB()
			} else {
				b, a = newB(), newA()
			}
			ofA, ofB := []string{phoneID(pa), emailID(ea)}, []string{phoneID(pb), shopID(xb)}
			victim, other, ofVictim, ofOther := b, a, ofB, ofA
			if victimIs == "survivor" {
				victim, other, ofVictim, ofOther = a, b, ofA, ofB
			}
			res := e.race(mergeCall(a.Id, false, b.Id), deleteCall(victim.Id))
			m, d := res[0], res[1]
			if d.status != http.StatusNoContent {
				t.Errorf("round %d, deleting the %s: the delete answered %d, want 204 in either order: %s", round, victimIs, d.status, d.body)
			}
			switch m.status {
			case http.StatusNotFound: // the delete first
				outcomes["delete first ("+victimIs+")"]++
				deleted = append(deleted, victim.Id)
				if p := problem(t, http.StatusNotFound, m.body); p.Detail == nil || !strings.Contains(*p.Detail, victim.Id) {
					t.Errorf("round %d: the merge's 404 does not name the deleted %s: %s", round, victim.Id, m.body)
				}
				if got := e.answersAs(victim.Id); got != "" {
					t.Errorf("round %d: the deleted %s answers as %s", round, victim.Id, got)
				}
				if got := e.get(other.Id); got.Id != other.Id || len(got.MergedIds) != 0 {
					t.Errorf("round %d: the contact not deleted answers as %s, merged_ids %v", round, got.Id, got.MergedIds)
				}
				if ids := e.identities(other.Id); !slices.Equal(ids, sorted(ofOther)) {
					t.Errorf("round %d: the contact not deleted holds %v, want its own %v", round, ids, ofOther)
				}
				e.wantResolve(round, other.Id, ofOther...)
				e.wantResolve(round, "", ofVictim...)
				live[other.Id] = true
			case http.StatusOK: // the merge first; the delete acted on the survivor
				outcomes["merge first ("+victimIs+")"]++
				deleted = append(deleted, a.Id)
				mr := decodeMerge(t, m)
				merges = append(merges, mr.Merge.Id)
				if mr.Contact.Id != a.Id {
					t.Errorf("round %d: the merge's survivor is %s, want %s", round, mr.Contact.Id, a.Id)
				}
				for _, id := range []string{a.Id, b.Id} {
					if got := e.answersAs(id); got != "" {
						t.Errorf("round %d: %s answers as %s after the merge and the delete of the %s", round, id, got, victimIs)
					}
				}
				e.wantResolve(round, "", append(ofA, ofB...)...)
			default:
				t.Errorf("round %d, deleting the %s: the merge answered %d, want 404 (delete first) or 200 (merge first): %s", round, victimIs, m.status, m.body)
			}
			e.wantNoOrphans(round, append(ofA, ofB...)...)
			e.wantListed(round, live)
		}
	}
	e.wantMergedEvents(merges)
	var gone []string
	for _, ev := range e.eventsOf("contact.deleted", len(deleted)) {
		gone = append(gone, ev.ObjectID)
	}
	if !slices.Equal(sorted(gone), sorted(deleted)) {
		t.Errorf("contact.deleted events for %v, want %v", sorted(gone), sorted(deleted))
	}
	t.Logf("%d rounds: %v", raceRounds, outcomes)
	if n := e.deadlocks(); n != 0 {
		t.Errorf("%d deadlocks", n)
	}
}

// TestMergesSharingAContact runs merges that share a contact at once, the contacts created in a
// random order so that their locks are taken in every order:
//   - B into A with C into B: both answer 200, whichever runs second follows B to its survivor;
//     A holds everything.
//   - with B merged into A already, C into B (following B to A), D into C and A into D: the three
//     join three contacts in a cycle, so exactly two answer 200 and the last 409; one contact
//     survives holding everything, and every id answers for it.
//
// No deadlock surfaces, and PostgreSQL detects none.
func TestMergesSharingAContact(t *testing.T) {
	e := newEnv(t)
	live := map[string]bool{}
	var merges []string
	survivors := map[string]int{}
	n := 0
	fresh := func(rng *rand.Rand, k int) ([]api.Contact, [][]string) {
		contacts, idents := make([]api.Contact, k), make([][]string, k)
		for _, i := range rng.Perm(k) {
			p, x := fmt.Sprintf("+62814%08d", n), fmt.Sprintf("x%d", n)
			n++
			contacts[i] = e.create(api.ContactCreate{PhoneNumber: &p, ExternalSource: ptr("shop"), ExternalId: &x})
			idents[i] = []string{phoneID(p), shopID(x)}
		}
		return contacts, idents
	}
	// wantOne checks the contacts became one, s, holding every identifier.
	wantOne := func(round int, s string, contacts []api.Contact, idents [][]string) {
		t.Helper()
		var others, all []string
		for i, c := range contacts {
			if got := e.answersAs(c.Id); got != s {
				t.Errorf("round %d: GET %s answered %q, want the survivor %s", round, c.Id, got, s)
			}
			if c.Id != s {
				others = append(others, c.Id)
			}
			all = append(all, idents[i]...)
			all = append(all, "contact_id:"+c.Id)
		}
		if got := e.get(s); !slices.Equal(sorted(got.MergedIds), sorted(others)) {
			t.Errorf("round %d: merged_ids %v, want %v", round, got.MergedIds, others)
		}
		e.wantResolve(round, s, all...)
		live[s] = true
		e.wantListed(round, live)
	}
	for round := range raceRounds {
		rng := rand.New(rand.NewPCG(uint64(round), 11))

		c, idents := fresh(rng, 3) // A, B, C
		res := e.race(mergeCall(c[0].Id, false, c[1].Id), mergeCall(c[1].Id, false, c[2].Id))
		for i, r := range res {
			if r.status != http.StatusOK {
				t.Errorf("round %d: merge %d of B into A and C into B answered %d, want 200: %s", round, i, r.status, r.body)
				continue
			}
			merges = append(merges, decodeMerge(t, r).Merge.Id)
		}
		wantOne(round, c[0].Id, c, idents)

		c, idents = fresh(rng, 4) // A, B, C, D
		merges = append(merges, e.merge(c[0].Id, false, c[1].Id).Merge.Id)
		calls := []call{mergeCall(c[2].Id, false, c[1].Id), mergeCall(c[3].Id, false, c[2].Id), mergeCall(c[0].Id, false, c[3].Id)}
		res = e.race(calls...)
		ok := 0
		for i, r := range res {
			switch r.status {
			case http.StatusOK:
				ok++
				merges = append(merges, decodeMerge(t, r).Merge.Id)
			case http.StatusConflict:
			default:
				t.Errorf("round %d: %s %s answered %d, want 200 or 409: %s", round, calls[i].path, calls[i].body, r.status, r.body)
			}
		}
		if ok != 2 {
			t.Errorf("round %d: %d of the three merges answered 200, want two (the third closes a cycle)", round, ok)
		}
		s := e.answersAs(c[0].Id)
		for i, x := range c {
			if x.Id == s {
				survivors[string(rune('A'+i))]++
			}
		}
		wantOne(round, s, c, idents)
	}
	e.wantMergedEvents(merges)
	t.Logf("%d rounds: the cycle's survivor was %v", raceRounds, survivors)
	if n := e.deadlocks(); n != 0 {
		t.Errorf("%d deadlocks", n)
	}
}
