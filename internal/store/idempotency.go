package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/pg"
)

// A request that carries an Idempotency-Key stores its answer in the transaction of the change it
// answers, so that a crash never leaves one without the other. Its answer is rendered after the
// store returns, so the store cannot commit: the request's Claim, in its context, makes write
// keep the transaction open instead. The first write begins it, taking the key's advisory lock
// as its first statement (another transaction holding the lock: ErrKeyInUse); a later write of
// the same request runs in a savepoint of it; statements the request runs in between run in it
// too (see routed). The server then stores the answer and commits (Claim.Commit), or rolls back.
//
// An answer a repeat of the request committed after this request looked for one, and before it
// took the lock, is found when this one stores its own (ErrAnswered), or, when this one failed,
// by looking again once it has rolled back: either way the repeat's answer is the one given.

// ErrKeyInUse is a request whose Idempotency-Key another request is still using.
var ErrKeyInUse = apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still running; send it again once it has been answered")

// ErrAnswered is a claim whose key was answered by a repeat of the request that committed first;
// its own changes are rolled back.
var ErrAnswered = errors.New("the Idempotency-Key has an answer already")

// Answer is what a request with an Idempotency-Key answered, as stored for its repeats.
type Answer struct {
	Fingerprint []byte // of the request (method, path with query, body)
	Status      int
	ContentType string
	Location    *string
	ETag        *string
	Body        []byte
	Sealed      bool // Body is sealed: the answer holds a secret
}

// Claim holds the writes of one request with an Idempotency-Key in one transaction, until the
// request's answer joins them (Commit) or they are undone (Rollback). A claim belongs to one
// request and is not safe for concurrent use.
type Claim struct {
	wsID uuid.UUID
	key  string
	lock int64
	// tx is the request's transaction, from its first write until Commit or Rollback.
	tx pgx.Tx
	// locked says some transaction of the request took the key's lock: a repeat may have
	// committed an answer before it did.
	locked bool
	// busy says another transaction held the key's lock.
	busy bool
}

// NewClaim returns the claim of a request of workspace wsID with Idempotency-Key key; put it in
// the request's context with WithClaim.
func NewClaim(wsID uuid.UUID, key string) *Claim {
	h := sha256.New()
	h.Write(wsID[:])
	h.Write([]byte(key))
	return &Claim{wsID: wsID, key: key, lock: int64(binary.BigEndian.Uint64(h.Sum(nil)))}
}

type claimKey struct{}

// WithClaim makes the writes made with ctx join c.
func WithClaim(ctx context.Context, c *Claim) context.Context {
	return context.WithValue(ctx, claimKey{}, c)
}

func claimOf(ctx context.Context) *Claim {
	c, _ := ctx.Value(claimKey{}).(*Claim)
	return c
}

// Open says the claim holds a transaction with changes: the request wrote.
func (c *Claim) Open() bool { return c.tx != nil }

// Locked says the request took the key's lock at some point, so a repeat may have answered the
// key before it did.
func (c *Claim) Locked() bool { return c.locked }

// Busy says another request held the key's lock.
func (c *Claim) Busy() bool { return c.busy }

// run runs fn, a write, in the claim's transaction: its first write begins it on pool (retried
// from the start when it loses a race, like pg.WithTx), and later ones run in a savepoint of it.
func (c *Claim) run(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	if c.tx != nil {
		return pg.WithTx(ctx, c.tx, fn)
	}
	return pg.Retry(ctx, func() error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		if err := c.begin(ctx, tx, fn); err != nil {
			rollback(ctx, tx)
			return err
		}
		c.tx = tx
		return nil
	})
}

func (c *Claim) begin(ctx context.Context, tx pgx.Tx, fn func(pgx.Tx) error) error {
	locked, err := dbq.New(tx).LockIdempotencyKey(ctx, c.lock)
	if err != nil {
		return err
	}
	if !locked {
		c.busy = true
		return ErrKeyInUse
	}
	c.locked = true
	return fn(tx)
}

// Commit stores a as the key's answer, kept for ttl, and commits it with the request's changes.
// It fails with ErrAnswered, having rolled back, when the key has an answer that has not expired.
func (c *Claim) Commit(ctx context.Context, a Answer, ttl time.Duration) error {
	tx := c.tx
	c.tx = nil
	n, err := dbq.New(tx).StoreIdempotentAnswer(ctx, dbq.StoreIdempotentAnswerParams{
		WorkspaceID: c.wsID, Key: c.key, Fingerprint: a.Fingerprint, Status: int16(a.Status),
		ContentType: a.ContentType, Location: a.Location, Etag: a.ETag, Body: a.Body, Sealed: a.Sealed,
		TtlSeconds: ttl.Seconds(),
	})
	if err == nil && n == 0 {
		err = ErrAnswered
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		rollback(ctx, tx)
	}
	return err
}

// Rollback undoes the request's changes, if it made any.
func (c *Claim) Rollback(ctx context.Context) {
	if c.tx != nil {
		rollback(ctx, c.tx)
		c.tx = nil
	}
}

// rollback ends tx, also when ctx is done (the request's deadline passed): a connection given
// back mid-transaction would be closed.
func rollback(ctx context.Context, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}

// IdempotentAnswer returns the answer stored for a workspace's key, unless there is none or it
// has expired.
func (s *Store) IdempotentAnswer(ctx context.Context, wsID uuid.UUID, key string) (Answer, bool, error) {
	r, err := s.q.GetIdempotentAnswer(ctx, dbq.GetIdempotentAnswerParams{WorkspaceID: wsID, Key: key})
	if errors.Is(err, pgx.ErrNoRows) {
		return Answer{}, false, nil
	}
	if err != nil {
		return Answer{}, false, err
	}
	return Answer{
		Fingerprint: r.Fingerprint, Status: int(r.Status), ContentType: r.ContentType,
		Location: r.Location, ETag: r.Etag, Body: r.Body, Sealed: r.Sealed,
	}, true, nil
}

// DeleteExpiredIdempotencyKeys deletes the answers that expired before a time, batch rows at a
// time, and says how many went.
func (s *Store) DeleteExpiredIdempotencyKeys(ctx context.Context, before time.Time, batch int32) (int64, error) {
	return s.q.DeleteExpiredIdempotencyKeys(ctx, dbq.DeleteExpiredIdempotencyKeysParams{Before: before, MaxRows: batch})
}
