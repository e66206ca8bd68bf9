package counter

import (
	"net/netip"
	"strings"
	"testing"
)

// trustList is a TrustedProxies of fixed networks.
type trustList []netip.Prefix

func (l trustList) Trusts(a netip.Addr) bool {
	for _, p := range l {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func mustPrefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// The rules of who a client is: the peer unless it is a trusted proxy, the rightmost untrusted
// X-Forwarded-For entry behind trusted ones, IPv4 addresses and IPv6 /64s as one client each,
// mapped addresses as IPv4, and camo only by its user agent from GitHub's networks.
func TestIdentify(t *testing.T) {
	rules := ClientRules{
		Proxies:      trustList(mustPrefixes("10.0.0.0/8", "192.168.1.5/32", "::1/128", "fd00::/8")),
		IPv6Prefix:   64,
		CamoNetworks: mustPrefixes("140.82.112.0/20", "2606:50c0::/32"),
	}
	const camo = "github-camo (876de43e)"
	tests := []struct {
		name       string
		rules      ClientRules
		peer       string
		xff        []string
		agent      string
		wantAddr   string
		wantPrefix string
		wantCamo   bool
	}{
		{"no proxies: the peer, whatever the header says", ClientRules{}, "203.0.113.9", []string{"1.2.3.4"}, "", "203.0.113.9", "203.0.113.9/32", false},
		{"untrusted peer: header ignored", rules, "203.0.113.9", []string{"1.2.3.4"}, "", "203.0.113.9", "203.0.113.9/32", false},
		{"trusted peer: the address it saw", rules, "10.1.2.3", []string{"198.51.100.7"}, "", "198.51.100.7", "198.51.100.7/32", false},
		{"a forged entry left of it is ignored", rules, "10.1.2.3", []string{"6.6.6.6, 198.51.100.7"}, "", "198.51.100.7", "198.51.100.7/32", false},
		{"chains of trusted proxies are walked", rules, "10.1.2.3", []string{"198.51.100.7, 10.9.9.9", "192.168.1.5"},
			"", "198.51.100.7", "198.51.100.7/32", false},
		{"all trusted: the leftmost", rules, "10.1.2.3", []string{"10.5.5.5"}, "", "10.5.5.5", "10.5.5.5/32", false},
		{"garbage stops the walk at the last vouched address", rules, "10.1.2.3", []string{"nonsense, 10.4.4.4"}, "", "10.4.4.4", "10.4.4.4/32", false},
		{"a zone is garbage", rules, "10.1.2.3", []string{"fe80::1%eth0"}, "", "10.1.2.3", "10.1.2.3/32", false},
		{"no header from a trusted peer", rules, "10.1.2.3", nil, "", "10.1.2.3", "10.1.2.3/32", false},
		{"IPv6 client: its /64", rules, "::1", []string{"2001:db8:1:2:3:4:5:6"}, "", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", false},
		{"another address of that /64 is the same client", rules, "::1", []string{"2001:db8:1:2:ffff::1"},
			"", "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64", false},
		{"IPv6 prefix configurable", ClientRules{IPv6Prefix: 48}, "2001:db8:1:2::9", nil, "", "2001:db8:1:2::9", "2001:db8:1::/48", false},
		{"IPv4-mapped peer is IPv4", ClientRules{}, "::ffff:198.51.100.7", nil, "", "198.51.100.7", "198.51.100.7/32", false},
		{"IPv4-mapped entries are IPv4", rules, "10.1.2.3", []string{"::ffff:198.51.100.7"}, "", "198.51.100.7", "198.51.100.7/32", false},
		{"IPv4-mapped trusted peer is trusted", rules, "::ffff:10.1.2.3", []string{"198.51.100.7"}, "", "198.51.100.7", "198.51.100.7/32", false},
		{"camo from GitHub", rules, "140.82.115.4", nil, camo, "140.82.115.4", "140.82.115.4/32", true},
		{"camo from GitHub's IPv6", rules, "2606:50c0:8000::154", nil, camo, "2606:50c0:8000::154", "2606:50c0:8000::/64", true},
		{"camo's agent from elsewhere is an ordinary client", rules, "203.0.113.9", nil, camo, "203.0.113.9", "203.0.113.9/32", false},
		{"camo's agent forged through the proxy is an ordinary client", rules, "10.1.2.3", []string{"203.0.113.9"},
			camo, "203.0.113.9", "203.0.113.9/32", false},
		{"camo through a trusted proxy", rules, "10.1.2.3", []string{"140.82.115.4"}, camo, "140.82.115.4", "140.82.115.4/32", true},
		{"GitHub's address with another agent is not camo", rules, "140.82.115.4", nil, "curl/8.0", "140.82.115.4", "140.82.115.4/32", false},
		{"no valid peer: one client of its own", rules, "", nil, "", "invalid IP", "invalid Prefix", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var peer netip.Addr
			if tt.peer != "" {
				peer = netip.MustParseAddr(tt.peer)
			}
			got := tt.rules.Identify(peer, tt.xff, tt.agent)
			if got.Addr.String() != tt.wantAddr || got.Prefix.String() != tt.wantPrefix || got.Camo != tt.wantCamo {
				t.Errorf("Identify(%s, %q, %q) = %s %s camo %v; want %s %s camo %v", tt.peer, tt.xff, tt.agent,
					got.Addr, got.Prefix, got.Camo, tt.wantAddr, tt.wantPrefix, tt.wantCamo)
			}
		})
	}
}

// A header of thousands of entries is read from the right, a bounded number of them: the walk
// stops at the last address the trusted proxies vouched for.
func TestIdentifyReadsABoundedChain(t *testing.T) {
	rules := ClientRules{Proxies: trustList(mustPrefixes("10.0.0.0/8"))}
	chain := strings.Repeat("10.0.0.7, ", 10000) + "10.0.0.8"
	got := rules.Identify(netip.MustParseAddr("10.0.0.1"), []string{"198.51.100.7, " + chain}, "")
	if got.Addr.String() != "10.0.0.7" {
		t.Fatalf("client behind a chain of 10,001 trusted entries = %s, want the last one read, 10.0.0.7", got.Addr)
	}
}

// A user agent decides one of AgentBuckets buckets, from its first bytes only: the same on every
// replica, and no more costly for a 15 KB header than for a short one.
func TestAgentBuckets(t *testing.T) {
	seen := map[uint8]bool{}
	for i := range 1000 {
		b := agentBucket("Mozilla/5.0 agent " + strings.Repeat("x", i))
		if b >= AgentBuckets {
			t.Fatalf("bucket %d out of range", b)
		}
		seen[b] = true
	}
	if len(seen) != AgentBuckets {
		t.Fatalf("1,000 user agents fell into %d buckets, want all %d", len(seen), AgentBuckets)
	}
	long := strings.Repeat("a", agentPrefixBytes)
	if agentBucket(long+"one") != agentBucket(long+strings.Repeat("two", 5000)) {
		t.Fatal("bytes past the first 256 changed the bucket")
	}
	if agentBucket("Mozilla/5.0 (X11; Linux x86_64)") != 2 {
		// A fixed answer: a seed per process would make one visitor two on two replicas.
		t.Fatalf("agentBucket of a known agent = %d, want 2 on every machine", agentBucket("Mozilla/5.0 (X11; Linux x86_64)"))
	}
}
