package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

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

// createKey makes a key of workspace wsID with `wazapin apikey create`.
func createKey(t *testing.T, dbURL, wsID, perms string) cliKey {
	t.Helper()
	out, err := run(t, dbURL, "apikey", "create", "--workspace", wsID, "--name", "ops "+perms, "--permissions", perms)
	if err != nil {
		t.Fatal(err)
	}
	var k cliKey
	if err := json.Unmarshal([]byte(out), &k); err != nil || !strings.HasPrefix(k.Key, k.ID+"_") {
		t.Fatalf("apikey create printed %s (%v)", out, err)
	}
	return k
}

// TestAPIKeyCommand: the operator's command makes, lists and revokes a workspace's keys against
// the database, never shows a secret again, and refuses what it cannot do. That its keys and
// revocations hold on every server process is TestThreeServerProcessesShareOneDatabase's.
func TestAPIKeyCommand(t *testing.T) {
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
	made := createKey(t, dbURL, ws.WorkspaceID, "contacts:read")
	if len(made.Perms) != 1 || made.Perms[0] != "contacts:read" {
		t.Errorf("apikey create made permissions %v", made.Perms)
	}

	t.Run("list shows the keys without their secrets", func(t *testing.T) {
		out, err := run(t, dbURL, "apikey", "list", "--workspace", ws.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		var listed []cliKey
		if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 2 {
			t.Fatalf("apikey list printed %s (%v)", out, err)
		}
		if strings.Contains(out, made.Key[len(made.ID)+1:]) {
			t.Fatal("apikey list shows a secret")
		}
	})
	t.Run("revoke marks the key revoked", func(t *testing.T) {
		out, err := run(t, dbURL, "apikey", "revoke", "--workspace", ws.WorkspaceID, "--key", made.ID)
		var k cliKey
		if err != nil || json.Unmarshal([]byte(out), &k) != nil || k.RevokedAt == nil {
			t.Fatalf("apikey revoke printed %s (%v)", out, err)
		}
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
		_, err := run(t, dbURL, "apikey", "revoke", "--workspace", ws.WorkspaceID, "--key", strings.Replace(made.ID, "wzk_0", "wzk_1", 1))
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("revoking an unknown key: %v", err)
		}
	})
}
