//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/servertest"
	"github.com/wazapin/wazapin/internal/testdb"
)

// TestDeliveriesCanRunInAWorkerInstead runs serve with its deliveries switched off and
// `wazapin worker` beside it: the worker delivers what serve recorded, and nothing is delivered
// while no worker runs.
func TestDeliveriesCanRunInAWorkerInstead(t *testing.T) {
	dbURL := testdb.New(t)
	key := encryptionKey(t)
	var got atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("webhook-signature") != "" {
			got.Add(1)
		}
	}))
	defer recv.Close()
	s := startServe(t, dbURL, map[string]string{"WAZAPIN_ENCRYPTION_KEY": key, "WAZAPIN_WEBHOOK_WORKERS": "0"})
	if s.logged("webhook deliveries are not run here (WAZAPIN_WEBHOOK_WORKERS=0): run `wazapin worker`") == nil {
		t.Error("serve does not say that it leaves deliveries to workers")
	}
	s.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": recv.URL})
	for i := range 3 {
		s.must(http.StatusCreated, "POST", "/v1/contacts", map[string]any{"email": fmt.Sprintf("w%d@example.com", i)})
	}
	time.Sleep(time.Second)
	if n := got.Load(); n != 0 {
		t.Fatalf("%d deliveries without a worker", n)
	}

	logs := &servertest.Logs{}
	signals := make(chan os.Signal, 1)
	vars := map[string]string{"DATABASE_URL": dbURL, "WAZAPIN_ENCRYPTION_KEY": key, "WAZAPIN_LOG_FORMAT": "json", "GOGC": "100"}
	m := &Main{Stdout: io.Discard, Stderr: logs, Getenv: func(k string) string { return vars[k] }, Signals: signals}
	done := make(chan error, 1)
	go func() { done <- m.Run(context.Background(), []string{"worker"}) }()
	deadline := time.Now().Add(20 * time.Second)
	for got.Load() < 6 { // a contact.created and an identity.attached each
		if time.Now().After(deadline) {
			t.Fatalf("the worker delivered %d of 6; log:\n%s", got.Load(), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	signals <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not stop on SIGTERM")
	}
}
