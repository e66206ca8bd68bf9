package main

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// The named-counter parts of the report (issue #9).

// memoryResult returns the first memory figure measured as how with names of nsLen + keyLen.
func (b *bench) memoryFigure(how string, nsLen, keyLen int) (memoryResult, bool) {
	for _, r := range b.Memory {
		if r.How == how && r.NamespaceLen == nsLen && r.KeyLen == keyLen {
			return r, true
		}
	}
	return memoryResult{}, false
}

// memoryResourceRow is the Resources table's line for the memory per counter.
func (b *bench) memoryResourceRow(m *md) {
	r, ok := b.memoryFigure("first hit", 12, 20)
	if !ok {
		m.w("| Redis memory per named counter | not measured |")
		return
	}
	m.w("| Redis memory per named counter (12 + 20-character names; [below](#redis-memory-per-counter)) | %.0f bytes; a million counters: %.0f MB |",
		r.perCounter(), r.perCounter())
}

// writesPerRequest is how many counter writes (one INCR/INCRBY of GET /, one script run of a
// hit) Redis saw per answered request.
func writesPerRequest(c runCost, name string) float64 {
	if c.OK == 0 {
		return 0
	}
	// GET / was an INCR/INCRBY before issue #15 and is a script since; a hit is a script.
	w := c.Calls["incr"] + c.Calls["incrby"] + c.Calls["evalsha"] + c.Calls["eval"]
	return float64(w) / float64(c.OK)
}

func perRequest(c runCost, v float64) float64 {
	if c.OK == 0 {
		return 0
	}
	return v / float64(c.OK)
}

// callsList is "evalsha 1.00, exists 1.00, ..." per request, most frequent first.
func callsList(c runCost) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range c.Calls {
		all = append(all, kv{k, v})
	}
	slices.SortFunc(all, func(a, b kv) int {
		if a.v != b.v {
			return int(b.v - a.v)
		}
		return strings.Compare(a.k, b.k)
	})
	var parts []string
	for _, x := range all {
		p := perRequest(c, float64(x.v))
		if p < 0.0005 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.3f", strings.ToUpper(x.k), p))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// us formats seconds per request as microseconds, or n/a.
func us(v float64) string {
	if v <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f µs", 1e6*v)
}

// namedSection is the report's section on the named-counter rows.
func (b *bench) namedSection(m *md, ceiling map[int]float64) {
	m.p("report_named-1", hitNamespace, b.metric("hit_rate_limited"), rowCeilingLua)
	ceilLua := func(c int) string { return pct(b.rps("process", rowCeilingLua, c), ceiling[c]) }
	m.p("report_named-2", ceilLua(64), ceilLua(256))
	if b.baselineHits != "" {
		m.p("report_named-3", rowHitOneBefore, rowHitManyBefore, rowBadgeBefore, b.baselineHits)
	}

	b.badgeIntro(m)

	rowsOrder := []string{
		rowHC,
		rowHitOne,
		rowHitMany,
		rowHitManyNoPersist,
		rowHitVisitors,
		rowHitWindow,
		rowBadge,
		rowHitOneBefore,
		rowHitManyBefore,
		rowBadgeBefore,
	}
	have := false
	for _, name := range rowsOrder {
		for _, c := range levels {
			if _, n := b.costSum(name, c); n > 0 {
				have = true
			}
		}
	}
	if !have {
		m.p("report_named-4")
		return
	}
	m.p("report_named-5", b.Rounds)
	cost := map[string]map[int]runCost{}
	for _, name := range rowsOrder {
		cost[name] = map[int]runCost{}
		for _, c := range levels {
			s, n := b.costSum(name, c)
			if n == 0 {
				continue
			}
			cost[name][c] = s
			batch := "n/a"
			if w := writesPerRequest(s, name); w > 0 {
				batch = fmt.Sprintf("%.2f", 1/w)
			}
			m.w("| %s | %d | %s | %s | %s | %.2f | %s | %.2f |", name, c, batch, callsList(s),
				us(perRequest(s, s.RedisCPU)), s.RedisCPU/s.Seconds, us(perRequest(s, s.ServiceCPU)), s.ServiceCPU/s.Seconds)
		}
	}
	m.p("report_named-6")

	// What limits them, from the figures above.
	var svc, redis, load, total []float64
	for _, name := range rowsOrder {
		for _, c := range levels {
			if x, ok := cost[name][c]; ok && x.Seconds > 0 {
				svc = append(svc, x.ServiceCPU/x.Seconds)
				redis = append(redis, x.RedisCPU/x.Seconds)
				load = append(load, x.WrkCPU/x.Seconds)
				total = append(total, (x.ServiceCPU+x.RedisCPU+x.WrkCPU)/x.Seconds)
			}
		}
	}
	span := func(v []float64) string {
		v = slices.Clone(v)
		slices.Sort(v)
		return fmt.Sprintf("%.2f–%.2f", v[0], v[len(v)-1])
	}
	m.p("report_named-7", span(svc), span(load), span(redis), span(total), runtime.NumCPU())
	largest := "the largest share in every run"
	for i := range svc {
		if svc[i] <= max(redis[i], load[i]) {
			largest = "the largest share in most runs, not all"
		}
	}
	m.p("report_named-8", largest)
	agree, below, above := 0, 0, 0
	for _, c := range levels {
		get, ok := cost[rowHC][c]
		for _, name := range []string{rowHitOne, rowHitMany, rowBadge} {
			x, ok2 := cost[name][c]
			pred, measured := "n/a", 0.0
			if get := b.rps("process", rowHC, c); get > 0 {
				measured = b.rps("process", name, c) / get
			}
			if ok && ok2 && perRequest(x, x.ServiceCPU) > 0 {
				p := perRequest(get, get.ServiceCPU) / perRequest(x, x.ServiceCPU)
				pred = fmt.Sprintf("%.0f%%", 100*p)
				switch {
				case measured < p-.1:
					below++
				case measured > p+.1:
					above++
				default:
					agree++
				}
			}
			m.w("| %d | %s | %s | %s |", c, name, pct(b.rps("process", name, c), b.rps("process", rowHC, c)), pred)
		}
	}
	m.w("")
	if n := agree + below + above; n > 0 {
		m.w("%d of the %d agree within 10 points: there the service's CPU per request explains the ratio.", agree, n)
		if below > 0 {
			m.p("report_named-9", below)
		}
		if above > 0 {
			m.p("report_named-10", above)
		}
		m.w("")
	}
	get64, one64, many64, many256 := cost[rowHC][64], cost[rowHitOne][64], cost[rowHitMany][64], cost[rowHitMany][256]
	m.p(
		"report_named-11",
		batchOf(one64, rowHitOne),
		batchOf(get64, rowHC),
		us(perRequest(one64, one64.RedisCPU)),
		us(perRequest(get64, get64.RedisCPU)),
		us(perRequest(one64, one64.ServiceCPU)),
		us(perRequest(get64, get64.ServiceCPU)),
		batchOf(many64, rowHitMany),
		batchOf(many256, rowHitMany),
		us(perRequest(many64, many64.ServiceCPU)),
		us(perRequest(one64, one64.ServiceCPU)),
		us(perRequest(many64, many64.RedisCPU)),
	)
	redisCores := max(many64.RedisCPU/nonZero(many64.Seconds), many256.RedisCPU/nonZero(many256.Seconds))
	if redisCores < .8 {
		m.p("report_named-12", us(perRequest(one64, one64.RedisCPU)), redisCores)
	} else {
		m.p("report_named-13", us(perRequest(one64, one64.RedisCPU)), redisCores)
	}
	np := func(c int) float64 {
		p, a := b.rps("process", rowHitManyNoPersist, c), b.rps("process", rowHitMany, c)
		if p == 0 || a == 0 {
			return 0
		}
		return p / a
	}
	if n64, n256 := np(64), np(256); n64 > 0 && n256 > 0 {
		getNP := ratio(b.rps("process", rowNoPersist, 64), b.rps("process", rowHC, 64))
		if max(n64, n256) < 1.15 {
			m.p("report_named-14", n64, n256, getNP)
		} else {
			m.p("report_named-15", n64, n256, getNP)
		}
	}
	m.p("report_named-16")
	b.badgeAnalysis(m, cost)
}

func nonZero(v float64) float64 {
	if v == 0 {
		return 1
	}
	return v
}

// batchOf is requests per counter write, formatted.
func batchOf(c runCost, name string) string {
	if w := writesPerRequest(c, name); w > 0 {
		return fmt.Sprintf("%.2f", 1/w)
	}
	return "n/a"
}

// counterKeys parses memoryResult.OneCounter: each key of one counter with its type and bytes.
func (r memoryResult) counterKeys() (keys []string, total int64) {
	for _, line := range strings.Split(strings.TrimSpace(r.OneCounter), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseInt(f[2], 10, 64)
		total += n
		keys = append(keys, fmt.Sprintf("`%s` (%s, %d bytes)", f[0], f[1], n))
	}
	return keys, total
}

func (r memoryResult) keysPerCounter() float64 {
	if r.Warmup+r.Counters == 0 {
		return 0
	}
	return float64(r.Keys-1) / float64(r.Warmup+r.Counters) // the index is the one other key
}

// memorySection is the report's section on Redis memory per counter.
func (b *bench) memorySection(m *md) {
	m.p("report_named-17")
	if len(b.Memory) == 0 {
		m.p("report_named-18")
		return
	}
	r0 := b.Memory[0]
	m.p("report_named-19", b.RedisVersion, num(float64(r0.Warmup)), num(float64(r0.Counters)))
	for _, r := range b.Memory {
		idx := "n/a"
		if r.IndexUsage > 0 {
			idx = fmt.Sprintf("%.0f bytes", float64(r.IndexUsage)/float64(r.Warmup+r.Counters))
		}
		m.w("| %s | %d + %d characters | %s | %s bytes | **%.0f bytes** | %.0f MB | %.2f | %d | %s | %s |", r.How, r.NamespaceLen, r.KeyLen,
			num(float64(r.Counters)), num(float64(r.After-r.Before)), r.perCounter(), r.perCounter(), r.keysPerCounter(), r.Fields, r.Encoding, idx)
	}
	m.w("")
	r, ok := b.memoryFigure("first hit", 12, 20)
	if !ok {
		return
	}
	m.p("report_named-20", r.perCounter(), r.perCounter(), r.perCounter()/10, num(float64(r.Counters)))
	if keys, total := r.counterKeys(); len(keys) > 0 {
		m.p("report_named-21", strings.Join(keys, "; "))
		if r.IndexUsage > 0 {
			idx := float64(r.IndexUsage) / float64(r.Warmup+r.Counters)
			if float64(total)+idx < r.perCounter() {
				m.p("report_named-22", idx, float64(total)+idx)
			}
		}
	}
	if r.Fields > 2 || r.keysPerCounter() > 1.005 {
		m.p("report_named-23")
	}
	if c, ok := b.memoryFigure("POST /create (with admin key)", 12, 20); ok {
		m.p("report_named-24", c.perCounter(), r.perCounter())
	}
	m.w("")
}
