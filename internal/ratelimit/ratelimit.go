// Package ratelimit counts what each client does per window, in two ways:
//
//   - Shared limits hold across every replica, without a store round trip per request. Each
//     replica leases tokens from a shared count in small blocks: a lease is one atomic INCRBY on
//     the key's count for the current window, granted only up to the limit. The leases of all
//     replicas together never pass the limit, so the stack as a whole never accepts more than
//     the limit in a window. What a client can lose is the other side: tokens leased by a
//     replica it no longer reaches stay unspent, at most about 1.25 leases per replica. The
//     shared counts are named by pseudonyms (visitor.Pseudonyms.Limit), never by address.
//   - Local limits count in this process alone: no store call at all, for the cheap limits
//     whose point is to keep one client from taking one replica's time.
//
// Windows are fixed (aligned to multiples of the window since the Unix epoch), as in most
// limiters: across a window boundary a client can get up to twice the limit in a short time.
//
// Memory is bounded whatever clients do: each limiter keeps at most MaxKeys keys (past windows
// go first; then, if the current window alone holds more, an eighth of them at random).
// Forgetting a key of a shared limit loses only the tokens its replica had leased (the count
// in the store stays, so the client gets less, never more); forgetting a key of a local limit
// starts it again, which takes more distinct clients than the limit is for.
package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// MaxKeys bounds the keys one limiter keeps in memory (about 200 bytes each, so about 3 MB per
// limiter at most).
const MaxKeys = 16384

// Leaser is the shared count: Lease adds n to the count under key (which expires after ttl) and
// returns how many of the n fit under limit, and the count afterwards (capped at limit).
type Leaser interface {
	Lease(ctx context.Context, key string, n, limit int64, ttl time.Duration) (granted, used int64, err error)
}

// Namer names a key in the shared store without the client's address
// (visitor.Pseudonyms.Limit).
type Namer func(t time.Time, limit string, key counter.LimitKey) string

// MaxLease bounds a lease, so that a high limit does not strand many tokens on one replica.
const MaxLease = 1000

// Shared allows at most limit events per window per key across every replica.
type Shared struct {
	leaser Leaser
	name   string // part of the store's key, so that two limiters never share counts
	limit  int64
	window time.Duration
	lease  int64
	namer  Namer
	now    func() time.Time

	mu      sync.Mutex
	buckets table[sharedBucket]
}

type sharedBucket struct {
	window    int64 // window number the tokens belong to
	tokens    int64 // leased and not yet spent
	used      int64 // the shared count as of the last lease
	exhausted bool  // the last lease came back short: nothing left this window
	fetching  chan struct{}
	err       error // of the last lease, for those who waited for it
}

// NewShared returns a shared limiter, or nil when limit is 0 (no limit; a nil *Shared allows
// everything). now is the clock (nil: time.Now).
func NewShared(leaser Leaser, name string, limit int64, window time.Duration, namer Namer, now func() time.Time) *Shared {
	if limit <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	l := &Shared{
		leaser: leaser, name: name, limit: limit, window: window, namer: namer, now: now,
		// A sixteenth of the limit: few round trips, few tokens stranded.
		lease: min(max(limit/16, 1), MaxLease),
	}
	l.buckets.init(func(b *sharedBucket, w int64) bool { return b.window != w && b.fetching == nil })
	return l
}

// Limiter is l as a counter.Limiter: none at all when l is nil (no limit), so that the domain
// can tell a missing limit from a limiter.
func (l *Shared) Limiter() counter.Limiter {
	if l == nil {
		return nil
	}
	return l
}

// Limiter is l as a counter.Limiter: none at all when l is nil (no limit).
func (l *Local) Limiter() counter.Limiter {
	if l == nil {
		return nil
	}
	return l
}

// Limit is the events allowed per window; 0 for a nil limiter.
func (l *Shared) Limit() int64 {
	if l == nil {
		return 0
	}
	return l.limit
}

// Lease is how many tokens one replica takes at a time.
func (l *Shared) Lease() int64 { return l.lease }

// Allow implements counter.Limiter. It waits for the store only when this replica holds too
// few of key's tokens; with few left it fetches more in the background.
func (l *Shared) Allow(ctx context.Context, key counter.LimitKey, cost int64) (counter.Allowance, error) {
	if l == nil {
		return counter.Allowance{Allowed: true}, nil
	}
	for {
		now := l.now()
		w, reset := windowOf(now, l.window)

		l.mu.Lock()
		b := l.buckets.get(key, w, func() *sharedBucket { return &sharedBucket{window: w} })
		if b.tokens >= cost {
			b.tokens -= cost
			a := counter.Allowance{Allowed: true, Limit: l.limit, Remaining: max(l.limit-b.used+b.tokens, 0), Reset: reset, Window: l.window}
			if b.tokens <= l.lease/4 && !b.exhausted && b.fetching == nil {
				ch := make(chan struct{})
				b.fetching = ch
				go l.fetch(key, w, b, ch)
			}
			l.mu.Unlock()
			return a, nil
		}
		if b.exhausted {
			l.mu.Unlock()
			return counter.Allowance{Limit: l.limit, Reset: reset, Window: l.window}, nil
		}
		ch := b.fetching
		if ch == nil {
			ch = make(chan struct{})
			b.fetching = ch
			go l.fetch(key, w, b, ch)
		}
		l.mu.Unlock()

		select {
		case <-ch:
		case <-ctx.Done():
			return counter.Allowance{}, ctx.Err()
		}
		l.mu.Lock()
		err, tokens := b.err, b.tokens
		l.mu.Unlock()
		if err != nil && tokens < cost {
			return counter.Allowance{}, err
		}
	}
}

// fetch leases tokens for b. It does not use any one request's context: a lease serves every
// request of the key, and one that hangs up must not fail the others.
func (l *Shared) fetch(key counter.LimitKey, w int64, b *sharedBucket, done chan struct{}) {
	// Named as of the window's start, not now: pseudonyms change at midnight, and a window that
	// straddles it (a day's window, or one of 7 minutes) must keep one count throughout.
	start := time.Unix(0, w*int64(l.window))
	name := l.name + ":" + l.namer(start, l.name, key) + ":" + strconv.FormatInt(w, 10)
	granted, used, err := l.leaser.Lease(context.Background(), name, l.lease, l.limit, 2*l.window)
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

// Local allows at most limit events per window per key, counted in this process alone.
type Local struct {
	name   string
	limit  int64
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	buckets table[localBucket]
}

type localBucket struct {
	window int64
	used   int64
}

// NewLocal returns a local limiter, or nil when limit is 0 (no limit; a nil *Local allows
// everything). now is the clock (nil: time.Now).
func NewLocal(name string, limit int64, window time.Duration, now func() time.Time) *Local {
	if limit <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	l := &Local{name: name, limit: limit, window: window, now: now}
	l.buckets.init(func(b *localBucket, w int64) bool { return b.window != w })
	return l
}

// Allow implements counter.Limiter.
func (l *Local) Allow(_ context.Context, key counter.LimitKey, cost int64) (counter.Allowance, error) {
	if l == nil {
		return counter.Allowance{Allowed: true}, nil
	}
	w, reset := windowOf(l.now(), l.window)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets.get(key, w, func() *localBucket { return &localBucket{window: w} })
	a := counter.Allowance{Limit: l.limit, Reset: reset, Window: l.window}
	if b.used+cost > l.limit {
		return a, nil
	}
	b.used += cost
	a.Allowed, a.Remaining = true, l.limit-b.used
	return a, nil
}

// windowOf is the number of the window now is in, and the time left in it.
func windowOf(now time.Time, window time.Duration) (w int64, left time.Duration) {
	w = now.UnixNano() / int64(window)
	return w, time.Duration((w+1)*int64(window) - now.UnixNano())
}

// table is a limiter's keys, at most MaxKeys of them. Not safe for concurrent use: the limiter
// holds its lock.
type table[B any] struct {
	entries map[counter.LimitKey]*B
	max     int
	sweepAt int
	// stale says whether an entry can go when the current window is w.
	stale func(b *B, w int64) bool
}

func (t *table[B]) init(stale func(*B, int64) bool) {
	t.entries = make(map[counter.LimitKey]*B)
	t.max = MaxKeys
	t.sweepAt = min(1024, t.max)
	t.stale = stale
}

// get returns key's entry, made by fresh when it is missing or belongs to a past window.
func (t *table[B]) get(key counter.LimitKey, w int64, fresh func() *B) *B {
	if b := t.entries[key]; b != nil && !t.stale(b, w) {
		return b
	}
	if _, ok := t.entries[key]; !ok && len(t.entries) >= t.sweepAt {
		t.sweep(w)
	}
	b := fresh()
	t.entries[key] = b
	return b
}

// sweep drops the entries of past windows and, if the current window alone fills the table,
// an eighth of it, so that a flood of new keys costs bounded memory and a bounded amount of
// work per key.
func (t *table[B]) sweep(w int64) {
	for k, b := range t.entries {
		if t.stale(b, w) {
			delete(t.entries, k)
		}
	}
	if len(t.entries) >= t.max {
		drop := max(t.max/8, 1)
		for k := range t.entries { // Go's map order is random enough to pick victims
			if drop == 0 {
				break
			}
			delete(t.entries, k)
			drop--
		}
	}
	t.sweepAt = min(max(1024, 2*len(t.entries)), t.max)
}

// Len is how many keys a limiter holds: what the memory bound is about.
func (l *Shared) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets.entries)
}

// Len is how many keys a limiter holds.
func (l *Local) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets.entries)
}
