// Package replica decides where a read goes when the database has streaming replicas: to a
// replica that has replayed far enough, or to the primary. It watches each replica's replay
// position and lag, and never makes a read fail for a replica's sake: one that is down, behind
// or refusing is passed over for the primary.
package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/obs"
	"github.com/wazapin/wazapin/internal/pg"
)

// Options tune a Set.
type Options struct {
	// MaxLag is how far behind the primary a replica may be to serve a read that brings no
	// token (default 1s).
	MaxLag time.Duration
	// Wait bounds how long a read with a token waits for a replica to replay past it before it
	// reads the primary (default 50ms).
	Wait time.Duration
	// Interval is how often the replicas' positions are read (default 100ms): the resolution of
	// their lag.
	Interval time.Duration
	Log      *slog.Logger
	Metrics  *obs.Metrics
}

// Node is one replica: its pools, one per way of planning (see pg.Plans), and what was last
// seen of it.
type Node struct {
	Name    string
	Main    *pgxpool.Pool
	Planned *pgxpool.Pool
	set     *Set
	q       *dbq.Queries
	// replayed is the replica's replay position when last read; lag how far behind the primary
	// it was then, in nanoseconds (see Set.lagOf).
	replayed Furthest
	lag      atomic.Int64
	up       atomic.Bool
	// warned says the replica was logged down since it last answered: a replica that never
	// answered is logged once, as one that stops answering is.
	warned atomic.Bool
}

// Set is the replicas of one primary.
type Set struct {
	primary *dbq.Queries
	nodes   []*Node
	opts    Options
	next    atomic.Uint32

	mu sync.Mutex
	// samples are the primary's positions and when they were first seen, oldest first, each
	// newer than the one before; kept until every replica has replayed past them (see lagOf).
	samples []sample
}

type sample struct {
	at  time.Time
	lsn LSN
}

// maxSamples bounds the samples kept while a replica stays behind: at the default interval
// and a primary that always writes, over a quarter of an hour, far past any useful MaxLag.
const maxSamples = 10000

// probeTimeout bounds one read of a replica's position: a replica that takes longer is down.
const probeTimeout = time.Second

// Open connects to the replicas at urls, named replica0, replica1, … in that order. It does
// not wait for them: a replica that cannot be reached now is down until it can.
func Open(primary *pgxpool.Pool, urls []string, opts Options) (*Set, error) {
	s := newSet(primary, opts)
	for i, url := range urls {
		main, err := openLazily(url, pg.GenericPlans)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("replica %d: %w", i, err)
		}
		planned, err := openLazily(url, pg.CustomPlans)
		if err != nil {
			main.Close()
			s.Close()
			return nil, fmt.Errorf("replica %d: %w", i, err)
		}
		name := fmt.Sprintf("replica%d", i)
		s.add(name, main, planned)
		conn := main.Config().ConnConfig
		s.opts.Log.Info("read replica", "replica", name, "host", conn.Host, "port", conn.Port)
	}
	return s, nil
}

// openLazily makes a pool that connects when first used. A replica's connections give up
// after a second unless the URL says otherwise: a read waiting on a host that drops packets
// would rather go to the primary.
func openLazily(url string, plans pg.Plans) (*pgxpool.Pool, error) {
	cfg, err := pg.Config(url, plans)
	if err != nil {
		return nil, err
	}
	if cfg.ConnConfig.ConnectTimeout == pg.DefaultConnectTimeout {
		cfg.ConnConfig.ConnectTimeout = probeTimeout
	}
	return pgxpool.NewWithConfig(context.Background(), cfg)
}

func newSet(primary *pgxpool.Pool, opts Options) *Set {
	if opts.MaxLag <= 0 {
		opts.MaxLag = time.Second
	}
	if opts.Wait <= 0 {
		opts.Wait = 50 * time.Millisecond
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = obs.NewMetrics()
	}
	return &Set{primary: dbq.New(primary), opts: opts}
}

func (s *Set) add(name string, main, planned *pgxpool.Pool) {
	n := &Node{Name: name, Main: main, Planned: planned, set: s, q: dbq.New(main)}
	s.nodes = append(s.nodes, n)
	s.opts.Metrics.AddReplica(name, main, planned,
		func() float64 { return time.Duration(n.lag.Load()).Seconds() }, n.up.Load)
}

// Close closes the replicas' pools.
func (s *Set) Close() {
	for _, n := range s.nodes {
		n.Main.Close()
		n.Planned.Close()
	}
}

// Position is how far the primary has written its WAL: past every change committed before it
// is read, so it is the consistency token of a write answered after its commit.
func (s *Set) Position(ctx context.Context) (LSN, error) {
	lsn, err := s.primary.WALInsertPosition(ctx)
	return LSN(lsn), err
}

// Reasons a read goes where it goes, as the metrics name them.
const (
	toCurrent = "current" // a replica within MaxLag, for a read without a token
	toToken   = "token"   // a replica past the read's token; on the primary: none got there in time
	toLag     = "lag"     // every replica up was more than MaxLag behind
	toDown    = "down"    // no replica was up
	toFailed  = "failed"  // the replica chosen failed the read, which the primary then served
)

// Choose picks the replica a read goes to, or nil for the primary. With a token (non-zero) it is
// a replica that has replayed past it, waiting up to Options.Wait for one to; without, one up
// and at most MaxLag behind. Replicas take turns.
func (s *Set) Choose(ctx context.Context, token LSN) *Node {
	count := len(s.nodes)
	start := int(s.next.Add(1))
	reason := toDown
	for i := range count {
		n := s.nodes[(start+i)%count]
		if !n.up.Load() {
			continue
		}
		switch {
		case token == 0 && time.Duration(n.lag.Load()) <= s.opts.MaxLag:
			s.opts.Metrics.DBRead(n.Name, toCurrent)
			return n
		case token == 0:
			reason = toLag
		case n.replayed.Load() >= token:
			s.opts.Metrics.DBRead(n.Name, toToken)
			return n
		default:
			reason = toToken
		}
	}
	if reason == toToken {
		if n := s.await(ctx, token, start); n != nil {
			s.opts.Metrics.DBRead(n.Name, toToken)
			return n
		}
	}
	s.opts.Metrics.DBRead("primary", reason)
	return nil
}

// await reads the replicas' positions until one has replayed past token, for at most Wait.
func (s *Set) await(ctx context.Context, token LSN, start int) *Node {
	deadline := time.Now().Add(s.opts.Wait)
	pause := time.Millisecond
	for {
		for i := range s.nodes {
			n := s.nodes[(start+i)%len(s.nodes)]
			if n.up.Load() && n.probe(ctx) && n.replayed.Load() >= token {
				return n
			}
		}
		if ctx.Err() != nil || time.Now().Add(pause).After(deadline) {
			return nil
		}
		time.Sleep(pause)
		pause = min(2*pause, 8*time.Millisecond)
	}
}

// Failed takes the node out of the reads until it next answers its probe: a read on it failed
// in a way the primary would not (see pg.ReplicaRefused), and is served there instead.
func (n *Node) Failed(err error) {
	n.set.opts.Metrics.DBRead("primary", toFailed)
	n.down("read replica failed a read; reading the primary until it answers", err)
}

// probe reads the replica's replay position, and says whether it could.
func (n *Node) probe(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	lsn, err := n.q.ReplayPosition(ctx)
	if err == nil && lsn < 0 {
		err = errNotReplaying
	}
	if err != nil {
		n.down("read replica down; reading the primary until it answers", err)
		return false
	}
	n.replayed.See(LSN(lsn)) // concurrent probes: keep the furthest position
	return true
}

// down passes the replica over, logging why unless that was logged already.
func (n *Node) down(msg string, err error) {
	n.up.Store(false)
	if !n.warned.Swap(true) {
		n.set.opts.Log.Warn(msg, "replica", n.Name, "err", err)
	}
}

var errNotReplaying = errors.New("the server is not replaying a primary's WAL: a primary, or a replica promoted since")

// Run reads the primary's position and every replica's, each Interval, until ctx ends.
func (s *Set) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		s.look(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// look samples the primary's position, then reads each replica's, and works out their lag.
func (s *Set) look(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	pos, err := s.Position(pctx)
	cancel()
	if err == nil {
		s.sample(time.Now(), pos)
	}
	var wg sync.WaitGroup
	for _, n := range s.nodes {
		wg.Go(func() {
			if !n.probe(ctx) {
				return
			}
			n.lag.Store(int64(s.lagOf(n.replayed.Load(), time.Now())))
			n.up.Store(true)
			if n.warned.Swap(false) {
				s.opts.Log.Info("read replica up again", "replica", n.Name)
			}
		})
	}
	wg.Wait()
	s.prune()
}

func (s *Set) sample(at time.Time, lsn LSN) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := len(s.samples); k > 0 && s.samples[k-1].lsn >= lsn {
		return // the oldest time a position was seen is the one that counts
	}
	if len(s.samples) == maxSamples {
		s.samples = append(s.samples[:0], s.samples[1:]...)
	}
	s.samples = append(s.samples, sample{at, lsn})
}

// lagOf is how far behind the primary a replica that has replayed up to lsn is at now: the
// time since the primary first had a position the replica has not reached (zero when it has
// reached all the primary had when last sampled). A primary that writes nothing leaves an
// idle replica at zero, where the time since the last replayed transaction would grow.
func (s *Set) lagOf(lsn LSN, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.samples {
		if x.lsn > lsn {
			return now.Sub(x.at)
		}
	}
	return 0
}

// prune drops the samples every replica has replayed past but the newest, which the next
// sample is compared with. A replica that is down holds none back: it has no lag to tell.
func (s *Set) prune() {
	least := LSN(1<<64 - 1)
	for _, n := range s.nodes {
		if n.up.Load() {
			least = min(least, n.replayed.Load())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := 0
	for drop < len(s.samples)-1 && s.samples[drop].lsn <= least {
		drop++
	}
	s.samples = append(s.samples[:0], s.samples[drop:]...)
}
