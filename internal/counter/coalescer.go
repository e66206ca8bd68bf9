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

// Coalescer is a Counter that turns the visits arriving while a write is in flight into one
// Add(n). Each visit still gets its own number: a batch of n that returns total hands out
// total-n+1 … total. The stored total moves by exactly the number of visits, and no visit is
// answered before the store acknowledged the write that holds it.
//
// Under light load a visit finds nothing in flight and writes alone, so latency is one round
// trip; under heavy load one round trip carries hundreds of visits.
type Coalescer struct {
	add Adder
	// maxInFlight bounds the concurrent writes. More than one keeps the pipe to Redis busy
	// while a reply is on its way back.
	maxInFlight int
	// timeout bounds a batch's write; the batch outlives any one request's context.
	timeout time.Duration

	mu       sync.Mutex
	inFlight int
	open     *batch // collecting visits until a write slot frees up
}

type batch struct {
	n     int64
	done  chan struct{}
	total int64
	err   error
	// expired is closed timeout after the batch opened: no visit in it waits longer than that.
	// One timer per batch, not per visit, since a batch holds hundreds of visits under load; a
	// closed channel, not time.After's, which wakes only one of them.
	expired chan struct{}
	timer   *time.Timer
}

// NewCoalescer returns a Coalescer over add with at most maxInFlight concurrent writes, each
// bounded by timeout.
func NewCoalescer(add Adder, maxInFlight int, timeout time.Duration) *Coalescer {
	return &Coalescer{add: add, maxInFlight: max(maxInFlight, 1), timeout: timeout}
}

var _ Counter = (*Coalescer)(nil)

// Visit counts one visit and returns its number.
func (c *Coalescer) Visit(ctx context.Context) (int64, error) {
	c.mu.Lock()
	if c.open == nil && c.inFlight < c.maxInFlight {
		// Nothing waiting and a free slot: write this visit alone, on the caller's goroutine.
		c.inFlight++
		c.mu.Unlock()
		total, err := c.add.Add(ctx, 1)
		c.release()
		return total, err
	}
	b := c.open
	if b == nil {
		// A waiting visit gets the same bound as a write: when the store is slow, the batch may
		// start only after a write in flight timed out, and its visits must not wait for both.
		b = &batch{done: make(chan struct{}), expired: make(chan struct{})}
		b.timer = time.AfterFunc(c.timeout, func() { close(b.expired) })
		c.open = b
	}
	b.n++
	position := b.n
	c.mu.Unlock()

	select {
	case <-b.done:
		if b.err != nil {
			return 0, b.err
		}
		return b.total - b.n + position, nil
	case <-b.expired:
		// The visit stays in its batch and may still be counted; it is just not answered.
		return 0, Errorf(EUNAVAILABLE, context.DeadlineExceeded, "storage did not answer in time")
	case <-ctx.Done():
		// The visit stays in its batch and may still be counted; it is just not answered.
		if errors.Is(ctx.Err(), context.Canceled) {
			return 0, Errorf(ECANCELED, ctx.Err(), "request cancelled")
		}
		return 0, Errorf(EUNAVAILABLE, ctx.Err(), "storage did not answer in time")
	}
}

// release frees a write slot and, if visits are waiting, sends them as the next batch.
func (c *Coalescer) release() {
	c.mu.Lock()
	b := c.open
	if b == nil {
		c.inFlight--
		c.mu.Unlock()
		return
	}
	c.open = nil // the slot passes to this batch: inFlight stays as it is
	c.mu.Unlock()
	go c.flush(b)
}

func (c *Coalescer) flush(b *batch) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	b.total, b.err = c.add.Add(ctx, b.n)
	cancel()
	b.timer.Stop()
	close(b.done)
	c.release()
}
