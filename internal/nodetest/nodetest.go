// Package nodetest runs Node.js from Go tests (the TypeScript client's test, the TypeScript webhook
// receiver's): it finds node and npm, installs a package's locked dependencies when they are
// missing or stale, and runs commands, failing the test with their output.
package nodetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MinMajor is the oldest Node.js major version the project supports.
const MinMajor = 20

// Check returns an error when node or npm is missing from PATH or node is older than MinMajor.
func Check() error {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found on PATH: this test needs Node.js %d or newer with npm "+
				"(Debian/Ubuntu: apt-get install -y nodejs npm; macOS: brew install node)", tool, MinMajor)
		}
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return fmt.Errorf("node --version: %w", err)
	}
	version := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < MinMajor {
		return fmt.Errorf("node %s is too old: this test needs Node.js %d or newer", version, MinMajor)
	}
	return nil
}

// Install runs `npm ci` in dir when node_modules is missing or older than package-lock.json (npm
// writes node_modules/.package-lock.json on every install). Tests of several packages may share
// dir and run at once, so the check and the install hold a lock on it.
func Install(t testing.TB, dir string) {
	t.Helper()
	unlock := lock(t, dir)
	defer unlock()
	lockFile, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err == nil && !installed.ModTime().Before(lockFile.ModTime()) {
		return
	}
	Run(t, dir, 5*time.Minute, nil, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
}

// lock takes an exclusive lock, shared by every process on the machine, named after dir.
func lock(t testing.TB, dir string) (unlock func()) {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(abs))
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "wazapin-npm-"+hex.EncodeToString(sum[:8])+".lock"),
		os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("lock for npm ci in %s: %v", dir, err)
	}
	return func() { f.Close() } // closing the file releases the lock
}

// Run runs a command in dir with extra environment, fails the test with its output when it fails
// and returns the output (stdout and stderr together) when it succeeds.
func Run(t testing.TB, dir string, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	if testing.Verbose() {
		t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out.String())
	}
	return out.String()
}

// Track opens the files matched by patterns (relative to dir), so that go test's cache, which
// sees only what the test process opens, reruns the test when one of them changes.
func Track(t testing.TB, dir string, patterns ...string) {
	t.Helper()
	for _, pattern := range patterns {
		files, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if _, err := os.ReadFile(f); err != nil {
				t.Fatal(err)
			}
		}
	}
}
