package main

import (
	"fmt"
	"strings"
)

// target is one line per connection level of the report's "Against the targets" table: row
// num's req/s against row den's, at least goal (a level "stack:" prefix picks a stack row).
type target struct {
	text     string // the target, with %d for the connections
	num, den string
	goal     float64
	times    string // the verdict as a ratio with this format ("%.2fx"), or "" for a percentage
	conns    []int
	// shareOf, when set, shows num and den as shares of this row rather than as req/s.
	shareOf string
	// missing is the line shown instead when a figure is absent, if set.
	missing string
}

// targets are the throughput targets, in the report's order; the others follow them in
// writeTargets.
func (b *bench) targets() []target {
	before15 := func(label string) string {
		return "process level, " + label + " within 5%% of before issue #15 (`" + b.baselineHits + "`, same run; %d connections)"
	}
	ts := []target{
		{text: "process level, `GET /` at ≥ 75%% of the no-Redis ceiling (%d connections)", num: rowHC, den: rowCeiling, goal: .75},
		{text: "process level, `GET /` no worse than before issue #8 (`" + b.baselineName() + "`, same run; %d connections; within 5%% for noise)",
			num: rowHC, den: rowBaseline, goal: .95, times: "%.2fx", shareOf: rowCeiling},
		{text: "process level, `GET /hit/{ns}/{key}` on one key at ≥ 80%% of `GET /` (same run, %d connections)", num: rowHitOne, den: rowHC, goal: .8},
		{text: "process level, `GET /hit/{ns}/{key}` on 10,000 random keys at ≥ 60%% of `GET /` (same run, %d connections)",
			num: rowHitMany, den: rowHC, goal: .6},
		{text: fmt.Sprintf("process level, counting badge `GET /hit/{ns}/{key}/shield` on one key, %s user agents, "+
			"at ≥ %.0f%%%% of `GET /` (same run, %%d connections)",
			num(badgeAgents), 100*badgeGoal), num: rowBadge, den: rowHC, goal: badgeGoal},
	}
	if b.baselineHits == "" {
		ts = append(ts, target{missing: "process level, the hit paths within 5%% of before issue #15 (%d connections) | " +
			"not measured (BENCH_BASELINE_HITS=none)"})
	} else {
		ts = append(ts,
			target{text: before15("`/hit` one key"), num: rowHitOne, den: rowHitOneBefore, goal: .95, times: "%.2fx"},
			target{text: before15("`/hit` 10,000 random keys"), num: rowHitMany, den: rowHitManyBefore, goal: .95, times: "%.2fx"},
			target{text: before15("counting badge"), num: rowBadge, den: rowBadgeBefore, goal: .95, times: "%.2fx"})
	}
	return append(ts,
		target{text: "process level, `/hit` with a 30-minute repeat window and the crawler check within 10%% of `/hit` " +
			"without the window (10,000 keys, a new visitor each, same run, %d connections)",
			num: rowHitWindow, den: rowHitVisitors, goal: .9,
			missing: "process level, `/hit` with a repeat window within 10%% of `/hit` without (%d connections) | not measured in this run"},
		target{text: fmt.Sprintf("process level, `/hit` on 10,000 random keys at ≥ %.0f%%%% of `/hit` on one key "+
			"(issue #16; same run, %%d connections)", 100*hitManyGoal),
			num: rowHitMany, den: rowHitOne, goal: hitManyGoal},
		target{text: "≥ 10x the Flask original under gunicorn (%d connections)", num: rowHC, den: rowFlask, goal: 10, times: "%.1fx", conns: levels[:1]},
		target{text: "stack, 3 replicas, ≥ 60%% of the process level (%d connections, lb's container address)",
			num: "stack:" + rowStack3Direct, den: rowHC, goal: .6},
		target{text: "the same through the published port (%d connections, via docker-proxy)",
			num: "stack:" + rowStack3, den: rowHC, goal: .6, conns: levels[:1]},
	)
}

// writeTargets writes the "Against the targets" table's lines.
func (b *bench) writeTargets(m *md) {
	rps := func(name string, c int) float64 {
		if s, ok := strings.CutPrefix(name, "stack:"); ok {
			return b.rps("stack", s, c)
		}
		return b.rps("process", name, c)
	}
	for _, t := range b.targets() {
		conns := t.conns
		if conns == nil {
			conns = levels
		}
		for _, c := range conns {
			n, d := rps(t.num, c), rps(t.den, c)
			if t.missing != "" && (t.num == "" || n == 0 || d == 0) {
				m.w("| "+t.missing+" | - |", c)
				continue
			}
			r, verdict, shown := 0.0, pct(n, d), fmt.Sprintf("%s / %s req/s", num(n), num(d))
			if d > 0 {
				r = n / d
			}
			if t.times != "" {
				verdict = fmt.Sprintf(t.times, r)
			}
			if t.shareOf != "" {
				ceil := rps(t.shareOf, c)
				shown = fmt.Sprintf("%s vs %s of the ceiling", pct(n, ceil), pct(d, ceil))
			}
			m.w("| "+t.text+" | %s | %s |", c, shown, mark(r, t.goal, verdict, false))
		}
	}
	if l := b.Latency; l != nil {
		m.w(
			"| p99 ≤ 5 ms at 50%% of peak through the stack | p99 %.2f ms at %d req/s | %s |",
			l.P99,
			l.Rate,
			mark(l.P99, 5, fmt.Sprintf("%.2f ms", l.P99), true),
		)
	} else {
		m.w("| p99 ≤ 5 ms at 50% of peak through the stack | n/a | not measured |")
	}
	for _, t := range []struct {
		text, metric, unit, shown string
		most                      float64
	}{
		{"web RSS under load ≤ 30 MB", "web_rss_load_mb", " MB", "peak %s MB", 30},
		{"web image ≤ 12 MB", "web_image_mb", " MB", "%s MB", 12},
		{"process start to ready < 100 ms", "start_to_ready_ms", " ms", "median of 7: %s ms", 100},
	} {
		m.w("| %s | "+t.shown+" | %s |", t.text, b.fig(t.metric), mark(b.metric(t.metric), t.most, b.fig(t.metric)+t.unit, true))
	}
}
