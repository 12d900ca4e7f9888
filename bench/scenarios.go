package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/cursor"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/store"
)

// scenario is one request the API serves, measured twice: over HTTP by the load generator, and
// as the SQL the server issues for it, run by pgbench.
type scenario struct {
	name string
	// request makes the worker's next HTTP request and the statuses that count as success.
	request func(r *rand.Rand, w *workerState, p params) (method, path, body string, ok []int)
	// keyed sends each request with an Idempotency-Key of its own.
	keyed bool
	// concurrency, when set, replaces BENCH_CONCURRENCY on both sides: for requests that take
	// seconds, which would otherwise spend most of their time queued behind each other.
	concurrency int
	// oneShot: the server plans the statement for its values at every execution (pg.OneShot on
	// its second pool, plan_cache_mode=auto); pgbench then sends it unnamed (-M extended) with
	// the same setting, instead of prepared with generic plans as the first pool runs the others.
	oneShot bool
	// pgbench is the script: \set lines and the queries, each taken from db/queries by name with
	// its parameters bound to pgbench expressions.
	pgbench []step
}

// step is one line of a pgbench script: a meta-command or SQL given as is, or a query from
// db/queries with parameter expressions.
type step struct {
	raw    string
	query  string
	params map[string]string
	gset   bool
}

// params describe the seeded data the requests draw from.
type params struct {
	n    int   // contacts seeded
	base int64 // millisecond base of the seeded ids
	deep int   // index of the contact whose id is the cursor 90% into the list
}

type workerState struct {
	worker, counter int
}

// seededID is the id of seeded contact i, as the seed SQL (bench_id) makes it.
func seededID(base int64, i int) uuid.UUID {
	ts := fmt.Sprintf("%012x", base+int64(i))
	return uuid.MustParse(ts[:8] + "-" + ts[8:] + "-7000-8000-" + fmt.Sprintf("%012x", i))
}

func phone(prefix string, i int) string { return fmt.Sprintf("+62%s%08d", prefix, i) }

// hitOrMiss draws a seeded index most of the time and one past the seed a tenth of the time.
func hitOrMiss(r *rand.Rand, n int) int { return 1 + r.IntN(n+n/10+1) }

var ok200or404 = []int{http.StatusOK, http.StatusNotFound}

// The SQL bits shared by the scripts: the workspace and the id of seeded contact :i.
const (
	wsExpr    = ":ws"
	idExpr    = "bench_id(:base, :i)"
	phoneExpr = "'+62812' || lpad(:i::text, 8, '0')"
	emailExpr = "'c' || :i || '@example.com'"
	extExpr   = "'cust_' || :i"
)

func resolveStep(types, sources string, vals []string) step {
	return step{query: "ResolveIdentifiers", params: map[string]string{
		"workspace_id": wsExpr, "ords": ordsLiteral(len(vals)), "types": types, "sources": sources,
		"vals": "ARRAY[" + strings.Join(vals, ", ") + "]", "id_ords": "'{}'", "ids": "'{}'",
	}}
}

func ordsLiteral(n int) string {
	o := make([]string, n)
	for i := range o {
		o[i] = fmt.Sprint(i)
	}
	return "'{" + strings.Join(o, ",") + "}'"
}

func ownersStep(phoneSQL string) step {
	return step{query: "FindIdentityOwners", params: map[string]string{
		"workspace_id": wsExpr, "types": "'{phone}'", "sources": `'{""}'`, "vals": "ARRAY[" + phoneSQL + "]",
	}}
}

// reachabilityBatch is how many identifiers one reachability request asks about.
const reachabilityBatch = 1000

func scenarios() []scenario {
	return []scenario{
		{
			name: "get_by_id",
			request: func(r *rand.Rand, _ *workerState, p params) (string, string, string, []int) {
				return "GET", "/v1/contacts/" + ids.Format(ids.Contact, seededID(p.base, hitOrMiss(r, p.n))), "", ok200or404
			},
			pgbench: []step{
				{raw: `\set i random(1, :n + :n / 10 + 1)`},
				{query: "GetContact", params: map[string]string{"workspace_id": wsExpr, "id": idExpr}},
			},
		},
		{
			name: "resolve_phone",
			request: func(r *rand.Rand, _ *workerState, p params) (string, string, string, []int) {
				return "POST", "/v1/contacts/resolve", fmt.Sprintf(`{"identifiers":[{"type":"phone","value":"%s"}]}`, phone("812", hitOrMiss(r, p.n))), ok200or404
			},
			pgbench: []step{
				{raw: `\set i random(1, :n + :n / 10 + 1)`},
				resolveStep("'{phone}'", `'{""}'`, []string{phoneExpr}),
			},
		},
		{
			name: "resolve_external",
			request: func(r *rand.Rand, _ *workerState, p params) (string, string, string, []int) {
				return "POST", "/v1/contacts/resolve", fmt.Sprintf(`{"identifiers":[{"type":"external_id","source":"shopify","value":"cust_%d"}]}`, hitOrMiss(r, p.n)), ok200or404
			},
			pgbench: []step{
				{raw: `\set i random(1, :n + :n / 10 + 1)`},
				resolveStep("'{external_id}'", "'{shopify}'", []string{extExpr}),
			},
		},
		{
			name: "resolve_3_identifiers",
			request: func(r *rand.Rand, _ *workerState, p params) (string, string, string, []int) {
				i := hitOrMiss(r, p.n)
				return "POST", "/v1/contacts/resolve", fmt.Sprintf(`{"identifiers":[{"type":"phone","value":"%s"},{"type":"email","value":"c%d@example.com"},{"type":"external_id","source":"shopify","value":"cust_%d"}]}`, phone("812", i), i, i), ok200or404
			},
			pgbench: []step{
				{raw: `\set i random(1, :n + :n / 10 + 1)`},
				resolveStep("'{phone,email,external_id}'", `'{"","",shopify}'`, []string{phoneExpr, emailExpr, extExpr}),
			},
		},
		{
			// A sender asks about a campaign's worth of numbers at once: 1,000 in a row from a
			// random seeded one (a tenth of them suppressed, some past the seed).
			name: "reachability_1000",
			request: func(r *rand.Rand, _ *workerState, p params) (string, string, string, []int) {
				first := 1 + r.IntN(p.n)
				var b strings.Builder
				b.WriteString(`{"channel":"whatsapp","identifiers":[`)
				for k := range reachabilityBatch {
					if k > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"type":"phone","value":"%s"}`, phone("812", first+k))
				}
				b.WriteString("]}")
				return "POST", "/v1/contacts/reachability", b.String(), []int{http.StatusOK}
			},
			pgbench: []step{
				{raw: `\set i random(1, :n)`},
				{query: "Reachability", params: map[string]string{
					"workspace_id": wsExpr, "channel": "'whatsapp'", "subject_types": "'{phone,wa_id}'",
					"ords":    fmt.Sprintf("ARRAY(SELECT generate_series(0, %d))", reachabilityBatch-1),
					"types":   fmt.Sprintf("array_fill('phone'::text, ARRAY[%d])", reachabilityBatch),
					"sources": fmt.Sprintf("array_fill(''::text, ARRAY[%d])", reachabilityBatch),
					"vals":    fmt.Sprintf("ARRAY(SELECT '+62812' || lpad((:i + g)::text, 8, '0') FROM generate_series(0, %d) AS g)", reachabilityBatch-1),
					"id_ords": "'{}'", "ids": "'{}'",
				}},
			},
		},
		{
			name:    "upsert_new",
			request: newContact("813"),
			pgbench: []step{
				// Thirteen digits: 200,000 inserts in 10^13 numbers almost never collide (a collision
				// would abort pgbench); pgbench does not check that a phone number is possible.
				{raw: `\set i random(1, 9999999999999)`},
				// Like the server: the insert unless a contact holds the number, in a transaction; but
				// without the events the server writes in the same statement, so that the ratio
				// counts what recording them costs the API.
				{raw: "BEGIN;"},
				createNewStep("+62814"),
				{raw: "COMMIT;"},
			},
		},
		{
			// upsert_new with a fresh Idempotency-Key per request: the answer is stored in the
			// contact's transaction, which takes the key's lock first; the look-up for a stored
			// answer comes before it.
			name:    "upsert_idempotent",
			keyed:   true,
			request: newContact("817"),
			pgbench: []step{
				{raw: `\set i random(1, 9999999999999)`},
				{query: "GetIdempotentAnswer", params: map[string]string{"workspace_id": wsExpr, "key": "'bench-' || :i"}},
				{raw: "BEGIN;"},
				{query: "LockIdempotencyKey", params: map[string]string{"lock_key": ":i"}},
				createNewStep("+62818"),
				// An answer the size of a new contact's (about 300 bytes).
				{query: "StoreIdempotentAnswer", params: map[string]string{
					"workspace_id": wsExpr, "key": "'bench-' || :i", "fingerprint": "sha256(:i::text::bytea)", "status": "201",
					"content_type": "'application/json'", "location": "NULL", "etag": `'"q8ZtW0b3cS1fJ6yV2xR9nA"'`,
					"body": "convert_to(repeat('x', 300), 'UTF8')", "sealed": "false", "ttl_seconds": "86400",
				}},
				{raw: "COMMIT;"},
			},
		},
		{
			name: "upsert_existing",
			request: func(r *rand.Rand, _ *workerState, p params) (string, string, string, []int) {
				i := 1 + r.IntN(p.n)
				return "POST", "/v1/contacts", fmt.Sprintf(`{"phone_number":"%s","name":"Contact %d"}`, phone("812", i), i), []int{http.StatusOK}
			},
			pgbench: []step{
				{raw: `\set i random(1, :n)`},
				{raw: "BEGIN;"},
				{query: "CreateUnlessHeld", params: map[string]string{
					"workspace_id": wsExpr, "id": "bench_new_id()", "name": "'Contact ' || :i", "name_key": "'contact ' || :i",
					"phone_number": phoneExpr, "email": "NULL", "external_source": "NULL",
					"external_id": "NULL", "custom_fields": "'{}'",
					"types": "'{phone}'", "sources": `'{""}'`, "vals": "ARRAY[" + phoneExpr + "]",
					"now": "now()", "ev_ids": "'{}'", "ev_types": "'{}'", "ev_object_ids": "'{}'", "ev_data": "'{}'",
				}},
				{query: "GetContactForUpdate", params: map[string]string{"workspace_id": wsExpr, "id": idExpr}},
				ownersStep(phoneExpr),
				{query: "UpdateContact", params: map[string]string{
					"workspace_id": wsExpr, "id": idExpr, "name": "'Contact ' || :i", "name_key": "'contact ' || :i",
					"phone_number": phoneExpr, "email": emailExpr, "external_source": "'shopify'", "external_id": extExpr,
					"custom_fields": `'{"tier": "gold"}'`,
				}},
				{raw: "COMMIT;"},
			},
		},
		{
			name: "list_first_page",
			request: func(_ *rand.Rand, _ *workerState, _ params) (string, string, string, []int) {
				return "GET", "/v1/contacts?limit=50", "", []int{http.StatusOK}
			},
			pgbench: []step{listStep("'ffffffff-ffff-ffff-ffff-ffffffffffff'")},
		},
		{
			name: "list_deep_page",
			request: func(r *rand.Rand, _ *workerState, p params) (string, string, string, []int) {
				c := cursor.Encode(seededID(p.base, max(1, p.deep-r.IntN(1000))))
				return "GET", "/v1/contacts?limit=50&cursor=" + c, "", []int{http.StatusOK}
			},
			pgbench: []step{
				{raw: `\set i greatest(1, :deep - random(0, 999))`},
				listStep(idExpr),
			},
		},
		{
			// The search that reads most (docs/PERFORMANCE.md, "Search"): "c1" is the start of
			// the emails of a ninth of the contacts (c1@, c10@ … c19@, c100@ …), all among the
			// oldest tenth to fifth of the ids, and of no name or phone number. The page is the
			// 50 newest of them: either every match is found by the prefix and sorted by id, or the
			// ids are walked from the newest past the 80% that do not match; the planner takes
			// the first. The same fraction matches at every power of ten of contacts, so the
			// cost grows with the workspace. Two at a time: one request takes a core for
			// hundreds of milliseconds (seconds at ten million).
			name:        "search_worst",
			concurrency: 2,
			oneShot:     true,
			request: func(_ *rand.Rand, _ *workerState, _ params) (string, string, string, []int) {
				return "GET", "/v1/contacts?limit=50&q=c1", "", []int{http.StatusOK}
			},
			pgbench: []step{searchStep("'c1'", "NULL")},
		},
	}
}

// newContact makes requests that create a contact each, with numbers no other scenario uses
// (prefix 81x).
func newContact(prefix string) func(*rand.Rand, *workerState, params) (string, string, string, []int) {
	return func(_ *rand.Rand, w *workerState, _ params) (string, string, string, []int) {
		w.counter++
		return "POST", "/v1/contacts", fmt.Sprintf(`{"phone_number":"%s","name":"New %d"}`, phone(prefix, (w.worker*4_000_000+w.counter)%100_000_000), w.counter), []int{http.StatusCreated}
	}
}

// createNewStep is the server's insert of a contact with a number nobody holds, under prefix.
func createNewStep(prefix string) step {
	number := "'" + prefix + "' || lpad(:i::text, 13, '0')"
	return step{query: "CreateUnlessHeld", params: map[string]string{
		"workspace_id": wsExpr, "id": "bench_new_id()", "name": "'New ' || :i", "name_key": "'new ' || :i",
		"phone_number": number, "email": "NULL", "external_source": "NULL",
		"external_id": "NULL", "custom_fields": "'{}'",
		"types": "'{phone}'", "sources": `'{""}'`, "vals": "ARRAY[" + number + "]",
		"now": "now()", "ev_ids": "'{}'", "ev_types": "'{}'", "ev_object_ids": "'{}'", "ev_data": "'{}'",
	}}
}

// searchStep is the server's statement for a first page of GET /v1/contacts?q=… with no other
// filter: each branch stops at a page of candidates (branch_limit).
func searchStep(q, phonePrefix string) step {
	return step{query: "SearchContacts", params: map[string]string{
		"workspace_id": wsExpr, "before_id": "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "q": q, "phone_prefix": phonePrefix,
		"updated_since": "NULL", "tag_key": "NULL", "branch_limit": "51", "page_size": "51",
		"walk_rows": strconv.Itoa(store.SearchWalkRows),
	}}
}

func listStep(before string) step {
	return step{query: "ListContacts", params: map[string]string{
		"workspace_id": wsExpr, "before_id": before, "updated_since": "NULL", "tag_key": "NULL", "page_size": "51",
	}}
}

// clients is how many requests of the scenario run at once, on each side.
func (sc scenario) clients(cfg config) int {
	if sc.concurrency > 0 {
		return min(sc.concurrency, cfg.Concurrency)
	}
	return cfg.Concurrency
}
