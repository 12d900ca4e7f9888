package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/testdb"
)

// A small walk for SearchContacts, so that a few thousand contacts reach each of its steps: the
// first range read (257 matches), the walk (walkRows rows), every match by the range.
const (
	searchContacts = 3000
	walkRows       = 200
)

// searchLayouts place the matches of "kopi" (names and emails) and "+6285" (phones) among the
// contacts 1 (oldest) to searchContacts (newest), as SQL conditions on i, so that each branch
// ends at a different step: a few (the first range read), spread and newest (the walk), old and
// very old (every match by the range).
var searchLayouts = []struct{ name, names, emails, phones string }{
	{"few", "i % 30 = 0", "i % 45 = 7", "i % 60 = 11"},
	{"spread", "i % 3 = 0", "i % 4 = 1", "i % 5 = 2"},
	{"old", "i <= 400", "i <= 350", "i <= 300"},
	{"very old", "i <= 2700", "i <= 2600", "i <= 2650"},
	{"newest", "i > 2500", "i > 2600", "i > 2400"},
	{"one step each", "i <= 400", "i % 4 = 1", "i > 2900"},
	{"none", "false", "false", "false"},
}

// TestSearchStepsAgreeWithBruteForce runs SearchContacts with a small walk on workspaces
// whose matches lie where each step, or a mix of them, answers, from cursors at the top, among
// the matches and among the rest, with pages of 1, 7 and 50, with and without a branch limit
// (a filter lifts it): every page must be what reading every contact says, newest first, each
// contact once. A third of the matching contacts hold a second matching email.
func TestSearchStepsAgreeWithBruteForce(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	id := func(i int) uuid.UUID { return uuid.MustParse(fmt.Sprintf("00000000-0000-7000-8000-%012x", i)) }
	q := dbq.New(conn)
	for _, l := range searchLayouts {
		t.Run(l.name, func(t *testing.T) {
			ws := uuid.New()
			for _, stmt := range []string{
				`INSERT INTO workspaces (id, name, default_region) VALUES ($1, 'search', 'ID')`,
				fmt.Sprintf(`INSERT INTO contacts (workspace_id, id, name_key)
				 SELECT $1, ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
				        CASE WHEN %s THEN 'kopi ' ELSE 'teh ' END || i
				 FROM generate_series(1, %d) AS i`, l.names, searchContacts),
				fmt.Sprintf(`INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
				 SELECT $1, t.type, '', t.value, ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid
				 FROM generate_series(1, %[1]d) AS i,
				      LATERAL (VALUES ('email', CASE WHEN %[2]s THEN 'kopi' ELSE 'teh' END || i || '@satu.id'),
				                      ('phone', CASE WHEN %[3]s THEN '+6285' ELSE '+1202' END || lpad(i::text, 8, '0')),
				                      ('email', CASE WHEN (%[2]s) AND i %% 3 = 0 THEN 'kopi' || i || '@dua.id' END)) AS t (type, value)
				 WHERE t.value IS NOT NULL`, searchContacts, l.emails, l.phones),
				`ANALYZE contacts`, `ANALYZE contact_identities`,
			} {
				var args []any
				if slices.Contains([]byte(stmt), '$') {
					args = []any{ws}
				}
				if _, err := conn.Exec(ctx, stmt, args...); err != nil {
					t.Fatalf("%v\n%s", err, stmt)
				}
			}
			phones := "+6285"
			cursors := []uuid.UUID{uuid.Max}
			for _, i := range []int{1, 2, 150, 301, 401, 750, 1500, 2401, 2601, 2650, 2901, 2999, 3000} {
				cursors = append(cursors, id(i))
			}
			past := time.Now().Add(-time.Hour)
			for _, before := range cursors {
				for _, size := range []int32{1, 7, 50} {
					for _, limited := range []bool{true, false} {
						p := dbq.SearchContactsParams{WorkspaceID: ws, BeforeID: before, Q: "kopi", PhonePrefix: &phones,
							PageSize: size, WalkRows: walkRows}
						if limited {
							p.BranchLimit = &size
						} else {
							p.UpdatedSince = &past // a filter every contact passes
						}
						rows, err := q.SearchContacts(ctx, p)
						if err != nil {
							t.Fatal(err)
						}
						got := make([]uuid.UUID, len(rows))
						for i, r := range rows {
							got[i] = r.ID
						}
						want := bruteSearch(t, conn, ws, before, "kopi", phones, size)
						if !slices.Equal(got, want) {
							t.Errorf("before %s, page of %d, branch limit %v:\n got %v\nwant %v", before, size, limited, got, want)
						}
					}
				}
			}
		})
	}
}

// bruteSearch is the page SearchContacts must answer, found by testing every contact.
func bruteSearch(t *testing.T, conn *pgx.Conn, ws, before uuid.UUID, q, phones string, size int32) []uuid.UUID {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT c.id FROM contacts c
		WHERE c.workspace_id = $1 AND c.id < $2
		  AND (starts_with(c.name_key, $3) OR EXISTS (
		        SELECT 1 FROM contact_identities i
		        WHERE i.workspace_id = $1 AND i.contact_id = c.id AND i.source = ''
		          AND ((i.type = 'email' AND starts_with(i.value, $3)) OR (i.type = 'phone' AND starts_with(i.value, $4)))))
		ORDER BY c.id DESC LIMIT $5`, ws, before, q, phones, size)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
