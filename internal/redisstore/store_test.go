package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redistest"
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

// eventually retries f until it succeeds or the bounded wait is over.
func eventually(t *testing.T, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestVisitCountsInRedis(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	for want := int64(1); want <= 3; want++ {
		got, err := s.Visit(context.Background())
		if err != nil {
			t.Fatalf("Visit() error = %v", err)
		}
		if got != want {
			t.Fatalf("Visit() = %d, want %d", got, want)
		}
	}
	if got, want := srv.Int("GET", Key), int64(3); got != want {
		t.Fatalf("GET %s = %d, want %d", Key, got, want)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping() error = %v", err)
	}
}

func TestVisitIsExactUnderConcurrency(t *testing.T) {
	for _, tt := range []struct {
		name    string
		counter func(*Store) counter.Counter
	}{
		{"one INCR per visit", func(s *Store) counter.Counter { return s }},
		{"coalesced INCRBY", func(s *Store) counter.Counter { return counter.NewCoalescer(s, 2, 5*time.Second) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
			testExact(t, srv, tt.counter(newStore(t, Options{Addr: srv.Addr(), Timeout: 5 * time.Second})))
		})
	}
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

// checkUnavailableFast calls Visit and wants a 503-class error within the timeout plus slack.
func checkUnavailableFast(t *testing.T, s *Store) {
	t.Helper()
	start := time.Now()
	_, err := s.Visit(context.Background())
	elapsed := time.Since(start)
	if got := counter.ErrorCode(err); got != counter.EUNAVAILABLE {
		t.Fatalf("Visit() error = %v (code %q), want code %q", err, got, counter.EUNAVAILABLE)
	}
	if limit := testTimeout + 100*time.Millisecond; elapsed > limit {
		t.Fatalf("Visit() took %s to fail, want at most %s", elapsed, limit)
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
	eventually(t, 2*time.Second, func() error {
		_, err := s.Visit(context.Background())
		return err
	})
}

func TestRedisKilledMidRunRecovers(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	if _, err := s.Visit(context.Background()); err != nil {
		t.Fatalf("Visit() error = %v", err)
	}
	srv.Kill()
	for range 5 {
		checkUnavailableFast(t, s)
	}
	srv.Restart()
	eventually(t, 2*time.Second, func() error {
		_, err := s.Visit(context.Background())
		return err
	})
}

func TestFrozenRedisTimesOut(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	if _, err := s.Visit(context.Background()); err != nil {
		t.Fatalf("Visit() error = %v", err)
	}
	srv.Freeze()
	checkUnavailableFast(t, s)
	srv.Thaw()
	eventually(t, 2*time.Second, func() error {
		_, err := s.Visit(context.Background())
		return err
	})
}

func TestWrongPasswordIsUnavailableAndNotShown(t *testing.T) {
	srv := redistest.Start(t)
	srv.MustDo("ACL", "SETUSER", "app", "on", ">right-password", "~hitcounter:*", "+incr", "+ping", "+hello")
	const wrong = "wrong-password-123"
	s := newStore(t, Options{Addr: srv.Addr(), Username: "app", Password: wrong})
	_, err := s.Visit(context.Background())
	if got := counter.ErrorCode(err); got != counter.EUNAVAILABLE {
		t.Fatalf("Visit() error = %v, want code %q", err, counter.EUNAVAILABLE)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Fatalf("error shows the password: %v", err)
	}

	good := newStore(t, Options{Addr: srv.Addr(), Username: "app", Password: "right-password"})
	if _, err := good.Visit(context.Background()); err != nil {
		t.Fatalf("Visit() with the right password: %v", err)
	}
}

func TestNonNumericValueIsInternal(t *testing.T) {
	srv := redistest.Start(t)
	srv.MustDo("SET", Key, "not a number")
	s := newStore(t, Options{Addr: srv.Addr()})
	_, err := s.Visit(context.Background())
	if got := counter.ErrorCode(err); got != counter.EINTERNAL {
		t.Fatalf("Visit() error = %v, want code %q", err, counter.EINTERNAL)
	}
}

func TestSelectsDatabase(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr(), DB: 2})
	if _, err := s.Visit(context.Background()); err != nil {
		t.Fatalf("Visit() error = %v", err)
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

// BenchmarkVisit compares one INCR per visit (auto-pipelined by rueidis) with coalesced
// INCRBY, side by side on one real redis-server with appendfsync always:
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
		{"incr", store},
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
