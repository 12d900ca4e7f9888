package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/netguard"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/webhooksign"
	"github.com/wazapin/wazapin/internal/wire"
)

// DeliveryArgs is the job of one delivery, as InsertEvents queues it.
type DeliveryArgs struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
	DeliveryID  uuid.UUID `json:"delivery_id"`
}

// Kind names the job for River, as InsertEvents does.
func (DeliveryArgs) Kind() string { return "webhook_delivery" }

// maxAnswer is how much of a receiver's answer is read: enough for an error message.
const maxAnswer = 64 << 10

// maxRetryAfter bounds how long a receiver's Retry-After may put the next attempt off.
const maxRetryAfter = 24 * time.Hour

// NewClient is the HTTP client of deliveries: it follows no redirect (a 3xx is a failed attempt)
// and, with blockPrivate, connects to no loopback, private or link-local address.
func NewClient(blockPrivate bool) *http.Client {
	return &http.Client{
		Transport:     netguard.Transport(blockPrivate),
		Timeout:       Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	cfg Config
}

// Work makes one attempt at a delivery and records it. A failed attempt snoozes the job until
// the next one is due (River does not count snoozes as attempts; the delivery does); a final
// outcome completes the job in the transaction that records it.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	ws, id := job.Args.WorkspaceID, job.Args.DeliveryID
	complete := func(ctx context.Context, tx pgx.Tx) error {
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	}
	a, err := w.cfg.Store.DeliveryAttempt(ctx, ws, id)
	switch {
	case errors.Is(err, store.ErrNoDelivery):
		return nil // its endpoint was deleted, and the delivery with it
	case err != nil:
		return err
	case a.Status != "pending":
		return nil // retried by hand while this job waited, or already done
	case !a.Enabled:
		return w.cfg.Store.FinishDelivery(ctx, ws, id, "the endpoint is disabled", complete)
	case a.Gone:
		return w.cfg.Store.FinishDelivery(ctx, ws, id, "the event is no longer kept (retention deleted it)", complete)
	}
	sealed, err := w.cfg.Store.WebhookSigningSecrets(ctx, ws, a.EndpointID)
	if err != nil {
		return err // the endpoint went meanwhile: the next try finds its delivery gone
	}
	var res result
	keys, err := webhooksign.Open(w.cfg.Secrets, ws, a.EndpointID, sealed)
	if err == nil {
		res = w.post(ctx, a, keys)
	} else {
		res = result{err: err.Error()}
		w.cfg.Log.Error("webhook delivery cannot be signed", "endpoint_id", ids.Format(ids.WebhookEndpoint, a.EndpointID), "err", err)
	}
	o := store.Outcome{Status: "delivered"}
	if res.code != 0 {
		o.StatusCode = &res.code
	}
	var wait time.Duration
	if !res.ok() {
		o.Status, o.Error, o.Gone = "failed", &res.err, res.code == http.StatusGone
		attempt := int(a.Attempts) + 1
		if !o.Gone && attempt <= len(w.cfg.Schedule) {
			wait = jitter(w.cfg.Schedule[attempt-1])
			if res.retryAfter > 0 {
				wait = res.retryAfter
			}
			next := time.Now().Add(wait)
			o.Status, o.Next = "pending", &next
		}
	}
	enabled, err := w.cfg.Store.RecordAttempt(ctx, ws, id, a.EndpointID, o, w.cfg.DisableAfter, complete)
	if err != nil {
		return err
	}
	if o.Status == "pending" && enabled {
		return river.JobSnooze(wait)
	}
	return nil
}

// result is what an attempt got back.
type result struct {
	code       int32
	err        string
	retryAfter time.Duration
}

func (r result) ok() bool { return r.code >= 200 && r.code < 300 }

// post sends the event, signed, and reads the answer.
func (w *deliveryWorker) post(ctx context.Context, a store.Attempt, keys [][]byte) result {
	body := payload(a)
	msgID := ids.Format(ids.Event, a.EventID)
	now := time.Now().Unix()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Url, strings.NewReader(string(body)))
	if err != nil {
		return result{err: "the endpoint's URL cannot be requested: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Wazapin-Webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now, 10))
	req.Header.Set("webhook-signature", webhooksign.Signature(keys, msgID, now, body))
	res, err := w.cfg.Client.Do(req)
	if err != nil {
		return result{err: describe(err)}
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	r := result{code: int32(res.StatusCode)}
	if !r.ok() {
		r.err = fmt.Sprintf("the endpoint answered %d", res.StatusCode)
		if s := snippet(answer); s != "" {
			r.err += ": " + s
		}
		if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
			r.retryAfter = retryAfter(res.Header.Get("Retry-After"), time.Now())
		}
	}
	return r
}

// payload is the body of a delivery: the event as the feed shows it, or for a test delivery a
// webhook.test event about the endpoint.
func payload(a store.Attempt) []byte {
	if a.EventSeq != 0 {
		return events.AppendJSON(nil, a.Event)
	}
	endpoint := ids.Format(ids.WebhookEndpoint, a.EndpointID)
	data := append([]byte(`{"object":{"id":`), wire.AppendString(nil, endpoint)...)
	data = append(data, `,"url":`...)
	data = wire.AppendString(data, a.Url)
	data = append(data, `}}`...)
	return events.AppendJSON(nil, dbq.Event{
		WorkspaceID: a.WorkspaceID, ID: a.EventID, Type: "webhook.test", ObjectID: endpoint, Data: data, CreatedAt: a.CreatedAt,
	})
}

// describe words a failed request without the URL, which the delivery shows already.
func describe(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", Timeout)
	case errors.Is(err, netguard.ErrBlocked):
		return "the endpoint's address is loopback, private or link-local, which this server refuses"
	}
	var uerr interface{ Unwrap() error }
	if errors.As(err, &uerr) && uerr.Unwrap() != nil {
		err = uerr.Unwrap()
	}
	return "the request failed: " + err.Error()
}

// snippet is the start of an answer, as text fit for a message.
func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		b = b[:max]
	}
	// ToValidUTF8 also drops a rune the cut above split.
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "")), " ")
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), bounded.
func retryAfter(v string, now time.Time) time.Duration {
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// jitter varies a wait by up to a tenth either way, so that retries to one receiver spread out.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}
