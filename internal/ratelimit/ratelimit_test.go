package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// memLeaser is the shared count in memory; the Redis one is tested in redisstore against a real
// redis-server, with three limiters sharing it.
type memLeaser struct {
	mu     sync.Mutex
	counts map[string]int64
	calls  int
	err    error
}

func (m *memLeaser) Lease(_ context.Context, key string, n, limit int64, _ time.Duration) (int64, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return 0, 0, m.err
	}
	if m.counts == nil {
		m.counts = map[string]int64{}
	}
	before := m.counts[key]
	m.counts[key] += n
	return min(max(limit-before, 0), n), min(m.counts[key], limit), nil
}

func allowN(t *testing.T, l *Limiter, id string, n int) (allowed int, last Decision) {
	t.Helper()
	for range n {
		d, err := l.Allow(context.Background(), id)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		if d.Allowed {
			allowed++
		}
		last = d
	}
	return allowed, last
}

func TestLimiterAllowsTheLimitPerWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock starts at midnight UTC 2000-01-01, a window boundary.
		leaser := &memLeaser{}
		l := New(leaser, "hits", 100, time.Minute, nil)
		time.Sleep(10 * time.Second)
		allowed, last := allowN(t, l, "client", 150)
		if allowed != 100 {
			t.Fatalf("%d allowed in one window, want the limit, 100", allowed)
		}
		if last.Allowed || last.Remaining != 0 || last.Limit != 100 || last.Reset != 50*time.Second {
			t.Fatalf("decision after the limit = %+v, want refused, 0 remaining, limit 100, reset 50s", last)
		}
		if other, _ := allowN(t, l, "another-client", 10); other != 10 {
			t.Fatalf("another client got %d of 10: clients share a budget", other)
		}
		time.Sleep(50 * time.Second) // the next window
		if allowed, _ := allowN(t, l, "client", 100); allowed != 100 {
			t.Fatalf("%d allowed in the next window, want 100", allowed)
		}
		synctest.Wait()
		// Leases of limit/16 (6), not a round trip per request: about 17 per client and window.
		if leaser.calls > 210/4 {
			t.Fatalf("%d leases for 210 allowed requests, want at most a quarter as many", leaser.calls)
		}
	})
}

func TestLimiterRemainingCountsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(&memLeaser{}, "hits", 32, time.Minute, nil)
		var remaining []int64
		for range 5 {
			d, err := l.Allow(context.Background(), "c")
			if err != nil || !d.Allowed {
				t.Fatalf("Allow = %+v, %v", d, err)
			}
			synctest.Wait() // let a background lease land
			remaining = append(remaining, d.Remaining)
		}
		for i := 1; i < len(remaining); i++ {
			if remaining[i] != remaining[i-1]-1 {
				t.Fatalf("Remaining went %v, want one less each time", remaining)
			}
		}
		if remaining[0] != 31 {
			t.Fatalf("first Remaining %d, want 31", remaining[0])
		}
	})
}

func TestLimiterStoreFailureIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("redis down")
		l := New(&memLeaser{err: boom}, "hits", 10, time.Minute, nil)
		if _, err := l.Allow(context.Background(), "c"); !errors.Is(err, boom) {
			t.Fatalf("Allow with the store down = %v, want its error", err)
		}
	})
}

func TestNoLimitIsNil(t *testing.T) {
	if l := New(&memLeaser{}, "hits", 0, time.Minute, nil); l != nil || l.Limit() != 0 {
		t.Fatal("limit 0 should give a nil Limiter with Limit 0")
	}
}

// Buckets of past windows are dropped once there are many, so memory follows the clients of
// the current window, not every client ever seen.
func TestLimiterForgetsOldWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(&memLeaser{}, "hits", 10, time.Minute, nil)
		for i := range 2000 {
			_, _ = l.Allow(context.Background(), string(rune('a'+i%26))+string(rune(i)))
		}
		synctest.Wait()
		time.Sleep(time.Minute)
		for i := range 1100 {
			_, _ = l.Allow(context.Background(), "new"+string(rune(i)))
		}
		synctest.Wait()
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.buckets) > 1100 {
			t.Fatalf("%d buckets kept, want only the current window's 1100", len(l.buckets))
		}
	})
}
