package counter

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Adder adds n to the stored total in one atomic step and returns the new total.
type Adder interface {
	Add(ctx context.Context, n int64) (total int64, err error)
}

// AddFunc adds the hits (len(hits) of them, each with what the store records about it) to what
// is stored under key in one atomic step and returns what the store has afterwards (for the
// visit counter, the new total).
type AddFunc[K comparable, V, R any] func(ctx context.Context, key K, hits []V) (R, error)

// Keyed turns the hits on one key that arrive while a write to that key is in flight into one
// add(key, hits). Each hit still gets its own number: a batch of n that returns total hands out
// total-n+1 … total (Add1 says how many hits of the batch came after the caller's). The stored total moves by exactly the number of hits, and no hit is
// answered before the store acknowledged the write that holds it. Keys are independent: a
// slow or failing key holds up only its own hits.
//
// Under light load a hit finds nothing in flight on its key and writes alone, so latency is one
// round trip; under heavy load one round trip carries hundreds of hits.
type Keyed[K comparable, V, R any] struct {
	add AddFunc[K, V, R]
	// maxInFlight bounds the concurrent writes per key. More than one keeps the pipe to the
	// store busy while a reply is on its way back.
	maxInFlight int
	// timeout bounds a batch's write; the batch outlives any one request's context.
	timeout time.Duration

	mu    sync.Mutex
	lanes map[K]*lane[V, R] // only keys with a write in flight: a lane goes when its last write ends
}

// lane is one key's state.
type lane[V, R any] struct {
	inFlight int
	open     *batch[V, R] // collecting hits until a write slot frees up
}

type batch[V, R any] struct {
	hits   []V
	done   chan struct{}
	result R
	err    error
	// expired is closed timeout after the batch opened: no hit in it waits longer than that.
	// One timer per batch, not per hit, since a batch holds hundreds of hits under load; a
	// closed channel, not time.After's, which wakes only one of them.
	expired chan struct{}
	timer   *time.Timer
}

// NewKeyed returns a Keyed over add with at most maxInFlight concurrent writes per key, each
// bounded by timeout.
func NewKeyed[K comparable, V, R any](add AddFunc[K, V, R], maxInFlight int, timeout time.Duration) *Keyed[K, V, R] {
	return &Keyed[K, V, R]{add: add, maxInFlight: max(maxInFlight, 1), timeout: timeout, lanes: make(map[K]*lane[V, R])}
}

// Add1 counts one hit on key. It returns what the store answered for the hit's batch, and
// after, how many hits of the batch came after this one: the hit's number is the batch's total
// minus after.
func (c *Keyed[K, V, R]) Add1(ctx context.Context, key K, hit V) (result R, after int64, err error) {
	c.mu.Lock()
	l := c.lanes[key]
	if l == nil {
		l = &lane[V, R]{}
		c.lanes[key] = l
	}
	if l.open == nil && l.inFlight < c.maxInFlight {
		// Nothing waiting and a free slot: write this hit alone, on the caller's goroutine.
		l.inFlight++
		c.mu.Unlock()
		result, err := c.add(ctx, key, []V{hit})
		c.release(key, l)
		return result, 0, err
	}
	b := l.open
	if b == nil {
		// A waiting hit gets the same bound as a write: when the store is slow, the batch may
		// start only after a write in flight timed out, and its hits must not wait for both.
		b = &batch[V, R]{done: make(chan struct{}), expired: make(chan struct{})}
		b.timer = time.AfterFunc(c.timeout, func() { close(b.expired) })
		l.open = b
	}
	b.hits = append(b.hits, hit)
	position := int64(len(b.hits))
	c.mu.Unlock()

	var zero R
	select {
	case <-b.done:
		if b.err != nil {
			return zero, 0, b.err
		}
		return b.result, int64(len(b.hits)) - position, nil
	case <-b.expired:
		// The hit stays in its batch and may still be counted; it is just not answered.
		return zero, 0, Errorf(EUNAVAILABLE, context.DeadlineExceeded, "storage did not answer in time")
	case <-ctx.Done():
		// The hit stays in its batch and may still be counted; it is just not answered.
		if errors.Is(ctx.Err(), context.Canceled) {
			return zero, 0, Errorf(ECANCELED, ctx.Err(), "request cancelled")
		}
		return zero, 0, Errorf(EUNAVAILABLE, ctx.Err(), "storage did not answer in time")
	}
}

// release frees a write slot of key's lane and, if hits are waiting, sends them as the next
// batch.
func (c *Keyed[K, V, R]) release(key K, l *lane[V, R]) {
	c.mu.Lock()
	b := l.open
	if b == nil {
		l.inFlight--
		if l.inFlight == 0 {
			delete(c.lanes, key)
		}
		c.mu.Unlock()
		return
	}
	l.open = nil // the slot passes to this batch: inFlight stays as it is
	c.mu.Unlock()
	go c.flush(key, l, b)
}

func (c *Keyed[K, V, R]) flush(key K, l *lane[V, R], b *batch[V, R]) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	b.result, b.err = c.add(ctx, key, b.hits)
	cancel()
	b.timer.Stop()
	close(b.done)
	c.release(key, l)
}

// Coalescer is the Counter of the single visit counter (GET /): a Keyed with one key.
type Coalescer struct {
	k *Keyed[struct{}, struct{}, int64]
}

// NewCoalescer returns a Coalescer over add with at most maxInFlight concurrent writes, each
// bounded by timeout.
func NewCoalescer(add Adder, maxInFlight int, timeout time.Duration) *Coalescer {
	return &Coalescer{k: NewKeyed(func(ctx context.Context, _ struct{}, hits []struct{}) (int64, error) {
		return add.Add(ctx, int64(len(hits)))
	}, maxInFlight, timeout)}
}

var _ Counter = (*Coalescer)(nil)

// Visit counts one visit and returns its number.
func (c *Coalescer) Visit(ctx context.Context) (int64, error) {
	total, after, err := c.k.Add1(ctx, struct{}{}, struct{}{})
	return total - after, err
}
