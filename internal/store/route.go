package store

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/replica"
)

// plan names the pool a routed statement runs on: each replica has the same two pools as the
// primary, and the one-shot way of sending on the second.
type plan int

const (
	genericPlan plan = iota
	customPlan
	oneShotPlan
)

// routed runs the store's statements outside its writes where the request's context sends
// them: in the transaction of its claim while that is open (a request that holds its
// transaction open thus never waits for a second connection of the pool, which other requests
// doing the same could all be holding, and it reads what it wrote); on the replica chosen for a
// read (ReadFrom); on db, the primary's pool, otherwise.
type routed struct {
	db   dbq.DBTX
	plan plan
}

func (r routed) conn(ctx context.Context) dbq.DBTX {
	if c := claimOf(ctx); c != nil && c.tx != nil {
		return c.tx
	}
	if n := readOf(ctx).node(ctx); n != nil {
		return onReplica{node: n, replica: r.on(n), primary: r.db}
	}
	return r.db
}

// on is the replica's pool for r's statements.
func (r routed) on(n *replica.Node) dbq.DBTX {
	switch r.plan {
	case customPlan:
		return n.Planned
	case oneShotPlan:
		return pg.OneShot(n.Planned)
	}
	return n.Main
}

func (r routed) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return r.conn(ctx).Exec(ctx, sql, args...)
}

func (r routed) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return r.conn(ctx).Query(ctx, sql, args...)
}

func (r routed) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return r.conn(ctx).QueryRow(ctx, sql, args...)
}

func (r routed) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return r.conn(ctx).CopyFrom(ctx, table, columns, src)
}

type readKey struct{}

// read is where a request's reads go: chosen at its first statement, so a request that reads
// nothing chooses nothing.
type read struct {
	set   *replica.Set
	token replica.LSN
	once  sync.Once
	to    *replica.Node // nil: the primary
}

func readOf(ctx context.Context) *read {
	r, _ := ctx.Value(readKey{}).(*read)
	return r
}

func (r *read) node(ctx context.Context) *replica.Node {
	if r == nil {
		return nil
	}
	r.once.Do(func() { r.to = r.set.Choose(ctx, r.token) })
	return r.to
}

// ReadFrom lets the reads of a request go to a replica, when the store has replicas and one
// will do: one that has replayed past token, the consistency token the request brought (zero
// for none); see replica.Set.Choose. Writes, and reads in a write's transaction, stay on the
// primary.
func (s *Store) ReadFrom(ctx context.Context, token replica.LSN) context.Context {
	if s.opts.Replicas == nil {
		return ctx
	}
	return context.WithValue(ctx, readKey{}, &read{set: s.opts.Replicas, token: token})
}

// onPrimary sends ctx's reads back to the primary.
func onPrimary(ctx context.Context) context.Context {
	if readOf(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, readKey{}, (*read)(nil))
}

// Replicated tells whether the store reads from replicas, whose writes' answers then carry a
// consistency token (Position).
func (s *Store) Replicated() bool { return s.opts.Replicas != nil }

// Position is the consistency token of the writes committed so far: a replica that has replayed
// past it shows them all.
func (s *Store) Position(ctx context.Context) (replica.LSN, error) {
	return s.opts.Replicas.Position(ctx)
}

// onReplica runs a statement on a replica, and on the primary when the replica fails it in a way
// the primary would not (pg.ReplicaRefused): a replica that is down or cancels reads for
// conflicts with its replay never fails a request. Rows fall back while none has been read.
type onReplica struct {
	node             *replica.Node
	replica, primary dbq.DBTX
}

func (o onReplica) fellBack(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || !pg.ReplicaRefused(err) {
		return false
	}
	o.node.Failed(err)
	return true
}

func (o onReplica) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := o.replica.Exec(ctx, sql, args...)
	if o.fellBack(ctx, err) {
		return o.primary.Exec(ctx, sql, args...)
	}
	return tag, err
}

func (o onReplica) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := o.replica.Query(ctx, sql, args...)
	if o.fellBack(ctx, err) {
		return o.primary.Query(ctx, sql, args...)
	}
	if err != nil {
		return rows, err
	}
	return &replicaRows{Rows: rows, again: func() (pgx.Rows, error) {
		if !o.fellBack(ctx, rows.Err()) {
			return nil, nil
		}
		return o.primary.Query(ctx, sql, args...)
	}}, nil
}

func (o onReplica) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return replicaRow{row: o.replica.QueryRow(ctx, sql, args...), again: func(err error) pgx.Row {
		if !o.fellBack(ctx, err) {
			return nil
		}
		return o.primary.QueryRow(ctx, sql, args...)
	}}
}

func (o onReplica) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	// No read copies; a COPY on a replica is a write it refuses, and src cannot be read twice.
	return o.primary.CopyFrom(ctx, table, columns, src)
}

type replicaRow struct {
	row   pgx.Row
	again func(error) pgx.Row
}

func (r replicaRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if err == nil {
		return nil
	}
	if row := r.again(err); row != nil {
		return row.Scan(dest...)
	}
	return err
}

// replicaRows are a replica's rows that, failing before the first row, are the primary's.
type replicaRows struct {
	pgx.Rows
	again func() (pgx.Rows, error)
	read  bool
	err   error
}

func (r *replicaRows) Next() bool {
	if r.Rows.Next() {
		r.read = true
		return true
	}
	if r.read || r.again == nil || r.Rows.Err() == nil {
		return false
	}
	r.Rows.Close()
	again := r.again
	r.again = nil
	rows, err := again()
	switch {
	case err != nil:
		r.err = err
		return false
	case rows == nil: // not a failure the primary would mend
		return false
	}
	r.Rows = rows
	return r.Next()
}

func (r *replicaRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.Rows.Err()
}
