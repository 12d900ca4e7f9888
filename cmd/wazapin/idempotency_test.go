//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/testdb"
)

// TestSIGKILLWithIdempotencyKeyLeavesOneChange kills `wazapin serve` (SIGKILL, a separate
// process) while a POST with an Idempotency-Key is mid-transaction, and, the other way round,
// after it committed but before its client read the answer. Sent again with its key to a new
// server, the request leaves exactly one note either way: it runs again in the first case (the
// change died with the process) and answers what was committed in the second.
func TestSIGKILLWithIdempotencyKeyLeavesOneChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testdb.New(t)
	env := []string{"DATABASE_URL=" + dbURL, "WAZAPIN_WEBHOOK_WORKERS=0"}
	pool, ws := acme(t, dbURL)
	p := startProcess(t, env...)
	var contact struct {
		Data struct{ ID string } `json:"data"`
	}
	if err := call(p.addr, ws.APIKey, "POST", "/v1/contacts", `{"phone_number": "+6281100000001"}`, &contact); err != nil {
		t.Fatal(err)
	}
	path, body := "/v1/contacts/"+contact.Data.ID+"/notes", `{"body": "called back"}`
	notes := func() int { return count(t, pool, `SELECT count(*) FROM notes`) }
	// restart starts a new server, which lives as long as the whole test.
	parent := t
	restart := func() { p = startProcess(parent, env...) }

	t.Run("killed mid-transaction", func(t *testing.T) {
		// The test holds the contact's row lock, so the note waits mid-transaction, after the key's lock.
		id, _ := ids.Parse(ids.Contact, contact.Data.ID)
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // rolled back below
		if _, err := tx.Exec(ctx, `SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE`, id); err != nil {
			t.Fatal(err)
		}
		sent := make(chan error, 1)
		go func() { _, _, _, err := keyedCall(p.addr, ws.APIKey, "first", path, body); sent <- err }()
		waitUntil(t, 10*time.Second, func() bool {
			return count(t, pool, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'`) > 0
		})
		p.kill()
		if err := <-sent; err == nil {
			t.Fatal("the request was answered, though its server was killed")
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		restart()
		status, replayed, _ := retryKeyed(t, p.addr, ws.APIKey, "first", path, body)
		if status != http.StatusCreated || replayed {
			t.Errorf("the retry answered %d (replayed %v), want a note made now", status, replayed)
		}
		if n := notes(); n != 1 {
			t.Errorf("%d notes, want 1", n)
		}
	})

	t.Run("killed after the commit, the answer lost", func(t *testing.T) {
		before := notes()
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: wazapin\r\nX-Api-Key: %s\r\nIdempotency-Key: second\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, ws.APIKey, len(body), body)
		waitUntil(t, 10*time.Second, func() bool { return notes() == before+1 })
		conn.Close() // the answer is never read
		p.kill()
		restart()
		status, replayed, answer := retryKeyed(t, p.addr, ws.APIKey, "second", path, body)
		var note struct {
			Data struct{ Body string } `json:"data"`
		}
		if status != http.StatusCreated || !replayed || json.Unmarshal(answer, &note) != nil || note.Data.Body != "called back" {
			t.Errorf("the retry answered %d (replayed %v) %s, want the note's answer replayed", status, replayed, answer)
		}
		if n := notes(); n != before+1 {
			t.Errorf("%d notes, want %d", n, before+1)
		}
	})
}

// retryKeyed sends a keyed POST until it is not refused with 409 (the backend of a killed server
// holds the key's lock until PostgreSQL notices its client is gone), and returns its answer.
func retryKeyed(t *testing.T, addr, apiKey, key, path, body string) (int, bool, []byte) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, header, answer, err := keyedCall(addr, apiKey, key, path, body)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusConflict || time.Now().After(deadline) {
			return status, header.Get("Idempotent-Replayed") == "true", answer
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// keyedCall sends a POST with an Idempotency-Key and returns the answer.
func keyedCall(addr, apiKey, key, path, body string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("X-Api-Key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b, err
}
