package pg_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/testdb"
)

// TestPoolsKeepTheirPlans runs one prepared statement a dozen times on one session of each kind
// of pool and asks PostgreSQL how it planned them. Left to its default, a session switches a
// statement to the generic plan for good after five custom plans that cost no less; a search
// planned once for some prefix is slow for another, so the custom-plan pool must never switch.
func TestPoolsKeepTheirPlans(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)
	for _, tc := range []struct {
		name                  string
		plans                 pg.Plans
		wantGeneric, wantCust int64
	}{
		{"generic", pg.GenericPlans, 12, 0},
		{"custom", pg.CustomPlans, 0, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := pg.OpenWith(ctx, url, tc.plans)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			conn, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			generic, custom := planCounts(t, ctx, conn)
			if generic != tc.wantGeneric || custom != tc.wantCust {
				t.Errorf("%d generic and %d custom plans, want %d and %d", generic, custom, tc.wantGeneric, tc.wantCust)
			}
		})
	}
}

// planCounts executes a statement whose plan depends on its parameter 12 times on conn (pgx
// prepares it once) and answers how PostgreSQL planned the executions.
func planCounts(t *testing.T, ctx context.Context, conn *pgxpool.Conn) (generic, custom int64) {
	t.Helper()
	const query = "SELECT count(*) FROM generate_series(1, 100) AS i WHERE i::text LIKE $1"
	for i := range 12 {
		var n int64
		if err := conn.QueryRow(ctx, query, []string{"1%", "%", "9_"}[i%3]).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	err := conn.QueryRow(ctx, "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1", query).
		Scan(&generic, &custom)
	if err != nil {
		t.Fatal(err)
	}
	return generic, custom
}
