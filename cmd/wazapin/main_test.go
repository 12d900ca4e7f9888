package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
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

func TestUsageErrorsNameWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"migrate"}, "up or down"},
		{[]string{"migrate", "sideways"}, "up or down"},
		{[]string{"workspace", "delete"}, `unknown workspace subcommand "delete"`},
		{[]string{"workspace", "create", "--nmae", "x"}, "-nmae"},
		{[]string{"serve", "--port", "1"}, "-port"},
		{[]string{"import", "--chunk", "0", "f.csv"}, "--chunk"},
		{[]string{"import", "a.csv", "b.csv"}, "one file"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := run(t, "", tc.args...)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want a usage error saying %q", err, tc.want)
			}
		})
	}
	if _, err := run(t, "", "migrate", "up"); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("migrate without DATABASE_URL: %v", err)
	}
}

func TestHelpPrintsUsageAndSucceeds(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "commands:"},
		{[]string{"--help"}, "commands:"},
		{[]string{"serve", "--help"}, "WAZAPIN_DB_TIMEOUT"},
		{[]string{"migrate", "--help"}, "usage: wazapin migrate"},
		{[]string{"workspace", "--help"}, "usage: wazapin workspace create"},
		{[]string{"workspace", "create", "--help"}, "-default-region"},
		{[]string{"import", "--help"}, "-chunk"},
		{[]string{"import", "-h"}, "-chunk"},
		{[]string{"apikey", "--help"}, "usage: wazapin apikey"},
		{[]string{"apikey", "create", "--help"}, "-permissions"},
		{[]string{"apikey", "revoke", "--help"}, "-key"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, err := run(t, "", tc.args...)
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("err %v, want success", err)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestVersionNamesTheBuild(t *testing.T) {
	out, err := run(t, "", "version")
	if err != nil || !strings.HasPrefix(out, "wazapin ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %q, %v", out, err)
	}
}

// TestReadmeListsEverySetting keeps README's table of environment variables the one that
// `wazapin serve --help` prints.
func TestReadmeListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := settingsMarkdown(); !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not hold the settings table; put this in it:\n%s", want)
	}
	out, _ := run(t, "", "serve", "--help")
	for _, s := range settings {
		if !strings.Contains(out, plain(s.meaning)) {
			t.Errorf("serve --help lacks %s", s.name)
		}
	}
}

// configFrom is the configuration serve reads from the environment env (with a DATABASE_URL,
// never connected to).
func configFrom(env map[string]string) (serveConfig, error) {
	m := &Main{Getenv: func(k string) string {
		if k == "DATABASE_URL" {
			return "postgres://unused"
		}
		return env[k]
	}}
	return m.config()
}

// TestBlockPrivateAddressesSetting reads the one setting that guards providers and webhook
// endpoints, and its former name as a deprecated alias.
func TestBlockPrivateAddressesSetting(t *testing.T) {
	for _, tc := range []struct {
		name          string
		env           map[string]string
		block         bool
		deprecated    bool
		wantErrNaming string
	}{
		{"unset", nil, false, false, ""},
		{"on", map[string]string{"WAZAPIN_BLOCK_PRIVATE_ADDRESSES": "true"}, true, false, ""},
		{"off", map[string]string{"WAZAPIN_BLOCK_PRIVATE_ADDRESSES": "0"}, false, false, ""},
		{"former name on", map[string]string{"WAZAPIN_PROVIDER_BLOCK_PRIVATE": "1"}, true, true, ""},
		{"former name off", map[string]string{"WAZAPIN_PROVIDER_BLOCK_PRIVATE": "false"}, false, true, ""},
		{"both agree", map[string]string{"WAZAPIN_BLOCK_PRIVATE_ADDRESSES": "true", "WAZAPIN_PROVIDER_BLOCK_PRIVATE": "1"}, true, true, ""},
		{"both disagree", map[string]string{"WAZAPIN_BLOCK_PRIVATE_ADDRESSES": "false", "WAZAPIN_PROVIDER_BLOCK_PRIVATE": "true"}, false, false, "WAZAPIN_BLOCK_PRIVATE_ADDRESSES"},
		{"bad value", map[string]string{"WAZAPIN_BLOCK_PRIVATE_ADDRESSES": "yes"}, false, false, "WAZAPIN_BLOCK_PRIVATE_ADDRESSES"},
		{"bad former value", map[string]string{"WAZAPIN_PROVIDER_BLOCK_PRIVATE": "on"}, false, false, "WAZAPIN_PROVIDER_BLOCK_PRIVATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := configFrom(tc.env)
			if tc.wantErrNaming != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrNaming) {
					t.Fatalf("err %v, want one naming %s", err, tc.wantErrNaming)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.server.BlockPrivateAddresses != tc.block || (c.deprecated != "") != tc.deprecated {
				t.Errorf("block %v, deprecated %q; want %v, %v", c.server.BlockPrivateAddresses, c.deprecated, tc.block, tc.deprecated)
			}
		})
	}
}
