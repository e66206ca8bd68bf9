// Package visitor says who a client is without remembering it: the client's address behind
// trusted proxies, and pseudonyms of it (an HMAC under a random salt that rotates daily) for
// anything that has to be stored or shared between replicas. Nothing here stores an address.
package visitor

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Proxies are the peers whose X-Forwarded-For is believed: addresses, networks, and host names
// (looked up again every refresh interval, since a proxy's container address changes when it
// is recreated).
type Proxies struct {
	prefixes []netip.Prefix
	hosts    []string
	lookup   func(ctx context.Context, host string) ([]netip.Addr, error)
	refresh  time.Duration

	mu        sync.Mutex
	resolved  []netip.Addr
	checkedAt time.Time
	resolving bool
	lookupNow sync.Mutex // one look-up at a time for unknown peers
}

// hostRefresh is how often host names in TRUSTED_PROXIES are looked up again.
const hostRefresh = 10 * time.Second

// ParseProxies reads a comma-separated list of IP addresses, CIDR networks and host names. An
// empty list trusts no one: X-Forwarded-For is then ignored.
func ParseProxies(spec string) (*Proxies, error) {
	p := &Proxies{refresh: hostRefresh, lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
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
			p.prefixes = append(p.prefixes, prefix.Masked())
		default:
			if addr, err := netip.ParseAddr(item); err == nil {
				p.prefixes = append(p.prefixes, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
				continue
			}
			if !validHostname(item) {
				return nil, fmt.Errorf("%q is not an IP address, a CIDR network or a host name", item)
			}
			p.hosts = append(p.hosts, item)
		}
	}
	return p, nil
}

func validHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// trusted reports whether addr is one of the proxies. Host names are looked up again in the
// background once their last look-up is older than the refresh interval. A peer that is not
// among the known addresses makes them be looked up at once (at most once a second), so a proxy
// that appeared since (Compose starts the balancer after the replicas) is trusted from its first
// request, not counted as the client.
func (p *Proxies) trusted(addr netip.Addr) bool {
	for _, prefix := range p.prefixes {
		if prefix.Contains(addr) {
			return true
		}
	}
	if len(p.hosts) == 0 {
		return false
	}
	p.mu.Lock()
	known := slices.Contains(p.resolved, addr)
	if !p.resolving && time.Since(p.checkedAt) > p.refresh {
		p.resolving = true
		go func() {
			p.resolve()
			p.mu.Lock()
			p.resolving = false
			p.mu.Unlock()
		}()
	}
	p.mu.Unlock()
	if known {
		return true
	}
	p.lookupNow.Lock()
	defer p.lookupNow.Unlock()
	p.mu.Lock()
	due := time.Since(p.checkedAt) >= unknownPeerLookup
	p.mu.Unlock()
	if due {
		p.resolve()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.resolved, addr)
}

// unknownPeerLookup bounds the look-ups that peers outside the known proxy addresses cause.
const unknownPeerLookup = time.Second

func (p *Proxies) resolve() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var all []netip.Addr
	for _, h := range p.hosts {
		addrs, err := p.lookup(ctx, h)
		if err != nil {
			continue // not up yet, or gone
		}
		for _, a := range addrs {
			all = append(all, a.Unmap())
		}
	}
	p.mu.Lock()
	p.resolved, p.checkedAt = all, time.Now()
	p.mu.Unlock()
}

// TrustsPeer reports whether the connection's peer (an http.Request's RemoteAddr) is a trusted
// proxy, whose X-Forwarded-* headers may be believed.
func (p *Proxies) TrustsPeer(remoteAddr string) bool {
	peer := parseHostPort(remoteAddr)
	return p != nil && peer.IsValid() && p.trusted(peer)
}

// ClientAddr is the address of the client: the peer's, unless the peer is a trusted proxy; then
// the rightmost X-Forwarded-For address that is not a trusted proxy. Entries left of it were
// written by the client or proxies nobody vouches for, so they are ignored. forwardedFor holds
// every X-Forwarded-For header line, in order.
func (p *Proxies) ClientAddr(remoteAddr string, forwardedFor []string) netip.Addr {
	peer := parseHostPort(remoteAddr)
	if p == nil || !peer.IsValid() || !p.trusted(peer) || len(forwardedFor) == 0 {
		return peer
	}
	client := peer
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		entries := strings.Split(forwardedFor[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			addr, err := netip.ParseAddr(strings.TrimSpace(entries[j]))
			if err != nil {
				return client // garbage: stop at the last address a trusted proxy vouched for
			}
			client = addr.Unmap()
			if !p.trusted(client) {
				return client
			}
		}
	}
	return client
}

func parseHostPort(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// SaltStore hands out the salt of a day (UTC, "2006-01-02"): random, the same for every replica,
// and gone from the store a day after its day ends.
type SaltStore interface {
	Salt(ctx context.Context, day string) ([]byte, error)
}

// Pseudonyms turns values (addresses) into stable, unlinkable names: HMAC-SHA256 under the
// day's salt. Once a day's salt has expired, nobody (the operator included) can tell which
// address a pseudonym of that day stood for, even by trying all 2^32 IPv4 addresses.
type Pseudonyms struct {
	store SaltStore

	mu     sync.Mutex
	day    int64 // days since the Unix epoch of salt, -1 before the first
	salt   []byte
	fetch  chan struct{}
	recent map[pseudonymKey]string // today's pseudonyms, so repeat clients cost no HMAC
}

type pseudonymKey struct{ purpose, value string }

// maxRecent bounds the memo of today's pseudonyms (about 100 bytes each); it is emptied when
// full and when the day changes. It lives in this process only, and goes with the day's salt.
const maxRecent = 16384

// NewPseudonyms returns Pseudonyms over store.
func NewPseudonyms(store SaltStore) *Pseudonyms {
	return &Pseudonyms{store: store, day: -1, recent: make(map[pseudonymKey]string)}
}

// Of returns the pseudonym of value for the UTC day of t, under purpose (so that pseudonyms made
// for one use cannot be matched with another's).
func (p *Pseudonyms) Of(ctx context.Context, t time.Time, purpose, value string) (string, error) {
	day := t.Unix() / 86400
	if t.Unix() < 0 && t.Unix()%86400 != 0 {
		day-- // floor, for times before 1970
	}
	key := pseudonymKey{purpose, value}
	p.mu.Lock()
	if p.day == day {
		if name, ok := p.recent[key]; ok {
			p.mu.Unlock()
			return name, nil
		}
	}
	p.mu.Unlock()

	salt, err := p.saltFor(ctx, day)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, salt)
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	// 128 bits: unique enough for any number of visitors, half the key length of the full MAC.
	name := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])

	p.mu.Lock()
	if p.day == day {
		if len(p.recent) >= maxRecent {
			clear(p.recent)
		}
		p.recent[key] = name
	}
	p.mu.Unlock()
	return name, nil
}

func (p *Pseudonyms) saltFor(ctx context.Context, day int64) ([]byte, error) {
	for {
		p.mu.Lock()
		if p.day == day {
			salt := p.salt
			p.mu.Unlock()
			return salt, nil
		}
		if p.fetch != nil {
			ch := p.fetch
			p.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		p.fetch = ch
		p.mu.Unlock()

		salt, err := p.store.Salt(ctx, time.Unix(day*86400, 0).UTC().Format(time.DateOnly))
		p.mu.Lock()
		if err == nil {
			p.day, p.salt = day, salt
			clear(p.recent)
		}
		p.fetch = nil
		p.mu.Unlock()
		close(ch)
		if err != nil {
			return nil, err
		}
		return salt, nil
	}
}
