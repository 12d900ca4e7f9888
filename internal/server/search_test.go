package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
)

// searchWalkRows is how many rows below the cursor SearchContacts walks (db/queries/contacts.sql,
// step _w) before it takes every match by its index range instead.
const searchWalkRows = 100_000

// TestSearchFindsOldMatchesPastTheWalk pages through searches whose matches are many (more than
// the 256 a branch reads first) and all among the oldest contacts, below more than searchWalkRows
// newer contacts and identities that match nothing: the walk from the newest id ends without
// a page, and the branch takes every match by its index range (docs/SCALING.md, "Search, worst
// case"). Every page, read through its cursor, must be what a brute-force filter of the
// workspace's contacts and identities says, newest first, each contact once; later pages start
// among the matches, where the walk finds them.
func TestSearchFindsOldMatchesPastTheWalk(t *testing.T) {
	e := newEnv(t)
	ws, ok := ids.Parse(ids.Workspace, e.ws.WorkspaceID)
	if !ok {
		t.Fatal("workspace id", e.ws.WorkspaceID)
	}
	// Ids older than any the server makes, in the order of i: the matches first (oldest), then
	// the contacts that match nothing. Every third old contact holds a second email starting
	// like its first (an import before migration 000006 could give it), which must not take two
	// places of a page.
	const matches, fillers = 700, searchWalkRows + 500
	old := func(block, i string) string {
		return fmt.Sprintf(`('00000000-%s-7000-8000-' || lpad(to_hex(%s), 12, '0'))::uuid`, block, i)
	}
	for _, stmt := range []string{
		`INSERT INTO contacts (workspace_id, id, name, name_key, phone_number, email)
		 SELECT $1, ` + old("0001", "i") + `, 'Kopi Lama ' || i, 'kopi lama ' || i, '+6285' || lpad(i::text, 9, '0'), 'kopi' || i || '@lama.id'
		 FROM generate_series(1, ` + fmt.Sprint(matches) + `) AS i`,
		`INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
		 SELECT $1, t.type, '', t.value, ` + old("0001", "i") + `
		 FROM generate_series(1, ` + fmt.Sprint(matches) + `) AS i,
		      LATERAL (VALUES ('phone', '+6285' || lpad(i::text, 9, '0')), ('email', 'kopi' || i || '@lama.id')) AS t (type, value)`,
		`INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
		 SELECT $1, 'email', '', 'kopi' || i || '@kedua.id', ` + old("0001", "i") + `
		 FROM generate_series(3, ` + fmt.Sprint(matches) + `, 3) AS i`,
		`INSERT INTO contacts (workspace_id, id, name, name_key, phone_number)
		 SELECT $1, ` + old("0002", "i") + `, 'Teh ' || i, 'teh ' || i, '+1202' || lpad(i::text, 7, '0')
		 FROM generate_series(1, ` + fmt.Sprint(fillers) + `) AS i`,
		`INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
		 SELECT $1, 'phone', '', '+1202' || lpad(i::text, 7, '0'), ` + old("0002", "i") + `
		 FROM generate_series(1, ` + fmt.Sprint(fillers) + `) AS i`,
		`ANALYZE contacts`, `ANALYZE contact_identities`,
	} {
		var args []any
		if strings.Contains(stmt, "$1") {
			args = append(args, ws)
		}
		if _, err := e.pool.Exec(bg, stmt, args...); err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
	}
	// The newest contacts, made through the API: one matches everything asked below.
	newest := e.create(api.ContactCreate{Name: ptr("Kopi Baru"), Email: ptr("kopi.baru@x.id"), PhoneNumber: ptr("+6285000000000")}).Id
	e.create(api.ContactCreate{Name: ptr("Teh Baru"), PhoneNumber: ptr("+12025550100")})

	// bruteForce is every contact that q matches, newest first, by reading them all.
	type row struct {
		id            uuid.UUID
		nameKey       string
		emails, phone []string
	}
	rows, err := e.pool.Query(bg, `
		SELECT c.id, coalesce(c.name_key, ''),
		       coalesce(array_agg(i.value) FILTER (WHERE i.type = 'email' AND i.source = ''), '{}'),
		       coalesce(array_agg(i.value) FILTER (WHERE i.type = 'phone' AND i.source = ''), '{}')
		FROM contacts c LEFT JOIN contact_identities i ON i.workspace_id = c.workspace_id AND i.contact_id = c.id
		WHERE c.workspace_id = $1 GROUP BY c.id, c.name_key`, ws)
	if err != nil {
		t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.nameKey, &x.emails, &x.phone)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < searchWalkRows+matches {
		t.Fatalf("seeded %d contacts", len(all))
	}
	bruteForce := func(q string, below uuid.UUID) []string {
		q = identity.Fold(strings.TrimSpace(q))
		prefix, isPhone := identity.PhonePrefix(q, e.ws.DefaultRegion)
		starts := func(values []string, p string) bool {
			return slices.ContainsFunc(values, func(v string) bool { return strings.HasPrefix(v, p) })
		}
		var found []uuid.UUID
		for _, c := range all {
			if strings.Compare(c.id.String(), below.String()) < 0 &&
				(strings.HasPrefix(c.nameKey, q) || starts(c.emails, q) || isPhone && starts(c.phone, prefix)) {
				found = append(found, c.id)
			}
		}
		slices.SortFunc(found, func(a, b uuid.UUID) int { return strings.Compare(b.String(), a.String()) })
		out := make([]string, len(found))
		for i, id := range found {
			out[i] = ids.Format(ids.Contact, id)
		}
		return out
	}
	top := uuid.Max
	for _, tc := range []struct {
		name, q string
		limit   int
		min     int  // the brute force must find at least this many, or the case tests nothing
		fresh   bool // the newest contact matches too
	}{
		{"names and emails, pages of 50", "kopi", 50, matches, true},
		{"names and emails, the largest page", "kopi", 200, matches, true},
		{"emails only", "kopi1", 7, 111, false},
		{"phones, pages of 50", "+62 85", 50, matches, true},
		{"phones read as local numbers", "085", 33, matches, true},
		{"names, pages of one", "kopi lama 69", 1, 11, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := bruteForce(tc.q, top)
			if len(want) < tc.min || (want[0] == newest) != tc.fresh {
				t.Fatalf("the brute force found %d contacts (newest %v), want at least %d (led by %s: %v)", len(want), want[:min(len(want), 1)], tc.min, newest, tc.fresh)
			}
			var got []string
			p := api.ListContactsParams{Q: ptr(tc.q), Limit: ptr(tc.limit)}
			for page := 0; ; page++ {
				if page > len(want)/tc.limit+1 {
					t.Fatalf("more than %d pages for %d matches", page, len(want))
				}
				res, err := e.c.ListContactsWithResponse(bg, &p)
				if err != nil {
					t.Fatal(err)
				}
				wantStatus(t, res.StatusCode(), 200, res.Body)
				found := contactIDsOf(res.JSON200.Data)
				// Each page is the next slice of the brute force, and the cursor leads past it.
				from := page * tc.limit
				if wantPage := want[from:min(len(want), from+tc.limit)]; !slices.Equal(found, wantPage) {
					t.Fatalf("page %d (from %d): got %d contacts %v…, want %d %v…", page, from, len(found), found[:min(len(found), 3)], len(wantPage), wantPage[:min(len(wantPage), 3)])
				}
				got = append(got, found...)
				if res.JSON200.Meta.NextCursor.IsNull() {
					break
				}
				p.Cursor = ptr(res.JSON200.Meta.NextCursor.MustGet())
			}
			if !slices.Equal(got, want) {
				t.Errorf("the walk found %d contacts, want the %d matches", len(got), len(want))
			}
		})
	}
	t.Run("with a tag: no branch limit, every match", func(t *testing.T) {
		if _, err := e.pool.Exec(bg, `INSERT INTO tags (workspace_id, id, name, name_key) VALUES ($1, '00000000-0003-7000-8000-000000000001', 'Lama', 'lama')`, ws); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pool.Exec(bg, `INSERT INTO contact_tags (workspace_id, contact_id, tag_id)
			SELECT $1, `+old("0001", "i")+`, '00000000-0003-7000-8000-000000000001' FROM generate_series(1, 700, 5) AS i`, ws); err != nil {
			t.Fatal(err)
		}
		rows, err := e.pool.Query(bg, `SELECT contact_id FROM contact_tags WHERE workspace_id = $1`, ws)
		if err != nil {
			t.Fatal(err)
		}
		tagged, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, id := range bruteForce("kopi", top) {
			if slices.ContainsFunc(tagged, func(u uuid.UUID) bool { return ids.Format(ids.Contact, u) == id }) {
				want = append(want, id)
			}
		}
		if len(want) != 140 {
			t.Fatalf("%d tagged matches, want 140", len(want))
		}
		if got := e.walk(t, api.ListContactsParams{Q: ptr("kopi"), Tag: ptr("lama"), Limit: ptr(30)}); !slices.Equal(got, want) {
			t.Errorf("search with a tag found %d contacts, want %d", len(got), len(want))
		}
	})
}
