package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tools installs what is missing from Debian's archive (as root) and
// builds vegeta from the Go module proxy once, into the cache.
func (b *bench) tools(ctx context.Context) error {
	var missing []string
	for _, t := range []struct{ bin, pkg string }{
		{"wrk", "wrk"}, {b.redisServer, "redis-server"}, {"redis-benchmark", "redis-tools"},
		{"gunicorn", "gunicorn"}, {"gnuplot", "gnuplot-nox"}, {"python3", "python3"},
	} {
		if _, err := exec.LookPath(t.bin); err != nil {
			missing = append(missing, t.pkg)
		}
	}
	if err := aptInstall(ctx, missing); err != nil {
		return err
	}
	// The Flask baseline's own dependencies (it is the program compared against), checked with
	// the interpreter gunicorn runs (another python3 may come first on PATH), and not from the
	// repository root, where the redis/ directory would pass for the module.
	if err := probe(ctx, gunicornPython(), "-c", "import flask, redis"); err != nil {
		if err := aptInstall(ctx, []string{"python3-flask", "python3-redis"}); err != nil {
			return err
		}
		if err := probe(ctx, gunicornPython(), "-c", "import flask, redis"); err != nil {
			return fmt.Errorf("the Flask baseline cannot import flask and redis: %w", err)
		}
	}
	b.vegeta = filepath.Join(b.cacheDir, "bin", "vegeta-"+vegetaVersion)
	if _, err := os.Stat(b.vegeta); err != nil && b.Stack {
		logf("building vegeta %s", vegetaVersion)
		// Installed beside the cache's binaries, then renamed into place in one step, so that an
		// interrupted build leaves no half-written vegeta-VERSION behind.
		gobin := filepath.Join(b.cacheDir, "bin", "vegeta-build")
		if _, err := output(
			ctx,
			10*time.Minute,
			os.TempDir(),
			[]string{"GOBIN=" + gobin},
			"go",
			"install",
			"github.com/tsenart/vegeta/v12@"+vegetaVersion,
		); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(gobin, "vegeta"), b.vegeta); err != nil {
			return err
		}
	}
	if b.Stack {
		if _, err := output(ctx, 30*time.Second, "", nil, "docker", "compose", "version"); err != nil {
			return fmt.Errorf("docker compose is missing (run scripts/prepare-docker.sh, or BENCH_STACK=0 to skip the stack level): %w", err)
		}
	}
	return nil
}

// probe runs a short command from a neutral directory.
func probe(ctx context.Context, name string, args ...string) error {
	_, err := output(ctx, 30*time.Second, os.TempDir(), nil, name, args...)
	return err
}

// gunicornPython is the interpreter named on gunicorn's #! line.
func gunicornPython() string {
	path, err := exec.LookPath("gunicorn")
	if err != nil {
		return "python3"
	}
	first, _, _ := strings.Cut(readFile(path), "\n")
	if f := strings.Fields(strings.TrimPrefix(first, "#!")); strings.HasPrefix(first, "#!") && len(f) > 0 && !strings.HasSuffix(f[0], "/env") {
		return f[0]
	}
	return "python3"
}

// aptInstall installs Debian packages, as root.
func aptInstall(ctx context.Context, pkgs []string) error {
	if len(pkgs) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing %s: install them (apt-get install %s)", strings.Join(pkgs, ", "), strings.Join(pkgs, " "))
	}
	logf("installing %s", strings.Join(pkgs, " "))
	if _, err := output(ctx, 5*time.Minute, "", nil, "apt-get", "update", "-qq"); err != nil {
		return err
	}
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	args := append([]string{"install", "-y", "-qq"}, pkgs...)
	_, err := output(ctx, 10*time.Minute, "", env, "apt-get", args...)
	return err
}

func (b *bench) describe(ctx context.Context) {
	first := func(s string, err error) string {
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(s)
	}
	b.Commit = first(output(ctx, 10*time.Second, b.root, nil, "git", "rev-parse", "--short", "HEAD"))
	// Uncommitted changes, apart from this harness' own outputs (the previous run's report).
	if d, err := output(ctx, 10*time.Second, b.root, nil, "git", "status", "--porcelain", "--untracked-files=no", "--",
		".", ":!docs/benchmarks.md", ":!docs/benchmarks.png"); err == nil && strings.TrimSpace(d) != "" {
		b.Commit += " (with uncommitted changes)"
	}
	b.GoVersion = first(output(ctx, 10*time.Second, b.root, nil, "go", "env", "GOVERSION"))
	b.RedisVersion = "?"
	if v, err := output(ctx, 10*time.Second, "", nil, b.redisServer, "--version"); err == nil {
		if strings.HasPrefix(v, "Valkey") {
			b.RedisVersion = "Valkey "
		} else {
			b.RedisVersion = "Redis "
		}
		for _, f := range strings.Fields(v) {
			if s, ok := strings.CutPrefix(f, "v="); ok {
				b.RedisVersion += s
			}
		}
	}
	b.DockerVersion = "not used"
	if b.Stack {
		b.DockerVersion = first(output(ctx, 10*time.Second, "", nil, "docker", "version", "--format", "{{.Server.Version}}"))
	}
}

func (b *bench) bin(name string) string { return filepath.Join(b.work, name) }

func (b *bench) build(ctx context.Context) error {
	logf("building")
	env := []string{"CGO_ENABLED=0"}
	if _, err := output(ctx, 5*time.Minute, b.root, env, "go", "build", "-trimpath", "-o", b.bin("hitcounter"), "./cmd/hitcounter"); err != nil {
		return err
	}
	for _, tool := range []string{"ceiling", "hitload", "startup"} {
		if _, err := output(ctx, 5*time.Minute, b.root, nil, "go", "build", "-o", b.bin(tool), "./bench/"+tool); err != nil {
			return err
		}
	}
	// The services as of BENCH_BASELINE and BENCH_BASELINE_HITS, so that "no worse than before"
	// is measured in the same run as rows of their own, not against figures of another day.
	// When one does not build, its rows are missing and the report says so; the rest still runs.
	for _, p := range []struct {
		commit *string
		name   string
	}{{&b.baselineHits, "hitcounter-before15"}, {&b.Baseline, "hitcounter-baseline"}} {
		if *p.commit == "" {
			continue
		}
		commit, err := b.buildCommit(ctx, *p.commit, p.name)
		if err != nil {
			logf("no %s rows: %v", p.name, err)
			commit = ""
		}
		*p.commit = commit
	}
	dir := filepath.Join(b.root, "bench", "clientcmp")
	for _, p := range []struct{ name, pkg string }{{"clientcmp", "."}, {"visitsrv", "./visitsrv"}} {
		if _, err := output(ctx, 5*time.Minute, dir, nil, "go", "build", "-o", b.bin(p.name), p.pkg); err != nil {
			return err
		}
	}
	return nil
}

// buildCommit builds the service as of commit, from `git archive` into the work directory, as
// binary name; it returns the commit's short form.
func (b *bench) buildCommit(ctx context.Context, commit, name string) (string, error) {
	full, err := output(ctx, 30*time.Second, b.root, nil, "git", "rev-parse", "--short", commit+"^{commit}")
	if err != nil {
		return commit, err
	}
	commit = strings.TrimSpace(full)
	dir := filepath.Join(b.work, "src-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return commit, err
	}
	tarPath := filepath.Join(b.work, name+".tar")
	if _, err := output(ctx, time.Minute, b.root, nil, "git", "archive", "-o", tarPath, commit); err != nil {
		return commit, err
	}
	if _, err := output(ctx, time.Minute, dir, nil, "tar", "-xf", tarPath); err != nil {
		return commit, err
	}
	env := []string{"CGO_ENABLED=0"}
	_, err = output(ctx, 5*time.Minute, dir, env, "go", "build", "-trimpath", "-o", b.bin(name), "./cmd/hitcounter")
	return commit, err
}

func (b *bench) startRedis(ctx context.Context, name string, args ...string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(b.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	all := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
		"--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log")}, args...)
	if _, err := b.procs.start("", nil, b.redisServer, all...); err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return addr, waitRedis(ctx, addr)
}

// startHTTP starts a server process on a free port and waits for readyPath to answer.
func (b *bench) startHTTP(ctx context.Context, readyPath string, env []string, dir string, argv func(port int) []string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	args := argv(port)
	logPath, err := b.procs.start(dir, env, args[0], args[1:]...)
	if err != nil {
		return "", err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitHTTP(ctx, base+readyPath); err != nil {
		return "", fmt.Errorf("%s: %w; its output: %s", strings.Join(args, " "), err, tail(logPath))
	}
	return base + "/", nil
}

func (b *bench) startHitcounter(ctx context.Context, redisAddr string, extra ...string) (string, error) {
	return b.startService(ctx, b.bin("hitcounter"), redisAddr, extra...)
}

func (b *bench) startService(ctx context.Context, bin, redisAddr string, extra ...string) (string, error) {
	host, port, _ := strings.Cut(redisAddr, ":")
	// Each instance its own operator port (/metrics); versions before issue #15 ignore it and
	// serve /metrics on their one port.
	ops, err := freePort()
	if err != nil {
		return "", err
	}
	url, err := b.startHTTP(ctx, "/readyz", nil, "", func(p int) []string {
		// A clean environment, as shipped: no knob but these.
		env := []string{"PORT=" + strconv.Itoa(p), "OPERATOR_PORT=" + strconv.Itoa(ops)}
		// A REDIS_HOST in extra (a cluster's seeds) replaces the one of redisAddr.
		if !slices.ContainsFunc(extra, func(e string) bool { return strings.HasPrefix(e, "REDIS_HOST=") }) {
			env = append(env, "REDIS_HOST="+host, "REDIS_PORT="+port)
		}
		env = append(env, extra...)
		return append([]string{"env", "-i"}, append(env, bin)...)
	})
	if err == nil {
		b.operator[url] = fmt.Sprintf("http://127.0.0.1:%d/", ops)
	}
	return url, err
}

// under is path on the service at base ("http://host:port/"), or "" (no row) without one.
func under(base, path string) string {
	if base == "" {
		return ""
	}
	return base + strings.TrimPrefix(path, "/")
}

// operatorURL is the base of a service's /metrics: its operator port, or for versions before
// issue #15 (which have none), its public one.
func (b *bench) operatorURL(ctx context.Context, base string) string {
	ops, ok := b.operator[base]
	if !ok {
		return base
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ops+"metrics", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return ops
		}
	}
	return base
}

// processRow is one process-level row: one declaration in processLevel's table.
type processRow struct {
	id     string // for BENCH_ROWS
	name   string // in the report
	url    string // wrk's target; "" when its server did not start (a baseline set to none)
	levels []int  // connection levels; nil for every one
	count  counterFunc
	script string // wrk -s, when not ""
	// redis and pid, when set: each run also records what it cost that Redis and that process.
	redis string
	pid   int
	// more are other servers whose command calls and CPU count with redis's (a cluster's other
	// primaries); replicas are servers whose CPU is recorded apart (runCost.ReplicaCPU).
	more, replicas []string
}

// exactRun is bench/hitload's JSON line plus how far the counter moved.
type exactRun struct {
	Name       string
	Requests   int     `json:"requests"`
	OK         int     `json:"ok"`
	Other      int     `json:"other_status"`
	Errors     int     `json:"errors"`
	Duplicates int     `json:"duplicates"`
	MinCount   int64   `json:"min_count"`
	MaxCount   int64   `json:"max_count"`
	RPS        float64 `json:"rps"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Delta      int64
}

type clientResult struct {
	Group   string  `json:"group"`
	Name    string  `json:"name"`
	Clients int     `json:"clients"`
	Round   int     `json:"round"`
	Ops     float64 `json:"ops_per_s"`
}

// Names of the process-level rows the report refers to.
const (
	rowCeiling   = "ceiling (no Redis)"
	rowHC        = "hitcounter"
	rowBaseline  = "hitcounter before issue #8"
	rowQuiet     = "hitcounter, no access log"
	rowNoPersist = "hitcounter, no persistence"
	rowFlask     = "flask (gunicorn, 5 workers)"
	rowMinCoal   = "minimal GET /, coalesced (rueidis)"
	rowMinIncr   = "minimal GET /, INCR per visit"
	rowMinGoRed  = "minimal GET /, coalesced (go-redis)"
)

func (b *bench) processLevel(ctx context.Context) error {
	st := &starter{b: b, ctx: ctx}
	always := st.redis("always", "--appendonly", "yes", "--appendfsync", "always")
	none := st.redis("none", "--appendonly", "no")
	const key = "hitcounter:visits"
	ceiling := st.http("/", nil, "", func(p int) []string {
		return []string{b.bin("ceiling"), "-addr", fmt.Sprintf("127.0.0.1:%d", p)}
	})
	hc, hcPid := st.service(b.bin("hitcounter"), always, getEnv...)
	// The named-counter rows' service: same binary, same Redis, the limits on but not binding;
	// and the same on the Redis without persistence: what the fsync of every write costs the hits.
	hit, hitPid := st.service(b.bin("hitcounter"), always, hitEnv...)
	hitNone, hitNonePid := st.service(b.bin("hitcounter"), none, hitEnv...)
	quiet, _ := st.service(b.bin("hitcounter"), always, append(getEnv, "ACCESS_LOG=false")...)
	noPersist, _ := st.service(b.bin("hitcounter"), none, getEnv...)
	var baseline, hitBefore string
	var hitBeforePid int
	if b.Baseline != "" {
		baseline, _ = st.service(b.bin("hitcounter-baseline"), always)
	}
	// The service before issue #15 beside the /hit rows: same Redis, same counters, same load.
	if b.baselineHits != "" {
		hitBefore, hitBeforePid = st.service(b.bin("hitcounter-before15"), always, hitEnv...)
	}
	visitsrv := func(mode string) string {
		return st.http("/", nil, "", func(p int) []string {
			return []string{b.bin("visitsrv"), "-addr", fmt.Sprintf("127.0.0.1:%d", p), "-redis", always, "-counter", mode}
		})
	}
	minCoal, minIncr, minGoRedis := visitsrv("coalesced"), visitsrv("incr"), visitsrv("go-redis")
	_, redisPort, _ := strings.Cut(always, ":")
	flaskEnv := append(os.Environ(), "REDIS_PORT="+redisPort) // procs.start replaces the environment
	// The Flask app has only "/", which counts (in its own key, before any reading of it).
	flask := st.http("/", flaskEnv, filepath.Join(b.root, "bench", "flask"), func(p int) []string {
		return []string{"gunicorn", "-w", "5", "-b", fmt.Sprintf("127.0.0.1:%d", p), "--log-level", "warning", "app:app"}
	})
	if st.err != nil {
		return st.err
	}

	// The /hit rows' counters exist before the timed runs: those count hits, not creations.
	oneKeyScript, manyKeysScript, badgeScript := st.file(b.writeKeysScript(0, 1)), st.file(b.writeKeysScript(1, hitKeys)), st.file(b.writeBadgeScript())
	if st.err != nil {
		return st.err
	}
	for _, p := range [][2]string{{hit, always}, {hitNone, none}} {
		if err := b.precreate(ctx, p[0], p[1]); err != nil {
			return err
		}
	}
	// The counting badge's own counter, next to the /hit rows' on the persistent Redis.
	if err := b.createBadgeCounter(ctx, hit); err != nil {
		return err
	}

	// Honest counts (issue #17): their own service and the window row's counters.
	honest, err := b.startHonest(ctx, always)
	if err != nil {
		return err
	}

	// Replicas and shards (issue #16): their own Redis deployments, services and counters.
	scaling, err := b.startScaling(ctx)
	if err != nil {
		return err
	}

	countAlways := redisCounter(always, key)
	oneKeyURL := under(hit, hitPath(hitNamespace, 0))
	many := func(addr string) counterFunc { return namedCounter(addr, hitNamespace, 1, hitKeys) }
	one, badge := namedCounter(always, hitNamespace, 0, 1), namedCounter(always, hitNamespace, badgeKey, 1)
	// scaled is a row of issue #16, on its own deployment (absent with BENCH_ROWS without it).
	scaled := func(id, name string) processRow {
		r := processRow{id: id, name: name, script: manyKeysScript}
		if d := scaling[id]; d != nil {
			r.url, r.count, r.pid = d.rowURL(), d.count, d.pid
			r.redis, r.more, r.replicas = d.primaries[0], d.primaries[1:], d.replicas
		}
		return r
	}
	// Every process-level row, in the report's order: what runs (url, and the server's process
	// and Redis whose cost it records), what load (script; every level unless levels says), and
	// what it counts (count, checked against the 2xx answers).
	rows := []processRow{
		{id: "ceiling", name: rowCeiling, url: ceiling},
		{id: "ceiling-lua", name: rowCeilingLua, url: ceiling, script: manyKeysScript},
		{id: "hc", name: rowHC, url: hc, count: countAlways, redis: always, pid: hcPid},
		{id: "hit1", name: rowHitOne, url: oneKeyURL, count: one, script: oneKeyScript, redis: always, pid: hitPid},
		{id: "hit10k", name: rowHitMany, url: oneKeyURL, count: many(always), script: manyKeysScript, redis: always, pid: hitPid},
		{id: "badge", name: rowBadge, url: under(hit, badgePath()), count: badge, script: badgeScript, redis: always, pid: hitPid},
		{id: "hit10k-visitors", name: rowHitVisitors, url: honest.url, script: honest.plainScript, count: many(always), redis: always, pid: honest.pid},
		{id: "hit10k-window", name: rowHitWindow, url: honest.url, script: honest.windowScript,
			count: namedCounter(always, windowNamespace, 1, hitKeys), redis: always, pid: honest.pid},
		{id: "hit1-before15", name: rowHitOneBefore, url: under(hitBefore, hitPath(hitNamespace, 0)), count: one,
			script: oneKeyScript, redis: always, pid: hitBeforePid},
		{id: "hit10k-before15", name: rowHitManyBefore, url: under(hitBefore, hitPath(hitNamespace, 0)), count: many(always),
			script: manyKeysScript, redis: always, pid: hitBeforePid},
		{id: "badge-before15", name: rowBadgeBefore, url: under(hitBefore, badgePath()), count: badge, script: badgeScript, redis: always, pid: hitBeforePid},
		scaled("hit10k-replicated", rowHitManyReplicated),
		scaled("hit10k-cluster1", rowHitManyCluster1),
		scaled("hit10k-cluster3", rowHitManyCluster3),
		scaled("hit10k-cluster3-replicated", rowHitManyCluster3R),
		{id: "hit10k-nopersist", name: rowHitManyNoPersist, url: under(hitNone, hitPath(hitNamespace, 0)), count: many(none),
			script: manyKeysScript, redis: none, pid: hitNonePid},
		{id: "baseline", name: rowBaseline, url: baseline, count: countAlways},
		{id: "min-coal", name: rowMinCoal, url: minCoal, count: countAlways},
		{id: "min-incr", name: rowMinIncr, url: minIncr, count: countAlways},
		{id: "min-goredis", name: rowMinGoRed, url: minGoRedis, count: countAlways},
		{id: "quiet", name: rowQuiet, url: quiet, levels: levels[:1], count: countAlways},
		{id: "nopersist", name: rowNoPersist, url: noPersist, levels: levels[:1], count: redisCounter(none, key)},
		{id: "flask", name: rowFlask, url: flask, levels: levels[:1], count: redisCounter(always, "hits")},
	}
	if b.OnlyRows != nil {
		ids := map[string]bool{}
		for _, r := range rows {
			ids[r.id] = true
		}
		for _, id := range b.OnlyRows {
			if !ids[id] {
				return fmt.Errorf("BENCH_ROWS: no row %q", id)
			}
		}
		rows = slices.DeleteFunc(rows, func(r processRow) bool { return !slices.Contains(b.OnlyRows, r.id) })
	}
	// Interleaved rounds (BENCH_ROUNDS, 3 unless set); the report shows the median of them for
	// every row, so that a moment of noise on the shared cores does not decide a ratio.
	for round := 1; round <= b.Rounds; round++ {
		for _, c := range levels {
			for _, r := range rows {
				if r.url == "" || (r.levels != nil && !slices.Contains(r.levels, c)) {
					continue
				}
				if _, err := b.runRow(ctx, "process", r, c); err != nil {
					return err
				}
			}
		}
	}
	// The index: the /hit rows' 10,001 counters on both Redis servers, and the badge's and the
	// window row's 10,000 on the persistent one.
	b.checkIndex(always, hitKeys+2+hitKeys)
	b.checkIndex(none, hitKeys+1)
	for _, base := range []string{hit, hitNone} {
		b.checkNotLimited(ctx, base)
	}
	b.checkScaling(ctx, scaling)
	if slices.ContainsFunc(rows, func(r processRow) bool { return r.name == rowBadge }) {
		b.checkBadges(ctx, hit, always)
	}

	if b.memoryCounters > 0 {
		if err := b.memory(ctx, b.memoryCounters); err != nil {
			return err
		}
	}
	if b.OnlyRows != nil {
		logf("BENCH_ROWS set: exact runs, start to ready, redis-benchmark and clientcmp skipped")
		b.procs.stop()
		return nil
	}

	for _, e := range []struct{ name, url string }{
		{"hitcounter, access log off", quiet},
		{"minimal GET /, coalesced (go-redis)", minGoRedis},
	} {
		if err := b.exactRun(ctx, e.name, e.url, countAlways); err != nil {
			return err
		}
	}

	logf("process start to ready")
	startPort, err := freePort()
	if err != nil {
		return err
	}
	out, err := output(ctx, 2*time.Minute, "", nil, b.bin("startup"), "-bin", b.bin("hitcounter"),
		"-port", strconv.Itoa(startPort), "-redis-port", redisPort, "-runs", "7")
	if err != nil {
		return err
	}
	if b.Metrics["start_to_ready_ms"], err = strconv.ParseFloat(strings.TrimSpace(out), 64); err != nil {
		return fmt.Errorf("startup printed %q", out)
	}

	logf("redis-benchmark INCR (appendfsync always)")
	for _, rb := range []struct {
		metric      string
		n, pipeline int
	}{{"redis_incr_p1", 200000, 1}, {"redis_incr_p16", 2000000, 16}} {
		out, err := output(ctx, 3*time.Minute, "", nil, "redis-benchmark", "-p", redisPort, "-t", "incr", "-c", "50",
			"-n", strconv.Itoa(rb.n), "-P", strconv.Itoa(rb.pipeline), "-q")
		if err != nil {
			return err
		}
		v, err := parseRedisBenchmark(out)
		if err != nil {
			return err
		}
		b.Metrics[rb.metric] = v
	}

	logf("counter path without HTTP: go-redis vs rueidis, per-visit INCR vs coalesced (bench/clientcmp, %s each)", b.ClientDuration)
	out, err = output(ctx, 10*time.Minute, "", nil, b.bin("clientcmp"), "-addr", always,
		"-duration", b.ClientDuration.String(), "-clients", "64,256", "-rounds", "3")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r clientResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("clientcmp printed %q: %w", line, err)
		}
		b.Clients = append(b.Clients, r)
	}

	// Free the cores for the stack.
	b.procs.stop()
	return nil
}

func (b *bench) exactRun(ctx context.Context, name, url string, count counterFunc) error {
	const n = 20000
	logf("exact run: %s (bench/hitload, %d requests, 64 connections)", name, n)
	before, err := count(ctx)
	if err != nil {
		return err
	}
	out, err := output(ctx, 3*time.Minute, "", nil, b.bin("hitload"), "-url", url, "-n", strconv.Itoa(n), "-c", "64", "-timeout", "2m")
	if err != nil {
		return err
	}
	after, err := settled(ctx, count)
	if err != nil {
		return err
	}
	e := exactRun{Name: name, Delta: after - before}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		return fmt.Errorf("hitload printed %q: %w", out, err)
	}
	b.Exact = append(b.Exact, e)
	// No count handed out twice, every count handed out is this run's (between the readings
	// before and after), and 2xx ≤ growth ≤ requests: a request that failed may have counted.
	if e.Requests != n || e.OK == 0 || e.Duplicates != 0 || e.Delta < int64(e.OK) || e.Delta > int64(e.Requests) ||
		e.MinCount <= before || e.MaxCount > after {
		b.fail("exact run %s: %d requests, %d 2xx, %d other statuses, %d errors, %d duplicates, counts %d..%d, counter +%d",
			name, e.Requests, e.OK, e.Other, e.Errors, e.Duplicates, e.MinCount, e.MaxCount, e.Delta)
	} else {
		logf("exact check ok: %d requests, %d distinct counts, %d failed, counter +%d", n, e.OK, e.Other+e.Errors, e.Delta)
	}
	return nil
}

// parseRedisBenchmark reads "INCR: 12345.67 requests per second" from -q output, whose
// progress lines are separated by carriage returns; the last figure is the result.
func parseRedisBenchmark(out string) (float64, error) {
	var v float64
	found := false
	for _, line := range strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' }) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "INCR:" {
			x, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				v, found = x, true
			}
		}
	}
	if !found {
		return 0, fmt.Errorf("redis-benchmark printed no INCR figure: %q", out)
	}
	return v, nil
}

// starter starts processLevel's servers one after another and keeps the first error, so that
// each start reads as one declaration; after an error it starts nothing more.
type starter struct {
	b   *bench
	ctx context.Context
	err error
}

func (s *starter) keep(v string, err error) string {
	if s.err == nil && err != nil {
		s.err = err
	}
	return v
}

func (s *starter) redis(name string, args ...string) string {
	if s.err != nil {
		return ""
	}
	return s.keep(s.b.startRedis(s.ctx, name, args...))
}

func (s *starter) http(readyPath string, env []string, dir string, argv func(port int) []string) string {
	if s.err != nil {
		return ""
	}
	return s.keep(s.b.startHTTP(s.ctx, readyPath, env, dir, argv))
}

// service starts a hitcounter binary on a Redis and returns its URL and process id.
func (s *starter) service(bin, redisAddr string, env ...string) (string, int) {
	if s.err != nil {
		return "", 0
	}
	url := s.keep(s.b.startService(s.ctx, bin, redisAddr, env...))
	if s.err != nil {
		return "", 0
	}
	return url, s.b.procs.lastPid()
}

// file keeps a written file's path, or the error of writing it.
func (s *starter) file(path string, err error) string { return s.keep(path, err) }
