package counter

import (
	"net/netip"
	"strings"
)

// Client is who sent a request, as far as the service's rules care: the unit that limits count
// and that a day's unique visitors are made of. It holds nothing of variable size, so that no
// header a client sends can make what the service keeps about it grow.
type Client struct {
	// Addr is the client's address: the connection's peer, or behind trusted proxies the
	// rightmost X-Forwarded-For address that is not one of them. Kept only in memory.
	Addr netip.Addr
	// Prefix is what counts as one client: the IPv4 address, or the IPv6 network of the
	// configured length (/64 by default: what one home or one host is given, so that one client
	// cannot become 2^64 clients by changing the low bits of its address).
	Prefix netip.Prefix
	// Camo is GitHub's image proxy, recognised by its user agent from GitHub's networks. It
	// fetches every README badge for every reader alike: its hits are limited per counter, and
	// they count as hits without a visitor.
	Camo bool
	// Agent is a bucket (0 to AgentBuckets-1) of the user agent: people behind one address with
	// different browsers are told apart as visitors, but one client can be at most AgentBuckets
	// visitors of a counter a day, whatever user agents it sends.
	Agent uint8
	// Bot is a known crawler or link previewer, by its user agent (IsCrawler).
	Bot bool
	// Owner is a request that carries the counter owner's "don't count me" mark
	// (Counters.IsOwner): set by whoever reads the mark, since it is one counter's.
	Owner bool
}

// AgentBuckets is how many visitors one client can be, per counter and day.
const AgentBuckets = 16

// agentPrefixBytes is how much of a user agent decides its bucket: real ones differ within it,
// and a 15 KB one costs no more to read than a short one.
const agentPrefixBytes = 256

// camoAgent is how GitHub's image proxy introduces itself.
const camoAgent = "github-camo"

// maxForwardedHops bounds how many X-Forwarded-For entries are read, from the right: a chain of
// trusted proxies is a few hops long, and a client may send a header of thousands of entries.
const maxForwardedHops = 32

// DefaultIPv6Prefix is how long the IPv6 network of one client is unless configured.
const DefaultIPv6Prefix = 64

// TrustedProxies says whether a peer is a proxy whose X-Forwarded-For is believed. Asked on
// every request: it must not block (no lock held across a look-up, no look-up at all).
type TrustedProxies interface {
	Trusts(addr netip.Addr) bool
}

// ClientRules turn what a request says about its sender into a Client: one place for every
// rule of who a client is.
type ClientRules struct {
	// Proxies are the peers whose X-Forwarded-For is believed; nil trusts nobody.
	Proxies TrustedProxies
	// IPv6Prefix is the length of the IPv6 network counted as one client (1 to 128; 0 means
	// DefaultIPv6Prefix).
	IPv6Prefix int
	// CamoNetworks are where GitHub's image proxy fetches from; a camo user agent from anywhere
	// else is an ordinary client.
	CamoNetworks []netip.Prefix
}

// Identify returns the client of a request: peer is the connection's address, forwardedFor
// every X-Forwarded-For header line in order, userAgent the User-Agent header.
func (r ClientRules) Identify(peer netip.Addr, forwardedFor []string, userAgent string) Client {
	addr := r.clientAddr(peer.Unmap(), forwardedFor)
	c := Client{Addr: addr, Prefix: r.prefixOf(addr), Agent: agentBucket(userAgent)}
	c.Camo = strings.HasPrefix(userAgent, camoAgent) && r.inCamoNetworks(addr)
	c.Bot = !c.Camo && IsCrawler(userAgent)
	return c
}

// clientAddr is the peer, unless the peer is a trusted proxy: then the rightmost
// X-Forwarded-For address that is not a trusted proxy. Entries left of it were written by the
// client, or by proxies nobody vouches for, so they are never read. An entry that is not an
// address ends the walk at the last address a trusted proxy vouched for.
func (r ClientRules) clientAddr(peer netip.Addr, forwardedFor []string) netip.Addr {
	if r.Proxies == nil || !peer.IsValid() || !r.Proxies.Trusts(peer) {
		return peer
	}
	client, hops := peer, 0
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		line := forwardedFor[i]
		for line != "" {
			if hops++; hops > maxForwardedHops {
				return client
			}
			var entry string
			if comma := strings.LastIndexByte(line, ','); comma >= 0 {
				line, entry = line[:comma], line[comma+1:]
			} else {
				line, entry = "", line
			}
			addr, err := netip.ParseAddr(strings.TrimSpace(entry))
			if err != nil || addr.Zone() != "" {
				return client
			}
			client = addr.Unmap()
			if !r.Proxies.Trusts(client) {
				return client
			}
		}
	}
	return client
}

// prefixOf is the network that counts as one client. An address that could not be told (no
// valid peer) is one client of its own, the zero prefix.
func (r ClientRules) prefixOf(addr netip.Addr) netip.Prefix {
	if !addr.IsValid() {
		return netip.Prefix{}
	}
	bits := 32
	if addr.Is6() {
		bits = r.IPv6Prefix
		if bits <= 0 || bits > 128 {
			bits = DefaultIPv6Prefix
		}
	}
	p, _ := addr.Prefix(bits) // cannot fail: bits fits the address family
	return p
}

func (r ClientRules) inCamoNetworks(addr netip.Addr) bool {
	for _, n := range r.CamoNetworks {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// agentBucket is FNV-1a of the user agent's first bytes, mixed (FNV's low bits alone follow the
// last bytes too closely), modulo AgentBuckets: the same on every replica (a per-process seed
// would make one visitor two), and cheap whatever the header's size.
func agentBucket(userAgent string) uint8 {
	const offset, prime = 2166136261, 16777619
	h := uint32(offset)
	for i := 0; i < len(userAgent) && i < agentPrefixBytes; i++ {
		h ^= uint32(userAgent[i])
		h *= prime
	}
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	return uint8(h % AgentBuckets)
}

// AppendIdentity appends the client's fixed-size identity (its prefix and, for visitors, its
// agent bucket) to b: what pseudonyms are made of.
func (c Client) AppendIdentity(b []byte, withAgent bool) []byte {
	a := c.Prefix.Addr().As16()
	b = append(b, a[:]...)
	b = append(b, byte(c.Prefix.Bits()))
	if withAgent {
		b = append(b, c.Agent)
	}
	return b
}
