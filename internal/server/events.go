package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/ids"
)

const (
	defaultEventPage = 100
	maxEventPage     = 1000
	maxEventTypes    = 20
)

// ListEvents pages through the workspace's event feed in sequence order.
func (s *Server) ListEvents(ctx context.Context, req api.ListEventsRequestObject) (api.ListEventsResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	p := req.Params
	after := int64(0)
	if p.After != nil {
		if after = *p.After; after < 0 {
			return nil, apperr.BadParam("after", "must be a sequence number, 0 or more")
		}
	}
	limit := defaultEventPage
	if p.Limit != nil {
		if limit = *p.Limit; limit < 1 || limit > maxEventPage {
			return nil, apperr.BadParam("limit", fmt.Sprintf("must be between 1 and %d", maxEventPage))
		}
	}
	var types []string
	if p.Type != nil {
		if len(*p.Type) > maxEventTypes {
			return nil, apperr.BadParam("type", fmt.Sprintf("takes at most %d types", maxEventTypes))
		}
		for _, t := range *p.Type {
			if !slices.Contains(events.Types, string(t)) {
				return nil, apperr.BadParam("type", fmt.Sprintf("%q is not an event type", t))
			}
			types = append(types, string(t))
		}
	}
	var contact *uuid.UUID
	if p.ContactId != nil {
		id, ok := ids.Parse(ids.Contact, *p.ContactId)
		if !ok {
			return nil, apperr.BadParam("contact_id", "is not a contact id")
		}
		contact = &id
	}
	rows, err := s.store.Events(ctx, ws.ID, after, types, contact, int32(limit+1))
	if err != nil {
		return nil, err
	}
	more := len(rows) > limit
	rows = rows[:min(len(rows), limit)]
	next := after
	if len(rows) > 0 {
		next = rows[len(rows)-1].Seq
	}
	return eventPage{rows: rows, next: next, more: more}, nil
}

// eventPage answers a page of the feed, each event appended as the webhooks send it.
type eventPage struct {
	rows []dbq.Event
	next int64
	more bool
}

func (r eventPage) VisitListEventsResponse(w http.ResponseWriter) error {
	size := 64
	for _, e := range r.rows {
		size += 300 + len(e.Data)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"data":[`...)
	for i, e := range r.rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = events.AppendJSON(b, e)
	}
	b = append(b, `],"meta":{"has_more":`...)
	b = strconv.AppendBool(b, r.more)
	b = append(b, `,"next_cursor":"`...)
	b = strconv.AppendInt(b, r.next, 10)
	b = append(b, "\"}}\n"...)
	return writeJSON(w, http.StatusOK, b)
}
