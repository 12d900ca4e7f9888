// Package store is the only place that talks to PostgreSQL on behalf of the API: it holds the
// pools, chooses how each statement is planned, and owns every transaction. A write decides
// create, update or conflict with the domain rules (internal/contact, identity, resolve) and
// commits through one helper, Store.write, so whatever must commit with a change joins it there.
package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/obs"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/replica"
)

// Store reads and writes the workspaces' data.
type Store struct {
	main *pgxpool.Pool
	q    *dbq.Queries
	// planned runs the statements whose best plan depends on their values (bulk imports,
	// searches): a pool whose sessions plan for the values (pg.CustomPlans), or main.
	planned  *pgxpool.Pool
	qPlanned *dbq.Queries
	// qOneShot runs on planned, each statement planned for its values on every execution.
	qOneShot *dbq.Queries
	opts     Options
	bound    feedBound
}

// Options adjust a Store.
type Options struct {
	// Planned is the pool for statements planned for their values (see pg.CustomPlans); without
	// it they run on the main pool, with the same answers.
	Planned *pgxpool.Pool
	// InTx runs inside every write transaction after its change and before its commit, and can
	// still undo it by failing: the seam where a change's event or idempotent answer joins it.
	InTx func(ctx context.Context, tx pgx.Tx, w Write) error
	// Replicas are the streaming replicas reads may go to (see ReadFrom); without them every
	// read is the primary's.
	Replicas *replica.Set
}

// Write names a committed change for InTx.
type Write struct {
	Op string // what changed, e.g. "contact.upsert"
}

// New returns a Store over pool.
func New(pool *pgxpool.Pool, opts Options) *Store {
	planned := opts.Planned
	if planned == nil {
		planned = pool
	}
	return &Store{
		main: pool, q: dbq.New(routed{pool, genericPlan}),
		planned: planned, qPlanned: dbq.New(routed{planned, customPlan}), qOneShot: dbq.New(routed{pg.OneShot(planned), oneShotPlan}),
		opts: opts,
	}
}

// Instrument reports the store's pools in m.
func (s *Store) Instrument(m *obs.Metrics) {
	m.AddPool("main", s.main)
	if s.planned != s.main {
		m.AddPool("planned", s.planned)
	}
}

// txn is a write transaction: its queries, and the events its change records.
type txn struct {
	*dbq.Queries
	tx     pgx.Tx
	events []events.Event
}

// emit records events of the change, written with it when it commits, in this order.
func (t *txn) emit(e ...events.Event) { t.events = append(t.events, e...) }

// write runs fn as one transaction on pool, retried from the start when it lost a race (see
// pg.WithTx), and commits it with the events fn emitted for workspace wsID and whatever InTx
// adds. Every change goes through here. A request with an Idempotency-Key (a Claim in ctx) keeps
// the transaction open instead, for its answer to join (see Claim).
func (s *Store) write(ctx context.Context, pool *pgxpool.Pool, op string, wsID uuid.UUID, fn func(q *txn) error) error {
	run := func(tx pgx.Tx) error {
		t := &txn{Queries: s.q.WithTx(tx), tx: tx}
		if err := fn(t); err != nil {
			return err
		}
		if err := t.record(ctx, wsID); err != nil {
			return err
		}
		if s.opts.InTx != nil {
			return s.opts.InTx(ctx, tx, Write{Op: op})
		}
		return nil
	}
	if c := claimOf(ctx); c != nil {
		return c.run(ctx, pool, run)
	}
	return pg.WithTx(ctx, pool, run)
}

// record writes the events emitted, as the transaction's last statement: their numbers come
// from event_seq while the change holds its locks, so two changes of one object are numbered
// in the order they happened.
func (t *txn) record(ctx context.Context, wsID uuid.UUID) error {
	if len(t.events) == 0 {
		return nil
	}
	p := eventColumns(t.events)
	p.WorkspaceID = wsID
	return t.InsertEvents(ctx, p)
}

// eventColumns splits events into the parallel arrays the statements that write them unnest,
// each with a fresh id.
func eventColumns(evs []events.Event) dbq.InsertEventsParams {
	p := dbq.InsertEventsParams{
		Ids: make([]uuid.UUID, len(evs)), Types: make([]string, len(evs)),
		ObjectIds: make([]string, len(evs)), ContactIds: make([]string, len(evs)), Data: make([]string, len(evs)),
	}
	for i, e := range evs {
		p.Ids[i], p.Types[i], p.ObjectIds[i], p.Data[i] = ids.New(), e.Type, e.ObjectID, string(e.Data)
		if e.ContactID != nil {
			p.ContactIds[i] = e.ContactID.String()
		}
	}
	return p
}
