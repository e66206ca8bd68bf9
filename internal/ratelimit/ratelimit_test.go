package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
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

// key is a client key for a test: the IPv4 address 10.0.i>>8.i&255 (one client each).
func key(i int) counter.LimitKey {
	return counter.LimitKey{Client: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)}
}

// namer stands in for visitor.Pseudonyms.Limit.
func namer(_ time.Time, limit string, k counter.LimitKey) string { return limit + "|" + k.String() }

func newShared(leaser Leaser, limit int64) *Shared {
	return NewShared(leaser, "hits", limit, time.Minute, namer, nil)
}

func allowN(t *testing.T, l counter.Limiter, k counter.LimitKey, n int) (allowed int, last counter.Allowance) {
	t.Helper()
	for range n {
		d, err := l.Allow(context.Background(), k, 1)
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
		l := newShared(leaser, 100)
		time.Sleep(10 * time.Second)
		allowed, last := allowN(t, l, key(1), 150)
		if allowed != 100 {
			t.Fatalf("%d allowed in one window, want the limit, 100", allowed)
		}
		if last.Allowed || last.Remaining != 0 || last.Limit != 100 || last.Reset != 50*time.Second {
			t.Fatalf("decision after the limit = %+v, want refused, 0 remaining, limit 100, reset 50s", last)
		}
		if other, _ := allowN(t, l, key(2), 10); other != 10 {
			t.Fatalf("another client got %d of 10: clients share a budget", other)
		}
		time.Sleep(50 * time.Second) // the next window
		if allowed, _ := allowN(t, l, key(1), 100); allowed != 100 {
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
		l := newShared(&memLeaser{}, 32)
		var remaining []int64
		for range 5 {
			d, err := l.Allow(context.Background(), key(1), 1)
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
		l := newShared(&memLeaser{err: boom}, 10)
		if _, err := l.Allow(context.Background(), key(1), 1); !errors.Is(err, boom) {
			t.Fatalf("Allow with the store down = %v, want its error", err)
		}
	})
}

func TestNoLimitIsNil(t *testing.T) {
	if l := newShared(&memLeaser{}, 0); l != nil || l.Limit() != 0 {
		t.Fatal("limit 0 should give a nil Shared with Limit 0")
	}
	if l := NewLocal("reads", 0, time.Minute, nil); l != nil {
		t.Fatal("limit 0 should give a nil Local")
	}
	var shared *Shared
	var local *Local
	for _, l := range []counter.Limiter{shared, local} {
		if a, err := l.Allow(context.Background(), key(1), 1); err != nil || !a.Allowed || a.Limit != 0 {
			t.Fatalf("a nil limiter's Allow = %+v, %v; want allowed, no limit", a, err)
		}
	}
}

// The shared count is named by the namer (a pseudonym in the service), the limit's name and
// the window, never by the client's address itself.
func TestSharedNamesItsCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leaser := &memLeaser{}
		l := NewShared(leaser, "creates", 10, time.Minute, func(time.Time, string, counter.LimitKey) string { return "PSEUDONYM" }, nil)
		allowN(t, l, key(1), 1)
		synctest.Wait()
		leaser.mu.Lock()
		defer leaser.mu.Unlock()
		want := fmt.Sprintf("creates:PSEUDONYM:%d", time.Now().UnixNano()/int64(time.Minute))
		if _, ok := leaser.counts[want]; !ok || len(leaser.counts) != 1 {
			t.Fatalf("shared counts %v, want the one key %q", leaser.counts, want)
		}
	})
}

func TestLocalAllowsTheLimitPerWindowWithCosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLocal("reads", 10, time.Minute, nil)
		time.Sleep(15 * time.Second)
		if allowed, last := allowN(t, l, key(1), 12); allowed != 10 || last.Allowed || last.Reset != 45*time.Second {
			t.Fatalf("%d of 12 allowed, last %+v; want 10, refused, reset in 45s", allowed, last)
		}
		if a, _ := l.Allow(context.Background(), key(2), 7); !a.Allowed || a.Remaining != 3 {
			t.Fatalf("a cost of 7 = %+v, want allowed with 3 remaining", a)
		}
		if a, _ := l.Allow(context.Background(), key(2), 4); a.Allowed {
			t.Fatalf("a cost of 4 with 3 remaining = %+v, want refused", a)
		}
		time.Sleep(45 * time.Second)
		if allowed, _ := allowN(t, l, key(1), 10); allowed != 10 {
			t.Fatalf("%d allowed in the next window, want 10", allowed)
		}
	})
}

// Memory is bounded whatever the clients: past windows go first, and a flood of new clients
// within one window never holds more than MaxKeys; a client that stays is still limited.
func TestLimitersKeepAtMostMaxKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shared, local := newShared(&memLeaser{}, 10), NewLocal("reads", 10, time.Minute, nil)
		for i := range 3 * MaxKeys {
			for _, l := range []counter.Limiter{shared, local} {
				if _, err := l.Allow(context.Background(), key(i), 1); err != nil {
					t.Fatal(err)
				}
			}
			synctest.Wait()
		}
		if shared.Len() > MaxKeys || local.Len() > MaxKeys {
			t.Fatalf("keys kept: shared %d, local %d; want at most %d", shared.Len(), local.Len(), MaxKeys)
		}
		// The shared count is in the store: a client forgotten by this replica leases again
		// and is still held to its limit. It may get less than the 9 it has left: the token
		// its bucket had leased ahead (a lease is 1 here) went with the bucket.
		if allowed, _ := allowN(t, shared, key(0), 20); allowed > 9 || allowed < 9-1 {
			t.Fatalf("client 0 got %d more after being forgotten, want the 9 left of its 10, less at most one lease", allowed)
		}
	})
}

// Buckets of past windows are dropped once there are many, so memory follows the clients of
// the current window, not every client ever seen.
func TestLimiterForgetsOldWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newShared(&memLeaser{}, 10)
		for i := range 2000 {
			_, _ = l.Allow(context.Background(), key(i), 1)
		}
		synctest.Wait()
		time.Sleep(time.Minute)
		for i := range 1100 {
			_, _ = l.Allow(context.Background(), key(100000+i), 1)
		}
		synctest.Wait()
		if n := l.Len(); n > 1100 {
			t.Fatalf("%d buckets kept, want only the current window's 1100", n)
		}
	})
}

// A shared count is named as of its window's start: pseudonyms change at midnight, and a window
// that straddles it must keep one count, or a client would get a second limit at midnight.
func TestSharedNamesCountsByTheWindowsStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var named []time.Time
		namer := func(at time.Time, _ string, _ counter.LimitKey) string {
			mu.Lock()
			defer mu.Unlock()
			named = append(named, at)
			return at.UTC().Format(time.DateOnly)
		}
		const window = 7 * time.Minute // 86,400 s is no multiple of it: some windows straddle midnight
		l := NewShared(&memLeaser{}, "hits", 3, window, namer, nil)
		// The bubble starts at midnight 2000-01-01; go to the window that holds the next midnight.
		midnight := time.Now().Add(24 * time.Hour)
		start := time.Unix(0, midnight.UnixNano()/int64(window)*int64(window))
		time.Sleep(time.Until(start) + time.Minute) // before midnight, in that window
		before, _ := allowN(t, l, key(1), 2)
		time.Sleep(time.Until(midnight) + time.Minute) // after midnight, the same window
		after, _ := allowN(t, l, key(1), 5)
		if before+after != 3 {
			t.Fatalf("%d hits before and %d after midnight within one window, want 3 in all", before, after)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, at := range named {
			if !at.Equal(start) {
				t.Fatalf("a count named as of %s, want the window's start %s", at.UTC(), start.UTC())
			}
		}
	})
}
