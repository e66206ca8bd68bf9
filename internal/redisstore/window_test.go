package redisstore

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/visitor"
)

// The repeat window through the application's ACL user, as the stack runs it: a visitor counts
// once within the window, the batch's answer says how many hits it left out, and a batch of
// thousands of new visitors (more than Lua unpacks at once) counts and marks them all.
func TestRepeatWindowUnderTheACL(t *testing.T) {
	srv := aclServer(t)
	s := newNamed(t, srv).Named(0)
	ctx := context.Background()
	if _, err := s.AddCreating(ctx, testName, anonymous(1), testTime, 0); err != nil {
		t.Fatal(err)
	}
	visits := func(names ...string) []counter.Hit {
		hits := make([]counter.Hit, len(names))
		for i, n := range names {
			hits[i].Visitor = n
		}
		return hits
	}
	tests := []struct {
		hits                 []counter.Hit
		at                   time.Duration // after testTime
		wantTotal, wantToday int64
		wantRepeats          int64
	}{
		{visits("alice", "alice", "bob"), 0, 3, 3, 1},
		{visits("alice"), time.Minute, 3, 3, 1},
		{append(visits("bob"), anonymous(2)...), 2 * time.Minute, 5, 5, 1}, // hits without a visitor always count
		{visits("alice"), 30*time.Minute + time.Second, 6, 6, 0},           // past the window
	}
	for i, tt := range tests {
		got, err := s.Add(ctx, testName, tt.hits, testTime.Add(tt.at), 30*time.Minute)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if got.Total != tt.wantTotal || got.Today != tt.wantToday || got.Repeats != tt.wantRepeats {
			t.Errorf("batch %d: %+v, want total %d, today %d, repeats %d", i, got, tt.wantTotal, tt.wantToday, tt.wantRepeats)
		}
	}

	many := make([]string, 4500)
	for i := range many {
		many[i] = fmt.Sprintf("%05d-visitor-abcdefgh", i) // as distinct in 12 characters as pseudonyms are
	}
	at := testTime.Add(40 * time.Minute)
	if got, err := s.Add(ctx, testName, visits(many...), at, 30*time.Minute); err != nil || got.Total != 6+4500 || got.Repeats != 0 {
		t.Fatalf("4,500 new visitors in one batch: %+v, %v; want total %d", got, err, 6+4500)
	}
	if got, err := s.Add(ctx, testName, visits(many...), at.Add(time.Minute), 30*time.Minute); err != nil || got.Total != 6+4500 || got.Repeats != 4500 {
		t.Fatalf("the same 4,500 again: %+v, %v; want all repeats", got, err)
	}
}

// Hits of counters in zones a day apart share a midnight but not a date: each lands on its own
// zone's date, even when they reach the store in one run.
func TestOneRunTwoZones(t *testing.T) {
	s := newNamed(t, aclServer(t)).Named(0)
	ctx := context.Background()
	plus14, _ := time.LoadLocation("Pacific/Kiritimati")
	minus10, _ := time.LoadLocation("Pacific/Honolulu")
	at := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC) // 21:00 on the 26th in UTC+14, on the 25th in UTC-10
	east, west := testName, otherName
	for _, n := range []counter.Name{east, west} {
		if _, err := s.AddCreating(ctx, n, anonymous(1), at.Add(-96*time.Hour), 0); err != nil { // before the days looked at
			t.Fatal(err)
		}
	}
	results, err := s.addMany(ctx, struct{}{}, []hitItem{
		{name: east, hits: anonymous(5), at: at.In(plus14)},
		{name: west, hits: anonymous(3), at: at.In(minus10)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].err != nil || results[1].err != nil || results[0].counts.Today != 5 || results[1].counts.Today != 3 {
		t.Fatalf("today's counts %+v (%v) and %+v (%v), want 5 and 3", results[0].counts, results[0].err, results[1].counts, results[1].err)
	}
	for _, tt := range []struct {
		name counter.Name
		zone *time.Location
		want map[string]int64
	}{
		{east, plus14, map[string]int64{"2026-11-26": 5}},
		{west, minus10, map[string]int64{"2026-11-25": 3}},
	} {
		st, err := s.Stats(ctx, tt.name, 2, at.In(tt.zone))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, d := range st.Days {
			if d.Hits > 0 {
				got[d.Date.Format(time.DateOnly)] = d.Hits
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s in %s: hits by day %v, want %v", tt.name, tt.zone, got, tt.want)
		}
	}
}

// A counter keeps at most so many marks: past the bound the oldest go (those visitors may count
// again), and the set ends at the UTC midnight, when pseudonyms change.
func TestRepeatMarksAreBounded(t *testing.T) {
	srv := aclServer(t)
	s := newNamed(t, srv).Named(0)
	s.repeatMarks = 10
	ctx := context.Background()
	at := time.Now().UTC()
	if _, err := s.AddCreating(ctx, testName, anonymous(1), at, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		hit := []counter.Hit{{Visitor: fmt.Sprintf("%05d-visitor-abcdefgh", i)}}
		if _, err := s.Add(ctx, testName, hit, at.Add(time.Duration(i)*time.Second), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	rk := repeatsKey(CounterKey(testName))
	if n, err := redistest.Do(srv.Addr(), "ZCARD", rk); err != nil || n != "10" {
		t.Fatalf("ZCARD %s = %s, %v; want the bound, 10", rk, n, err)
	}
	raw, err := redistest.Do(srv.Addr(), "TTL", rk)
	ttl, _ := strconv.Atoi(raw)
	untilMidnight := at.Truncate(24 * time.Hour).Add(24 * time.Hour).Sub(at)
	if err != nil || ttl <= 0 || time.Duration(ttl)*time.Second > untilMidnight+time.Second {
		t.Fatalf("TTL %s = %d s, %v; want at most the %s to the UTC midnight", rk, ttl, err, untilMidnight)
	}
	// The newest are kept: the last visitor is still a repeat, the first counts again.
	for _, tt := range []struct {
		visitor     int
		wantRepeats int64
	}{{24, 1}, {0, 0}} {
		hit := []counter.Hit{{Visitor: fmt.Sprintf("%05d-visitor-abcdefgh", tt.visitor)}}
		got, err := s.Add(ctx, testName, hit, at.Add(time.Minute), time.Hour)
		if err != nil || got.Repeats != tt.wantRepeats {
			t.Errorf("visitor %d again: %+v, %v; want %d repeats", tt.visitor, got, err, tt.wantRepeats)
		}
	}
}

// A counter deleted through another replica, hit here where it is known, with a window: the
// visitor's sketch the run made on the way is taken back with the rest, nothing of it stays.
func TestWindowedHitOnADeletedCounterLeavesNothing(t *testing.T) {
	srv := aclServer(t)
	here, there := newNamed(t, srv).Named(0), newNamed(t, srv).Named(0)
	ctx := context.Background()
	at := time.Now().UTC()
	if _, err := here.AddCreating(ctx, testName, anonymous(1), at, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := here.Add(ctx, testName, []counter.Hit{{Visitor: "00001-visitor-abcdefgh"}}, at, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := there.Delete(ctx, testName, counter.Auth{Operator: true}); err != nil {
		t.Fatal(err)
	}
	_, err := here.Add(ctx, testName, []counter.Hit{{Visitor: "00002-visitor-abcdefgh"}}, at, time.Hour)
	wantCode(t, "a windowed hit on a deleted counter", err, counter.ENOTFOUND)
	if n, err := redistest.Do(srv.Addr(), "EVAL", "return #redis.call('KEYS', ARGV[1])", "0", CounterKey(testName)+"*"); err != nil || n != "0" {
		t.Fatalf("%s keys left of the deleted counter, %v; want none", n, err)
	}
}

// Under a large bound the set's bound and end are kept on a sample of the runs (those adding a
// mark that starts with 'A'), so real pseudonyms are needed: with 6,000 new visitors against a
// bound of 4,096 the set was trimmed and given its end. What it may hold past the bound is the
// marks added since the last sampled one: more than 1,000 has a chance of (63/64)^1000, 1.4e-7.
func TestSampledRepeatMarksStayNearTheBound(t *testing.T) {
	srv := aclServer(t)
	s := newNamed(t, srv).Named(0)
	s.repeatMarks = 4096
	ctx := context.Background()
	at := time.Now().UTC()
	if _, err := s.AddCreating(ctx, testName, anonymous(1), at, 0); err != nil {
		t.Fatal(err)
	}
	pseudonyms := visitor.NewRandom()
	const visitors, perRun = 6000, 10
	for run := range visitors / perRun {
		hits := make([]counter.Hit, perRun)
		for i := range hits {
			addr := netip.AddrFrom4([4]byte{10, byte(run >> 8), byte(run), byte(i)})
			hits[i].Visitor = pseudonyms.Visitor(at, counter.Client{Addr: addr, Prefix: netip.PrefixFrom(addr, 32)})
		}
		got, err := s.Add(ctx, testName, hits, at, time.Hour)
		if err != nil || got.Repeats != 0 {
			t.Fatalf("run %d: %+v, %v; want every visitor counted", run, got, err)
		}
	}
	rk := repeatsKey(CounterKey(testName))
	raw, err := redistest.Do(srv.Addr(), "ZCARD", rk)
	marks, _ := strconv.Atoi(raw)
	if err != nil || marks < s.repeatMarks || marks > s.repeatMarks+1000 {
		t.Fatalf("ZCARD %s = %s, %v; want from the bound, %d, to 1,000 more", rk, raw, err, s.repeatMarks)
	}
	raw, err = redistest.Do(srv.Addr(), "TTL", rk)
	ttl, _ := strconv.Atoi(raw)
	untilMidnight := at.Truncate(24 * time.Hour).Add(24 * time.Hour).Sub(at)
	if err != nil || ttl <= 0 || time.Duration(ttl)*time.Second > untilMidnight+time.Second {
		t.Fatalf("TTL %s = %d s, %v; want at most the %s to the UTC midnight", rk, ttl, err, untilMidnight)
	}
}
