package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/server"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/testdb"
)

func TestImportCommand(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)
	pool, err := pg.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	srv := httptest.NewServer(server.New(store.New(pool, store.Options{}), server.Config{}).Handler())
	defer srv.Close()
	ws, err := tenant.Create(ctx, pool, "CLI", "ID")
	if err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("phone_number,name,email,tier\n")
	for i := range 250 {
		fmt.Fprintf(&csv, "0812%08d,Contact %d,c%d@example.com,gold\n", i, i, i)
	}
	csv.WriteString("not a phone,Bad,,\n") // file line 252
	file := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for round, want := range []string{"250 created, 0 updated, 0 conflicts, 1 invalid", "0 created, 250 updated, 0 conflicts, 1 invalid"} {
		out, err := run(t, url, "import", "--url", srv.URL, "--key", ws.APIKey, "--chunk", "100", file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "251 records") || !strings.Contains(out, want) || !strings.Contains(out, "line 252: invalid") {
			t.Errorf("round %d: output %q", round, out)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM contacts WHERE custom_fields->>'tier' = 'gold'").Scan(&n); err != nil || n != 250 {
		t.Errorf("%d contacts imported with their custom field (%v)", n, err)
	}
	if _, err := run(t, url, "import", "--url", srv.URL, file); err == nil || !strings.Contains(err.Error(), "API key") {
		t.Errorf("import without a key: %v", err)
	}
}
