package redisstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// The count follows creations and deletions, WatchCounters reports it as it changes, and a
// Redis that is away is an unavailable error, not a zero.
func TestCountCountersFollowsTheIndex(t *testing.T) {
	srv := redistest.Start(t)
	store := newStore(t, Options{Addr: srv.Addr()})
	s := store.Named(0)
	ctx := context.Background()

	wantCount := func(what string, want int64) {
		t.Helper()
		got, err := store.CountCounters(ctx)
		if err != nil || got != want {
			t.Fatalf("%s: CountCounters = %d, %v; want %d", what, got, err, want)
		}
	}
	wantCount("no counters", 0)

	watch, stop := context.WithCancel(ctx)
	defer stop()
	reported := make(chan int64, 100)
	go store.WatchCounters(watch, 10*time.Millisecond, func(n int64) {
		select {
		case reported <- n:
		default: // the test reads only the latest ones
		}
	})

	for i := range 3 {
		name := counter.Name{Namespace: "example.com", Key: fmt.Sprintf("page-%d", i)}
		if err := s.Reserve(ctx, name, 100); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, counter.Info{Name: name, Created: testTime}); err != nil {
			t.Fatal(err)
		}
	}
	wantCount("three created", 3)
	if err := s.Delete(ctx, counter.Name{Namespace: "example.com", Key: "page-1"}, counter.Auth{Operator: true}); err != nil {
		t.Fatal(err)
	}
	wantCount("one of three deleted", 2)
	waitfor.Until(t, 5*time.Second, func() error {
		for {
			select {
			case n := <-reported:
				if n == 2 {
					return nil
				}
			default:
				return fmt.Errorf("WatchCounters has not reported 2 yet")
			}
		}
	})

	srv.Kill()
	_, err := store.CountCounters(ctx)
	wantCode(t, "CountCounters with Redis gone", err, counter.EUNAVAILABLE)
}
