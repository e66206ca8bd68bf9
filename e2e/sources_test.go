package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
)

// Distinct client addresses for tests of the load balancer's per-source limits.
//
// Every client of the published port on 127.0.0.1 reaches HAProxy through docker-proxy, so all
// of them arrive from one address, the frontend network's gateway: to HAProxy they are one
// source. To be several sources, a test adds addresses of its own to the host's side of the
// frontend network (the bridge interface Docker made for it), at the top of the network's
// subnet, where Docker's address allocation (which starts at the bottom) does not reach, and
// dials the lb container's own address on that network from them. Nothing leaves the host:
// the traffic goes from the host to this project's lb container over this project's bridge.

// sources are host addresses on a stack's frontend network, each one client to HAProxy.
type sources struct {
	addrs   []netip.Addr
	lb      netip.AddrPort // lb's address on the frontend network, port 8080
	network string         // the frontend network's name, as docker inspect keys a container's networks
	bridge  string         // the network's bridge interface on the host
	subnet  netip.Prefix
}

// dockerNetwork is the part of `docker network inspect` the helper reads.
type dockerNetwork struct {
	ID      string `json:"Id"`
	Name    string
	Options map[string]string
	IPAM    struct {
		Config []struct{ Subnet, Gateway string }
	}
	Containers map[string]struct{ IPv4Address string }
}

// sources adds n addresses to the host's side of the stack's frontend network (removed when
// the test ends, before the stack goes down) and finds lb's address there. The stack must be
// up. Needs root (ip addr add), as the rest of this package's Docker access does.
func (s *stack) sources(n int) *sources {
	s.t.Helper()
	if n < 1 || n > 1024 {
		s.t.Fatalf("sources(%d): want 1 to 1024", n)
	}
	id := strings.TrimSpace(s.mustRunHost(30*time.Second, "docker", "network", "ls", "-q", "--no-trunc",
		"--filter", "label=com.docker.compose.project="+s.Name, "--filter", "label=com.docker.compose.network=frontend"))
	if id == "" || strings.ContainsAny(id, " \n") {
		s.t.Fatalf("the frontend network of %s: docker network ls found %q, want one id", s.Name, id)
	}
	var nets []dockerNetwork
	s.inspect(&nets, "--type", "network", id)
	if len(nets) != 1 {
		s.t.Fatalf("docker network inspect %s: %d results", id, len(nets))
	}
	nw := nets[0]
	src := &sources{network: nw.Name, bridge: nw.Options["com.docker.network.bridge.name"]}
	if src.bridge == "" {
		// Docker names a user-defined network's bridge after the first 12 characters of its id.
		src.bridge = "br-" + nw.ID[:12]
	}
	if _, err := net.InterfaceByName(src.bridge); err != nil {
		s.t.Fatalf("the bridge of network %s: %v", nw.Name, err)
	}
	for _, c := range nw.IPAM.Config {
		if p, err := netip.ParsePrefix(c.Subnet); err == nil && p.Addr().Is4() {
			src.subnet = p.Masked()
			break
		}
	}
	if !src.subnet.IsValid() || src.subnet.Bits() > 24 {
		s.t.Fatalf("network %s: IPv4 subnet %v, want one of at least /24 (IPAM %+v)", nw.Name, src.subnet, nw.IPAM.Config)
	}

	// Addresses already taken: the gateway and every container's.
	taken := map[netip.Addr]bool{}
	for _, c := range nw.IPAM.Config {
		if a, err := netip.ParseAddr(c.Gateway); err == nil {
			taken[a] = true
		}
	}
	for _, c := range nw.Containers {
		if p, err := netip.ParsePrefix(c.IPv4Address); err == nil {
			taken[p.Addr()] = true
		}
	}
	// From the broadcast address down, skipping it and anything taken, within the top half of
	// the subnet (Docker hands out addresses from the bottom: a stack takes a handful).
	half := 1 << (32 - src.subnet.Bits() - 1)
	a := lastAddr(src.subnet).Prev()
	for i := 0; len(src.addrs) < n && i < half-1; i++ {
		if !taken[a] {
			src.addrs = append(src.addrs, a)
		}
		a = a.Prev()
	}
	if len(src.addrs) < n {
		s.t.Fatalf("network %s: only %d free addresses in the top half of %v, want %d", nw.Name, len(src.addrs), src.subnet, n)
	}
	for _, addr := range src.addrs {
		// /32: one local address, no second route for the subnet, nothing that deleting it
		// could take along (deleting a primary address of a subnet removes its secondaries).
		s.mustRunHost(30*time.Second, "ip", "-4", "addr", "add", addr.String()+"/32", "dev", src.bridge)
		s.t.Cleanup(func() {
			// The bridge may be gone already (the stack was taken down): nothing to undo then.
			if out, err := testkit.Run(30*time.Second, nil, "ip", "-4", "addr", "del", addr.String()+"/32", "dev", src.bridge); err != nil &&
				!strings.Contains(out, "Cannot find device") && !strings.Contains(out, "Cannot assign") {
				s.t.Logf("removing %s from %s: %v %s", addr, src.bridge, err, out)
			}
		})
	}

	lbs := s.Containers("lb")
	if len(lbs) != 1 {
		s.t.Fatalf("%d lb containers, want 1", len(lbs))
	}
	ep, ok := s.inspectContainer(lbs[0]).NetworkSettings.Networks[nw.Name]
	if !ok {
		s.t.Fatalf("lb is not on network %s", nw.Name)
	}
	lbAddr, err := netip.ParseAddr(ep.IPAddress)
	if err != nil || !src.subnet.Contains(lbAddr) {
		s.t.Fatalf("lb's address on %s: %q (%v), want one in %v", nw.Name, ep.IPAddress, err, src.subnet)
	}
	src.lb = netip.AddrPortFrom(lbAddr, 8080)
	s.t.Logf("sources on network %s (%v): %v", nw.Name, src.subnet, src)
	return src
}

// lastAddr is the highest address of an IPv4 prefix (its broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	for i := 3; i >= 0 && host > 0; i-- {
		bits := min(host, 8)
		b[i] |= byte(1<<bits - 1)
		host -= bits
	}
	return netip.AddrFrom4(b)
}

// dialer dials from source i.
func (src *sources) dialer(i int) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: src.addrs[i].AsSlice()}, Timeout: 2 * time.Second}
}

// dial opens a TCP connection from source i to lb.
func (src *sources) dial(ctx context.Context, i int) (net.Conn, error) {
	return src.dialer(i).DialContext(ctx, "tcp", src.lb.String())
}

// url is lb's address on the frontend network with path.
func (src *sources) url(path string) string { return "http://" + src.lb.String() + path }

// client is an HTTP client whose connections come from source i, keep-alive unless
// keepAlive is false (a new connection for every request).
func (src *sources) client(i int, keepAlive bool) *http.Client {
	d := src.dialer(i)
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			DisableKeepAlives:   !keepAlive,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     5 * time.Second,
		},
	}
}

// mustRunHost runs a command (bounded) and fails the test when it fails.
func (s *stack) mustRunHost(timeout time.Duration, name string, args ...string) string {
	s.t.Helper()
	out, err := testkit.Run(timeout, nil, name, args...)
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// String describes the sources for logs.
func (src *sources) String() string {
	if len(src.addrs) > 4 {
		return fmt.Sprintf("%d addresses %v ... %v via %s to %v", len(src.addrs), src.addrs[0], src.addrs[len(src.addrs)-1], src.bridge, src.lb)
	}
	return fmt.Sprintf("%v via %s to %v", src.addrs, src.bridge, src.lb)
}
