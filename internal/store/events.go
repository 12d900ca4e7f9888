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
	r, primary := readOf(ctx), onPrimary(ctx)
	through, err := s.bound.through(primary, s.q) // a mark takes a transaction id: the primary's work
	if err != nil {
		return nil, err
	}
	if r != nil {
		// A replica shows the page only once it has replayed every event up to the bound: one
		// that had replayed 8 and not 7, committed later, would let the consumer step over 7.
		pos, err := s.Position(primary)
		if err != nil {
			return nil, err
		}
		ctx = s.ReadFrom(ctx, max(pos, r.token))
	}
	if types == nil {
		types = []string{}
	}
	var rows []dbq.Event
	if contactID != nil {
		rows, err = s.q.ListContactEvents(ctx, dbq.ListContactEventsParams{
			WorkspaceID: wsID, ContactID: contactID, After: after, Through: through, Types: types, MaxRows: limit,
		})
	} else {
		rows, err = s.q.ListEvents(ctx, dbq.ListEventsParams{WorkspaceID: wsID, After: after, Through: through, Types: types, MaxRows: limit})
	}
	if err != nil || after == 0 {
		return rows, err
	}
	// The horizon is read after the page: retention that deleted events after `after` while the
	// page was read shows here, rather than as a gap the consumer would step over.
	horizon, err := s.q.EventHorizon(ctx, wsID)
	if err != nil {
		return nil, err
	}
	if after < horizon {
		return nil, apperr.New(apperr.Gone, "events up to sequence %d were deleted by retention, and some after %d with them; resynchronise and start again from after=0", horizon, after)
	}
	return rows, nil
}

// feedWait bounds how long a feed read waits for the transactions that may still commit events
// numbered below the newest; past it, the read shows what is certain already.
const feedWait = 100 * time.Millisecond

// markEvery is how often feed reads take a new mark; reads in between share the newest.
const markEvery = 10 * time.Millisecond

// feedBound tracks the newest sequence number below which every event has committed or never
// will. Numbers are taken in the order changes end, but transactions commit in their own time:
// a transaction holding number 7 may commit after one holding 8. Each change takes its
// transaction id before its number (it writes its rows first). So a mark reads the newest number
// issued, then takes a fresh transaction id, which is greater than the id of every transaction
// that could hold a number up to that newest; once the oldest running transaction is past that
// id, they have all ended and the numbers up to the newest are final. The bound is the same in
// every server process; each works it out for itself. A mark costs a transaction id (and its
// commit record), so reads share marks taken less than markEvery apart.
type feedBound struct {
	mu      sync.Mutex
	certain int64  // every number up to this one is final
	pending []mark // numbers issued, not yet final
	last    time.Time
}

// mark is the newest number issued at some moment, and a transaction id taken after it.
type mark struct{ issued, xid int64 }

// maxMarks bounds the marks kept while a long transaction holds the bound back.
const maxMarks = 64

func (b *feedBound) through(ctx context.Context, q *dbq.Queries) (int64, error) {
	want, err := b.mark(ctx, q)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(feedWait)
	for {
		xmin, err := q.OldestRunningXid(ctx)
		if err != nil {
			return 0, err
		}
		certain := b.advance(xmin)
		if certain >= want || time.Now().After(deadline) {
			return certain, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// mark takes a new mark unless one was taken less than markEvery ago, and answers the number
// the read should wait for: the newest marked.
func (b *feedBound) mark(ctx context.Context, q *dbq.Queries) (int64, error) {
	b.mu.Lock()
	fresh := time.Since(b.last) < markEvery
	want := b.certain
	if n := len(b.pending); n > 0 {
		want = b.pending[n-1].issued
	}
	b.mu.Unlock()
	if fresh {
		return want, nil
	}
	issued, err := q.EventSeqIssued(ctx)
	if err != nil {
		return 0, err
	}
	xid, err := q.NewTransactionID(ctx)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m := mark{issued: issued, xid: xid}
	if n := len(b.pending); n >= maxMarks {
		// A later mark covers an earlier one's numbers; dropping marks only waits longer.
		b.pending[n-1] = m
	} else {
		b.pending = append(b.pending, m)
	}
	b.last = time.Now()
	return issued, nil
}

// advance makes final the marks whose transactions have all ended by xmin.
func (b *feedBound) advance(xmin int64) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := b.pending[:0]
	for _, m := range b.pending {
		if m.xid < xmin {
			b.certain = max(b.certain, m.issued)
		} else {
			keep = append(keep, m)
		}
	}
	b.pending = keep
	return b.certain
}

// DeleteExpiredEvents deletes the events created before a time, batch rows at a time, and says
// how many went.
func (s *Store) DeleteExpiredEvents(ctx context.Context, before time.Time, batch int32) (int64, error) {
	return s.q.DeleteExpiredEvents(ctx, dbq.DeleteExpiredEventsParams{Before: before, MaxRows: batch})
}
