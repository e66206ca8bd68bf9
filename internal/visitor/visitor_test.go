package visitor

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/waitfor"
)

func TestClientAddr(t *testing.T) {
	proxies, err := ParseProxies("10.0.0.0/8, 192.168.1.5, ::1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		proxies *Proxies
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: the peer, whatever the header says", nil, "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"untrusted peer: header ignored", proxies, "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted peer: the address it saw", proxies, "10.1.2.3:40000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"a spoofed entry left of it is ignored", proxies, "10.1.2.3:40000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chains of trusted proxies are walked", proxies, "10.1.2.3:40000", []string{"198.51.100.7, 10.9.9.9", "192.168.1.5"}, "198.51.100.7"},
		{"all trusted: the leftmost", proxies, "10.1.2.3:40000", []string{"10.5.5.5"}, "10.5.5.5"},
		{"garbage stops the walk at the last vouched address", proxies, "10.1.2.3:40000", []string{"nonsense, 10.4.4.4"}, "10.4.4.4"},
		{"no header from a trusted peer", proxies, "10.1.2.3:40000", nil, "10.1.2.3"},
		{"IPv6 peer", proxies, "[::1]:8080", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped entries are IPv4", proxies, "10.1.2.3:1", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.proxies.ClientAddr(tt.remote, tt.xff); got.String() != tt.want {
				t.Errorf("ClientAddr(%q, %q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

func TestParseProxiesRefusesNonsense(t *testing.T) {
	for _, spec := range []string{"10.0.0.0/33", "lb;evil", "a b", "300.1.1.1/8"} {
		if _, err := ParseProxies(spec); err == nil {
			t.Errorf("ParseProxies(%q) accepted it", spec)
		}
	}
}

// A proxy named by host is trusted at the address its name resolves to, looked up again as it
// changes (a recreated container gets a new address).
func TestProxyHostNamesAreResolvedAndRefreshed(t *testing.T) {
	p, err := ParseProxies("lb")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	current := netip.MustParseAddr("172.18.0.5")
	p.refresh = 0
	p.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		if host != "lb" {
			return nil, errors.New("no such host")
		}
		return []netip.Addr{current}, nil
	}
	client := func(peer string) string { return p.ClientAddr(peer+":1", []string{"198.51.100.7"}).String() }
	waitfor.Until(t, 5*time.Second, func() error {
		if got := client("172.18.0.5"); got != "198.51.100.7" {
			return errors.New("lb's address not trusted yet: " + got)
		}
		return nil
	})
	mu.Lock()
	current = netip.MustParseAddr("172.18.0.9")
	mu.Unlock()
	waitfor.Until(t, 5*time.Second, func() error {
		if client("172.18.0.5") != "172.18.0.5" || client("172.18.0.9") != "198.51.100.7" {
			return errors.New("the new address is not trusted, or the old one still is")
		}
		return nil
	})
}

type fixedSalts map[string][]byte

func (f fixedSalts) Salt(_ context.Context, day string) ([]byte, error) {
	if s, ok := f[day]; ok {
		return s, nil
	}
	return nil, errors.New("no salt")
}

func TestPseudonyms(t *testing.T) {
	p := NewPseudonyms(fixedSalts{"2026-11-26": []byte("salt-one"), "2026-11-27": []byte("salt-two")})
	ctx := context.Background()
	day := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	of := func(t0 time.Time, purpose, v string) string {
		t.Helper()
		s, err := p.Of(ctx, t0, purpose, v)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := of(day, "ratelimit", "198.51.100.7")
	if a != of(day.Add(-time.Hour), "ratelimit", "198.51.100.7") {
		t.Error("the same address on the same day got two pseudonyms")
	}
	if a == of(day, "ratelimit", "198.51.100.8") || a == of(day, "visitor", "198.51.100.7") || a == of(day.Add(2*time.Hour), "ratelimit", "198.51.100.7") {
		t.Error("a pseudonym repeats across addresses, purposes or days")
	}
	if strings.Contains(a, "198") || len(a) != 22 {
		t.Errorf("pseudonym %q: want 22 characters of base64url with no trace of the address", a)
	}
	if _, err := p.Of(ctx, day.AddDate(0, 0, 5), "ratelimit", "x"); err == nil {
		t.Error("a day without a salt gave a pseudonym")
	}
}

// A proxy that appears after the replica started is trusted from its first request: an unknown
// peer makes the names be looked up at once.
func TestNewProxyTrustedFromItsFirstRequest(t *testing.T) {
	p, err := ParseProxies("lb")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var current []netip.Addr // no lb yet
	lookups := 0
	p.lookup = func(context.Context, string) ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		lookups++
		if current == nil {
			return nil, errors.New("no such host")
		}
		return current, nil
	}
	if got := p.ClientAddr("203.0.113.5:1", []string{"1.2.3.4"}).String(); got != "203.0.113.5" {
		t.Fatalf("before the lb exists: %s", got)
	}
	mu.Lock()
	current = []netip.Addr{netip.MustParseAddr("172.18.0.5")}
	mu.Unlock()
	p.mu.Lock()
	p.checkedAt = time.Now().Add(-2 * unknownPeerLookup) // a second later
	p.mu.Unlock()
	if got := p.ClientAddr("172.18.0.5:1", []string{"198.51.100.7"}).String(); got != "198.51.100.7" {
		t.Fatalf("the lb's first request: client %s, want the address it forwarded", got)
	}
	// Unknown peers cause at most one look-up a second.
	mu.Lock()
	before := lookups
	mu.Unlock()
	for range 50 {
		p.ClientAddr("203.0.113.9:1", nil)
	}
	mu.Lock()
	defer mu.Unlock()
	if lookups-before > 1 {
		t.Fatalf("%d look-ups for 50 requests from an unknown peer within a second", lookups-before)
	}
}
