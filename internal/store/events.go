package store

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
)

// Events reads the feed: a workspace's events after a sequence number, in order, of the given
// types (all when empty), of one contact when contactID is set, at most limit of them. It shows
// only events below the feed's bound (see feedBound), so a consumer that resumes after the last
// number it saw misses none. after older than what retention deleted is apperr.Gone.
func (s *Store) Events(ctx context.Context, wsID uuid.UUID, after int64, types []string, contactID *uuid.UUID, limit int32) ([]dbq.Event, error) {
	if after > 0 {
		horizon, err := s.q.EventHorizon(ctx, wsID)
		if err != nil {
			return nil, err
		}
		if after < horizon {
			return nil, apperr.New(apperr.Gone, "events up to sequence %d were deleted by retention, and some after %d with them; resynchronise and start again from after=0", horizon, after)
		}
	}
	through, err := s.bound.through(ctx, s.q)
	if err != nil {
		return nil, err
	}
	if types == nil {
		types = []string{}
	}
	if contactID != nil {
		return s.q.ListContactEvents(ctx, dbq.ListContactEventsParams{
			WorkspaceID: wsID, ContactID: contactID, After: after, Through: through, Types: types, MaxRows: limit,
		})
	}
	return s.q.ListEvents(ctx, dbq.ListEventsParams{WorkspaceID: wsID, After: after, Through: through, Types: types, MaxRows: limit})
}

// feedWait bounds how long a feed read waits for the transactions that may still commit events
// numbered below the newest; past it, the read shows what is certain already.
const feedWait = 100 * time.Millisecond

// feedBound tracks the newest sequence number below which every event has committed or never
// will. Numbers are taken in the order changes end, but transactions commit in their own time:
// a transaction holding number 7 may commit after one holding 8. Each change takes its
// transaction id before its number (it writes its rows first), so once every transaction whose
// id is below the next id to be assigned, read after the newest number issued, has ended (the
// oldest running one, xmin, has passed it), nothing can still commit a number up to that
// newest. The bound is the same in every server process; each works it out for itself.
type feedBound struct {
	mu      sync.Mutex
	certain int64  // every number up to this one is final
	pending []mark // numbers issued, not yet final
}

// maxMarks bounds the marks kept while a long transaction holds the bound back.
const maxMarks = 64

// mark is the newest number issued at some moment, and the next transaction id after it.
type mark struct{ issued, xmax int64 }

func (b *feedBound) through(ctx context.Context, q *dbq.Queries) (int64, error) {
	issued, err := q.EventSeqIssued(ctx)
	if err != nil {
		return 0, err
	}
	snap, err := q.SnapshotBounds(ctx)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	if n := len(b.pending); n >= maxMarks {
		// A later mark covers an earlier one's numbers; dropping marks only waits longer.
		b.pending[n-1] = mark{issued: issued, xmax: snap.Xmax}
	} else {
		b.pending = append(b.pending, mark{issued: issued, xmax: snap.Xmax})
	}
	b.mu.Unlock()
	deadline := time.Now().Add(feedWait)
	for {
		certain, waiting := b.advance(snap.Xmin, issued)
		if !waiting || time.Now().After(deadline) {
			return certain, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if snap, err = q.SnapshotBounds(ctx); err != nil {
			return 0, err
		}
	}
}

// advance makes final the marks whose transactions have all ended by xmin, and says whether the
// number issued is still waiting.
func (b *feedBound) advance(xmin, issued int64) (certain int64, waiting bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := b.pending[:0]
	for _, m := range b.pending {
		if m.xmax <= xmin {
			b.certain = max(b.certain, m.issued)
		} else {
			keep = append(keep, m)
		}
	}
	b.pending = keep
	return b.certain, b.certain < issued
}

// DeleteExpiredEvents deletes the events created before a time, batch rows at a time, and says
// how many went.
func (s *Store) DeleteExpiredEvents(ctx context.Context, before time.Time, batch int32) (int64, error) {
	return s.q.DeleteExpiredEvents(ctx, dbq.DeleteExpiredEventsParams{Before: before, MaxRows: batch})
}
