package proxies

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestParseRefusesNonsense(t *testing.T) {
	for _, spec := range []string{"10.0.0.0/33", "lb;evil", "a b", "300.1.1.1/8"} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("Parse(%q) accepted it", spec)
		}
	}
}

func TestTrustsAddressesAndNetworks(t *testing.T) {
	l, err := Parse("10.0.0.0/8, 192.168.1.5, ::1, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true}, {"11.0.0.1", false}, {"192.168.1.5", true}, {"192.168.1.6", false},
		{"::1", true}, {"::ffff:10.1.2.3", true}, {"2001:db8:ffff::1", true}, {"2001:db9::1", false},
	}
	for _, tt := range tests {
		if got := l.Trusts(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Trusts(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	var none *List
	if none.Trusts(netip.MustParseAddr("10.1.2.3")) {
		t.Error("a nil list trusts someone")
	}
}

// fakeDNS answers look-ups of "lb" from a table the test changes, and can be made to fail or to
// hang.
type fakeDNS struct {
	mu      sync.Mutex
	addrs   []netip.Addr
	err     error
	hang    chan struct{} // while not nil, look-ups wait for it to close
	lookups int
}

func (f *fakeDNS) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	f.lookups++
	hang, addrs, err := f.hang, f.addrs, f.err
	f.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if host != "lb" || err != nil {
		return nil, errors.Join(err, errors.New("no such host"))
	}
	return addrs, nil
}

func (f *fakeDNS) set(fn func(f *fakeDNS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func newWithDNS(t *testing.T, dns *fakeDNS) (*List, context.CancelFunc) {
	t.Helper()
	l, err := Parse("lb")
	if err != nil {
		t.Fatal(err)
	}
	l.lookup = dns.lookup
	ctx, cancel := context.WithCancel(context.Background())
	go l.Run(ctx)
	return l, cancel
}

var (
	lbAddr    = netip.MustParseAddr("172.18.0.5")
	lbNewAddr = netip.MustParseAddr("172.18.0.9")
)

// A proxy named by host is trusted at the address its name resolves to, looked up again as it
// changes (a recreated container gets a new address).
func TestHostNamesAreResolvedAndRefreshed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{addrs: []netip.Addr{lbAddr}}
		l, stop := newWithDNS(t, dns)
		defer stop()
		synctest.Wait()
		if !l.Trusts(lbAddr) {
			t.Fatal("lb's address is not trusted after the first look-up")
		}
		dns.set(func(f *fakeDNS) { f.addrs = []netip.Addr{lbNewAddr} })
		time.Sleep(refresh)
		synctest.Wait()
		if l.Trusts(lbAddr) || !l.Trusts(lbNewAddr) {
			t.Fatal("after a refresh, the old address is still trusted or the new one is not")
		}
	})
}

// A DNS failure keeps the last good answer: every client would otherwise look like the proxy and
// share its limits.
func TestFailedLookupKeepsTheLastGoodAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{addrs: []netip.Addr{lbAddr}}
		l, stop := newWithDNS(t, dns)
		defer stop()
		synctest.Wait()
		dns.set(func(f *fakeDNS) { f.err = errors.New("SERVFAIL") })
		for range 3 {
			time.Sleep(refresh)
			synctest.Wait()
		}
		if ok, failed := l.Lookups(); !l.Trusts(lbAddr) || ok != 1 || failed != 3 {
			t.Fatalf("after 3 failed look-ups: trusted %v, lookups ok %d failed %d; want trusted, 1 and 3", l.Trusts(lbAddr), ok, failed)
		}
	})
}

// A look-up that hangs never holds up a request: Trusts answers from what is known.
func TestTrustsNeverWaitsForALookup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{addrs: []netip.Addr{lbAddr}}
		l, stop := newWithDNS(t, dns)
		defer stop()
		synctest.Wait()
		hang := make(chan struct{})
		dns.set(func(f *fakeDNS) { f.hang = hang })
		time.Sleep(refresh) // a look-up starts and hangs
		synctest.Wait()
		// Were Trusts to wait for the look-up, every goroutine of the bubble would be blocked
		// and synctest would fail the test as a deadlock.
		for range 1000 {
			if !l.Trusts(lbAddr) || l.Trusts(lbNewAddr) {
				t.Fatal("trust changed while the look-up hangs")
			}
		}
		close(hang)
	})
}

// A proxy that appears after the replica started (Compose starts the balancer after the web
// replicas) is trusted within about a second: until every name has answered, look-ups are a
// second apart, and an unknown peer asks for one early, at most once a second.
func TestNewProxyTrustedSoonAndUnknownPeersAreCheap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{} // no lb yet
		l, stop := newWithDNS(t, dns)
		defer stop()
		synctest.Wait()
		dns.set(func(f *fakeDNS) { f.addrs = []netip.Addr{lbAddr} })
		time.Sleep(startInterval)
		synctest.Wait()
		if !l.Trusts(lbAddr) {
			t.Fatal("lb not trusted a second after its name answers")
		}
		dns.set(func(f *fakeDNS) { f.lookups = 0 })
		unknown := netip.MustParseAddr("203.0.113.9")
		for range 50 {
			l.Trusts(unknown)
			time.Sleep(20 * time.Millisecond)
		}
		synctest.Wait()
		dns.mu.Lock()
		defer dns.mu.Unlock()
		if dns.lookups > 2 {
			t.Fatalf("%d look-ups in a second of requests from an unknown peer, want at most one a second", dns.lookups)
		}
	})
}
