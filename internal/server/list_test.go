package server_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wazapin/wazapin/gen/api"
)

// TestListWalksEveryContactOnceWhileInsertsHappen walks 140 contacts in pages of 25 while new
// contacts keep arriving: every contact that existed before the walk appears exactly once, in
// newest-first order, and the walk ends.
func TestListWalksEveryContactOnceWhileInsertsHappen(t *testing.T) {
	e := newEnv(t)
	var before []string
	for i := range 140 {
		before = append(before, e.create(api.ContactCreate{PhoneNumber: ptr(fmt.Sprintf("+62812%08d", i))}).Id)
	}
	seen := map[string]int{}
	var order []string
	var cursor *string
	pages := 0
	for {
		res, err := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{Limit: ptr(25), Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.StatusCode(), 200, res.Body)
		for _, c := range res.JSON200.Data {
			seen[c.Id]++
			order = append(order, c.Id)
		}
		pages++
		// Inserts between pages land before the cursor, so the walk never sees them twice.
		e.create(api.ContactCreate{PhoneNumber: ptr(fmt.Sprintf("+62813%08d", pages))})
		if res.JSON200.Meta.NextCursor.IsNull() {
			break
		}
		cursor = ptr(res.JSON200.Meta.NextCursor.MustGet())
		if pages > 20 {
			t.Fatal("the walk does not end")
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", id, n)
		}
	}
	for _, id := range before {
		if seen[id] != 1 {
			t.Errorf("contact %s missing from the walk", id)
		}
	}
	want := slices.Clone(before)
	slices.Reverse(want)
	if !slices.Equal(order, want) {
		t.Errorf("not newest first:\n got %v\nwant %v", order[:5], want[:5])
	}
	if pages != 6 {
		t.Errorf("%d pages for 140 contacts of 25, want 6", pages)
	}
}

func TestListDefaultsAndExactLastPage(t *testing.T) {
	e := newEnv(t)
	for i := range 50 {
		e.create(api.ContactCreate{PhoneNumber: ptr(fmt.Sprintf("+62812%08d", i))})
	}
	res, _ := e.c.ListContactsWithResponse(bg, nil)
	if len(res.JSON200.Data) != 50 || !res.JSON200.Meta.NextCursor.IsNull() {
		t.Errorf("default page: %d contacts, next %v; want 50 and no next page", len(res.JSON200.Data), res.JSON200.Meta.NextCursor)
	}
}

func TestListFilters(t *testing.T) {
	e := newEnv(t)
	ujang := e.create(api.ContactCreate{Name: ptr("Ujang Sutisna"), PhoneNumber: ptr("+6281234567890"), Email: ptr("ujang@shop.id")})
	siti := e.create(api.ContactCreate{Name: ptr("Siti"), PhoneNumber: ptr("+6285700001111"), Email: ptr("siti@example.com")})
	bob := e.create(api.ContactCreate{Name: ptr("Bob"), PhoneNumber: ptr("+12025550173")})
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"uja", []string{ujang.Id}},
		{"UJANG s", []string{ujang.Id}},
		{"siti@", []string{siti.Id}},
		{"0812", []string{ujang.Id}},
		{"+62 857", []string{siti.Id}},
		{"62", []string{siti.Id, ujang.Id}},
		{"+1 202", []string{bob.Id}},
		{"zzz", nil},
		{"%", nil},
		{"_", nil},
	} {
		t.Run("q="+tc.q, func(t *testing.T) {
			res, _ := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{Q: ptr(tc.q)})
			wantStatus(t, res.StatusCode(), 200, res.Body)
			if got := contactIDsOf(res.JSON200.Data); !slices.Equal(sorted(got), sorted(tc.want)) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("updated_since", func(t *testing.T) {
		time.Sleep(10 * time.Millisecond)
		mark := time.Now()
		time.Sleep(10 * time.Millisecond)
		e.ok(e.do("PATCH", "/v1/contacts/"+siti.Id, []byte(`{"name": "Siti Aminah"}`)))
		res, _ := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{UpdatedSince: &mark})
		if got := contactIDsOf(res.JSON200.Data); !slices.Equal(got, []string{siti.Id}) {
			t.Errorf("updated since the mark: %v, want [%s]", got, siti.Id)
		}
	})
	t.Run("a tag nobody has", func(t *testing.T) {
		for _, q := range []*string{nil, ptr("62")} {
			res, _ := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{Tag: ptr("nosuchtag"), Q: q})
			wantStatus(t, res.StatusCode(), 200, res.Body)
			if got := contactIDsOf(res.JSON200.Data); len(got) != 0 || !res.JSON200.Meta.NextCursor.IsNull() {
				t.Errorf("q=%v: %v, next %v; want nothing", q, got, res.JSON200.Meta.NextCursor)
			}
		}
	})
	t.Run("filters combine", func(t *testing.T) {
		e.ok(e.do("POST", "/v1/contacts/"+ujang.Id+"/tags", []byte(`{"name": "vip"}`)))
		e.ok(e.do("POST", "/v1/contacts/"+bob.Id+"/tags", []byte(`{"name": "vip"}`)))
		res, _ := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{Tag: ptr("vip"), Q: ptr("+62")})
		if got := contactIDsOf(res.JSON200.Data); !slices.Equal(got, []string{ujang.Id}) {
			t.Errorf("got %v, want [%s]", got, ujang.Id)
		}
	})
}

// TestSearchPagesThroughItsMatchesOnce pages through a search whose matches outnumber a page:
// contacts that match by name, email and phone at once appear once, newest first, and contacts
// that do not match are left out.
func TestSearchPagesThroughItsMatchesOnce(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := range 30 {
		// Name, email and phone all start with what the search asks for (a phone-like q also
		// matches phone numbers by their digits).
		want = append(want, e.create(api.ContactCreate{Name: ptr(fmt.Sprintf("62 Kopi %d", i)),
			Email: ptr(fmt.Sprintf("62kopi%d@shop.id", i)), PhoneNumber: ptr(fmt.Sprintf("+62812%08d", i))}).Id)
		e.create(api.ContactCreate{Name: ptr(fmt.Sprintf("Teh %d", i)), PhoneNumber: ptr(fmt.Sprintf("+1202555%04d", i))})
	}
	slices.Reverse(want)
	if got := e.walk(t, api.ListContactsParams{Q: ptr("62"), Limit: ptr(7)}); !slices.Equal(got, want) {
		t.Errorf("search walk found %d contacts, want the %d matches newest first:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	// Only the oldest matches carry the tag: a page of the search and the tag must reach past
	// the newest matches, which the tag filter drops, instead of coming back short.
	tagged := want[len(want)-5:]
	for _, id := range tagged {
		e.ok(e.do("POST", "/v1/contacts/"+id+"/tags", []byte(`{"name": "grosir"}`)))
	}
	if got := e.walk(t, api.ListContactsParams{Q: ptr("62"), Tag: ptr("grosir"), Limit: ptr(2)}); !slices.Equal(got, tagged) {
		t.Errorf("search with a tag found %v, want %v", got, tagged)
	}
}

// TestSearchCountsAContactOnceWhateverItsIdentities pages one contact at a time through a search
// where the newest contact holds two matching emails and two matching phone numbers (an import
// gives a contact every identifier of the lines it merges): it fills one page, not two, and the
// older match still comes next.
func TestSearchCountsAContactOnceWhateverItsIdentities(t *testing.T) {
	e := newEnv(t)
	older := e.create(api.ContactCreate{Name: ptr("Older"), Email: ptr("kopi1@x.id"), PhoneNumber: ptr("+6281100000009")})
	e.importNDJSON(
		`{"external_source": "shop", "external_id": "m1", "email": "kopi2@x.id", "phone_number": "+6281100000002"}`,
		`{"external_source": "shop", "external_id": "m1", "email": "kopi3@x.id", "phone_number": "+6281100000003"}`,
	)
	for _, q := range []string{"kopi", "+62811"} {
		t.Run("q="+q, func(t *testing.T) {
			if got := e.walk(t, api.ListContactsParams{Q: ptr(q), Limit: ptr(1)}); len(got) != 2 || got[1] != older.Id {
				t.Errorf("pages of one found %v, want the merged contact and then %s", got, older.Id)
			}
		})
	}
}

// walk pages through a list with p until the last page, and answers the ids in order.
func (e *env) walk(t *testing.T, p api.ListContactsParams) []string {
	t.Helper()
	var got []string
	for range 100 {
		res, err := e.c.ListContactsWithResponse(bg, &p)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.StatusCode(), 200, res.Body)
		got = append(got, contactIDsOf(res.JSON200.Data)...)
		if res.JSON200.Meta.NextCursor.IsNull() {
			return got
		}
		p.Cursor = ptr(res.JSON200.Meta.NextCursor.MustGet())
	}
	t.Fatal("the walk does not end")
	return nil
}
