package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/wazapin/wazapin/internal/apikey"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/tenant"
	"github.com/wazapin/wazapin/internal/wire"
)

const apikeyUsage = `usage: wazapin apikey create|list|revoke --workspace ws_… [flags]

For operators, with the database at hand (DATABASE_URL): what POST, GET and DELETE /v1/api-keys
do, for a workspace that has lost every key. Prints JSON; create prints the key's secret, which is
shown only this once.

  create --workspace ws_… [--name N] [--permissions P,P|all] [--expires-at RFC3339]
  list   --workspace ws_…
  revoke --workspace ws_… --key wzk_…
`

// apikey manages a workspace's API keys without one.
func (m *Main) apikey(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(m.Stdout, apikeyUsage)
		if len(args) == 0 {
			return usagef("apikey needs a subcommand: create, list or revoke")
		}
		return flag.ErrHelp
	}
	sub := args[0]
	fs := m.flags("apikey "+sub, apikeyUsage+"\n")
	wsRef := fs.String("workspace", "", "workspace id, ws_… (required)")
	var name, perms, expires, key *string
	switch sub {
	case "create":
		name = fs.String("name", "operator key", "what the key is for")
		perms = fs.String("permissions", "all", "comma-separated permissions, or all: "+strings.Join(apikey.Permissions, ", "))
		expires = fs.String("expires-at", "", "when the key stops working (RFC 3339), default never")
	case "list":
	case "revoke":
		key = fs.String("key", "", "the key's id, wzk_… (required)")
	default:
		return usagef("unknown apikey subcommand %q: create, list or revoke", sub)
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("apikey %s takes no arguments, only flags: %q", sub, fs.Arg(0))
	}
	wsID, ok := ids.Parse(ids.Workspace, *wsRef)
	if !ok {
		return usagef("--workspace must be a workspace id (ws_…), not %q", *wsRef)
	}
	url, err := m.databaseURL()
	if err != nil {
		return err
	}
	pool, err := pg.Open(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := store.New(pool, store.Options{})
	if _, err := st.Workspace(ctx, wsID); err != nil {
		return fmt.Errorf("workspace %s: %w", *wsRef, err)
	}
	var out any
	switch sub {
	case "create":
		keyName := strings.TrimSpace(*name)
		if keyName == "" {
			return usagef("--name must not be blank")
		}
		granted := apikey.All
		if *perms != "all" {
			if granted, err = apikey.ParsePerms(strings.Split(*perms, ",")); err != nil || granted == 0 {
				return usagef("--permissions: %v (known: %s)", err, strings.Join(apikey.Permissions, ", "))
			}
		}
		p, text := tenant.NewKey(wsID, keyName, granted)
		if *expires != "" {
			at, err := time.Parse(time.RFC3339, *expires)
			if err != nil || !at.After(time.Now()) {
				return usagef("--expires-at must be a time in the future in RFC 3339, e.g. 2027-01-31T00:00:00Z")
			}
			p.ExpiresAt = &at
		}
		row, err := st.CreateAPIKey(ctx, p)
		if err != nil {
			return err
		}
		out = wire.APIKeyCreated(row, text)
	case "list":
		rows, err := st.APIKeys(ctx, wsID)
		if err != nil {
			return err
		}
		out = wire.Convert(rows, wire.APIKey)
	case "revoke":
		id, ok := ids.Parse(ids.APIKey, *key)
		if !ok {
			return usagef("--key must be an API key id (wzk_…), not %q", *key)
		}
		if err := st.RevokeAPIKey(ctx, wsID, id); err != nil {
			return err
		}
		row, err := st.APIKey(ctx, wsID, id)
		if err != nil {
			return err
		}
		out = wire.APIKey(row)
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
