// Package ratelimit holds clients to token buckets kept in memory, and words a bucket as the
// RateLimit-Policy and RateLimit header fields of draft-ietf-httpapi-ratelimit-headers.
//
// A bucket holds at most Burst tokens and gains PerSecond of them a second; a request takes its
// cost in tokens, or is refused while the bucket holds fewer, and a refused request takes
// nothing. Buckets are kept as GCRA does (the generic cell rate algorithm): one time per client,
// the moment its bucket will be full again, in whole nanoseconds, so that counting never drifts.
package ratelimit

import (
	"errors"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limit is a token bucket: Burst requests at once, refilled at PerSecond requests a second. The
// zero Limit is off.
type Limit struct {
	PerSecond float64
	Burst     int
}

// The bounds of a Limit, the same as those of an API key's own limit.
const (
	MinRate  = 0.01
	MaxRate  = 1_000_000
	MaxBurst = 1_000_000
)

// On tells whether l limits anything.
func (l Limit) On() bool { return l.PerSecond > 0 && l.Burst > 0 }

// Syntax is how a limit is written, for messages.
const Syntax = `"off", or a rate and a burst such as "100/s burst 200" (100 requests a second, up to 200 at once)`

// Parse reads a limit written as "<rate>/s burst <burst>" ("100/s burst 200", "0.5/s burst 5"),
// or "off" (the zero Limit). The rate is from 0.01 to 1,000,000 requests a second and the burst a
// whole number from 1 to 1,000,000.
func Parse(s string) (Limit, error) {
	f := strings.Fields(strings.ToLower(s))
	if len(f) == 1 && f[0] == "off" {
		return Limit{}, nil
	}
	if len(f) != 3 || f[1] != "burst" {
		return Limit{}, errors.New("must be " + Syntax)
	}
	num, ok := strings.CutSuffix(f[0], "/s")
	rate, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || math.IsNaN(rate) || rate < MinRate || rate > MaxRate {
		return Limit{}, errors.New("the rate must be from 0.01/s to 1000000/s; a limit must be " + Syntax)
	}
	burst, err := strconv.Atoi(f[2])
	if err != nil || burst < 1 || burst > MaxBurst {
		return Limit{}, errors.New("the burst must be a whole number from 1 to 1000000; a limit must be " + Syntax)
	}
	return Limit{PerSecond: rate, Burst: burst}, nil
}

// String writes l as Parse reads it.
func (l Limit) String() string {
	if !l.On() {
		return "off"
	}
	return strconv.FormatFloat(l.PerSecond, 'f', -1, 64) + "/s burst " + strconv.Itoa(l.Burst)
}

// Describe words l for a person: "100 requests a second (burst 200)".
func (l Limit) Describe() string {
	return strconv.FormatFloat(l.PerSecond, 'f', -1, 64) + " requests a second (burst " + strconv.Itoa(l.Burst) + ")"
}

// interval is the time one token takes to come back, in nanoseconds.
func (l Limit) interval() int64 {
	return int64(min(max(math.Round(1e9/l.PerSecond), 1), 1e12))
}

// burst is l's burst within its bounds, so that no product of times overflows.
func (l Limit) burst() int64 { return int64(min(max(l.Burst, 1), MaxBurst)) }

// Policy is l as a RateLimit-Policy item named name: the quota q is the burst, and the window w
// the whole seconds an empty bucket takes to fill (at least 1), so that q/w is at most the rate:
// "100/s burst 200" is `"default";q=200;w=2`.
func (l Limit) Policy(name string) string {
	b := make([]byte, 0, len(name)+32)
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `";q=`...)
	b = strconv.AppendInt(b, l.burst(), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, max(ceilSeconds(l.burst()*l.interval()), 1), 10)
	return string(b)
}

// Result is what a bucket said of one request.
type Result struct {
	// Allowed is whether the request may go on; it took its cost if so, nothing if not.
	Allowed bool
	// Remaining is the whole tokens the bucket holds after the request.
	Remaining int64
	// Reset is the whole seconds until the bucket is full again, or, for a refused request,
	// RetryAfter.
	Reset int64
	// RetryAfter is, for a refused request, the whole seconds (at least 1) until it would pass.
	RetryAfter int64
}

// Header is r as a RateLimit item for the policy named name: `"default";r=187;t=1`, r being
// Remaining and t Reset.
func (r Result) Header(name string) string {
	var buf [80]byte
	b := append(buf[:0], '"')
	b = append(b, name...)
	b = append(b, `";r=`...)
	b = strconv.AppendInt(b, r.Remaining, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, r.Reset, 10)
	return string(b)
}

// ceilSeconds is d nanoseconds in whole seconds, rounded up.
func ceilSeconds(d int64) int64 {
	if d <= 0 {
		return 0
	}
	return (d + int64(time.Second) - 1) / int64(time.Second)
}

// Options tune a Limiter.
type Options struct {
	// Now is the clock (time.Now by default); tests pass one they move by hand.
	Now func() time.Time
	// MaxBuckets bounds how many buckets are kept (65,536 by default). Full buckets are dropped
	// first, which changes nothing (a client without a bucket has a full one); past the bound,
	// some that are not full are dropped too, which lets their clients start again full.
	MaxBuckets int
}

// Limiter keeps one bucket per client, K being what tells clients apart (an API key's id, a
// network address). It is safe for concurrent use.
type Limiter[K comparable] struct {
	now      func() time.Time
	epoch    time.Time
	seed     maphash.Seed
	perShard int
	size     atomic.Int64
	shards   [shardCount]shard[K]
}

// shardCount spreads clients over locks, so that requests of different clients seldom wait on
// each other.
const shardCount = 64

// minSweep is how many buckets a shard holds before it first looks for full ones to drop.
const minSweep = 64

type shard[K comparable] struct {
	mu sync.Mutex
	// full holds, per client, the moment its bucket is full again (GCRA's theoretical arrival
	// time), in nanoseconds since the Limiter's epoch.
	full map[K]int64
	// sweepAt is the size at which an insertion first drops the buckets that are full.
	sweepAt int
	_       [40]byte // one shard a cache line
}

// New returns a Limiter with no buckets.
func New[K comparable](o Options) *Limiter[K] {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBuckets <= 0 {
		o.MaxBuckets = 1 << 16
	}
	lm := &Limiter[K]{now: o.Now, epoch: o.Now(), seed: maphash.MakeSeed(), perShard: max(o.MaxBuckets/shardCount, 1)}
	for i := range lm.shards {
		lm.shards[i].full = map[K]int64{}
		lm.shards[i].sweepAt = min(minSweep, lm.perShard)
	}
	return lm
}

// Len is how many buckets are kept: 0 when every client's bucket is full.
func (lm *Limiter[K]) Len() int { return int(lm.size.Load()) }

func (lm *Limiter[K]) shard(k K) *shard[K] {
	return &lm.shards[maphash.Comparable(lm.seed, k)%shardCount]
}

// Take draws cost tokens from k's bucket under l, if it holds them. A cost above l's burst takes
// a full bucket, so that every operation can pass.
func (lm *Limiter[K]) Take(k K, l Limit, cost int) Result {
	t, burst := l.interval(), l.burst()
	tau := burst * t // how far the full moment may run ahead of now
	c := min(max(int64(cost), 1), burst)
	now := int64(lm.now().Sub(lm.epoch))
	s := lm.shard(k)
	s.mu.Lock()
	full, kept := s.full[k]
	next := max(full, now) + c*t
	allowed := next-now <= tau
	if allowed {
		full = next
		if kept {
			s.full[k] = full
		} else {
			lm.insert(s, k, full, now)
		}
	}
	s.mu.Unlock()
	return result(allowed, full-now, next-now-tau, t, tau)
}

// Peek tells whether k's bucket under l holds a token, without taking it. A bucket found full
// is dropped, so that a Limiter whose clients all stopped drawing ends up empty.
func (lm *Limiter[K]) Peek(k K, l Limit) Result {
	t, burst := l.interval(), l.burst()
	tau := burst * t
	now := int64(lm.now().Sub(lm.epoch))
	s := lm.shard(k)
	s.mu.Lock()
	full, kept := s.full[k]
	if kept && full <= now {
		delete(s.full, k)
		lm.size.Add(-1)
	}
	s.mu.Unlock()
	next := max(full, now) + t
	return result(next-now <= tau, full-now, next-now-tau, t, tau)
}

// result words a bucket whose full moment is ahead nanoseconds away (after the request, if it
// was allowed); short is how much too early a refused request came.
func result(allowed bool, ahead, short, t, tau int64) Result {
	ahead = max(ahead, 0)
	r := Result{Allowed: allowed, Remaining: (tau - ahead) / t, Reset: ceilSeconds(ahead)}
	if !allowed {
		r.RetryAfter = max(ceilSeconds(short), 1)
		r.Reset = r.RetryAfter
	}
	return r
}

// insert keeps a new bucket in s (locked), first dropping the full ones once s has grown to its
// sweep size, and dropping others past the bound.
func (lm *Limiter[K]) insert(s *shard[K], k K, full, now int64) {
	if len(s.full) >= s.sweepAt {
		for key, f := range s.full {
			if f <= now {
				delete(s.full, key)
				lm.size.Add(-1)
			}
		}
		if len(s.full) >= lm.perShard {
			// Every bucket here is in use: forget some (map order is arbitrary), letting their
			// clients start again with a full bucket, rather than grow without bound.
			for key := range s.full {
				delete(s.full, key)
				lm.size.Add(-1)
				if len(s.full) < lm.perShard*3/4 {
					break
				}
			}
		}
		s.sweepAt = min(max(minSweep, 2*len(s.full)), lm.perShard)
	}
	s.full[k] = full
	lm.size.Add(1)
}
