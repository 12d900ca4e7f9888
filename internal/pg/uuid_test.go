package pg_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/testdb"
)

func TestUUIDTravelsInBinary(t *testing.T) {
	ctx := context.Background()
	pool, err := pg.Open(ctx, testdb.New(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	a, b := uuid.MustParse("019ac1d2-7e3f-7abc-8def-0123456789ab"), uuid.New()

	t.Run("parameter", func(t *testing.T) {
		var text string
		if err := pool.QueryRow(ctx, "SELECT $1::uuid::text", a).Scan(&text); err != nil || text != a.String() {
			t.Fatalf("got %q, %v; want %s", text, err, a)
		}
	})
	t.Run("column", func(t *testing.T) {
		var got uuid.UUID
		if err := pool.QueryRow(ctx, "SELECT $1::text::uuid", a.String()).Scan(&got); err != nil || got != a {
			t.Fatalf("got %s, %v; want %s", got, err, a)
		}
	})
	t.Run("NULL into a pointer", func(t *testing.T) {
		got := &a
		if err := pool.QueryRow(ctx, "SELECT NULL::uuid").Scan(&got); err != nil || got != nil {
			t.Fatalf("got %v, %v; want nil", got, err)
		}
	})
	t.Run("NULL into a value is the zero uuid", func(t *testing.T) {
		got := a
		if err := pool.QueryRow(ctx, "SELECT NULL::uuid").Scan(&got); err != nil || got != (uuid.UUID{}) {
			t.Fatalf("got %s, %v; want the zero uuid", got, err)
		}
	})
	t.Run("arrays both ways", func(t *testing.T) {
		var got []uuid.UUID
		if err := pool.QueryRow(ctx, "SELECT array_agg(x ORDER BY o) FROM unnest($1::uuid[]) WITH ORDINALITY AS u(x, o)", []uuid.UUID{a, b}).Scan(&got); err != nil || !slices.Equal(got, []uuid.UUID{a, b}) {
			t.Fatalf("got %v, %v; want [%s %s]", got, err, a, b)
		}
	})
	t.Run("a value of the wrong type is refused", func(t *testing.T) {
		var got uuid.UUID
		if err := pool.QueryRow(ctx, "SELECT 'not a uuid'::text").Scan(&got); err == nil {
			t.Fatalf("scanned text into %s without an error", got)
		}
	})
	// The point of the codec: a scanned id is copied, not formatted as text and parsed back.
	t.Run("a scan allocates nothing", func(t *testing.T) {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		var u uuid.UUID
		plan := conn.Conn().TypeMap().PlanScan(pgtype.UUIDOID, pgtype.BinaryFormatCode, &u)
		allocs := testing.AllocsPerRun(100, func() {
			if err := plan.Scan(b[:], &u); err != nil {
				t.Fatal(err)
			}
		})
		if u != b || allocs != 0 {
			t.Fatalf("scanned %s with %v allocations; want %s with none", u, allocs, b)
		}
	})
}
