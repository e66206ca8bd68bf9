// Package proxies is the list of proxies whose X-Forwarded-For the service believes
// (TRUSTED_PROXIES): addresses, networks and host names. Host names are looked up in the
// background, never on a request's path, and a failed look-up keeps the last good answer, so
// that a DNS outage never makes every client look like the proxy.
package proxies

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Intervals of the background look-ups: quickly until every host name has answered once (a
// proxy may start after the replicas, as Compose starts the balancer), then every refresh
// (a recreated container gets a new address). A peer that is not trusted asks for an early
// look-up, at most once per kickInterval.
const (
	startInterval = time.Second
	refresh       = 10 * time.Second
	kickInterval  = time.Second
	lookupTimeout = 2 * time.Second
)

// List is the trusted proxies. Trusts is lock-free: one atomic load and a scan of a few
// entries.
type List struct {
	networks []netip.Prefix
	hosts    []string
	lookup   func(ctx context.Context, host string) ([]netip.Addr, error)

	resolved atomic.Pointer[[]netip.Addr] // every host's last good addresses
	kick     chan struct{}

	// Look-ups done, by outcome: what the metrics report.
	lookupsOK, lookupsFailed atomic.Int64
}

// Parse reads a comma-separated list of IP addresses, CIDR networks and host names. An empty
// list trusts no one: X-Forwarded-For is then ignored.
func Parse(spec string) (*List, error) {
	l := &List{kick: make(chan struct{}, 1), lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}}
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
		case strings.Contains(item, "/"):
			prefix, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("%q is not a network in CIDR form (example: 10.0.0.0/8)", item)
			}
			l.networks = append(l.networks, prefix.Masked())
		default:
			if addr, err := netip.ParseAddr(item); err == nil {
				addr = addr.Unmap()
				l.networks = append(l.networks, netip.PrefixFrom(addr, addr.BitLen()))
				continue
			}
			if !validHostname(item) {
				return nil, fmt.Errorf("%q is not an IP address, a CIDR network or a host name", item)
			}
			l.hosts = append(l.hosts, item)
		}
	}
	l.resolved.Store(new([]netip.Addr))
	return l, nil
}

func validHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && c != '-' && c != '.' && c != '_' {
			return false
		}
	}
	return true
}

// HasHosts reports whether the list names hosts, which Run must keep resolving.
func (l *List) HasHosts() bool { return l != nil && len(l.hosts) > 0 }

// Trusts reports whether addr is one of the proxies. It never waits: a peer that is not among
// the addresses known right now is not trusted for this request, and asks the background
// look-up to run early, so that a proxy that has just appeared is trusted from its next
// requests.
func (l *List) Trusts(addr netip.Addr) bool {
	if l == nil {
		return false
	}
	addr = addr.Unmap()
	for _, n := range l.networks {
		if n.Contains(addr) {
			return true
		}
	}
	if len(l.hosts) == 0 {
		return false
	}
	if slices.Contains(*l.resolved.Load(), addr) {
		return true
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return false
}

// Lookups reports how many host look-ups succeeded and failed so far.
func (l *List) Lookups() (ok, failed int64) {
	if l == nil {
		return 0, 0
	}
	return l.lookupsOK.Load(), l.lookupsFailed.Load()
}

// Run looks the host names up until ctx ends: at once, then every second until each has
// answered, then every 10 s, and early (at most once a second) when an unknown peer asked.
// A host whose look-up fails keeps its last good addresses.
func (l *List) Run(ctx context.Context) {
	if !l.HasHosts() {
		return
	}
	last := make(map[string][]netip.Addr, len(l.hosts))
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastRun time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-l.kick:
			if wait := kickInterval - time.Since(lastRun); wait > 0 {
				// Too soon: the timer will do it, or a later kick.
				timer.Reset(min(wait, timerLeft(lastRun, refresh)))
				continue
			}
		}
		lastRun = time.Now()
		allKnown := l.resolveAll(ctx, last)
		next := refresh
		if !allKnown {
			next = startInterval
		}
		timer.Reset(next)
	}
}

// timerLeft is how long until interval has passed since t.
func timerLeft(t time.Time, interval time.Duration) time.Duration {
	return max(interval-time.Since(t), 0)
}

// resolveAll looks every host up once, updates last with the good answers and publishes the
// union. It reports whether every host has a known address.
func (l *List) resolveAll(ctx context.Context, last map[string][]netip.Addr) bool {
	allKnown := true
	for _, h := range l.hosts {
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		addrs, err := l.lookup(lctx, h)
		cancel()
		if err != nil || len(addrs) == 0 {
			l.lookupsFailed.Add(1)
		} else {
			l.lookupsOK.Add(1)
			unmapped := make([]netip.Addr, len(addrs))
			for i, a := range addrs {
				unmapped[i] = a.Unmap()
			}
			last[h] = unmapped
		}
		if len(last[h]) == 0 {
			allKnown = false
		}
	}
	var all []netip.Addr
	for _, h := range l.hosts {
		all = append(all, last[h]...)
	}
	l.resolved.Store(&all)
	return allKnown
}
