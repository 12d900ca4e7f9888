package server_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/gen/api"
)

// deadlocks is how many deadlocks PostgreSQL detected in the test's database. A backend publishes
// its counts when it exits, so the server's connections are ended first.
func (e *env) deadlocks() int64 {
	e.t.Helper()
	conn, err := pgx.Connect(bg, e.pool.Config().ConnConfig.ConnString())
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(bg)
	const others = `FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`
	if _, err := conn.Exec(bg, "SELECT pg_terminate_backend(pid) "+others); err != nil {
		e.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		if err := conn.QueryRow(bg, "SELECT count(*) "+others).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		if n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var n int64
	if err := conn.QueryRow(bg, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestCrossingPatchesAnswerAtOnce trades phone numbers between two contacts from two requests at
// once, many times: each is a conflict, answered without PostgreSQL having to break a deadlock.
func TestCrossingPatchesAnswerAtOnce(t *testing.T) {
	e := newEnv(t)
	for trial := range 30 {
		pa, pb := fmt.Sprintf("+62811%08d", 2*trial), fmt.Sprintf("+62811%08d", 2*trial+1)
		a := e.create(api.ContactCreate{PhoneNumber: &pa})
		b := e.create(api.ContactCreate{PhoneNumber: &pb})
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			statuses [2]int
		)
		for i, p := range [][2]string{{a.Id, pb}, {b.Id, pa}} {
			wg.Go(func() {
				<-start
				statuses[i], _ = e.do("PATCH", "/v1/contacts/"+p[0], []byte(`{"phone_number": "`+p[1]+`"}`))
			})
		}
		close(start)
		wg.Wait()
		if statuses != [2]int{http.StatusConflict, http.StatusConflict} {
			t.Errorf("trial %d: %v, want two conflicts", trial, statuses)
		}
	}
	if n := e.deadlocks(); n != 0 {
		t.Errorf("%d deadlocks", n)
	}
}

// TestConcurrentWritersNeverDeadlock runs imports, upserts, patches and deletes at once over a few
// identifiers, in every order: each answers (never a 5xx), and no transaction waits on another
// that waits on it.
func TestConcurrentWritersNeverDeadlock(t *testing.T) {
	e := newEnv(t)
	phone := func(r *rand.Rand) string { return fmt.Sprintf("+628110000000%d", r.IntN(8)) }
	email := func(r *rand.Rand) string { return fmt.Sprintf("p%d@example.com", r.IntN(8)) }
	body := func(r *rand.Rand) string {
		parts := []string{}
		if r.IntN(3) > 0 {
			parts = append(parts, `"phone_number": "`+phone(r)+`"`)
		}
		if r.IntN(3) > 0 || len(parts) == 0 {
			parts = append(parts, `"email": "`+email(r)+`"`)
		}
		if r.IntN(2) == 0 {
			parts = append(parts, fmt.Sprintf(`"external_source": "shop", "external_id": "c%d"`, r.IntN(8)))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	var ids []string
	for i := range 8 {
		ids = append(ids, e.create(api.ContactCreate{PhoneNumber: ptr(fmt.Sprintf("+628110000000%d", i)), Email: ptr(fmt.Sprintf("p%d@example.com", i))}).Id)
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	var wg sync.WaitGroup
	worker := func(w int, do func(r *rand.Rand) (string, int, []byte)) {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for range 40 {
				what, status, res := do(r)
				if status >= 500 {
					t.Errorf("%s: %d %s", what, status, res)
				}
			}
		})
	}
	for w := range 2 {
		worker(w, func(r *rand.Rand) (string, int, []byte) {
			lines := make([]string, 12)
			for i := range lines {
				lines[i] = body(r)
			}
			s, res := e.do("POST", "/v1/contacts/import", []byte(strings.Join(lines, "\n")), "Content-Type", "application/x-ndjson")
			return "import", s, res
		})
	}
	for w := 2; w < 5; w++ {
		worker(w, func(r *rand.Rand) (string, int, []byte) {
			s, res := e.do("POST", "/v1/contacts", []byte(body(r)))
			return "upsert", s, res
		})
	}
	for w := 5; w < 7; w++ {
		worker(w, func(r *rand.Rand) (string, int, []byte) {
			s, res := e.do("PATCH", "/v1/contacts/"+ids[r.IntN(len(ids))], []byte(body(r)))
			return "patch", s, res
		})
	}
	worker(7, func(r *rand.Rand) (string, int, []byte) {
		if r.IntN(4) > 0 {
			s, res := e.do("POST", "/v1/contacts", []byte(body(r)))
			return "upsert", s, res
		}
		s, res := e.do("DELETE", "/v1/contacts/"+ids[r.IntN(len(ids))], nil)
		return "delete", s, res
	})
	wg.Wait()
	if n := e.deadlocks(); n != 0 {
		t.Errorf("%d deadlocks (seed %d)", n, seed)
	}
}
