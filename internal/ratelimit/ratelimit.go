// Package ratelimit limits how often one client may do something, across every replica of the
// service, without a Redis round trip per request.
//
// Each replica leases tokens from a shared count in small blocks: a lease is one atomic INCRBY
// on the client's count for the current window, granted only up to the limit. The tokens leased
// by all replicas together never pass the limit, so the stack as a whole never accepts more than
// the limit in a window. What a client can lose is the other side: tokens leased by a replica it
// no longer reaches stay unspent, at most about 1.25 leases per replica.
//
// Windows are fixed (aligned to multiples of the window since the Unix epoch), as in most
// limiters: across a window boundary a client can get up to twice the limit in a short time.
package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// Leaser is the shared count: Lease adds n to the count under key (which expires after ttl) and
// returns how many of the n fit under limit, and the count afterwards (capped at limit).
type Leaser interface {
	Lease(ctx context.Context, key string, n, limit int64, ttl time.Duration) (granted, used int64, err error)
}

// Limiter allows at most limit events per window per client id.
type Limiter struct {
	leaser Leaser
	name   string // part of the Redis key, so that two limiters never share counts
	limit  int64
	window time.Duration
	lease  int64
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweepAt int
}

type bucket struct {
	window    int64 // window number the tokens belong to
	tokens    int64 // leased and not yet spent
	used      int64 // the shared count as of the last lease
	exhausted bool  // the last lease came back short: nothing left this window
	fetching  chan struct{}
	err       error // of the last lease, for those who waited for it
}

// Decision is the answer to one Allow, with what the RateLimit-* headers say.
type Decision struct {
	Allowed   bool
	Limit     int64
	Remaining int64
	// Reset is the time left until the window ends.
	Reset time.Duration
}

// MaxLease bounds a lease, so that a high limit does not strand many tokens on one replica.
const MaxLease = 1000

// New returns a Limiter, or nil when limit is 0 (no limit). now is the clock (nil: time.Now).
func New(leaser Leaser, name string, limit int64, window time.Duration, now func() time.Time) *Limiter {
	if limit <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		leaser: leaser, name: name, limit: limit, window: window, now: now,
		// A sixteenth of the limit: few round trips, few tokens stranded.
		lease:   min(max(limit/16, 1), MaxLease),
		buckets: make(map[string]*bucket),
		sweepAt: 1024,
	}
}

// Limit is the events allowed per window; 0 for a nil Limiter.
func (l *Limiter) Limit() int64 {
	if l == nil {
		return 0
	}
	return l.limit
}

// Window is the length of one window.
func (l *Limiter) Window() time.Duration { return l.window }

// Lease is how many tokens one replica takes at a time.
func (l *Limiter) Lease() int64 { return l.lease }

// Allow spends one of id's tokens for the current window. It waits for Redis only when this
// replica holds no token for id; with few left it fetches more in the background.
func (l *Limiter) Allow(ctx context.Context, id string) (Decision, error) {
	for {
		now := l.now()
		w := now.UnixNano() / int64(l.window)
		reset := time.Duration((w+1)*int64(l.window) - now.UnixNano())

		l.mu.Lock()
		b := l.bucketFor(id, w)
		if b.tokens > 0 {
			b.tokens--
			d := Decision{Allowed: true, Limit: l.limit, Remaining: max(l.limit-b.used+b.tokens, 0), Reset: reset}
			if b.tokens <= l.lease/4 && !b.exhausted && b.fetching == nil {
				ch := make(chan struct{})
				b.fetching = ch
				go l.fetch(id, w, b, ch)
			}
			l.mu.Unlock()
			return d, nil
		}
		if b.exhausted {
			l.mu.Unlock()
			return Decision{Limit: l.limit, Reset: reset}, nil
		}
		ch := b.fetching
		if ch == nil {
			ch = make(chan struct{})
			b.fetching = ch
			go l.fetch(id, w, b, ch)
		}
		l.mu.Unlock()

		select {
		case <-ch:
		case <-ctx.Done():
			return Decision{}, ctx.Err()
		}
		l.mu.Lock()
		err, tokens := b.err, b.tokens
		l.mu.Unlock()
		if err != nil && tokens == 0 {
			return Decision{}, err
		}
	}
}

// bucketFor returns id's bucket for window w, starting a new one when the window moved on.
// Called with l.mu held.
func (l *Limiter) bucketFor(id string, w int64) *bucket {
	b := l.buckets[id]
	if b != nil && b.window == w {
		return b
	}
	if b == nil && len(l.buckets) >= l.sweepAt {
		for k, old := range l.buckets {
			if old.window != w && old.fetching == nil {
				delete(l.buckets, k)
			}
		}
		l.sweepAt = max(1024, 2*len(l.buckets))
	}
	b = &bucket{window: w}
	l.buckets[id] = b
	return b
}

// fetch leases tokens for b. It does not use any one request's context: a lease serves every
// request of the client, and one that hangs up must not fail the others.
func (l *Limiter) fetch(id string, w int64, b *bucket, done chan struct{}) {
	key := l.name + ":" + id + ":" + strconv.FormatInt(w, 10)
	granted, used, err := l.leaser.Lease(context.Background(), key, l.lease, l.limit, 2*l.window)
	l.mu.Lock()
	b.err = err
	if err == nil {
		b.tokens += granted
		b.used = used
		if granted < l.lease {
			b.exhausted = true
		}
	}
	b.fetching = nil
	l.mu.Unlock()
	close(done)
}
