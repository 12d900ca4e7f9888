package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
)

// Attempt is what one attempt at a delivery needs.
type Attempt struct {
	WorkspaceID uuid.UUID
	dbq.DeliveryAttemptRow
	// Event is the event to deliver; its Seq is 0 for a test delivery, which has no stored event.
	Event dbq.Event
	// Gone says the stored event is no longer kept (retention deleted it).
	Gone bool
}

// ErrNoDelivery says a delivery is not there any more: its endpoint was deleted with it.
var ErrNoDelivery = errors.New("no such delivery")

// DeliveryAttempt reads a delivery with its endpoint and its event.
func (s *Store) DeliveryAttempt(ctx context.Context, wsID, id uuid.UUID) (Attempt, error) {
	row, err := s.q.DeliveryAttempt(ctx, dbq.DeliveryAttemptParams{WorkspaceID: wsID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return Attempt{}, ErrNoDelivery
	}
	if err != nil {
		return Attempt{}, err
	}
	a := Attempt{WorkspaceID: wsID, DeliveryAttemptRow: row}
	if row.EventSeq == 0 {
		return a, nil
	}
	a.Event, err = s.q.GetEvent(ctx, dbq.GetEventParams{WorkspaceID: wsID, Seq: row.EventSeq})
	if errors.Is(err, pgx.ErrNoRows) {
		a.Gone, err = true, nil
	}
	return a, err
}

// Outcome is the result of an attempt, as recorded.
type Outcome struct {
	Status     string     // pending (another attempt follows), delivered or failed
	StatusCode *int32     // the receiver's answer, when there was one
	Error      *string    // what went wrong, for a failed attempt
	Next       *time.Time // when the next attempt runs, for pending
	// Gone says the receiver answered 410: the endpoint is disabled at once.
	Gone bool
}

// RecordAttempt records an attempt at a delivery and what it implies for its endpoint: a success
// ends the endpoint's run of failures; a failure starts or extends it, and disables the endpoint
// when the receiver said it is gone or the run has lasted disableAfter. finish runs in the same
// transaction, for the job that made the attempt to complete with it. It answers false when
// the endpoint is disabled now, and then a pending delivery failed instead.
func (s *Store) RecordAttempt(ctx context.Context, wsID, id, endpointID uuid.UUID, o Outcome, disableAfter time.Duration, finish func(context.Context, pgx.Tx) error) (enabled bool, err error) {
	err = s.write(ctx, s.main, "webhook_delivery.attempt", wsID, func(q *txn) error {
		o := o // each attempt of the transaction decides afresh
		enabled = true
		if o.Status == "delivered" {
			if err := q.EndpointDelivered(ctx, dbq.EndpointDeliveredParams{WorkspaceID: wsID, ID: endpointID}); err != nil {
				return err
			}
		} else {
			var err error
			enabled, err = q.EndpointFailed(ctx, dbq.EndpointFailedParams{
				WorkspaceID: wsID, ID: endpointID, Gone: o.Gone, DisableAfterSeconds: int64(disableAfter / time.Second),
			})
			if err != nil {
				return err
			}
			if !enabled {
				o.Status, o.Next = "failed", nil
			}
		}
		if err := q.RecordDeliveryAttempt(ctx, dbq.RecordDeliveryAttemptParams{
			WorkspaceID: wsID, ID: id, Status: o.Status, StatusCode: o.StatusCode, Error: o.Error, NextAttemptAt: o.Next,
		}); err != nil {
			return err
		}
		if finish != nil && o.Status != "pending" {
			return finish(ctx, q.tx)
		}
		return nil
	})
	return enabled, err
}

// FinishDelivery fails a delivery that will not be attempted, saying why.
func (s *Store) FinishDelivery(ctx context.Context, wsID, id uuid.UUID, why string, finish func(context.Context, pgx.Tx) error) error {
	return s.write(ctx, s.main, "webhook_delivery.finish", wsID, func(q *txn) error {
		if err := q.FinishDelivery(ctx, dbq.FinishDeliveryParams{WorkspaceID: wsID, ID: id, Error: &why}); err != nil {
			return err
		}
		if finish != nil {
			return finish(ctx, q.tx)
		}
		return nil
	})
}

// WebhookDeliveries is a page of an endpoint's deliveries, newest first, with ids below before.
func (s *Store) WebhookDeliveries(ctx context.Context, wsID, endpointID, before uuid.UUID, limit int32) ([]dbq.WebhookDelivery, error) {
	if _, err := s.WebhookEndpoint(ctx, wsID, endpointID); err != nil {
		return nil, err
	}
	return s.q.ListWebhookDeliveries(ctx, dbq.ListWebhookDeliveriesParams{WorkspaceID: wsID, EndpointID: endpointID, BeforeID: before, MaxRows: limit})
}

// RetryDelivery queues a finished delivery again; one still pending is a conflict.
func (s *Store) RetryDelivery(ctx context.Context, wsID, endpointID, id uuid.UUID) (row dbq.WebhookDelivery, err error) {
	err = s.write(ctx, s.main, "webhook_delivery.retry", wsID, func(q *txn) error {
		r, err := q.RequeueDelivery(ctx, dbq.RequeueDeliveryParams{WorkspaceID: wsID, EndpointID: endpointID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			cur, err := q.GetWebhookDelivery(ctx, dbq.GetWebhookDeliveryParams{WorkspaceID: wsID, EndpointID: endpointID, ID: id})
			if errors.Is(err, pgx.ErrNoRows) {
				return apperr.NotFoundf("delivery %q not found", ids.Format(ids.Delivery, id))
			}
			if err != nil {
				return err
			}
			if cur.Status != "pending" || cur.NextAttemptAt == nil {
				return pg.ErrRetry // finished meanwhile: it can be queued again now
			}
			return apperr.New(apperr.Conflict, "delivery %s is pending: its next attempt runs at %s", ids.Format(ids.Delivery, id), cur.NextAttemptAt.UTC().Format(time.RFC3339))
		}
		row = dbq.WebhookDelivery(r)
		return err
	})
	return row, err
}

// TestDelivery queues a delivery of a webhook.test event to an endpoint.
func (s *Store) TestDelivery(ctx context.Context, wsID, endpointID uuid.UUID) (row dbq.WebhookDelivery, err error) {
	if _, err := s.WebhookEndpoint(ctx, wsID, endpointID); err != nil {
		return row, err
	}
	err = s.write(ctx, s.main, "webhook_delivery.test", wsID, func(q *txn) error {
		r, err := q.QueueTestDelivery(ctx, dbq.QueueTestDeliveryParams{WorkspaceID: wsID, ID: ids.New(), EndpointID: endpointID, EventID: ids.New()})
		if pg.IsForeignKeyViolation(err) {
			return webhookEndpointNotFound(endpointID)
		}
		row = dbq.WebhookDelivery(r)
		return err
	})
	return row, err
}

// DeleteExpiredDeliveries deletes the deliveries created before a time, batch rows at a time,
// and says how many went.
func (s *Store) DeleteExpiredDeliveries(ctx context.Context, before time.Time, batch int32) (int64, error) {
	return s.q.DeleteExpiredDeliveries(ctx, dbq.DeleteExpiredDeliveriesParams{Before: before, MaxRows: batch})
}
