package main

import "runtime"

// The report's parts on replicas and shards (issue #16).

// hitManyGoal is issue #16's target: /hit on 10,000 keys at 80% of /hit on one key or better.
const hitManyGoal = .8

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
	m.p("report_scaling-1", b.RedisVersion, rowHitManyReplicated, rowHitManyCluster1, rowHitManyCluster3, rowHitManyCluster3R)
	for _, c := range levels {
		m.w("| %d | %s | %s | %s | %s | %s | %s |", c, num(b.rps("process", rowHitOne, c)), num(b.rps("process", rowHitMany, c)),
			num(b.rps("process", rowHitManyReplicated, c)), num(b.rps("process", rowHitManyCluster1, c)), num(b.rps("process", rowHitManyCluster3, c)),
			num(b.rps("process", rowHitManyCluster3R, c)))
	}
	m.p("report_scaling-2")
	for _, c := range levels {
		many := b.rps("process", rowHitMany, c)
		c1, c3 := b.rps("process", rowHitManyCluster1, c), b.rps("process", rowHitManyCluster3, c)
		m.w("| %d | %s | %s | %s | %s | %s |", c, pct(many, b.rps("process", rowHitOne, c)), pct(b.rps("process", rowHitManyReplicated, c), many),
			pct(c1, many), ratio(c3, c1), pct(b.rps("process", rowHitManyCluster3R, c), c3))
	}
	m.p("report_scaling-3")
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
	m.p("report_scaling-4", runtime.NumCPU())
}
