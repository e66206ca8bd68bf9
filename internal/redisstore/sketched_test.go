package redisstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// A visitor's later hits on a counter send no PFADD, and the day's unique visitors stay right:
// what the store remembers only saves work. Deleting the counter makes it forget, so the
// visitors of a counter made again are counted again.
func TestRepeatVisitorsSendNoPFADD(t *testing.T) {
	srv := aclServer(t)
	s := newNamed(t, srv).Named(0)
	ctx := context.Background()
	// Today: Delete takes the sketches of the days around the real one.
	now := time.Now()
	c := newCounters(s, 0, func() time.Time { return now })
	alice, bob := visitorAt("192.0.2.1"), visitorAt("192.0.2.2")
	hit := func(client counter.Client) counter.Counts {
		t.Helper()
		r, err := c.HitWithUniques(ctx, testName, client)
		if err != nil {
			t.Fatal(err)
		}
		return r.Counts
	}

	for range 5 {
		hit(alice)
	}
	if got := commandCalls(t, srv, "pfadd"); got != 1 {
		t.Fatalf("5 hits of one visitor ran PFADD %d times, want 1", got)
	}
	if got := hit(bob); got != (counter.Counts{Total: 6, Today: 6, TodayUniques: 2}) {
		t.Fatalf("a second visitor's hit = %+v, want total 6, today 6, 2 uniques", got)
	}
	if got := hit(alice); got != (counter.Counts{Total: 7, Today: 7, TodayUniques: 2}) {
		t.Fatalf("the first visitor again = %+v, want total 7, today 7, still 2 uniques", got)
	}
	if got := commandCalls(t, srv, "pfadd"); got != 2 {
		t.Fatalf("7 hits of 2 visitors ran PFADD %d times, want 2", got)
	}

	if err := s.Delete(ctx, testName, counter.Auth{Operator: true}); err != nil {
		t.Fatal(err)
	}
	if got := hit(alice); got != (counter.Counts{Total: 1, Today: 1, TodayUniques: 1}) {
		t.Fatalf("the counter made again by a visitor seen before = %+v, want total 1, today 1, 1 unique", got)
	}
	if got := hit(bob); got != (counter.Counts{Total: 2, Today: 2, TodayUniques: 2}) {
		t.Fatalf("the other visitor seen before = %+v, want total 2, today 2, 2 uniques", got)
	}
}

// The memory is bounded whatever clients send, and forgets with time.
func TestSketchedIsBounded(t *testing.T) {
	k := newSketched()
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	ids := make([]uint64, 0, sketchedMax+100)
	for i := range sketchedMax + 100 {
		ids = append(ids, k.id("sketch", strconv.Itoa(i)))
	}
	_, gen := k.unknown(nil, start)
	k.remember(ids[:sketchedMax-10], gen)
	if got := len(k.seen); got != sketchedMax-10 {
		t.Fatalf("%d remembered, want %d", got, sketchedMax-10)
	}
	k.remember(ids[sketchedMax-10:], gen) // past the bound: starts again
	if got := len(k.seen); got > sketchedMax {
		t.Fatalf("%d remembered, want at most %d", got, sketchedMax)
	}
	k.remember(ids, gen) // more than the bound at once
	if got := len(k.seen); got > sketchedMax {
		t.Fatalf("%d remembered, want at most %d", got, sketchedMax)
	}

	last := ids[len(ids)-1:]
	k.forget()
	_, gen = k.unknown(nil, start)
	k.remember(last, gen)
	if got, _ := k.unknown(last, start.Add(sketchedFor-time.Second)); got[0] {
		t.Fatal("forgotten before sketchedFor")
	}
	if got, _ := k.unknown(last, start.Add(sketchedFor)); !got[0] {
		t.Fatal("still remembered after sketchedFor")
	}

	// What a run learnt before an emptying is not remembered after it.
	_, before := k.unknown(nil, start)
	k.forget()
	k.remember(last, before)
	if got, _ := k.unknown(last, time.Now()); !got[0] {
		t.Fatal("remembered what a run learnt before the memory was emptied")
	}
	if k.id("sketch", "a") == newSketched().id("sketch", "a") {
		t.Fatal("two memories give a visitor the same id: the seed is not random")
	}
}

// A hit on a counter that does not exist writes nothing, not even what it would take back: a
// client inventing names costs Redis reads, never its log. A counter this process remembers is
// not checked first; deleted through another replica, it is still found missing, and left so.
func TestHitsOnMissingCountersWriteNothing(t *testing.T) {
	srv := aclServer(t)
	store := newNamed(t, srv)
	s, other := store.Named(0), store.Named(0) // other: another replica's store
	ctx := context.Background()
	now := time.Now()
	alice := []counter.Hit{{Visitor: "alice"}}

	for range 3 {
		_, err := s.Add(ctx, testName, alice, now, 0)
		wantCode(t, "a hit on a missing counter", err, counter.ENOTFOUND)
	}
	for _, cmd := range []string{"hincrby", "del", "hset", "pfadd"} {
		if n := commandCalls(t, srv, cmd); n != 0 {
			t.Fatalf("hits on a missing counter ran %s %d times, want none", cmd, n)
		}
	}

	if err := s.Reserve(ctx, testName, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddCreating(ctx, testName, alice, now, 0); err != nil {
		t.Fatal(err)
	}
	before := commandCalls(t, srv, "exists")
	if got, err := s.Add(ctx, testName, alice, now, 0); err != nil || got.Total != 2 {
		t.Fatalf("a hit on the counter = %+v, %v; want total 2", got, err)
	}
	if n := commandCalls(t, srv, "exists") - before; n != 0 {
		t.Fatalf("a hit on a counter the process made ran EXISTS %d times, want none", n)
	}

	if err := other.Delete(ctx, testName, counter.Auth{Operator: true}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Add(ctx, testName, alice, now, 0)
	wantCode(t, "a hit on a counter deleted through another replica", err, counter.ENOTFOUND)
	if n := srv.Int("EXISTS", CounterKey(testName)); n != 0 {
		t.Fatal("a hit on a counter deleted through another replica made it again")
	}
}
