// Command harness is `make bench`: it measures hitcounter side by side with its limits in one
// run, on loopback and the project's own containers only, and writes docs/benchmarks.md and
// docs/benchmarks.png. Every load has a fixed duration; the whole run is bounded by
// BENCH_TIMEOUT (45 minutes unless set).
//
// Process level (local processes, one local redis-server with appendfsync always, one without
// persistence):
//
//	ceiling      a net/http handler writing a fixed line, no Redis (bench/ceiling)
//	hitcounter   the service's GET / as shipped (coalesced INCRBY, access log on); without the
//	             access log; without persistence
//	/hit         named counters: GET /hit/{ns}/{key} on one key and on 10,000 keys at random
//	             per request (a wrk Lua script), rate limits on but not binding, the counters
//	             created by an untimed pass first; what each run cost Redis and the service
//	             (INFO commandstats and cpu, /proc); and Redis memory per counter (fresh
//	             redis-servers, counters created through the API)
//	badge        the counting badge (issue #10): GET /hit/{ns}/{key}/shield on one key, a
//	             User-Agent at random among 1,000 per request (wrk script), so each hit adds a
//	             visitor to the day's HyperLogLog; answers checked by a sample after the rounds
//	             (SVG, never cached, the next count), the day's uniques against the 1,000
//	visitsrv     a minimal GET / (bench/clientcmp/visitsrv) over three counter paths: coalesced
//	             on the shipped store, one INCR per visit, coalesced over go-redis
//	flask        the Flask original under gunicorn with 5 workers (bench/flask)
//	redis        redis-benchmark INCR, one per round trip and pipelined 16 deep
//	clients      bench/clientcmp: go-redis vs rueidis bare and through the coalescer; the shipped
//	             store with one INCR per visit vs coalescing
//	replicas     issue #16: /hit on 10,000 keys against a primary with one replica that every
//	and shards   write of the counts waits for (REDIS_WAIT_REPLICAS=1, WAITAOF), and against a
//	             Redis Cluster of 1 and of 3 primaries (REDIS_MODE=cluster), and of 3 with a
//	             replica each (WAITAOF 1), each with its own counters, read back from the node
//	             that serves each key
//
// Stack level (docker compose, the real images, project hcbench-PID): through the load
// balancer to 1 and 3 web replicas; latency at a fixed rate of half the peak (vegeta, open
// loop); resources; where the CPU goes.
//
// Every counting run is checked: the counter moved by the 2xx answers (wrk stops with some
// requests in flight, so by at most the connection count more), and exact closed-loop runs
// (bench/hitload) find no count handed out twice. A failed check fails the run (exit 1) after
// the report is written.
//
// Environment: BENCH_DURATION (8s) per wrk run, BENCH_THREADS (2), BENCH_ROUNDS (3) of the
// process-level runs, BENCH_OUT
// (docs/benchmarks.md), BENCH_VEGETA_DURATION (15s), BENCH_CLIENT_DURATION (3s),
// BENCH_TIMEOUT (45m), BENCH_BASELINE (the commit of the "before" row, or none),
// BENCH_BASELINE_HITS (the commit of the /hit rows' "before" rows, the service before issue
// #15, or none), HITCOUNTER_CACHE (/var/cache/hitcounter, where vegeta is kept), and
// BENCH_STACK=0 to skip the Docker part while working on the harness (the report then says so);
// BENCH_ROWS=id,... runs only those process-level rows (ids in processLevel: ceiling, hc, hit1,
// hit10k, badge, hit10k-replicated, hit10k-cluster1, hit10k-cluster3, hit10k-cluster3-replicated,
// ...) and skips the exact runs, redis-benchmark and clientcmp, and by default the stack level
// (BENCH_STACK=1 runs it) and the memory figures; its report goes to
// $TMPDIR/hitcounter-bench-rows/ (with the raw results, results.json) unless BENCH_OUT is set,
// never over the full run's docs/benchmarks.md;
// BENCH_MEMORY_COUNTERS (100000, 0 with BENCH_ROWS; 0 skips) counters per memory figure;
// REDIS_SERVER_BIN (redis-server from PATH) the server every local Redis runs (the Makefile
// sets the stack's own Valkey when scripts/prepare-machine.sh cached it);
// BENCH_SAVE=FILE keeps the raw results, BENCH_RENDER=FILE rewrites the report from them.
//
// Where things are: every process-level row is one declaration in processLevel's table (what
// runs, what load, what it counts), every wrk run goes through runRow, the throughput targets
// are the table in targets.go, and the report's fixed text is prose.md, block by block.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const vegetaVersion = "v12.13.0"

// defaultBaseline is the commit whose `make bench` recorded the figures from before issue #8
// (hitcounter at 54% and 52% of the ceiling); the service as of that commit runs beside the
// current one as the "before" row.
const defaultBaseline = "e8d9467"

// defaultBaselineHits is the last commit before issue #15 (client identity, limits and
// pseudonyms moved into the domain; scripts that run past maxmemory): its /hit, 10,000-key and
// badge rows run beside the current ones, "within 5% of before".
const defaultBaselineHits = "7111743"

// Concurrency levels of the closed-loop runs.
var levels = []int{64, 256}

type bench struct {
	// results is what the report is written from (and BENCH_SAVE keeps): settings, figures,
	// failed checks.
	results
	root         string // the repository
	work         string // temporary files and binaries
	out          string
	duration     time.Duration
	baselineHits string // commit of the /hit rows' "before" rows; "" for none
	// operator maps a service's public URL to its operator port's (metrics live there).
	operator       map[string]string
	cacheDir       string
	vegeta         string
	redisServer    string // REDIS_SERVER_BIN, or redis-server from PATH
	memoryCounters int    // BENCH_MEMORY_COUNTERS: counters per memory figure; 0 skips it
	procs          procs
}

func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.Failures = append(b.Failures, msg)
	logf("CHECK FAILED: %s", msg)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envDuration(name, def string, max time.Duration) (time.Duration, string, error) {
	s := envOr(name, def)
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > max {
		return 0, "", fmt.Errorf("%s=%q: want a duration in (0, %s]", name, s, max)
	}
	return d, s, nil
}

func newBench() (*bench, error) {
	root, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "bench", "harness")); err != nil {
		return nil, errors.New("run from the repository root (make bench)")
	}
	b := &bench{root: root, results: results{Metrics: map[string]float64{}, Started: time.Now()}, operator: map[string]string{}}
	if b.duration, b.DurationArg, err = envDuration("BENCH_DURATION", "8s", 2*time.Minute); err != nil {
		return nil, err
	}
	if b.VegetaDuration, _, err = envDuration("BENCH_VEGETA_DURATION", "15s", 2*time.Minute); err != nil {
		return nil, err
	}
	if b.ClientDuration, _, err = envDuration("BENCH_CLIENT_DURATION", "3s", time.Minute); err != nil {
		return nil, err
	}
	if b.Threads, err = strconv.Atoi(envOr("BENCH_THREADS", "2")); err != nil || b.Threads < 1 || b.Threads > 64 {
		return nil, fmt.Errorf("BENCH_THREADS=%q: want 1..64", os.Getenv("BENCH_THREADS"))
	}
	if b.Rounds, err = strconv.Atoi(envOr("BENCH_ROUNDS", "3")); err != nil || b.Rounds < 1 || b.Rounds > 5 {
		return nil, fmt.Errorf("BENCH_ROUNDS=%q: want 1..5", os.Getenv("BENCH_ROUNDS"))
	}
	if b.baselineHits = envOr("BENCH_BASELINE_HITS", defaultBaselineHits); b.baselineHits == "none" {
		b.baselineHits = ""
	}
	if b.Baseline = envOr("BENCH_BASELINE", defaultBaseline); b.Baseline == "none" {
		b.Baseline = ""
	}
	b.cacheDir = envOr("HITCOUNTER_CACHE", "/var/cache/hitcounter")
	b.redisServer = envOr("REDIS_SERVER_BIN", "redis-server")
	// A partial run (BENCH_ROWS) is for working on some rows: it leaves docs/benchmarks.md (the
	// full run's) alone unless BENCH_OUT says otherwise, and skips the stack level and the memory
	// figures unless BENCH_STACK=1 or BENCH_MEMORY_COUNTERS ask for them.
	defaultOut, defaultMemory := filepath.Join("docs", "benchmarks.md"), "100000"
	b.Stack = os.Getenv("BENCH_STACK") != "0"
	if v := os.Getenv("BENCH_ROWS"); v != "" {
		b.OnlyRows = strings.Split(v, ",")
		defaultOut = filepath.Join(os.TempDir(), "hitcounter-bench-rows", "benchmarks.md")
		defaultMemory = "0"
		b.Stack = os.Getenv("BENCH_STACK") == "1"
	}
	b.out = envOr("BENCH_OUT", defaultOut)
	if err := os.MkdirAll(filepath.Dir(b.out), 0o755); err != nil {
		return nil, err
	}
	if b.memoryCounters, err = strconv.Atoi(envOr("BENCH_MEMORY_COUNTERS", defaultMemory)); err != nil || b.memoryCounters < 0 || b.memoryCounters > 1000000 {
		return nil, fmt.Errorf("BENCH_MEMORY_COUNTERS=%q: want 0..1000000", os.Getenv("BENCH_MEMORY_COUNTERS"))
	}
	return b, nil
}

func run(ctx context.Context) error {
	b, err := newBench()
	if err != nil {
		return err
	}
	timeout, _, err := envDuration("BENCH_TIMEOUT", "45m", 2*time.Hour)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	b.work, err = os.MkdirTemp("", "hcbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(b.work)
	if from := os.Getenv("BENCH_RENDER"); from != "" {
		if err := b.load(from); err != nil {
			return fmt.Errorf("BENCH_RENDER: %w", err)
		}
		if err := b.report(); err != nil {
			return err
		}
		if err := b.chart(ctx); err != nil {
			return err
		}
		logf("wrote %s and %s from %s", b.out, b.chartPath(), from)
		return nil
	}
	if err := b.tools(ctx); err != nil {
		return err
	}
	b.procs.logs = b.work
	defer b.procs.stop()
	b.LoadAtStart = loadAverage()
	b.describe(ctx)

	if err := b.build(ctx); err != nil {
		return err
	}
	if err := b.processLevel(ctx); err != nil {
		return err
	}
	if b.Stack {
		if err := b.stackLevel(ctx); err != nil {
			return err
		}
	} else {
		logf("stack level skipped (BENCH_STACK=0, or BENCH_ROWS without BENCH_STACK=1)")
	}
	b.LoadAtEnd = loadAverage()
	save := os.Getenv("BENCH_SAVE")
	if save == "" && b.OnlyRows != nil {
		save = filepath.Join(filepath.Dir(b.out), "results.json")
	}
	if to := save; to != "" {
		if err := b.save(to); err != nil {
			return fmt.Errorf("BENCH_SAVE: %w", err)
		}
	}
	if err := b.report(); err != nil {
		return err
	}
	if err := b.chart(ctx); err != nil {
		return err
	}
	logf("wrote %s and %s in %s", b.out, b.chartPath(), time.Since(b.Started).Round(time.Second))
	if b.OnlyRows != nil {
		logf("BENCH_ROWS set: the report went to %s (raw results %s), not docs/benchmarks.md; the scaling section:", b.out, save)
		var m md
		b.scalingSection(&m)
		fmt.Print(m.String())
	}
	if len(b.Failures) > 0 {
		return fmt.Errorf("%d check(s) failed, first: %s", len(b.Failures), b.Failures[0])
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}
