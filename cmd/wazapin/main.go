// Command wazapin is the Contacts API server and its admin tool; `wazapin help` lists its
// commands and `wazapin serve --help` the settings it reads from the environment.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/tenant"
)

const usage = `usage: wazapin <command> [flags]

commands:
  serve                              serve the API (migrates first); --help lists its settings
  worker                             deliver webhooks without serving the API; --help says more
  migrate up|down                    apply all migrations, or roll back the newest one
  workspace create --name N [--default-region ID]
                                     create a workspace; prints its id and first API key as JSON
  apikey create|list|revoke --workspace ws_…
                                     make, list or revoke a workspace's API keys without one
  import [--url U] [--key K] [--chunk N] FILE
                                     send a CSV (with a header row) or NDJSON file to a running
                                     server's bulk import, N lines per request (default 10000)
  version                            print the version and the commit it was built from
  help                               print this

Run 'wazapin <command> --help' for a command's flags.
`

func main() {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Signals: signals}
	err := m.Run(context.Background(), os.Args[1:])
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "wazapin: %v\nRun 'wazapin help' for usage.\n", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "wazapin:", err)
		os.Exit(1)
	}
}

// usageError is a command line the program cannot read; its message says what is wrong.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// Main is the program, with its environment passed in so it can run inside tests.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Signals delivers SIGTERM and SIGINT: the first drains the server, a second cuts the
	// grace period short.
	Signals <-chan os.Signal
}

// Run runs one command.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return m.serve(ctx, rest)
	case "worker":
		return m.worker(ctx, rest)
	case "migrate":
		return m.migrate(rest)
	case "workspace":
		return m.workspace(ctx, rest)
	case "apikey":
		return m.apikey(ctx, rest)
	case "import":
		return m.importFile(ctx, rest)
	case "version", "--version":
		fmt.Fprintln(m.Stdout, version())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	return usagef("unknown command %q", cmd)
}

// flags returns a flag set for a command whose --help prints help to stdout and whose errors
// name the flag, for parse to turn into a usage error.
func (m *Main) flags(name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(m.Stdout, help)
		fs.SetOutput(m.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args: --help prints the command's help and returns flag.ErrHelp, which exits 0;
// an unknown flag or a bad value is a usage error naming it.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	case err != nil:
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

func (m *Main) migrate(args []string) error {
	fs := m.flags("migrate", "usage: wazapin migrate up|down\n\nup applies every migration not yet applied; down rolls back the newest one. Reads DATABASE_URL.\n")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "up" && fs.Arg(0) != "down") {
		return usagef("migrate takes one argument, up or down")
	}
	steps := 0
	if fs.Arg(0) == "down" {
		steps = -1
	}
	url, err := m.databaseURL()
	if err != nil {
		return err
	}
	return pg.Migrate(url, steps)
}

func (m *Main) databaseURL() (string, error) {
	url := m.Getenv("DATABASE_URL")
	if url == "" {
		return "", errors.New("DATABASE_URL is not set")
	}
	return url, nil
}

func (m *Main) workspace(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
		fmt.Fprint(m.Stdout, "usage: wazapin workspace create --name N [--default-region ID]\n")
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "create" {
		if len(args) == 0 {
			return usagef("workspace needs a subcommand: create")
		}
		return usagef("unknown workspace subcommand %q; there is only create", args[0])
	}
	fs := m.flags("workspace create", "usage: wazapin workspace create --name N [--default-region ID]\n\nCreates a workspace and prints its id and first API key as JSON; the key is shown only this once. Reads DATABASE_URL.\n\n")
	name := fs.String("name", "", "workspace name (required)")
	region := fs.String("default-region", "ID", "region that phone numbers without a country code are read in")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("workspace create takes no arguments, only flags: %q", fs.Arg(0))
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
	created, err := tenant.Create(ctx, pool, *name, *region)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(created)
}

// version describes the build from what the Go toolchain recorded in the binary.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "wazapin (no build information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var commit, when, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " with uncommitted changes"
			}
		}
	}
	out := []string{"wazapin " + v}
	if commit != "" {
		out = append(out, "commit "+commit+modified)
	}
	if when != "" {
		out = append(out, "committed "+when)
	}
	out = append(out, info.GoVersion)
	return strings.Join(out, ", ")
}
