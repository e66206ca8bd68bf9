package counter

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// gatedAdder is the domain-level store in these tests: it keeps a total in memory and holds
// every Add until the test lets it through, so the test decides what is in flight. The
// Coalescer over a real Redis is tested in redisstore and cmd/hitcounter.
//
// Every test runs in a synctest bubble: synctest.Wait returns once every goroutine is blocked
// (on the gate, or waiting for its batch), so the test reads the coalescer's state at a moment
// it chose, without polling, and timeouts run on the bubble's fake clock.
type gatedAdder struct {
	mu    sync.Mutex
	total int64
	calls []int64 // n of every Add, in order
	gate  chan struct{}
	err   error
}

func (a *gatedAdder) Add(ctx context.Context, n int64) (int64, error) {
	select {
	case <-a.gate:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, n)
	if a.err != nil {
		return 0, a.err
	}
	a.total += n
	return a.total, nil
}

func (a *gatedAdder) snapshot() (int64, []int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total, slices.Clone(a.calls)
}

// state waits until every goroutine of the bubble is blocked, then returns the writes in
// flight and the visits queued in the open batch.
func state(c *Coalescer) (inFlight int, queued int64) {
	synctest.Wait()
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	l := c.k.lanes[struct{}{}]
	if l == nil {
		return 0, 0
	}
	if l.open != nil {
		queued = int64(len(l.open.hits))
	}
	return l.inFlight, queued
}

func wantState(t *testing.T, c *Coalescer, wantInFlight int, wantQueued int64) {
	t.Helper()
	if inFlight, queued := state(c); inFlight != wantInFlight || queued != wantQueued {
		t.Fatalf("in flight %d, queued %d; want %d, %d", inFlight, queued, wantInFlight, wantQueued)
	}
}

func TestCoalescerBatchesWhileInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &gatedAdder{gate: make(chan struct{})}
		c := NewCoalescer(a, 1, 5*time.Second)
		results := make(chan int64, 11)
		visit := func() {
			n, err := c.Visit(context.Background())
			if err != nil {
				t.Errorf("Visit() error = %v", err)
			}
			results <- n
		}

		go visit() // goes alone and blocks in Add
		wantState(t, c, 1, 0)
		for range 10 {
			go visit() // all ten queue behind it
		}
		wantState(t, c, 1, 10)

		a.gate <- struct{}{} // the lone write
		a.gate <- struct{}{} // the batch of ten
		var got []int64
		for range 11 {
			got = append(got, <-results)
		}
		slices.Sort(got)
		if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}; !slices.Equal(got, want) {
			t.Fatalf("counts = %v, want %v", got, want)
		}
		total, calls := a.snapshot()
		if total != 11 || !slices.Equal(calls, []int64{1, 10}) {
			t.Fatalf("store total %d after Adds %v, want 11 after [1 10]", total, calls)
		}
		wantState(t, c, 0, 0)
	})
}

func TestCoalescerErrorReachesEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := Errorf(EUNAVAILABLE, errors.New("connection refused"), "storage unavailable")
		a := &gatedAdder{gate: make(chan struct{}), err: boom}
		c := NewCoalescer(a, 1, 5*time.Second)
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				_, err := c.Visit(context.Background())
				errs <- err
			}()
		}
		wantState(t, c, 1, 3)
		close(a.gate)
		for range 4 {
			if err := <-errs; ErrorCode(err) != EUNAVAILABLE {
				t.Fatalf("Visit() error = %v, want code %q", err, EUNAVAILABLE)
			}
		}

		// The slot is free again: the next visit writes alone.
		a.mu.Lock()
		a.err = nil
		a.mu.Unlock()
		if n, err := c.Visit(context.Background()); err != nil || n != 1 {
			t.Fatalf("Visit() after errors = %d, %v; want 1, nil", n, err)
		}
	})
}

func TestCoalescerWaiterGivesUpWithItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &gatedAdder{gate: make(chan struct{})}
		c := NewCoalescer(a, 1, 5*time.Second)
		go func() { _, _ = c.Visit(context.Background()) }()
		wantState(t, c, 1, 0)

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		begin := time.Now()
		_, err := c.Visit(ctx)
		if took := time.Since(begin); ErrorCode(err) != EUNAVAILABLE || took != 50*time.Millisecond {
			t.Fatalf("Visit() = %v after %s, want unavailable at the 50ms deadline", err, took)
		}

		close(a.gate)
		synctest.Wait()
		// The abandoned visit was in a batch and is counted: the total may exceed the answers,
		// never fall short of them.
		if total, _ := a.snapshot(); total != 2 {
			t.Fatalf("store total = %d, want 2", total)
		}
	})
}

// A client that hangs up is not a storage failure: the error says cancelled, not unavailable.
func TestCoalescerWaiterCancelledIsNotUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &gatedAdder{gate: make(chan struct{})}
		c := NewCoalescer(a, 1, 5*time.Second)
		go func() { _, _ = c.Visit(context.Background()) }()
		wantState(t, c, 1, 0)

		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 1)
		go func() {
			_, err := c.Visit(ctx)
			errs <- err
		}()
		wantState(t, c, 1, 1)
		cancel()
		if err := <-errs; ErrorCode(err) != ECANCELED {
			t.Fatalf("Visit() after cancel = %v, want code %q", err, ECANCELED)
		}
		close(a.gate)
	})
}

func TestCoalescerAllowsSeveralWritesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &gatedAdder{gate: make(chan struct{})}
		c := NewCoalescer(a, 3, 5*time.Second)
		done := make(chan int64, 5)
		for range 5 {
			go func() {
				n, _ := c.Visit(context.Background())
				done <- n
			}()
		}
		wantState(t, c, 3, 2)
		close(a.gate)
		var got []int64
		for range 5 {
			got = append(got, <-done)
		}
		slices.Sort(got)
		if !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
			t.Fatalf("counts = %v, want 1..5", got)
		}
	})
}

// Every visit of a batch gives up at the timeout, not just one of them (the chaos suite found a
// timer that woke a single waiter while the rest waited for the write).
func TestCoalescerEveryWaiterBoundedByTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &gatedAdder{gate: make(chan struct{})}
		c := NewCoalescer(a, 1, 100*time.Millisecond)
		go func() { _, _ = c.Visit(context.Background()) }()
		wantState(t, c, 1, 0)
		begin := time.Now()
		took := make(chan time.Duration, 5)
		for range 5 {
			go func() {
				_, err := c.Visit(context.Background())
				if ErrorCode(err) != EUNAVAILABLE {
					t.Errorf("waiting Visit() = %v, want unavailable", err)
				}
				took <- time.Since(begin)
			}()
		}
		for range 5 {
			if d := <-took; d != 100*time.Millisecond {
				t.Fatalf("a waiting visit gave up after %s, want every one at the 100ms timeout", d)
			}
		}
		close(a.gate)
	})
}

func TestCoalescerWaiterBoundedByTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &gatedAdder{gate: make(chan struct{})}
		c := NewCoalescer(a, 1, 100*time.Millisecond)
		go func() { _, _ = c.Visit(context.Background()) }()
		wantState(t, c, 1, 0)
		begin := time.Now()
		_, err := c.Visit(context.Background()) // no deadline of its own
		if took := time.Since(begin); ErrorCode(err) != EUNAVAILABLE || took != 100*time.Millisecond {
			t.Fatalf("waiting Visit() = %v after %s, want unavailable at the 100ms timeout", err, took)
		}
		close(a.gate)
	})
}
