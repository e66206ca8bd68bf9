package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/redistest"
)

// Replicas and shards (issue #16): the /hit 10,000-key row against a primary with one replica
// that every write of the counts waits for (REDIS_WAIT_REPLICAS=1, WAITAOF), and against a Redis
// Cluster of 1 and of 3 primaries (REDIS_MODE=cluster), beside the standalone rows.

// Names of the rows.
const (
	rowHitManyReplicated = "hitcounter, /hit 10,000 keys, primary + 1 replica, WAITAOF 1"
	rowHitManyCluster1   = "hitcounter, /hit 10,000 keys, cluster of 1 primary"
	rowHitManyCluster3   = "hitcounter, /hit 10,000 keys, cluster of 3 primaries"
	// rowHitManyCluster3R is the production shape on this machine: each primary with a replica
	// that every write of the counts waits for.
	rowHitManyCluster3R = "hitcounter, /hit 10,000 keys, cluster of 3 primaries + 1 replica each, WAITAOF 1"
)

// scalingRows are the rows' ids and names, in the report's order.
var scalingRows = []struct{ id, name string }{
	{"hit10k-replicated", rowHitManyReplicated},
	{"hit10k-cluster1", rowHitManyCluster1},
	{"hit10k-cluster3", rowHitManyCluster3},
	{"hit10k-cluster3-replicated", rowHitManyCluster3R},
}

// persistArgs are every server's persistence in these rows: as shipped.
var persistArgs = []string{"--appendonly", "yes", "--appendfsync", "always"}

// settleTimeout bounds how long a replica may take to be in sync, or a cluster to form.
const settleTimeout = 30 * time.Second

// deployment is one Redis deployment with the /hit service in front of it.
type deployment struct {
	url       string   // the service's base URL
	pid       int      // the service's process
	primaries []string // the servers that take writes
	replicas  []string
	replicaOf []string // replicaOf[i] is the primary of replicas[i]
	indexNode string   // the server that holds hitcounter:index
	count     counterFunc
}

// rowURL is the URL wrk is pointed at (the script picks the path).
func (d *deployment) rowURL() string {
	if d == nil {
		return ""
	}
	return d.url + strings.TrimPrefix(hitPath(hitNamespace, 0), "/")
}

// waitUntil calls check every 100 ms until it succeeds, for at most timeout.
func waitUntil(ctx context.Context, what string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	var err error
	for i := 0; i < 1000; i++ {
		if err = check(); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("waiting for %s (%s): %w", what, timeout, err)
}

// infoField is one "name:value" field of INFO section (or of CLUSTER INFO, section "cluster").
func infoField(addr, section, name string) (string, error) {
	var s string
	var err error
	if section == "cluster" {
		s, err = redistest.Do(addr, "CLUSTER", "INFO")
	} else {
		s, err = redistest.Do(addr, "INFO", section)
	}
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s has no %s", section, name)
}

func wantField(addr, section, name, want string) error {
	v, err := infoField(addr, section, name)
	if err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	if v != want {
		return fmt.Errorf("%s: %s is %q, want %q", addr, name, v, want)
	}
	return nil
}

// startReplicated starts a primary and a replica of it (both persisted as shipped) and the
// /hit service on the primary, whose writes of the counts wait for the replica's append-only
// file (REDIS_WAIT_REPLICAS=1); it waits until the replica's link is up.
func (b *bench) startReplicated(ctx context.Context) (*deployment, error) {
	primary, err := b.startRedis(ctx, "repl-primary", persistArgs...)
	if err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(primary, ":")
	replica, err := b.startRedis(ctx, "repl-replica", append(slices.Clone(persistArgs), "--replicaof", host, port)...)
	if err != nil {
		return nil, err
	}
	if err := waitReplicaUp(ctx, primary, replica); err != nil {
		return nil, err
	}
	url, err := b.startHitcounter(ctx, primary, append(slices.Clone(hitEnv), "REDIS_WAIT_REPLICAS=1")...)
	if err != nil {
		return nil, err
	}
	return &deployment{url: url, pid: b.procs.lastPid(), primaries: []string{primary}, replicas: []string{replica},
		replicaOf: []string{primary}, indexNode: primary, count: namedCounter(primary, hitNamespace, 1, hitKeys)}, nil
}

// waitReplicaUp waits until the replica's link to the primary is up and the primary sees it.
func waitReplicaUp(ctx context.Context, primary, replica string) error {
	return waitUntil(ctx, "the replica's link to be up", settleTimeout, func() error { return waitReplicaUpOnce(primary, replica) })
}

func waitReplicaUpOnce(primary, replica string) error {
	if err := wantField(replica, "replication", "master_link_status", "up"); err != nil {
		return err
	}
	return wantField(primary, "replication", "connected_slaves", "1")
}

// replOffset is a field of INFO replication that holds an offset.
func replOffset(addr, name string) (int64, error) {
	v, err := infoField(addr, "replication", name)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// startCluster starts a Redis Cluster of n primaries (persisted as shipped;
// cluster-require-full-coverage no), its 16,384 slots split evenly, with one replica each when
// replicated; waits until every node says cluster_state:ok (and every replica's link is up), and
// starts the /hit service on it (REDIS_MODE=cluster, every node a seed; REDIS_WAIT_REPLICAS=1
// when replicated).
func (b *bench) startCluster(ctx context.Context, name string, n int, replicated bool) (*deployment, error) {
	args := append(slices.Clone(persistArgs), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-require-full-coverage", "no", "--cluster-node-timeout", "5000")
	total := n
	if replicated {
		total = 2 * n
	}
	var all []string
	for i := range total {
		addr, err := b.startRedis(ctx, fmt.Sprintf("%s-%d", name, i), args...)
		if err != nil {
			return nil, err
		}
		all = append(all, addr)
	}
	nodes, replicas := all[:n], all[n:]
	_, firstPort, _ := strings.Cut(nodes[0], ":")
	for _, node := range all[1:] {
		if _, err := redistest.Do(node, "CLUSTER", "MEET", "127.0.0.1", firstPort); err != nil {
			return nil, fmt.Errorf("%s: CLUSTER MEET: %w", node, err)
		}
	}
	if err := waitUntil(ctx, name+": every node to know the others", settleTimeout, func() error {
		for _, node := range all {
			if err := wantField(node, "cluster", "cluster_known_nodes", strconv.Itoa(total)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for i, node := range nodes {
		from, to := i*16384/n, (i+1)*16384/n-1
		if _, err := redistest.Do(node, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(from), strconv.Itoa(to)); err != nil {
			return nil, fmt.Errorf("%s: CLUSTER ADDSLOTSRANGE: %w", node, err)
		}
	}
	for i, r := range replicas {
		id, err := redistest.Do(nodes[i], "CLUSTER", "MYID")
		if err != nil {
			return nil, fmt.Errorf("%s: CLUSTER MYID: %w", nodes[i], err)
		}
		// A replica can follow a primary once it has heard of it with its slots.
		if err := waitUntil(ctx, name+": "+r+" to replicate "+nodes[i], settleTimeout, func() error {
			_, err := redistest.Do(r, "CLUSTER", "REPLICATE", id)
			return err
		}); err != nil {
			return nil, err
		}
	}
	if err := waitUntil(ctx, name+": cluster_state:ok on every node", settleTimeout, func() error {
		for _, node := range all {
			if err := wantField(node, "cluster", "cluster_state", "ok"); err != nil {
				return err
			}
		}
		for i, r := range replicas {
			if err := waitReplicaUpOnce(nodes[i], r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	owner, err := slotOwners(nodes)
	if err != nil {
		return nil, err
	}
	// The harness computes slots itself (to read each counter on its node): check it agrees.
	probe := "hitcounter:c:{" + hitNamespace + "/" + hitKey(1) + "}"
	if s, err := redistest.Do(nodes[0], "CLUSTER", "KEYSLOT", probe); err != nil {
		return nil, fmt.Errorf("CLUSTER KEYSLOT %s: %w", probe, err)
	} else if s != strconv.Itoa(keySlot(probe)) {
		return nil, fmt.Errorf("CLUSTER KEYSLOT %s answered %q, the harness computes %d", probe, s, keySlot(probe))
	}
	env := append(slices.Clone(hitEnv), "REDIS_MODE=cluster", "REDIS_HOST="+strings.Join(all, ","))
	if replicated {
		env = append(env, "REDIS_WAIT_REPLICAS=1")
	}
	url, err := b.startHitcounter(ctx, nodes[0], env...)
	if err != nil {
		return nil, err
	}
	return &deployment{url: url, pid: b.procs.lastPid(), primaries: nodes, replicas: replicas, replicaOf: nodes[:len(replicas)],
		indexNode: owner[keySlot(indexKey)], count: clusterCounter(owner, hitNamespace, 1, hitKeys)}, nil
}

// indexKey is the service's set of counter names (redisstore.IndexKey).
const indexKey = "hitcounter:index"

// slotOwners is, for each of the 16,384 slots, the node that serves it, each node asked for
// its own slots; every slot must be served.
func slotOwners(nodes []string) ([]string, error) {
	owner := make([]string, 16384)
	for _, node := range nodes {
		s, err := redistest.Do(node, "CLUSTER", "NODES")
		if err != nil {
			return nil, fmt.Errorf("%s: CLUSTER NODES: %w", node, err)
		}
		for _, r := range redistest.OwnSlots(s) {
			for i := r[0]; i <= r[1]; i++ {
				owner[i] = node
			}
		}
	}
	if i := slices.Index(owner, ""); i >= 0 {
		return nil, fmt.Errorf("no node serves slot %d", i)
	}
	return owner, nil
}

// keySlot is Redis Cluster's slot of a key: CRC16 (XMODEM) of its hash tag, or of the whole key
// without one, modulo 16,384.
func keySlot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if end := strings.IndexByte(key[open+1:], '}'); end > 0 {
			key = key[open+1 : open+1+end]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// sumKeysScript adds up field v of the hashes named in ARGV (all on this node).
const sumKeysScript = `local s = 0
for i = 1, #ARGV do
  local v = redis.call('HGET', ARGV[i], 'v')
  if v then s = s + tonumber(v) end
end
return tostring(s)`

// clusterCounter reads the sum of the counters ns/key(first)..ns/key(first+n-1) on a cluster:
// each counter on the node that serves its key's slot, one script run per node.
func clusterCounter(owner []string, ns string, first, n int) counterFunc {
	byNode := map[string][]string{}
	var nodes []string
	for i := first; i < first+n; i++ {
		key := "hitcounter:c:{" + ns + "/" + hitKey(i) + "}"
		node := owner[keySlot(key)]
		if _, ok := byNode[node]; !ok {
			nodes = append(nodes, node)
		}
		byNode[node] = append(byNode[node], key)
	}
	return func(context.Context) (int64, error) {
		var sum int64
		for _, node := range nodes {
			args := append([]string{"EVAL", sumKeysScript, "0"}, byNode[node]...)
			v, err := redistest.Do(node, args...)
			if err != nil {
				return 0, fmt.Errorf("sum of %s counters on %s: %w", ns, node, err)
			}
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, err
			}
			sum += x
		}
		return sum, nil
	}
}

// startScaling starts the deployments of the scaling rows that will run, and creates their
// counters; by row id.
func (b *bench) startScaling(ctx context.Context) (map[string]*deployment, error) {
	ds := map[string]*deployment{}
	for _, r := range scalingRows {
		if b.OnlyRows != nil && !slices.Contains(b.OnlyRows, r.id) {
			continue
		}
		var d *deployment
		var err error
		switch r.id {
		case "hit10k-replicated":
			d, err = b.startReplicated(ctx)
		case "hit10k-cluster1":
			d, err = b.startCluster(ctx, "cluster1", 1, false)
		case "hit10k-cluster3":
			d, err = b.startCluster(ctx, "cluster3", 3, false)
		case "hit10k-cluster3-replicated":
			d, err = b.startCluster(ctx, "cluster3r", 3, true)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.id, err)
		}
		if err := b.precreate(ctx, d.url, d.indexNode); err != nil {
			return nil, fmt.Errorf("%s: %w", r.id, err)
		}
		ds[r.id] = d
	}
	return ds, nil
}

// checkScaling is the checks after the rounds: no timed run created a counter, none was
// refused by a limit; the replica still linked and holding every count the primary has.
func (b *bench) checkScaling(ctx context.Context, ds map[string]*deployment) {
	for _, row := range scalingRows {
		d := ds[row.id]
		if d == nil {
			continue
		}
		b.checkIndex(d.indexNode, hitKeys+1)
		b.checkNotLimited(ctx, d.url)
		for i, r := range d.replicas {
			if err := waitReplicaUp(ctx, d.replicaOf[i], r); err != nil {
				b.fail("replica %s after the runs: %v", r, err)
				continue
			}
			if len(d.primaries) > 1 {
				// A cluster's replica answers reads only after READONLY: compare the replication
				// offsets instead (it has applied everything its primary sent).
				want, err := replOffset(d.replicaOf[i], "master_repl_offset")
				if err == nil {
					err = waitUntil(ctx, "the replica to catch up", 10*time.Second, func() error {
						got, err := replOffset(r, "slave_repl_offset")
						if err == nil && got < want {
							err = fmt.Errorf("replica at offset %d, primary at %d", got, want)
						}
						return err
					})
				}
				if err != nil {
					b.fail("replica %s: %v", r, err)
				} else {
					logf("replica %s has its primary's writes (offset %d)", r, want)
				}
				continue
			}
			want, err := d.count(ctx)
			if err != nil {
				b.fail("the primary's counts: %v", err)
				continue
			}
			onReplica := namedCounter(r, hitNamespace, 1, hitKeys)
			if err := waitUntil(ctx, "the replica to hold the primary's counts", 10*time.Second, func() error {
				got, err := onReplica(ctx)
				if err == nil && got != want {
					err = fmt.Errorf("replica %d, primary %d", got, want)
				}
				return err
			}); err != nil {
				b.fail("replica %s: %v", r, err)
			} else {
				logf("replica %s holds the primary's counts (%d)", r, want)
			}
		}
	}
}
