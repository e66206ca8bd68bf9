package main

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// The named-counter parts of the report (issue #9).

// hitTargets writes the rows of the table of targets: /hit against GET /, same run.
func (b *bench) hitTargets(m *md) {
	for _, t := range []struct {
		name, label string
		goal        float64
	}{
		{rowHitOne, "one key", .8},
		{rowHitMany, "10,000 random keys", .6},
	} {
		for _, c := range levels {
			hit, get := b.rps("process", t.name, c), b.rps("process", rowHC, c)
			r := 0.0
			if get > 0 {
				r = hit / get
			}
			m.w("| process level, `GET /hit/{ns}/{key}` on %s at ≥ %.0f%% of `GET /` (same run, %d connections) | %s / %s req/s | %s |",
				t.label, 100*t.goal, c, num(hit), num(get), mark(r, t.goal, pct(hit, get), false))
		}
	}
	for _, c := range levels {
		badge, get := b.rps("process", rowBadge, c), b.rps("process", rowHC, c)
		r := 0.0
		if get > 0 {
			r = badge / get
		}
		m.w("| process level, counting badge `GET /hit/{ns}/{key}/shield` on one key, %s user agents, "+
			"at ≥ %.0f%% of `GET /` (same run, %d connections) | %s / %s req/s | %s |",
			num(badgeAgents), 100*badgeGoal, c, num(badge), num(get), mark(r, badgeGoal, pct(badge, get), false))
	}
}

// hitBeforeTargets writes the rows of "the hit paths within 5% of before": each /hit row
// against the same row on the service before issue #15, same run.
func (b *bench) hitBeforeTargets(m *md) {
	if b.baselineHits == "" {
		m.w("| process level, the hit paths within 5%% of before issue #15 | not measured (BENCH_BASELINE_HITS=none) | - |")
		return
	}
	for _, t := range []struct{ now, before, label string }{
		{rowHitOne, rowHitOneBefore, "`/hit` one key"},
		{rowHitMany, rowHitManyBefore, "`/hit` 10,000 random keys"},
		{rowBadge, rowBadgeBefore, "counting badge"},
	} {
		for _, c := range levels {
			now, before := b.rps("process", t.now, c), b.rps("process", t.before, c)
			r := 0.0
			if before > 0 {
				r = now / before
			}
			m.w("| process level, %s within 5%% of before issue #15 (`%s`, same run; %d connections) | %s / %s req/s | %s |",
				t.label, b.baselineHits, c, num(now), num(before), mark(r, 0.95, fmt.Sprintf("%.2fx", r), false))
		}
	}
}

// memoryResult returns the first memory figure measured as how with names of nsLen + keyLen.
func (b *bench) memoryFigure(how string, nsLen, keyLen int) (memoryResult, bool) {
	for _, r := range b.memoryResults {
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
	m.w("## Named counters")
	m.w("")
	m.w("`hitcounter, /hit …` rows: `GET /hit/%s/{key}` (a 12-character namespace, 20-character keys", hitNamespace)
	m.w("`page-000000000000001` …) against the same binary and the same `appendfsync always` Redis as the")
	m.w("`GET /` row, in the same interleaved rounds. Their service runs with the rate limits on but not")
	m.w("binding: `RATE_LIMIT_HITS=1000000000`, so every hit takes a token and the replica leases them")
	m.w("from Redis 1,000 at a time (the limiter's cost is in the figures) and none is refused (the harness")
	m.w("fails the run if its `hitcounter_rate_limited_total` moved: %.0f in this run); `RATE_LIMIT_CREATES=0`", b.metric("hit_rate_limited"))
	m.w("and `COUNTER_LIMIT=0`. wrk picks a key per request with a Lua script (the requests are formatted")
	m.w("once, so a request costs wrk one Lua call and one random number): key `page-000000000000000` in")
	m.w("the one-key row, one of 10,000 keys uniformly at random in the others; both rows run the same")
	m.w("script and differ only in the number of keys. `%s` is the ceiling with that script", rowCeilingLua)
	ceilLua := func(c int) string { return pct(b.rps("process", rowCeilingLua, c), ceiling[c]) }
	m.w("(any path answers there): %s and %s of the plain ceiling at 64 and 256 connections. That is what", ceilLua(64), ceilLua(256))
	m.w("the script costs wrk at the ceiling's rate; at the `/hit` rows' lower rates it weighs less.")
	m.w("")
	m.w("All 10,001 counters are created before the timed runs, by one untimed pass of first hits")
	m.w("through the API (each must answer `{\"value\":1}`), so the timed runs measure hits on existing")
	m.w("counters, not creations; after the rounds the harness checks that the index `hitcounter:index`")
	m.w("still holds exactly those 10,001 names (and the counting badge's, below). The check column compares the 2xx answers with the growth")
	m.w("of the sum of the row's counters (`HGET hitcounter:c:{ns/key} v` over its keys, summed by one")
	m.w("script in Redis), with the same allowance for wrk's requests in flight as every other row.")
	m.w("`…, no persistence` is the 10,000-key row against the Redis without persistence (its own")
	m.w("service and its own 10,001 counters there), to see what the fsync of every write costs it.")
	m.w("")
	if b.baselineHits != "" {
		m.w("`%s`, `%s` and `%s` are the same rows against the service as of commit", rowHitOneBefore, rowHitManyBefore, rowBadgeBefore)
		m.w("`%s` (`BENCH_BASELINE_HITS`), the last before issue #15 moved who a client is, its limits and", b.baselineHits)
		m.w("its pseudonyms into the domain and made the hit scripts run past maxmemory: same Redis, same")
		m.w("counters, same scripts and settings, in the same rounds. The targets table holds each current")
		m.w("row to within 5% of its row from before.")
		m.w("")
	}

	b.badgeIntro(m)

	rowsOrder := []string{
		rowHC, rowHitOne, rowHitMany, rowHitManyNoPersist, rowHitVisitors, rowHitWindow, rowBadge,
		rowHitOneBefore, rowHitManyBefore, rowBadgeBefore,
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
		m.w("What the runs cost Redis and the service: not measured in this run.")
		m.w("")
		return
	}
	m.w("What the runs cost, summed over the %d round(s) of each row (between wrk's start and end): Redis's", b.rounds)
	m.w("command calls from `INFO commandstats` (commands run inside a script are counted there too) and")
	m.w("its CPU time from `INFO cpu`; the service's CPU time from `/proc/PID/stat`; per answered request,")
	m.w("and as cores (CPU seconds per second of the run):")
	m.w("")
	m.w("| row | connections | requests per counter write | Redis commands per request | Redis CPU per request | Redis cores " +
		"| service CPU per request | service cores |")
	m.w("|---|---|---|---|---|---|---|---|")
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
	m.w("")
	m.w("`GET /` writes with `INCR` (a visit alone) or `INCRBY n` (a batch); a batch of hits with one")
	m.w("`EVALSHA` of the service's hit script, and the commands listed after it are mostly those the")
	m.w("script runs; the rate limiter's leases of 1,000 tokens add an `INCRBY` (and an `EXPIRE`) per")
	m.w("1,000 hits. CPU is CPU: the time Redis waits for its fsyncs is not in it.")
	m.w("")

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
	m.w("**What limits the `/hit` rows.** In these runs the service used %s cores, wrk %s and Redis", span(svc), span(load))
	m.w("%s: %s of the machine's %d together (the rest: the kernel's network work, other work on the", span(redis), span(total), runtime.NumCPU())
	largest := "the largest share in every run"
	for i := range svc {
		if svc[i] <= max(redis[i], load[i]) {
			largest = "the largest share in most runs, not all"
		}
	}
	m.w("shared machine, and idle time while requests wait for Redis's fsyncs). The service takes %s,", largest)
	m.w("so if nothing else holds them back, the rows' req/s go as the inverse of the service's CPU")
	m.w("per request. Same-run ratios, measured and as that predicts:")
	m.w("")
	m.w("| connections | row | req/s vs `GET /` | `GET /`'s service CPU per request / this row's |")
	m.w("|---|---|---|---|")
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
			m.w("%d measured more than 10 points below the prediction: that `/hit` row also waited for", below)
			m.w("something other than the service's CPU (the row without persistence below says whether it was")
			m.w("Redis's fsync).")
		}
		if above > 0 {
			m.w("%d measured more than 10 points above it: there the `GET /` row itself waited for something", above)
			m.w("other than the service's CPU (see its p99 in the Throughput table).")
		}
		m.w("")
	}
	get64, one64, many64, many256 := cost[rowHC][64], cost[rowHitOne][64], cost[rowHitMany][64], cost[rowHitMany][256]
	m.w("*One key* coalesces as `GET /` does: %s requests per write at 64 connections (`GET /`: %s), so",
		batchOf(one64, rowHitOne), batchOf(get64, rowHC))
	m.w("Redis's share is small for both: %s and %s of Redis CPU per request. The difference is mostly in",
		us(perRequest(one64, one64.RedisCPU)), us(perRequest(get64, get64.RedisCPU)))
	m.w("the service: %s of its CPU per request against %s for `GET /` at 64 connections. Before its",
		us(perRequest(one64, one64.ServiceCPU)), us(perRequest(get64, get64.ServiceCPU)))
	m.w("counter, a hit passes the rate limiter (a pseudonym of the client, HMAC-SHA256, and a token per")
	m.w("request) and has its name checked; its answer is JSON.")
	m.w("")
	m.w("*10,000 random keys*: the coalescer is per key (`counter.Keyed`), and with at most 256 requests")
	m.w("in flight spread over 10,000 keys two hits seldom share one; the store joins the batches of")
	m.w("different counters that reach it together into one script run (`internal/redisstore/hits.go`;")
	m.w("in a cluster each counter has its own, [below](#replicas-and-shards-issue-16)): %s requests per",
		batchOf(many64, rowHitMany))
	m.w("script run at 64 connections, %s at 256. A run still takes a step per counter, and the service",
		batchOf(many256, rowHitMany))
	m.w("still answers each hit on its own: %s of service CPU per request at 64 connections against %s",
		us(perRequest(many64, many64.ServiceCPU)), us(perRequest(one64, one64.ServiceCPU)))
	m.w("for one key; and Redis %s of its CPU per hit", us(perRequest(many64, many64.RedisCPU)))
	redisCores := max(many64.RedisCPU/nonZero(many64.Seconds), many256.RedisCPU/nonZero(many256.Seconds))
	if redisCores < .8 {
		m.w("against %s for one key. Redis's CPU is not the limit: at most %.2f cores, where its main", us(perRequest(one64, one64.RedisCPU)), redisCores)
		m.w("thread could use a whole one. Its fsyncs are another matter: with `appendfsync always` the main")
		m.w("thread writes and fsyncs the log before it answers, and runs no command meanwhile.")
	} else {
		m.w("against %s for one key, and Redis is near its limit: %.2f cores, where its main thread can", us(perRequest(one64, one64.RedisCPU)), redisCores)
		m.w("use one.")
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
			m.w("In this run the fsync held the 10,000-key row back little: without persistence it answered")
			m.w("%.2fx and %.2fx the requests at 64 and 256 connections (`GET /`: %s at 64).", n64, n256, getNP)
		} else {
			m.w("In this run the fsync was part of it: without persistence the 10,000-key row answered %.2fx", n64)
			m.w("and %.2fx the requests at 64 and 256 connections (`GET /`: %s at 64). How much an fsync", n256, getNP)
			m.w("costs depends on the disk and on what else writes to it: on this shared VM it varies from run")
			m.w("to run.")
		}
	}
	m.w("Uniform random keys are the coalescer's worst case; real traffic (README badges) is skewed")
	m.w("towards a few counters and lies between the two rows.")
	m.w("")
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
	m.w("## Redis memory per counter")
	m.w("")
	if len(b.memoryResults) == 0 {
		m.w("Not measured in this run (`BENCH_MEMORY_COUNTERS=0`).")
		m.w("")
		return
	}
	r0 := b.memoryResults[0]
	m.w("Each figure on a fresh Redis server, %s (default encodings, as in `redis/redis.conf`; no", b.redisVersion)
	m.w("persistence, which does not change the data set) with a fresh service with the limits off")
	m.w("(`RATE_LIMIT_HITS=0`, `RATE_LIMIT_CREATES=0`, `COUNTER_LIMIT=0`), so that it writes nothing but")
	m.w("the counters. %s counters are created first (scripts loaded, connections open); then `INFO", num(float64(r0.Warmup)))
	m.w("memory` `used_memory` is read, %s more counters are created through the service's API (64", num(float64(r0.Counters)))
	m.w("requests at a time, one request per counter), and it is read again: bytes per counter is the")
	m.w("growth divided by the counters, everything the service wrote for them included: the counter's")
	m.w("keys (the hash `hitcounter:c:{ns/key}` and any other key under its name) and its name in the set")
	m.w("`hitcounter:index`.")
	m.w("")
	m.w("| created by | namespace + key | counters | `used_memory` growth | per counter | a million counters " +
		"| keys per counter (besides the index) | hash fields | hash encoding | index per name |")
	m.w("|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range b.memoryResults {
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
	m.w("So a counter created by its first hit, with a 12-character namespace and a 20-character key,")
	m.w("takes about %.0f bytes of Redis memory, and a million of them about %.0f MB (10^6 bytes); the", r.perCounter(), r.perCounter())
	m.w("default `COUNTER_LIMIT` of 100,000 about %.0f MB. The million is a linear extrapolation from", r.perCounter()/10)
	m.w("%s counters: Redis's hash tables (the keyspace's and the index's) double as they grow, so a", num(float64(r.Counters)))
	m.w("count just past a doubling costs a few percent more than the line, just before it a few percent")
	m.w("less.")
	if keys, total := r.counterKeys(); len(keys) > 0 {
		m.w("")
		m.w("One of these counters, as `MEMORY USAGE` sees its keys: %s.", strings.Join(keys, "; "))
		if r.IndexUsage > 0 {
			idx := float64(r.IndexUsage) / float64(r.Warmup+r.Counters)
			if float64(total)+idx < r.perCounter() {
				m.w("With its name in the index (%.0f bytes) that is %.0f bytes; the rest of the figure is what", idx, float64(total)+idx)
				m.w("`MEMORY USAGE` leaves out, such as the keyspace's own table and the allocator's rounding.")
			}
		}
	}
	if r.Fields > 2 || r.keysPerCounter() > 1.005 {
		m.w("")
		m.w("These counters were hit once, on one day: a counter keeps more than its value and creation")
		m.w("time (the hash fields and keys above), and if that includes per-day history, a counter hit on")
		m.w("many days holds more than this; the figure is the first day's, not a year's.")
	}
	if c, ok := b.memoryFigure("POST /create (with admin key)", 12, 20); ok {
		m.w("")
		m.w("A counter made by `POST /create` carries its admin key's hash (64 hexadecimal characters) and")
		m.w("has had no hit: %.0f bytes against %.0f for one made by its first hit.", c.perCounter(), r.perCounter())
	}
	m.w("")
}
