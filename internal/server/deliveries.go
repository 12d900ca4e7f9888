package server

import (
	"context"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/wire"
)

// ListWebhookDeliveries pages through an endpoint's deliveries, newest first.
func (s *Server) ListWebhookDeliveries(ctx context.Context, req api.ListWebhookDeliveriesRequestObject) (api.ListWebhookDeliveriesResponseObject, error) {
	limit, before, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	ws, id, err := webhookScope(ctx, req.EndpointID)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.WebhookDeliveries(ctx, ws.ID, id, before, int32(limit+1))
	if err != nil {
		return nil, err
	}
	more := len(rows) > limit
	rows = rows[:min(len(rows), limit)]
	return api.ListWebhookDeliveries200JSONResponse{
		Data: wire.Convert(rows, deliveryOut),
		Meta: nextPage(more, func() uuid.UUID { return rows[limit-1].ID }),
	}, nil
}

// RetryWebhookDelivery sends a finished delivery again.
func (s *Server) RetryWebhookDelivery(ctx context.Context, req api.RetryWebhookDeliveryRequestObject) (api.RetryWebhookDeliveryResponseObject, error) {
	ws, endpoint, err := webhookScope(ctx, req.EndpointID)
	if err != nil {
		return nil, err
	}
	id, ok := ids.Parse(ids.Delivery, req.DeliveryID)
	if !ok {
		return nil, apperr.NotFoundf("delivery %q not found", req.DeliveryID)
	}
	row, err := s.store.RetryDelivery(ctx, ws.ID, endpoint, id)
	if err != nil {
		return nil, err
	}
	return api.RetryWebhookDelivery202JSONResponse{Body: api.WebhookDeliveryResponse{Data: deliveryOut(row)}}, nil
}

// TestWebhookEndpoint queues a test delivery.
func (s *Server) TestWebhookEndpoint(ctx context.Context, req api.TestWebhookEndpointRequestObject) (api.TestWebhookEndpointResponseObject, error) {
	ws, endpoint, err := webhookScope(ctx, req.EndpointID)
	if err != nil {
		return nil, err
	}
	row, err := s.store.TestDelivery(ctx, ws.ID, endpoint)
	if err != nil {
		return nil, err
	}
	return api.TestWebhookEndpoint202JSONResponse{Body: api.WebhookDeliveryResponse{Data: deliveryOut(row)}}, nil
}

func deliveryOut(d dbq.WebhookDelivery) api.WebhookDelivery {
	out := api.WebhookDelivery{
		Id: ids.Format(ids.Delivery, d.ID), EndpointId: ids.Format(ids.WebhookEndpoint, d.EndpointID),
		EventId: ids.Format(ids.Event, d.EventID), EventType: d.EventType, EventSequence: d.EventSeq,
		Status: api.WebhookDeliveryStatus(d.Status), Attempts: int(d.Attempts), LastError: wire.NullString(d.LastError),
		LastStatusCode: nullable.NewNullNullable[int](), LastAttemptAt: wire.NullTime(d.LastAttemptAt), NextAttemptAt: wire.NullTime(d.NextAttemptAt),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if d.LastStatusCode != nil {
		out.LastStatusCode.Set(int(*d.LastStatusCode))
	}
	return out
}
