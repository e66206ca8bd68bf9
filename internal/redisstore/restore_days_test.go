package redisstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

func day(s string, hits int64) counter.DayCount {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return counter.DayCount{Date: d, Hits: hits}
}

// An import's history against a real server: the days are set exactly (twice is once), the
// hits count as hits without a visitor, the month hashes expire as the hit script's do, a day
// older than the history is skipped, and a counter that is missing gets nothing.
func TestRestoreDays(t *testing.T) {
	srv := aclServer(t)
	s := newNamed(t, srv).Named(40)
	ctx := context.Background()
	at := testTime // 2026-11-26
	name := counter.Name{Namespace: "moved", Key: "page"}
	if err := s.Reserve(ctx, name, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, counter.Info{Name: name, Value: 100, Created: at.AddDate(-1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	days := []counter.DayCount{
		day("2026-09-01", 99), // older than 40 days: skipped
		day("2026-10-30", 7),  // the oldest kept day of a history of 40
		day("2026-10-31", 0),  // nothing to write
		day("2026-11-01", 12), // another month
		day("2026-11-26", 3),  // today
	}
	for _, tt := range []struct {
		name string
		want counter.DaysResult
	}{
		{"first", counter.DaysResult{Set: 3, Unchanged: 1, Skipped: 1}},
		{"again", counter.DaysResult{Set: 0, Unchanged: 4, Skipped: 1}},
	} {
		got, err := s.RestoreDays(ctx, name, days, at)
		if err != nil || got != tt.want {
			t.Fatalf("%s import: RestoreDays = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	st, err := s.Stats(ctx, name, 40, at)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	for _, d := range st.Days {
		if d.Hits != 0 || d.Unidentified != 0 {
			got[d.Date.Format(time.DateOnly)] = [2]int64{d.Hits, d.Unidentified}
		}
	}
	want := map[string][2]int64{"2026-10-30": {7, 7}, "2026-11-01": {12, 12}, "2026-11-26": {3, 3}}
	if len(got) != len(want) {
		t.Fatalf("days with hits = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("day %s: hits, without a visitor = %v, want %v", k, got[k], v)
		}
	}
	if st.Value != 100 {
		t.Errorf("total = %d, want 100 (the days do not change it)", st.Value)
	}

	// Each month's hash expires when its last day leaves the history, as the hit script sets it.
	for _, m := range []string{"2026-10-01", "2026-11-01"} {
		first, _ := time.Parse(time.DateOnly, m)
		key := monthKey(CounterKey(name), first)
		ttl, _ := strconv.ParseInt(srv.MustDo("TTL", key), 10, 64)
		want := int64(first.AddDate(0, 1, 40).Sub(at)/time.Second) + 1
		if ttl <= want-5 || ttl > want {
			t.Errorf("TTL of %s = %ds, want %ds", key, ttl, want)
		}
	}
	if srv.MustDo("EXISTS", monthKey(CounterKey(name), day("2026-09-01", 0).Date)) != "0" {
		t.Error("the skipped day's month was written")
	}

	// A day changed in the file is set again; the others stay.
	days[4].Hits = 5
	if got, err := s.RestoreDays(ctx, name, days, at); err != nil || got.Set != 1 || got.Unchanged != 3 {
		t.Fatalf("import of one changed day = %+v, %v; want 1 set, 3 unchanged", got, err)
	}

	missing := counter.Name{Namespace: "moved", Key: "gone"}
	if _, err := s.RestoreDays(ctx, missing, days, at); counter.ErrorCode(err) != counter.ENOTFOUND {
		t.Fatalf("days of a missing counter: %v, want not found", err)
	}
	if n := srv.MustDo("EXISTS", monthKey(CounterKey(missing), at)); n != "0" {
		t.Fatal("a missing counter's days were written")
	}
	if _, err := s.RestoreDays(ctx, name, []counter.DayCount{day("2026-11-27", 1)}, at); counter.ErrorCode(err) != counter.EINVALID {
		t.Fatalf("a day no clock has reached at 07:00 UTC: %v, want invalid", err)
	}

	// A counter in UTC+14, where at is already the 26th's evening and the 27th begins first:
	// its days are its dates, in the months of its zone.
	east := at.In(time.FixedZone("UTC+14", 14*3600))
	zoned := counter.Name{Namespace: "moved", Key: "zoned"}
	if err := s.Reserve(ctx, zoned, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, counter.Info{Name: zoned, Value: 10, Created: at}); err != nil {
		t.Fatal(err)
	}
	late := east.Add(4 * time.Hour) // 2026-11-27 01:00 there, 11:00 UTC
	if got, err := s.RestoreDays(ctx, zoned, []counter.DayCount{day("2026-11-01", 2), day("2026-11-27", 6)}, late); err != nil || got.Set != 2 {
		t.Fatalf("days of a counter in UTC+14 = %+v, %v; want 2 set", got, err)
	}
	zst, err := s.Stats(ctx, zoned, 27, late)
	if err != nil || len(zst.Days) != 27 {
		t.Fatal(zst, err)
	}
	first, last := zst.Days[0], zst.Days[26]
	if first.Date.Format(time.DateOnly) != "2026-11-01" || first.Hits != 2 || last.Date.Format(time.DateOnly) != "2026-11-27" || last.Hits != 6 {
		t.Fatalf("the zoned counter's days: first %v %d, last %v %d; want 2026-11-01 2, 2026-11-27 6", first.Date, first.Hits, last.Date, last.Hits)
	}
}

// The service's Import: counters and their days together, a record that keeps what exists
// leaving the counter's admin key and created time alone, and a re-run that changes nothing.
func TestImportKeepsAdminKey(t *testing.T) {
	srv := aclServer(t)
	s := newNamed(t, srv).Named(0)
	ctx := context.Background()
	at := testTime
	c := newCounters(s, 0, func() time.Time { return at })
	owned := counter.Name{Namespace: "moved", Key: "owned"}
	key, _, err := c.Create(ctx, owned, 1, counter.Client{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Get(ctx, owned)
	if err != nil {
		t.Fatal(err)
	}
	records := []counter.Record{
		{Info: counter.Info{Name: owned, Value: 500}, Keep: true, Days: []counter.DayCount{day("2026-11-20", 4)}},
		{Info: counter.Info{Name: counter.Name{Namespace: "moved", Key: "fresh"}, Value: 9}, Keep: true},
	}
	for _, tt := range []struct {
		name string
		want counter.ImportResult
	}{
		{"first", counter.ImportResult{Created: 1, Updated: 1, Days: 1}},
		{"again", counter.ImportResult{Unchanged: 2, DaysUnchanged: 1}},
	} {
		got, err := c.Import(ctx, records)
		if err != nil || got != tt.want {
			t.Fatalf("%s import = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	after, err := s.Get(ctx, owned)
	if err != nil || after.Value != 500 || after.AdminKeyHash != counter.HashAdminKey(key) || !after.Created.Equal(before.Created) {
		t.Fatalf("the owned counter after the import: %+v, %v; want 500 with its admin key and created time", after, err)
	}
	fresh, err := s.Get(ctx, records[1].Name)
	if err != nil || fresh.Value != 9 || !fresh.Created.Equal(at) || fresh.AdminKeyHash != "" {
		t.Fatalf("the new counter: %+v, %v; want 9, created at the import, no admin key", fresh, err)
	}
	bad := []counter.Record{{Info: counter.Info{Name: owned, Value: 1}, Keep: true, Days: []counter.DayCount{day("2026-11-27", 1)}}}
	if _, err := c.Import(ctx, bad); counter.ErrorCode(err) != counter.EINVALID {
		t.Fatalf("a day in the future: %v, want invalid", err)
	}
	if v, _ := s.Get(ctx, owned); v.Value != 500 {
		t.Fatalf("a refused import changed the counter to %d", v.Value)
	}
}
