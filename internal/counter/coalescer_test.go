package counter

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// gatedAdder is the domain-level store in these tests: it keeps a total in memory and holds
// every Add until the test lets it through, so the test decides what is in flight. The
// Coalescer over a real Redis is tested in redisstore and cmd/hitcounter.
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

// waitState polls a piece of the coalescer's state until it equals want, within a bound.
func waitState(t *testing.T, c *Coalescer, what string, read func(*Coalescer) int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := read(c)
		c.mu.Unlock()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d", what, got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitQueued waits until the open batch holds n visits.
func waitQueued(t *testing.T, c *Coalescer, n int64) {
	t.Helper()
	waitState(t, c, "visits in the open batch", func(c *Coalescer) int64 {
		if c.open == nil {
			return 0
		}
		return c.open.n
	}, n)
}

// waitInFlight waits until n writes are in flight.
func waitInFlight(t *testing.T, c *Coalescer, n int) {
	t.Helper()
	waitState(t, c, "writes in flight", func(c *Coalescer) int64 { return int64(c.inFlight) }, int64(n))
}

func TestCoalescerBatchesWhileInFlight(t *testing.T) {
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
	waitInFlight(t, c, 1)
	for range 10 {
		go visit() // all ten queue behind it
	}
	waitQueued(t, c, 10)

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
}

func TestCoalescerErrorReachesEveryWaiter(t *testing.T) {
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
	waitInFlight(t, c, 1)
	waitQueued(t, c, 3)
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
}

func TestCoalescerWaiterGivesUpWithItsContext(t *testing.T) {
	a := &gatedAdder{gate: make(chan struct{})}
	c := NewCoalescer(a, 1, 5*time.Second)
	go func() { _, _ = c.Visit(context.Background()) }()
	waitInFlight(t, c, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := c.Visit(ctx)
	if ErrorCode(err) != EUNAVAILABLE || time.Since(begin) > time.Second {
		t.Fatalf("Visit() = %v after %s, want unavailable soon after the 50ms deadline", err, time.Since(begin))
	}
	close(a.gate)
	// The abandoned visit was in a batch and is counted: the total may exceed the answers,
	// never fall short of them.
	deadline := time.Now().Add(5 * time.Second)
	for {
		total, _ := a.snapshot()
		if total == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store total = %d, want 2", total)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCoalescerAllowsSeveralWritesInFlight(t *testing.T) {
	a := &gatedAdder{gate: make(chan struct{})}
	c := NewCoalescer(a, 3, 5*time.Second)
	done := make(chan int64, 5)
	for range 5 {
		go func() {
			n, _ := c.Visit(context.Background())
			done <- n
		}()
	}
	waitInFlight(t, c, 3)
	waitQueued(t, c, 2)
	close(a.gate)
	var got []int64
	for range 5 {
		got = append(got, <-done)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("counts = %v, want 1..5", got)
	}
}

func TestCoalescerWaiterBoundedByTimeout(t *testing.T) {
	a := &gatedAdder{gate: make(chan struct{})}
	c := NewCoalescer(a, 1, 100*time.Millisecond)
	go func() { _, _ = c.Visit(context.Background()) }()
	waitInFlight(t, c, 1)
	begin := time.Now()
	_, err := c.Visit(context.Background()) // no deadline of its own
	if took := time.Since(begin); ErrorCode(err) != EUNAVAILABLE || took > time.Second {
		t.Fatalf("waiting Visit() = %v after %s, want unavailable after about 100ms", err, took)
	}
	close(a.gate)
}
