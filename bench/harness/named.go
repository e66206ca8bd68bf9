package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hitcounter/hitcounter/internal/redistest"
)

// Named counters (issue #9): GET /hit/{namespace}/{key} on one key and on 10,000 keys chosen at
// random per request, beside GET / in the same rounds; and Redis memory per counter.

// Names of the named-counter rows the report refers to.
const (
	rowHitOne  = "hitcounter, /hit one key"
	rowHitMany = "hitcounter, /hit 10,000 random keys"
	// rowHitManyNoPersist is rowHitMany on the Redis without persistence.
	rowHitManyNoPersist = "hitcounter, /hit 10,000 keys, no persistence"
	rowCeilingLua       = "ceiling, wrk random-key script"
	// The same /hit and badge rows against the service before issue #15.
	rowHitOneBefore  = "hitcounter before issue #15, /hit one key"
	rowHitManyBefore = "hitcounter before issue #15, /hit 10,000 random keys"
	rowBadgeBefore   = "hitcounter before issue #15, counting badge"
)

// The counters of the throughput rows: a 12-character namespace and 20-character keys, the
// lengths the memory figure is measured with. The one-key row hits key 0; the 10,000-key row
// keys 1..10,000.
const (
	hitNamespace = "benchmark-ns"
	hitKeyFormat = "page-%015d"
	hitKeys      = 10000
)

// hitEnv is the /hit rows' service: the limits on but never binding. RATE_LIMIT_HITS so high
// that the limiter leases tokens from Redis (1,000 per lease) and never refuses; no limit on
// creating counters or on their number, since the 10,000 counters are created by first hits.
var hitEnv = []string{"RATE_LIMIT_HITS=1000000000", "RATE_LIMIT_CREATES=0", "COUNTER_LIMIT=0", "RATE_LIMIT_READS=1000000000"}

// getEnv is the GET / rows' service: as shipped, but for the per-client read limit (which GET /
// is under), on but never binding, since wrk is one client.
var getEnv = []string{"RATE_LIMIT_READS=1000000000"}

func hitKey(i int) string { return fmt.Sprintf(hitKeyFormat, i) }

func hitPath(ns string, i int) string { return "/hit/" + ns + "/" + hitKey(i) }

// wrkKeysScript is the wrk script of the /hit rows (and of the ceiling's control row): each
// request asks for /hit/NS/KEY with a key chosen at random among keys FIRST..FIRST+N-1. The
// requests are formatted once per thread, so a request costs wrk one Lua call and one random
// number; one-key and 10,000-key rows run the same script and differ only in N.
const wrkKeysScript = `-- written by bench/harness
local ns, first, n = %q, %d, %d
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
local reqs = {}
function init(args)
  math.randomseed(os.time() * 1009 + (thread_id or 0))
  for i = 1, n do
    reqs[i] = wrk.format("GET", string.format("/hit/%%s/%s", ns, first + i - 1))
  end
end
function request()
  return reqs[math.random(n)]
end
`

// writeKeysScript writes the script for keys first..first+n-1 into the work directory.
func (b *bench) writeKeysScript(first, n int) (string, error) {
	path := filepath.Join(b.work, fmt.Sprintf("keys-%d-%d.lua", first, n))
	body := fmt.Sprintf(wrkKeysScript, hitNamespace, first, n, hitKeyFormat)
	return path, os.WriteFile(path, []byte(body), 0o644)
}

// sumScript adds up the values of the counters ARGV[1]/ARGV[2] with i in ARGV[3]..ARGV[4]
// (ARGV[2] a string.format pattern). Lua numbers are doubles: exact far beyond these sums.
const sumScript = `local s = 0
for i = tonumber(ARGV[3]), tonumber(ARGV[4]) do
  local v = redis.call('HGET', 'hitcounter:c:{' .. ARGV[1] .. '/' .. string.format(ARGV[2], i) .. '}', 'v')
  if v then s = s + tonumber(v) end
end
return tostring(s)`

// namedCounter reads the sum of the counters ns/key(first)..ns/key(first+n-1), as the service
// stores them (hash hitcounter:c:{ns/key}, field v), in one script run on the server.
func namedCounter(addr, ns string, first, n int) counterFunc {
	return func(context.Context) (int64, error) {
		v, err := redistest.Do(addr, "EVAL", sumScript, "0", ns, hitKeyFormat, strconv.Itoa(first), strconv.Itoa(first+n-1))
		if err != nil {
			return 0, fmt.Errorf("sum of %s counters: %w", ns, err)
		}
		return strconv.ParseInt(v, 10, 64)
	}
}

// driveTries is how many times drive tries a request again after a 503 or a broken
// connection, waiting 100 ms more each time (4.5 s in all at most): a disk stalled by other
// work on the shared machine holds the fsyncs of appendfsync always for seconds at times.
const driveTries = 9

// drive sends one request per path, conc at a time over kept-alive connections, and checks
// every answer: status, and check(body, retried) when given. A 503 (Redis slower than the
// service's timeout, which on this shared machine happens) or a broken connection is tried
// again, up to driveTries times; the request that failed may have been applied, which check is
// told.
func drive(ctx context.Context, base, method string, paths []string, conc int, status int, check func(body []byte, retried bool) error) error {
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc},
	}
	defer client.CloseIdleConnections()
	var (
		next     atomic.Int64
		retries  atomic.Int64
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) { once.Do(func() { firstErr = err; cancel() }) }
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(paths) || ctx.Err() != nil {
					return
				}
				var (
					body []byte
					err  error
				)
				for try := 0; ; try++ {
					var req *http.Request
					var resp *http.Response
					if req, err = http.NewRequestWithContext(ctx, method, base+paths[i], nil); err != nil {
						break
					}
					if resp, err = client.Do(req); err != nil {
						// A broken connection (seen once in many runs: a reset): the request may
						// or may not have been applied, as with a 503.
						if ctx.Err() == nil && try < driveTries {
							retries.Add(1)
							time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
							continue
						}
						break
					}
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode == http.StatusServiceUnavailable && try < driveTries {
						retries.Add(1)
						time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
						continue
					}
					// A create that failed but was applied answers 409 when tried again.
					applied := try > 0 && method == http.MethodPost && resp.StatusCode == http.StatusConflict
					if err == nil && resp.StatusCode != status && !applied {
						err = fmt.Errorf("%s %s: %d %s", method, paths[i], resp.StatusCode, strings.TrimSpace(string(body)))
					}
					if err == nil && check != nil {
						err = check(body, try > 0)
					}
					break
				}
				if err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := retries.Load(); n > 0 {
		logf("%d request(s) answered 503 or broke and were sent again", n)
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// firstHit checks the {"value":N} answer of a counter's first hit: 1, or more when an earlier
// try that failed was applied.
func firstHit(body []byte, retried bool) error {
	var a struct {
		Value *int64 `json:"value"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Value == nil || *a.Value < 1 || *a.Value > 1 && !retried {
		return fmt.Errorf("answer %q, want value 1 (a counter created by this hit)", strings.TrimSpace(string(body)))
	}
	return nil
}

// precreate creates the /hit rows' counters by one untimed pass of first hits (each must answer
// value 1: created by this hit), so that the timed runs count hits on existing counters.
func (b *bench) precreate(ctx context.Context, base, redisAddr string) error {
	logf("creating the /hit rows' %d counters (one untimed first hit each)", hitKeys+1)
	paths := make([]string, 0, hitKeys+1)
	for i := 0; i <= hitKeys; i++ {
		paths = append(paths, hitPath(hitNamespace, i))
	}
	if err := drive(ctx, strings.TrimSuffix(base, "/"), http.MethodGet, paths, 64, http.StatusOK, firstHit); err != nil {
		return fmt.Errorf("creating the /hit counters: %w", err)
	}
	n, err := redisInt(redisAddr, "SCARD", "hitcounter:index")
	if err != nil {
		return err
	}
	if n != hitKeys+1 {
		return fmt.Errorf("after creating %d counters the index holds %d names", hitKeys+1, n)
	}
	return nil
}

// redisInt runs a command whose reply is an integer.
func redisInt(addr string, args ...string) (int64, error) {
	v, err := redistest.Do(addr, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	return strconv.ParseInt(v, 10, 64)
}

// redisStats is what a run costs Redis: command calls (by name, commands run inside scripts
// included, as Redis counts them) and the server's CPU time.
type redisStats struct {
	calls map[string]int64
	cpu   float64 // seconds, user + system, all of redis-server's threads
}

// parseRedisInfo reads INFO commandstats and INFO cpu output.
func parseRedisInfo(s string) redisStats {
	st := redisStats{calls: map[string]int64{}}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if cmd, ok := strings.CutPrefix(name, "cmdstat_"); ok {
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "calls="); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					st.calls[cmd] = n
				}
			}
		}
		if name == "used_cpu_user" || name == "used_cpu_sys" {
			v, _ := strconv.ParseFloat(rest, 64)
			st.cpu += v
		}
	}
	return st
}

// readRedisStatsAll is the sum of readRedisStats over servers.
func readRedisStatsAll(addrs ...string) (redisStats, error) {
	sum := redisStats{calls: map[string]int64{}}
	for _, a := range addrs {
		st, err := readRedisStats(a)
		if err != nil {
			return sum, fmt.Errorf("%s: %w", a, err)
		}
		for k, v := range st.calls {
			sum.calls[k] += v
		}
		sum.cpu += st.cpu
	}
	return sum, nil
}

func readRedisStats(addr string) (redisStats, error) {
	cmds, err := redistest.Do(addr, "INFO", "commandstats")
	if err != nil {
		return redisStats{}, err
	}
	cpu, err := redistest.Do(addr, "INFO", "cpu")
	if err != nil {
		return redisStats{}, err
	}
	return parseRedisInfo(cmds + "\n" + cpu), nil
}

// runCost is what one measured run cost Redis and the service, for the per-request figures.
type runCost struct {
	Name       string
	Conns      int
	OK         int64            // 2xx answers
	Calls      map[string]int64 // Redis command calls during the run
	RedisCPU   float64          // seconds
	ServiceCPU float64          // seconds
	WrkCPU     float64          // seconds
	ReplicaCPU float64          `json:",omitempty"` // seconds, the row's replicas (the calls and RedisCPU are its primaries')
	Seconds    float64          // wall time of the run
}

// costReading is what a run's Redis servers and service had used when wrk started.
type costReading struct {
	primaries, replicas redisStats
	ticks               int64
	wrk                 float64
	start               time.Time
}

// startCost reads what r's Redis (r.redis and r.more; r.replicas apart) and service (r.pid)
// have used so far.
func startCost(r processRow) (*costReading, error) {
	var c costReading
	var err error
	if c.replicas, err = readRedisStatsAll(r.replicas...); err != nil {
		return nil, err
	}
	c.primaries, err = readRedisStatsAll(append([]string{r.redis}, r.more...)...)
	_, c.ticks, _ = procStat(strconv.Itoa(r.pid))
	c.wrk, c.start = childrenCPU(), time.Now()
	return &c, err
}

// end is what the run cost since start (its 2xx answers are the caller's to fill in).
func (c *costReading) end(r processRow, conns int) (runCost, error) {
	elapsed := time.Since(c.start).Seconds()
	wrk := childrenCPU()
	_, ticks, _ := procStat(strconv.Itoa(r.pid))
	primaries, err := readRedisStatsAll(append([]string{r.redis}, r.more...)...)
	if err != nil {
		return runCost{}, err
	}
	replicas, err := readRedisStatsAll(r.replicas...)
	if err != nil {
		return runCost{}, err
	}
	rc := runCost{Name: r.name, Conns: conns, Calls: map[string]int64{}, RedisCPU: primaries.cpu - c.primaries.cpu,
		ServiceCPU: float64(ticks-c.ticks) / 100, WrkCPU: wrk - c.wrk, Seconds: elapsed, // /proc ticks are 1/100 s (USER_HZ)
		ReplicaCPU: replicas.cpu - c.replicas.cpu}
	for cmd, n := range primaries.calls {
		// The readings' own INFO calls are not the run's.
		if d := n - c.primaries.calls[cmd]; d > 0 && cmd != "info" {
			rc.Calls[cmd] = d
		}
	}
	return rc, nil
}

// costSum adds up the runs of one row at one level.
func (b *bench) costSum(name string, conns int) (runCost, int) {
	sum := runCost{Name: name, Conns: conns, Calls: map[string]int64{}}
	n := 0
	for _, c := range b.Costs {
		if c.Name != name || c.Conns != conns {
			continue
		}
		n++
		sum.OK += c.OK
		sum.RedisCPU += c.RedisCPU
		sum.ServiceCPU += c.ServiceCPU
		sum.WrkCPU += c.WrkCPU
		sum.ReplicaCPU += c.ReplicaCPU
		sum.Seconds += c.Seconds
		for k, v := range c.Calls {
			sum.Calls[k] += v
		}
	}
	return sum, n
}

// checkIndex fails the run when the index no longer holds exactly the counters made before the
// timed runs (want of them): a timed run must count hits, not create counters.
func (b *bench) checkIndex(addr string, want int64) {
	n, err := redisInt(addr, "SCARD", "hitcounter:index")
	if err != nil {
		b.fail("reading the counter index: %v", err)
		return
	}
	if n != want {
		b.fail("the counter index holds %d names after the timed /hit runs, want %d (a timed run created counters)", n, want)
	}
}

// checkNotLimited fails the run when the service refused any hit by its rate limit: the /hit
// rows are meant to include the limiter's cost, not its refusals.
func (b *bench) checkNotLimited(ctx context.Context, base string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.operatorURL(ctx, base)+"metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.fail("reading the /hit service's metrics: %v", err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var limited float64
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "hitcounter_rate_limited_total") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			limited += v
		}
	}
	b.Metrics["hit_rate_limited"] += limited
	if limited > 0 {
		b.fail("the /hit service refused %.0f requests by its rate limits (RATE_LIMIT_HITS=1000000000 should never bind)", limited)
	}
}

// memoryResult is one measurement of Redis memory per counter.
type memoryResult struct {
	How           string // "first hit" or "POST /create"
	NamespaceLen  int
	KeyLen        int
	Warmup        int   // counters created before the first reading
	Counters      int   // counters created between the readings
	Before, After int64 // used_memory, bytes
	KeyUsage      int64 // MEMORY USAGE of one counter's hash
	IndexUsage    int64 // MEMORY USAGE of the index at the end (every element)
	Encoding      string
	Keys          int64   // DBSIZE at the end
	Fields        int64   // HLEN of one counter's hash
	OneCounter    string  // one counter's keys: "name type bytes" lines (MEMORY USAGE)
	Seconds       float64 // creating the measured counters through the API
}

func (m memoryResult) perCounter() float64 {
	if m.Counters == 0 {
		return 0
	}
	return float64(m.After-m.Before) / float64(m.Counters)
}

// memoryVariant is one way of creating counters for the memory figure.
type memoryVariant struct {
	how    string
	ns     string
	keyFmt string // fmt pattern of the key, %d the counter's number
	method string
	status int
}

func (v memoryVariant) path(i int) string {
	p := "/hit/"
	if v.method == http.MethodPost {
		p = "/create/"
	}
	return p + v.ns + "/" + fmt.Sprintf(v.keyFmt, i)
}

// memoryVariants: names of 12 + 20 characters, created by a first hit (a hash of v and t) and
// by POST /create (v, t and the admin key's hash); and the longest names (64 + 64) by first hit.
var memoryVariants = []memoryVariant{
	{"first hit", "memory-bench", "item-%015d", http.MethodGet, http.StatusOK},
	{"POST /create (with admin key)", "memory-bench", "item-%015d", http.MethodPost, http.StatusCreated},
	{"first hit", strings.Repeat("n", 64), "key-%060d", http.MethodGet, http.StatusOK},
}

// memory measures Redis memory per counter: for each variant a fresh redis-server (no
// persistence: it does not change the data set) and a fresh service with no limits; warm up
// (scripts loaded, connections open) with 1,000 counters, read used_memory, create n more
// through the API, read it again.
func (b *bench) memory(ctx context.Context, n int) error {
	const warmup = 1000
	for vi, v := range memoryVariants {
		mark := len(b.procs.cmds)
		addr, err := b.startRedis(ctx, fmt.Sprintf("memory-%d", vi), "--appendonly", "no")
		if err != nil {
			return err
		}
		base, err := b.startHitcounter(ctx, addr, "RATE_LIMIT_HITS=0", "RATE_LIMIT_CREATES=0", "COUNTER_LIMIT=0", "ACCESS_LOG=false")
		if err != nil {
			return err
		}
		base = strings.TrimSuffix(base, "/")
		paths := func(from, to int) []string {
			p := make([]string, 0, to-from)
			for i := from; i < to; i++ {
				p = append(p, v.path(i))
			}
			return p
		}
		check := firstHit
		if v.method == http.MethodPost {
			check = nil
		}
		logf("memory per counter: %s, %d+%d-character names, %d counters", v.how, len(v.ns), len(fmt.Sprintf(v.keyFmt, 0)), n)
		if err := drive(ctx, base, v.method, paths(0, warmup), 64, v.status, check); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		r := memoryResult{How: v.how, NamespaceLen: len(v.ns), KeyLen: len(fmt.Sprintf(v.keyFmt, 0)), Warmup: warmup, Counters: n}
		if r.Before, err = usedMemory(addr); err != nil {
			return err
		}
		start := time.Now()
		if err := drive(ctx, base, v.method, paths(warmup, warmup+n), 64, v.status, check); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		r.Seconds = time.Since(start).Seconds()
		if r.After, err = usedMemory(addr); err != nil {
			return err
		}
		// The index names every counter created; the other keys are what the service writes per
		// counter (the limits are off, so it writes nothing else): the report counts them.
		names, err := redisInt(addr, "SCARD", "hitcounter:index")
		if err != nil {
			return fmt.Errorf("memory: counting the index's names: %w", err)
		}
		if names != int64(warmup+n) {
			return fmt.Errorf("memory: after creating %d counters the index holds %d names", warmup+n, names)
		}
		if r.Keys, err = redisInt(addr, "DBSIZE"); err != nil {
			return err
		}
		one := "hitcounter:c:{" + v.ns + "/" + fmt.Sprintf(v.keyFmt, warmup) + "}"
		r.Fields, _ = redisInt(addr, "HLEN", one)
		if r.OneCounter, err = redistest.Do(addr, "EVAL", oneCounterScript, "0", one); err != nil {
			return fmt.Errorf("memory: the keys of %s: %w", one, err)
		}
		r.KeyUsage, _ = redisInt(addr, "MEMORY", "USAGE", one)
		r.IndexUsage, _ = redisInt(addr, "MEMORY", "USAGE", "hitcounter:index", "SAMPLES", "0")
		r.Encoding, _ = redistest.Do(addr, "OBJECT", "ENCODING", one)
		b.Memory = append(b.Memory, r)
		logf("memory per counter: %s, %d+%d: %.0f bytes (%d counters in %.1fs)", r.How, r.NamespaceLen, r.KeyLen, r.perCounter(), n, r.Seconds)
		b.procs.stopFrom(mark)
	}
	return nil
}

// childrenCPU is the CPU time of the harness' children that ended and were waited for: across
// one wrk run, wrk's (the long-running processes end only at the end).
func childrenCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// oneCounterScript lists the keys whose names start with a counter's key (ARGV[1]), which is
// where the service keeps everything of one counter (its hash tag), with their types and
// MEMORY USAGE: "name type bytes" lines.
const oneCounterScript = `local out = {}
for _, k in ipairs(redis.call('KEYS', ARGV[1]:gsub('[%*%?%[%]\\]', '\\%0') .. '*')) do
  out[#out + 1] = k .. ' ' .. redis.call('TYPE', k).ok .. ' ' .. redis.call('MEMORY', 'USAGE', k)
end
table.sort(out)
return table.concat(out, '\n')`

func usedMemory(addr string) (int64, error) {
	info, err := redistest.Do(addr, "INFO", "memory")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO memory has no used_memory: %q", info)
}
