package pg_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/testdb"
)

// A statement whose best plan depends on its parameter.
const planned = "SELECT count(*) FROM generate_series(1, 100) AS i WHERE i::text LIKE $1"

// TestStatementsKeepTheirPlans runs one statement a dozen times with different values on a pool
// of one session and asks PostgreSQL how it planned each execution (auto_explain, reporting to
// the session). The generic pool plans once for any value. OneShot on the custom-plan pool must
// plan every execution for its values: left to its default, a session switches a prepared
// statement to the generic plan for good after five custom plans that cost no less, and a search
// planned for one prefix is slow for another. OneShot on the generic pool plans generically too,
// which is why the server gives it the other pool.
func TestStatementsKeepTheirPlans(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)
	if !strings.Contains(url, "?") {
		url += "?"
	}
	url += "&pool_max_conns=1"
	for _, tc := range []struct {
		name        string
		plans       pg.Plans
		oneShot     bool
		wantCustoms int
	}{
		{"generic pool", pg.GenericPlans, false, 0},
		{"custom-plan pool", pg.CustomPlans, false, 5}, // then PostgreSQL settles on the generic plan
		{"OneShot on the custom-plan pool", pg.CustomPlans, true, 12},
		{"OneShot on the generic pool", pg.GenericPlans, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := pg.Config(url, tc.plans)
			if err != nil {
				t.Fatal(err)
			}
			var plans []string
			cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
				if strings.Contains(n.Message, "generate_series") {
					plans = append(plans, n.Message)
				}
			}
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if _, err := pool.Exec(ctx, "LOAD 'auto_explain'"); err != nil {
				t.Skipf("auto_explain cannot be loaded here (it needs a superuser): %v", err)
			}
			for _, set := range []string{"SET auto_explain.log_min_duration = 0", "SET auto_explain.log_level = notice"} {
				if _, err := pool.Exec(ctx, set); err != nil {
					t.Fatal(err)
				}
			}
			var q interface {
				QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
			} = pool
			if tc.oneShot {
				q = pg.OneShot(pool)
			}
			for i := range 12 {
				var n int64
				if err := q.QueryRow(ctx, planned, fmt.Sprintf("%d%%", i)).Scan(&n); err != nil {
					t.Fatal(err)
				}
			}
			if len(plans) != 12 {
				t.Fatalf("%d plans reported, want 12", len(plans))
			}
			customs := 0
			for i, plan := range plans {
				if strings.Contains(plan, fmt.Sprintf("'%d%%'", i)) {
					customs++ // the value is in the plan
				}
			}
			if customs != tc.wantCustoms {
				t.Errorf("%d of 12 executions planned for their values, want %d; first plan:\n%s", customs, tc.wantCustoms, plans[0])
			}
		})
	}
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
