// Command webhook-receiver receives Wazapin webhook deliveries with nothing but the standard
// library: it checks each delivery's Standard Webhooks signature (Verify), answers at once and
// hands every event, once per webhook-id, to a worker that processes it after the answer.
//
//	WAZAPIN_WEBHOOK_SECRET=whsec_... PORT=8000 go run .
package main

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// README:begin
// Verify reports whether a delivery is genuine: signed with secret ("whsec_..."), over the raw
// body, and sent within five minutes of now.
func Verify(secret string, h http.Header, body []byte, now time.Time) bool {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sent, err := strconv.ParseInt(ts, 10, 64)
	key, keyErr := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if id == "" || err != nil || keyErr != nil || now.Sub(time.Unix(sent, 0)).Abs() > 5*time.Minute {
		return false // a missing header, or an old timestamp: a replay
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) { // two while a secret rotates
		got, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1,"))
		if strings.HasPrefix(sig, "v1,") && err == nil && hmac.Equal(got, mac.Sum(nil)) {
			return true
		}
	}
	return false
}

// README:end

// MaxBody bounds the body a delivery may have; Wazapin's events are far smaller.
const MaxBody = 1 << 20

// Event is a verified delivery.
type Event struct {
	ID   string // the webhook-id header: the event's id, the same on every attempt
	Body []byte // the event's JSON, as signed
}

// Receiver answers deliveries: 401 to one Verify refuses, 204 to a genuine one, whose event it
// queues for processing after the answer, once per webhook-id.
type Receiver struct {
	Secret string
	Queue  chan<- Event     // read by the worker that processes events
	Now    func() time.Time // the clock Verify checks timestamps against; time.Now when nil

	mu sync.Mutex
	// Delivery is at least once, so a retry may bring an event already queued: seen holds the
	// webhook-ids queued so far. An example can keep them in memory; a real receiver records
	// them in its database (a unique column), in the transaction that stores the event.
	seen map[string]bool
}

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "deliveries are POSTed", http.StatusMethodNotAllowed)
		return
	}
	// The raw body: the signature covers its bytes, so verify before parsing any JSON.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read body", http.StatusBadRequest)
		}
		return
	}
	now := time.Now
	if rc.Now != nil {
		now = rc.Now
	}
	if !Verify(rc.Secret, r.Header, body, now()) {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !rc.seen[id] { // a duplicate is answered 2xx like the first, but not queued again
		select {
		case rc.Queue <- Event{ID: id, Body: body}:
		default: // the worker is behind: an answer other than 2xx makes the service retry later
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if rc.seen == nil {
			rc.seen = map[string]bool{}
		}
		rc.seen[id] = true
	}
	// Answer fast: the service waits for this answer, and the work happens in the worker. (An
	// answer of 410 Gone would make the service disable the endpoint.)
	w.WriteHeader(http.StatusNoContent)
}

func main() {
	secret := os.Getenv("WAZAPIN_WEBHOOK_SECRET")
	if !strings.HasPrefix(secret, "whsec_") {
		log.Fatal("set WAZAPIN_WEBHOOK_SECRET to the endpoint's secret (whsec_...)")
	}
	queue := make(chan Event, 1000)
	go func() {
		for ev := range queue {
			// Parse and process here. Events are not ordered: the event's "sequence" orders them.
			log.Printf("event %s: %s", ev.ID, ev.Body)
		}
	}()
	addr := ":" + cmp.Or(os.Getenv("PORT"), "8000")
	srv := &http.Server{Addr: addr, Handler: &Receiver{Secret: secret, Queue: queue}, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("receiving webhooks on %s", addr)
	log.Fatal(srv.ListenAndServe())
}
