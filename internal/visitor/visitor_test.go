package visitor

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func client(addr string, agent uint8) counter.Client {
	a := netip.MustParseAddr(addr)
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return counter.Client{Addr: a, Prefix: p, Agent: agent}
}

func TestVisitorPseudonyms(t *testing.T) {
	p, err := New(secret)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	a := p.Visitor(day, client("198.51.100.7", 3))
	if a != p.Visitor(day.Add(-time.Hour), client("198.51.100.7", 3)) {
		t.Error("the same client on the same day got two pseudonyms")
	}
	others := map[string]string{
		"another address":      p.Visitor(day, client("198.51.100.8", 3)),
		"another agent bucket": p.Visitor(day, client("198.51.100.7", 4)),
		"the next day":         p.Visitor(day.Add(2*time.Hour), client("198.51.100.7", 3)),
		"a limit's name":       p.Limit(day, "hits", counter.LimitKey{Client: client("198.51.100.7", 3).Prefix}),
	}
	for what, o := range others {
		if o == a {
			t.Errorf("%s gave the same pseudonym", what)
		}
	}
	if strings.Contains(a, "198") || len(a) != 22 {
		t.Errorf("pseudonym %q: want 22 characters of base64url with no trace of the address", a)
	}
	// Another secret (another deployment, or a copy of Redis without the secret) names the
	// same client differently.
	q, _ := New(bytes.Repeat([]byte{'x'}, 32))
	if q.Visitor(day, client("198.51.100.7", 3)) == a {
		t.Error("two secrets gave the same pseudonym")
	}
	// A whole IPv6 /64 is one visitor (per agent bucket).
	if p.Visitor(day, client("2001:db8:1:2::1", 0)) != p.Visitor(day, client("2001:db8:1:2:ffff::9", 0)) {
		t.Error("two addresses of one /64 are two visitors")
	}
}

func TestLimitNamesDifferByLimitAndCounter(t *testing.T) {
	p, _ := New(secret)
	day := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	k := counter.LimitKey{Client: client("198.51.100.7", 0).Prefix}
	withCounter := k
	withCounter.Counter = counter.Name{Namespace: "site", Key: "home"}
	names := map[string]bool{
		p.Limit(day, "hits", k): true, p.Limit(day, "creates", k): true, p.Limit(day, "hits", withCounter): true,
	}
	if len(names) != 3 {
		t.Fatalf("limit names %v: want three different ones", names)
	}
}

// The day's key changes at midnight UTC and is derived from the secret alone, so that every
// replica has the same one without asking anyone.
func TestDayKeys(t *testing.T) {
	p, _ := New(secret)
	q, _ := New(secret)
	d := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	if !bytes.Equal(p.DayKey(d), q.DayKey(d.Add(23*time.Hour))) {
		t.Error("two replicas, or two times of one day, got different keys")
	}
	if bytes.Equal(p.DayKey(d), p.DayKey(d.Add(24*time.Hour))) {
		t.Error("the next day has the same key")
	}
	if bytes.Contains(p.DayKey(d), secret) || len(p.DayKey(d)) != 32 {
		t.Error("the day key is not a 32-byte derivation of the secret")
	}
	// Asking for yesterday (a batch straddling midnight) does not make today's key yesterday's.
	today := p.Visitor(d.Add(24*time.Hour+time.Hour), client("198.51.100.7", 0))
	_ = p.Visitor(d.Add(time.Hour), client("198.51.100.7", 0))
	if p.Visitor(d.Add(24*time.Hour+2*time.Hour), client("198.51.100.7", 0)) != today {
		t.Error("a pseudonym of yesterday changed today's")
	}
}

func TestShortSecretRefused(t *testing.T) {
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
	one, two := NewRandom(), NewRandom()
	if one.Visitor(time.Now(), client("198.51.100.7", 0)) == two.Visitor(time.Now(), client("198.51.100.7", 0)) {
		t.Fatal("two random secrets gave the same pseudonym")
	}
}

// What a pseudonym costs: one HMAC-SHA256 of about 40 bytes, no allocation but the string.
func BenchmarkVisitor(b *testing.B) {
	p, _ := New(secret)
	c := client("198.51.100.7", 5)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Visitor(now, c)
	}
}
