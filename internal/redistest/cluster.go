package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// Cluster is a Redis Cluster of real redis-servers on loopback, owned by a test: primaries, each
// with its replicas, the 16,384 slots split evenly among the primaries, and a node timeout of a
// second, so that a killed primary's replica takes over within a few seconds.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
	// Primaries are the indexes into Nodes of the nodes started as primaries.
	Primaries []int
}

// clusterNodeTimeout is how long a node may be silent before the cluster fails it over.
const clusterNodeTimeout = time.Second

// clusterSettle bounds how long the cluster may take to form, or to fail a primary over.
const clusterSettle = 30 * time.Second

// StartCluster starts primaries × (1 + replicasEach) redis-servers with cluster mode on (args
// are more redis-server options for every node, e.g. users or persistence) and waits until the
// cluster is formed: every slot served, every replica in sync.
func StartCluster(t testing.TB, primaries, replicasEach int, args ...string) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	nodeArgs := append([]string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout / time.Millisecond))}, args...)
	for i := range primaries * (1 + replicasEach) {
		c.Nodes = append(c.Nodes, Start(t, nodeArgs...))
		if i < primaries {
			c.Primaries = append(c.Primaries, i)
		}
	}
	// Every node meets the first; gossip does the rest.
	first := c.Nodes[0]
	for _, n := range c.Nodes[1:] {
		n.MustDo("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(first.Port()))
	}
	c.waitAll("every node to know the others", func(n *Server) error {
		return infoField(n, "CLUSTER", "INFO", "cluster_known_nodes", strconv.Itoa(len(c.Nodes)))
	})
	for i, p := range c.Primaries {
		from, to := i*16384/primaries, (i+1)*16384/primaries-1
		c.Nodes[p].MustDo("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(from), strconv.Itoa(to))
	}
	for r := range replicasEach {
		for i, p := range c.Primaries {
			id := c.Nodes[p].MustDo("CLUSTER", "MYID")
			replica := c.Nodes[primaries*(1+r)+i]
			// A replica can follow a primary only once it has heard of it with its slots.
			waitfor.Until(t, clusterSettle, func() error {
				_, err := replica.Do("CLUSTER", "REPLICATE", id)
				return err
			})
		}
	}
	c.WaitOK()
	return c
}

// Addrs are every node's host:port, seeds for a client.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr())
	}
	return out
}

// WaitOK waits until every running node says the cluster is ok and every running replica is in
// sync with its primary.
func (c *Cluster) WaitOK() {
	c.t.Helper()
	c.waitAll("the cluster to be ok", func(n *Server) error {
		if err := infoField(n, "CLUSTER", "INFO", "cluster_state", "ok"); err != nil {
			return err
		}
		role, err := field(n, "INFO", "replication", "role")
		if err != nil {
			return err
		}
		if role == "slave" {
			return infoField(n, "INFO", "replication", "master_link_status", "up")
		}
		return nil
	})
}

// PrimaryOf returns the node that serves key's slot now.
func (c *Cluster) PrimaryOf(key string) *Server {
	c.t.Helper()
	slot := c.Nodes[0].MustDo("CLUSTER", "KEYSLOT", key)
	for _, n := range c.running() {
		if role, err := field(n, "INFO", "replication", "role"); err == nil && role == "master" && n.ownsSlot(slot) {
			return n
		}
	}
	c.t.Fatalf("redistest: no primary serves slot %s", slot)
	return nil
}

// ServedBy returns the primary that serves slot now, or nil while none does (during a
// failover). Unlike PrimaryOf it never fails the test: it may run beside the test's goroutine.
func (c *Cluster) ServedBy(slot string) *Server {
	for _, n := range c.running() {
		if role, err := field(n, "INFO", "replication", "role"); err == nil && role == "master" && n.ownsSlot(slot) {
			return n
		}
	}
	return nil
}

// ownsSlot reports whether the node serves slot, from its own view of the cluster.
func (s *Server) ownsSlot(slot string) bool {
	nodes, err := s.Do("CLUSTER", "NODES")
	if err != nil {
		return false
	}
	n, _ := strconv.Atoi(slot)
	for _, r := range OwnSlots(nodes) {
		if r[0] <= n && n <= r[1] {
			return true
		}
	}
	return false
}

// OwnSlots reads the reply of CLUSTER NODES and returns the ranges of slots (first, last) that
// the node which answered ("myself") serves. A slot being migrated ("[...]") is not one.
func OwnSlots(clusterNodes string) [][2]int {
	var out [][2]int
	for line := range strings.Lines(clusterNodes) {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.Contains(f[2], "myself") {
			continue
		}
		for _, r := range f[8:] {
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil && 0 <= a && a <= b && b < 16384 {
				out = append(out, [2]int{a, b})
			}
		}
	}
	return out
}

func (c *Cluster) running() []*Server {
	var out []*Server
	for _, n := range c.Nodes {
		n.mu.Lock()
		up := n.cmd != nil
		n.mu.Unlock()
		if up {
			out = append(out, n)
		}
	}
	return out
}

func (c *Cluster) waitAll(what string, check func(*Server) error) {
	c.t.Helper()
	if err := waitfor.Poll(clusterSettle, func() error {
		for _, n := range c.running() {
			if err := check(n); err != nil {
				return fmt.Errorf("node %s: %w", n.Addr(), err)
			}
		}
		return nil
	}); err != nil {
		c.t.Fatalf("redistest: waiting for %s: %v", what, err)
	}
}

// field reads one "name:value" line of an INFO-style reply.
func field(n *Server, cmd, section, name string) (string, error) {
	text, err := n.Do(cmd, section)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no %s in %s %s", name, cmd, section)
}

// infoField wants one "name:value" line to say want.
func infoField(n *Server, cmd, section, name, want string) error {
	v, err := field(n, cmd, section, name)
	if err != nil {
		return err
	}
	if v != want {
		return fmt.Errorf("%s is %s, want %s", name, v, want)
	}
	return nil
}
