package pg_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/testdb"
)

// A statement whose best plan depends on its parameter.
const planned = "SELECT count(*) FROM generate_series(1, 100) AS i WHERE i::text LIKE $1"

// TestStatementsKeepTheirPlans runs one statement a dozen times with different values on a pool
// of one session and asks PostgreSQL how that session planned it. The generic pool plans it once
// for any value. OneShot must leave nothing for the session to settle on: left to its default, a
// session switches a prepared statement to the generic plan for good after five custom plans that
// cost no less, and a search planned for one prefix is slow for another; an unnamed statement is
// parsed and planned anew, with its values, every time.
func TestStatementsKeepTheirPlans(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)
	if !strings.Contains(url, "?") {
		url += "?"
	}
	url += "&pool_max_conns=1"
	type querier interface {
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
	run := func(t *testing.T, q querier) {
		for i := range 12 {
			var n int64
			if err := q.QueryRow(ctx, planned, []string{"1%", "%", "9_"}[i%3]).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
	}
	kept := func(t *testing.T, q querier) (n, generic, custom int64) {
		err := q.QueryRow(ctx, `SELECT count(*), coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)
			FROM pg_prepared_statements WHERE statement = $1`, planned).Scan(&n, &generic, &custom)
		if err != nil {
			t.Fatal(err)
		}
		return n, generic, custom
	}

	t.Run("the generic pool plans once", func(t *testing.T) {
		pool, err := pg.OpenWith(ctx, url, pg.GenericPlans)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		run(t, pool)
		if n, generic, custom := kept(t, pool); n != 1 || generic != 12 || custom != 0 {
			t.Errorf("%d statements with %d generic and %d custom plans, want 1 with 12 and 0", n, generic, custom)
		}
	})
	t.Run("one-shot statements are never kept prepared", func(t *testing.T) {
		pool, err := pg.OpenWith(ctx, url, pg.CustomPlans)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		run(t, pg.OneShot(pool))
		if n, _, _ := kept(t, pool); n != 0 {
			t.Errorf("%d prepared statements, want none", n)
		}
		// The same session without OneShot keeps it (and settles on the generic plan): the
		// check above can fail.
		run(t, pool)
		if n, generic, _ := kept(t, pool); n != 1 || generic == 0 {
			t.Errorf("without OneShot: %d statements with %d generic plans, want 1 with some", n, generic)
		}
	})
}

// TestPoolsCompileNothing: JIT compiled a list page's generic plan at every execution (its
// estimate, blind to the LIMIT, passed the threshold), 5-8 ms for a 0.07 ms page.
func TestPoolsCompileNothing(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)
	for name, plans := range map[string]pg.Plans{"generic": pg.GenericPlans, "custom": pg.CustomPlans} {
		t.Run(name, func(t *testing.T) {
			pool, err := pg.OpenWith(ctx, url, plans)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			var jit string
			if err := pool.QueryRow(ctx, "SHOW jit").Scan(&jit); err != nil || jit != "off" {
				t.Errorf("jit = %q (%v), want off", jit, err)
			}
		})
	}
}
