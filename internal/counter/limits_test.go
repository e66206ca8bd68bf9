package counter

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"
)

// countingLimiter allows limit per key and records the keys it was asked about.
type countingLimiter struct {
	limit int64
	used  map[LimitKey]int64
}

func (l *countingLimiter) Allow(_ context.Context, k LimitKey, cost int64) (Allowance, error) {
	if l.used == nil {
		l.used = map[LimitKey]int64{}
	}
	a := Allowance{Limit: l.limit, Window: time.Minute, Reset: 30 * time.Second}
	if l.used[k]+cost > l.limit {
		return a, nil
	}
	l.used[k] += cost
	a.Allowed, a.Remaining = true, l.limit-l.used[k]
	return a, nil
}

func clientAt(addr string, camo bool) Client {
	a := netip.MustParseAddr(addr)
	p, _ := a.Prefix(32)
	return Client{Addr: a, Prefix: p, Camo: camo}
}

// Hits are limited per client, camo's per client and counter; creates per client only, so a
// camo user agent changes nothing about them; both create limits must allow.
func TestLimitKeys(t *testing.T) {
	ctx := context.Background()
	hits, creates, perDay := &countingLimiter{limit: 2}, &countingLimiter{limit: 10}, &countingLimiter{limit: 3}
	l := &Limits{Hits: hits, Creates: creates, CreatesPerDay: perDay}
	a, b := Name{"site", "aaa"}, Name{"site", "bbb"}

	camo := clientAt("140.82.115.4", true)
	for _, name := range []Name{a, a, b, b} {
		if _, err := l.hit(ctx, camo, name); err != nil {
			t.Fatalf("camo's hit on %s: %v; want each counter its own 2", name, err)
		}
	}
	if _, err := l.hit(ctx, camo, a); ErrorCode(err) != ERATELIMITED {
		t.Fatalf("camo's third hit on %s: %v, want rate limited", a, err)
	}
	plain := clientAt("203.0.113.9", false)
	for _, name := range []Name{a, b} {
		_, _ = l.hit(ctx, plain, name)
	}
	if _, err := l.hit(ctx, plain, a); ErrorCode(err) != ERATELIMITED {
		t.Fatalf("a client's third hit across counters: %v, want rate limited (per client, not per counter)", err)
	}

	for i := range 3 {
		if _, err := l.create(ctx, camo); err != nil {
			t.Fatalf("create %d: %v", i+1, err)
		}
	}
	_, err := l.create(ctx, camo)
	var le *LimitError
	if ErrorCode(err) != ERATELIMITED || !errors.As(err, &le) {
		t.Fatalf("fourth create in a day: %v, want rate limited by the daily limit", err)
	}
	if got := le.Limit; got != "creates_per_day" {
		t.Fatalf("refused by %q, want creates_per_day", got)
	}
	if len(creates.used) != 1 || len(perDay.used) != 1 {
		t.Fatalf("creates counted under %d and %d keys, want one each: per client, camo or not", len(creates.used), len(perDay.used))
	}
}

func TestNoLimitsAllowEverything(t *testing.T) {
	var l *Limits
	if _, err := l.hit(context.Background(), Client{}, Name{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Read(context.Background(), Client{}, Name{}, 100); err != nil {
		t.Fatal(err)
	}
	if err := (&Limits{}).Read(context.Background(), Client{}, Name{}, 100); err != nil {
		t.Fatal(err)
	}
}

func TestStatsCost(t *testing.T) {
	for _, tt := range []struct {
		days int
		want int64
	}{{1, 1}, {30, 1}, {31, 1}, {32, 2}, {400, 13}} {
		if got := StatsCost(tt.days); got != tt.want {
			t.Errorf("StatsCost(%d) = %d, want %d", tt.days, got, tt.want)
		}
	}
}
