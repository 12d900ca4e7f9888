package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/testdb"
)

type cliKey struct {
	ID        string   `json:"id"`
	Key       string   `json:"key"`
	Prefix    string   `json:"prefix"`
	Perms     []string `json:"permissions"`
	RevokedAt *string  `json:"revoked_at"`
}

// TestRevokedKeyStopsOnEveryServerProcess runs two `wazapin serve` processes on one database.
// Keys made by the operator's command work on both, and a key revoked through either the API of
// one process or the command stops working on both within a second.
func TestRevokedKeyStopsOnEveryServerProcess(t *testing.T) {
	t.Parallel()
	dbURL := testdb.New(t)
	ctx := context.Background()
	pool, err := pg.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ws, err := tenant.Create(ctx, pool, "Acme", "ID")
	if err != nil {
		t.Fatal(err)
	}
	procs := []*process{startProcess(t, "DATABASE_URL="+dbURL), startProcess(t, "DATABASE_URL="+dbURL)}

	create := func(perms string) cliKey {
		t.Helper()
		out, err := run(t, dbURL, "apikey", "create", "--workspace", ws.WorkspaceID, "--name", "ops "+perms, "--permissions", perms)
		if err != nil {
			t.Fatal(err)
		}
		var k cliKey
		if err := json.Unmarshal([]byte(out), &k); err != nil || !strings.HasPrefix(k.Key, k.ID+"_") {
			t.Fatalf("apikey create printed %s (%v)", out, err)
		}
		return k
	}
	// stopsEverywhere waits until every process refuses key, and fails past a second.
	stopsEverywhere := func(key string, revoked time.Time) {
		t.Helper()
		for i, p := range procs {
			for {
				err := call(p.addr, key, http.MethodGet, "/v1/contacts", "", nil)
				if err != nil && strings.Contains(err.Error(), ": 401 ") {
					t.Logf("process %d refused the key %s after its revocation", i+1, time.Since(revoked))
					break
				}
				if time.Since(revoked) > time.Second {
					t.Fatalf("process %d still takes the key a second after its revocation: %v", i+1, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}

	viaAPI, viaCommand := create("contacts:read"), create("contacts:read,events:read")
	for _, k := range []cliKey{viaAPI, viaCommand} {
		for _, p := range procs {
			if err := call(p.addr, k.Key, http.MethodGet, "/v1/contacts", "", nil); err != nil {
				t.Fatal(err)
			}
			if err := call(p.addr, k.Key, http.MethodPost, "/v1/contacts", `{"name":"x"}`, nil); err == nil || !strings.Contains(err.Error(), ": 403 ") {
				t.Fatalf("a contacts:read key created a contact: %v", err)
			}
		}
	}
	out, err := run(t, dbURL, "apikey", "list", "--workspace", ws.WorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	var listed []cliKey
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 3 {
		t.Fatalf("apikey list printed %s (%v)", out, err)
	}
	if strings.Contains(out, viaAPI.Key[len(viaAPI.ID)+1:]) {
		t.Fatal("apikey list shows a secret")
	}

	t.Run("revoked through one process's API", func(t *testing.T) {
		if err := call(procs[0].addr, ws.APIKey, http.MethodDelete, "/v1/api-keys/"+viaAPI.ID, "", nil); err != nil {
			t.Fatal(err)
		}
		stopsEverywhere(viaAPI.Key, time.Now())
	})
	t.Run("revoked by the operator's command", func(t *testing.T) {
		out, err := run(t, dbURL, "apikey", "revoke", "--workspace", ws.WorkspaceID, "--key", viaCommand.ID)
		revoked := time.Now()
		var k cliKey
		if err != nil || json.Unmarshal([]byte(out), &k) != nil || k.RevokedAt == nil {
			t.Fatalf("apikey revoke printed %s (%v)", out, err)
		}
		stopsEverywhere(viaCommand.Key, revoked)
	})
	t.Run("the command refuses what it cannot do", func(t *testing.T) {
		for _, args := range [][]string{
			{"apikey", "create"},
			{"apikey", "create", "--workspace", "ws_nope"},
			{"apikey", "create", "--workspace", ws.WorkspaceID, "--permissions", "contacts:admin"},
			{"apikey", "create", "--workspace", ws.WorkspaceID, "--expires-at", "2020-01-01T00:00:00Z"},
			{"apikey", "revoke", "--workspace", ws.WorkspaceID, "--key", "cnt_1"},
			{"apikey", "rotate", "--workspace", ws.WorkspaceID},
		} {
			_, err := run(t, dbURL, args...)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Errorf("%s: %v, want a usage error", strings.Join(args, " "), err)
			}
		}
		_, err := run(t, dbURL, "apikey", "revoke", "--workspace", ws.WorkspaceID, "--key", strings.Replace(viaAPI.ID, "wzk_0", "wzk_1", 1))
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("revoking an unknown key: %v", err)
		}
	})
}
