package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

const testTimeout = 250 * time.Millisecond

func newStore(t *testing.T, o Options) *Store {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = testTimeout
	}
	s := New(o)
	t.Cleanup(s.Close)
	return s
}

// visit is one visit without the coalescer: one INCR.
func visit(s *Store) error {
	_, err := s.Add(context.Background(), 1)
	return err
}

func TestAddCountsInRedis(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	for want := int64(1); want <= 3; want++ {
		got, err := s.Add(context.Background(), 1)
		if err != nil {
			t.Fatalf("Add() error = %v", err)
		}
		if got != want {
			t.Fatalf("Add() = %d, want %d", got, want)
		}
	}
	if got, want := srv.Int("GET", Key), int64(3); got != want {
		t.Fatalf("GET %s = %d, want %d", Key, got, want)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping() error = %v", err)
	}
}

// The coalescer over the real store, on a Redis that fsyncs every write, as shipped.
func TestVisitIsExactUnderConcurrency(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	store := newStore(t, Options{Addr: srv.Addr(), Timeout: 5 * time.Second})
	testExact(t, srv, counter.NewCoalescer(store, 2, 5*time.Second))
}

func testExact(t *testing.T, srv *redistest.Server, s counter.Counter) {
	const workers, each = 32, 200
	counts := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				n, err := s.Visit(context.Background())
				if err != nil {
					t.Errorf("Visit() error = %v", err)
					return
				}
				counts <- n
			}
		})
	}
	wg.Wait()
	close(counts)
	seen := make(map[int64]bool, workers*each)
	for n := range counts {
		if seen[n] {
			t.Fatalf("count %d handed out twice", n)
		}
		seen[n] = true
	}
	if got, want := len(seen), workers*each; got != want {
		t.Fatalf("got %d distinct counts, want %d", got, want)
	}
	if got, want := srv.Int("GET", Key), int64(workers*each); got != want {
		t.Fatalf("GET %s = %d, want %d", Key, got, want)
	}
}

// checkUnavailableFast wants several calls to fail as unavailable, and their median within the
// timeout plus 150 ms. The median, not each call: on a busy 2-core machine one call can be
// descheduled for longer than the whole budget, which says nothing about the store, while a
// store that waited for a dead or frozen Redis would put every call, and so the median, far
// over it (TCP's own give-up takes minutes). The slack covers scheduling and process start-up
// noise on such a machine; the timeout itself is 250 ms.
func checkUnavailableFast(t *testing.T, s *Store) {
	t.Helper()
	const calls = 7
	var took []time.Duration
	for range calls {
		start := time.Now()
		err := visit(s)
		took = append(took, time.Since(start))
		if got := counter.ErrorCode(err); got != counter.EUNAVAILABLE {
			t.Fatalf("Add() error = %v (code %q), want code %q", err, got, counter.EUNAVAILABLE)
		}
	}
	slices.Sort(took)
	if median, limit := took[calls/2], testTimeout+150*time.Millisecond; median > limit {
		t.Fatalf("Add() took %v to fail (sorted), median %s; want a median of at most %s", took, median, limit)
	}
}

func TestRedisDownAtStartThenUp(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill()
	s := newStore(t, Options{Addr: srv.Addr()})
	checkUnavailableFast(t, s)
	if err := s.Ping(context.Background()); counter.ErrorCode(err) != counter.EUNAVAILABLE {
		t.Fatalf("Ping() error = %v, want unavailable", err)
	}

	srv.Restart()
	waitfor.Until(t, 2*time.Second, func() error { return visit(s) })
}

func TestRedisKilledMidRunRecovers(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	if err := visit(s); err != nil {
		t.Fatalf("Add() error = %v", err)
	}
	srv.Kill()
	checkUnavailableFast(t, s)
	srv.Restart()
	waitfor.Until(t, 2*time.Second, func() error { return visit(s) })
}

func TestFrozenRedisTimesOut(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	if err := visit(s); err != nil {
		t.Fatalf("Add() error = %v", err)
	}
	srv.Freeze()
	checkUnavailableFast(t, s)
	srv.Thaw()
	waitfor.Until(t, 2*time.Second, func() error { return visit(s) })
}

func TestWrongPasswordIsUnavailableAndNotShown(t *testing.T) {
	srv := redistest.Start(t)
	srv.MustDo("ACL", "SETUSER", "app", "on", ">right-password", "~hitcounter:*", "+incrby", "+evalsha", "+eval", "+ping", "+hello")
	const wrong = "wrong-password-123"
	s := newStore(t, Options{Addr: srv.Addr(), Username: "app", Password: wrong})
	err := visit(s)
	if got := counter.ErrorCode(err); got != counter.EUNAVAILABLE {
		t.Fatalf("Add() error = %v, want code %q", err, counter.EUNAVAILABLE)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Fatalf("error shows the password: %v", err)
	}

	good := newStore(t, Options{Addr: srv.Addr(), Username: "app", Password: "right-password"})
	if err := visit(good); err != nil {
		t.Fatalf("Add() with the right password: %v", err)
	}
}

func TestNonNumericValueIsInternal(t *testing.T) {
	srv := redistest.Start(t)
	srv.MustDo("SET", Key, "not a number")
	s := newStore(t, Options{Addr: srv.Addr()})
	err := visit(s)
	if got := counter.ErrorCode(err); got != counter.EINTERNAL {
		t.Fatalf("Add() error = %v, want code %q", err, counter.EINTERNAL)
	}
}

func TestSelectsDatabase(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr(), DB: 2})
	if err := visit(s); err != nil {
		t.Fatalf("Add() error = %v", err)
	}
	if got := srv.Int("GET", Key); got != 0 {
		t.Fatalf("db 0 holds %d, want the count in db 2 only", got)
	}
}

func TestAddIncrementsByN(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	for _, tt := range []struct{ n, want int64 }{{1, 1}, {41, 42}, {1, 43}} {
		got, err := s.Add(context.Background(), tt.n)
		if err != nil || got != tt.want {
			t.Fatalf("Add(%d) = %d, %v; want %d", tt.n, got, err, tt.want)
		}
	}
}

// A caller that gives up (an HTTP client hanging up) is not a storage failure.
func TestCancelledCallIsNotUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	if err := visit(s); err != nil {
		t.Fatalf("Add() error = %v", err)
	}
	srv.Freeze() // the call is in flight when its caller goes
	defer srv.Thaw()
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := s.Add(ctx, 1)
		errs <- err
	}()
	cancel()
	if err := <-errs; counter.ErrorCode(err) != counter.ECANCELED {
		t.Fatalf("Add() after cancel = %v, want code %q", err, counter.ECANCELED)
	}
}

// perVisit is one INCR per visit, without the coalescer: only the benchmark's comparison.
type perVisit struct{ s *Store }

func (p perVisit) Visit(ctx context.Context) (int64, error) { return p.s.Add(ctx, 1) }

// BenchmarkVisit compares one INCR per visit (auto-pipelined by rueidis) with the shipped
// coalescer at 1, 2 and 4 writes in flight, side by side on one real redis-server with
// appendfsync always:
//
//	go test -run '^$' -bench Visit -cpu 2 ./internal/redisstore
func BenchmarkVisit(b *testing.B) {
	srv := redistest.Start(b, "--appendonly", "yes", "--appendfsync", "always")
	store := New(Options{Addr: srv.Addr(), Timeout: 5 * time.Second})
	defer store.Close()
	for _, bc := range []struct {
		name    string
		counter counter.Counter
	}{
		{"incr", perVisit{store}},
		{"coalesce-1", counter.NewCoalescer(store, 1, 5*time.Second)},
		{"coalesce-2", counter.NewCoalescer(store, 2, 5*time.Second)},
		{"coalesce-4", counter.NewCoalescer(store, 4, 5*time.Second)},
	} {
		for _, parallelism := range []int{32, 128} { // goroutines per GOMAXPROCS
			b.Run(fmt.Sprintf("%s/p%d", bc.name, parallelism), func(b *testing.B) {
				b.SetParallelism(parallelism)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := bc.counter.Visit(context.Background()); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// The salts earlier versions kept in Redis go once, by the first replica to ask, and Redis
// rewrites its append-only file, so that the file holds them no more.
func TestPurgeLegacySalts(t *testing.T) {
	srv := aclServer(t, "--appendonly", "yes", "--appendfsync", "always")
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	old := legacySaltPrefix + "2026-12-02"
	srv.MustDo("SET", old, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	a, b := newNamed(t, srv), newNamed(t, srv)
	first, err := a.PurgeLegacySalts(context.Background(), now)
	if err != nil || !first {
		t.Fatalf("the first purge = %v, %v; want done", first, err)
	}
	if again, err := b.PurgeLegacySalts(context.Background(), now); err != nil || again {
		t.Fatalf("a second replica's purge = %v, %v; want nothing to do", again, err)
	}
	if n := srv.Int("EXISTS", old); n != 0 {
		t.Fatal("the old salt is still there")
	}
	waitfor.Until(t, 10*time.Second, func() error {
		if !strings.Contains(srv.MustDo("INFO", "persistence"), "aof_rewrite_in_progress:0") ||
			!strings.Contains(srv.Log(), "Background AOF rewrite finished successfully") {
			return fmt.Errorf("the append-only file is not rewritten yet")
		}
		return nil
	})
}
