package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/internal/testdb"
)

func run(t *testing.T, url string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string {
		if k == "DATABASE_URL" {
			return url
		}
		return ""
	}}
	err := m.Run(context.Background(), args)
	return out.String(), err
}

func TestWorkspaceCreatePrintsIDAndKeyOnce(t *testing.T) {
	url := testdb.New(t)
	out, err := run(t, url, "workspace", "create", "--name", "Toko Ujang", "--default-region", "id")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		WorkspaceID   string `json:"workspace_id"`
		APIKey        string `json:"api_key"`
		DefaultRegion string `json:"default_region"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if !strings.HasPrefix(got.WorkspaceID, "ws_") || !strings.HasPrefix(got.APIKey, "wzk_") || got.DefaultRegion != "ID" {
		t.Errorf("output %+v", got)
	}
}

func TestWorkspaceCreateRejects(t *testing.T) {
	url := testdb.New(t)
	for name, args := range map[string][]string{
		"no name":        {"workspace", "create"},
		"unknown region": {"workspace", "create", "--name", "x", "--default-region", "XX"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := run(t, url, args...); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestMigrateDownAndUp(t *testing.T) {
	url := testdb.New(t)
	for _, dir := range []string{"down", "up", "up"} {
		if _, err := run(t, url, "migrate", dir); err != nil {
			t.Fatalf("migrate %s: %v", dir, err)
		}
	}
	if _, err := run(t, url, "workspace", "create", "--name", "after"); err != nil {
		t.Fatalf("the schema is not back after down and up: %v", err)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"migrate"}, {"migrate", "sideways"}, {"workspace", "delete"}} {
		if _, err := run(t, "", args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: err %v, want usage", args, err)
		}
	}
	if _, err := run(t, "", "migrate", "up"); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("migrate without DATABASE_URL: %v", err)
	}
}
