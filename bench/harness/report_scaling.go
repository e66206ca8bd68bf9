package main

import "runtime"

// The report's parts on replicas and shards (issue #16).

// hitManyGoal is issue #16's target: /hit on 10,000 keys at 80% of /hit on one key or better.
const hitManyGoal = .8

// scalingTargets writes the rows of the table of targets for issue #16.
func (b *bench) scalingTargets(m *md) {
	for _, c := range levels {
		many, one := b.rps("process", rowHitMany, c), b.rps("process", rowHitOne, c)
		r := 0.0
		if one > 0 {
			r = many / one
		}
		m.w("| process level, `/hit` on 10,000 random keys at ≥ %.0f%% of `/hit` on one key (issue #16; same run, %d connections) | %s / %s req/s | %s |",
			100*hitManyGoal, c, num(many), num(one), mark(r, hitManyGoal, pct(many, one), false))
	}
}

// perCall is seconds per Redis script call (EVALSHA/EVAL: one per batch of hits), or 0.
func perCall(c runCost, v float64) float64 {
	n := c.Calls["evalsha"] + c.Calls["eval"]
	if n == 0 {
		return 0
	}
	return v / float64(n)
}

// scalingSection is the report's section on the replicated and cluster rows.
func (b *bench) scalingSection(m *md) {
	m.w("## Replicas and shards (issue #16)")
	m.w("")
	m.w("The `/hit` 10,000-key row (the same wrk script, the same 10,000 counters created first by an")
	m.w("untimed pass of first hits, the same service settings) against four more Redis deployments,")
	m.w("each with its own service and counters, in the same interleaved rounds; every server `appendonly")
	m.w("yes`, `appendfsync always`, the server of the run (%s):", b.redisVersion)
	m.w("")
	m.w("- `%s`: a primary and one replica of it (`--replicaof`, the same", rowHitManyReplicated)
	m.w("  persistence); the service with `REDIS_WAIT_REPLICAS=1`, so every write of the counts is")
	m.w("  followed by `WAITAOF 0 1` and answered only once the replica has it in its append-only file.")
	m.w("  The runs start once the replica's link is up; after them the harness checks that it is still up")
	m.w("  and holds the primary's counts.")
	m.w("- `%s` and `%s`: a Redis Cluster (`cluster-enabled yes`,", rowHitManyCluster1, rowHitManyCluster3)
	m.w("  `cluster-require-full-coverage no`, no replicas), the 16,384 slots split evenly")
	m.w("  (`CLUSTER MEET`, `CLUSTER ADDSLOTSRANGE`, then `cluster_state:ok` on every node); the service")
	m.w("  with `REDIS_MODE=cluster` and every node in `REDIS_HOST`. In a cluster each hit's script holds")
	m.w("  one counter (its keys share a slot), where standalone and Sentinel join the batches of")
	m.w("  different counters in one script run. The check column reads each counter on the node that")
	m.w("  serves its key's slot (CRC16 of the hash tag, checked against `CLUSTER KEYSLOT`).")
	m.w("- `%s`: the cluster of 3 with a replica per primary", rowHitManyCluster3R)
	m.w("  (`CLUSTER REPLICATE`) and the service with `REDIS_WAIT_REPLICAS=1`: the production shape")
	m.w("  (docs/scaling.md) but one replica per shard instead of two. Each hit is its own script call")
	m.w("  there, so each is followed by its own `WAITAOF`. After the runs the harness checks that every")
	m.w("  replica is linked and has applied its primary's replication stream.")
	m.w("")
	m.w("| connections | `/hit` one key | `/hit` 10,000 keys | primary + replica, WAITAOF 1 | cluster, 1 primary | cluster, 3 primaries " +
		"| cluster, 3 primaries + replicas, WAITAOF 1 |")
	m.w("|---|---|---|---|---|---|---|")
	for _, c := range levels {
		m.w("| %d | %s | %s | %s | %s | %s | %s |", c, num(b.rps("process", rowHitOne, c)), num(b.rps("process", rowHitMany, c)),
			num(b.rps("process", rowHitManyReplicated, c)), num(b.rps("process", rowHitManyCluster1, c)), num(b.rps("process", rowHitManyCluster3, c)),
			num(b.rps("process", rowHitManyCluster3R, c)))
	}
	m.w("")
	m.w("Same-run ratios:")
	m.w("")
	m.w("| connections | 10,000 keys ÷ one key (target ≥ 80%) | replicated ÷ standalone (the wait for the replica) " +
		"| cluster of 1 ÷ standalone | cluster of 3 ÷ cluster of 1 | cluster of 3 with replicas ÷ without (the wait, per hit) |")
	m.w("|---|---|---|---|---|---|")
	for _, c := range levels {
		many := b.rps("process", rowHitMany, c)
		c1, c3 := b.rps("process", rowHitManyCluster1, c), b.rps("process", rowHitManyCluster3, c)
		m.w("| %d | %s | %s | %s | %s | %s |", c, pct(many, b.rps("process", rowHitOne, c)), pct(b.rps("process", rowHitManyReplicated, c), many),
			pct(c1, many), ratio(c3, c1), pct(b.rps("process", rowHitManyCluster3R, c), c3))
	}
	m.w("")
	m.w("What the runs cost, summed over the rounds (as in the table above this section): per answered")
	m.w("hit and per script call (one per batch of hits); Redis's figures are every primary's together,")
	m.w("the replicas' apart; cores are CPU seconds per second of the run:")
	m.w("")
	m.w("| row | connections | hits per script call | WAITAOF per hit | Redis CPU per hit | Redis CPU per call | Redis cores " +
		"| replica CPU per hit | service CPU per hit | service cores | wrk cores |")
	m.w("|---|---|---|---|---|---|---|---|---|---|---|")
	have := false
	for _, name := range []string{rowHitOne, rowHitMany, rowHitManyReplicated, rowHitManyCluster1, rowHitManyCluster3, rowHitManyCluster3R} {
		for _, c := range levels {
			s, n := b.costSum(name, c)
			if n == 0 || s.Seconds == 0 {
				continue
			}
			have = true
			replica := "-"
			if s.ReplicaCPU > 0 {
				replica = us(perRequest(s, s.ReplicaCPU))
			}
			m.w("| %s | %d | %s | %.3f | %s | %s | %.2f | %s | %s | %.2f | %.2f |", name, c, batchOf(s, name),
				perRequest(s, float64(s.Calls["waitaof"])), us(perRequest(s, s.RedisCPU)), us(perCall(s, s.RedisCPU)),
				s.RedisCPU/s.Seconds, replica, us(perRequest(s, s.ServiceCPU)), s.ServiceCPU/s.Seconds, s.WrkCPU/s.Seconds)
		}
	}
	if !have {
		m.w("| not measured | | | | | | | | | | |")
	}
	m.w("")
	m.w("This machine has %d cores, and wrk, the service and every Redis server of a row share them: a", runtime.NumCPU())
	m.w("cluster of 3 primaries on it has no more CPU than a cluster of 1, so `cluster of 3 ÷ cluster")
	m.w("of 1` measures what splitting the slots costs or saves here (more fsyncs in parallel, three")
	m.w("servers' event loops and the client's per-node connections), not what 3 shards give on 3")
	m.w("machines; expect it near 1. Shard scaling on separate machines follows from the per-hit and")
	m.w("per-call CPU figures above (docs/scaling.md does the arithmetic).")
	m.w("")
}
