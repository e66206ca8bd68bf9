package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/redistest"
)

// The chaos suite: the stack under an open-loop load at a fixed rate through the load balancer
// (loopback only, bounded in count and time), one fault per scenario, every response recorded.
// `make test` runs it briefly; `make chaos` (CHAOS_LONG=1) runs it longer and rewrites
// docs/reliability.md from the results (CHAOS_REPORT=1).

// chaosConfig is the bounded form by default, the long form with CHAOS_LONG=1.
type chaosConfig struct {
	rate    int           // requests per second
	settle  time.Duration // load before the fault and after recovery
	maxLoad time.Duration // hard bound on one scenario's load
}

func chaosSettings() chaosConfig {
	if os.Getenv("CHAOS_LONG") == "1" {
		return chaosConfig{rate: 400, settle: 10 * time.Second, maxLoad: 3 * time.Minute}
	}
	return chaosConfig{rate: 200, settle: 3 * time.Second, maxLoad: 90 * time.Second}
}

// sample is one request of the load.
type sample struct {
	at       time.Time // when it was sent
	took     time.Duration
	status   int // 0: no HTTP answer
	count    int64
	servedBy string
	err      error
}

// loader sends GET / at a fixed rate, whatever the answers, until stopped or bounded.
type loader struct {
	mu      sync.Mutex
	samples []sample
	stop    context.CancelFunc
	done    chan struct{}
}

func (s *stack) startLoad(rate int, bound time.Duration) *loader {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	l := &loader{stop: cancel, done: make(chan struct{})}
	maxRequests := rate * int(bound/time.Second)
	go func() {
		defer close(l.done)
		var wg sync.WaitGroup
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for sent := 0; sent < maxRequests; sent++ {
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-tick.C:
			}
			wg.Go(func() {
				at := time.Now()
				v := s.visit("/")
				l.mu.Lock()
				l.samples = append(l.samples, sample{at: at, took: v.took, status: v.status, count: v.count, servedBy: v.servedBy, err: v.err})
				l.mu.Unlock()
			})
		}
		wg.Wait()
	}()
	return l
}

// finish stops sending, waits for the answers, and returns them in order of sending.
func (l *loader) finish() []sample {
	l.stop()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.samples)
	slices.SortFunc(out, func(a, b sample) int { return a.at.Compare(b.at) })
	return out
}

// outcome summarises a scenario, one row of docs/reliability.md.
type outcome struct {
	scenario   string
	sent, ok   int
	unavail    int // 503
	other      int // any other status or no answer
	lost       int64
	duplicates int
	p99        time.Duration
	recovery   time.Duration
	note       string
}

func summarise(name string, samples []sample, countBefore, countAfter int64) outcome {
	o := outcome{scenario: name, sent: len(samples)}
	seen := map[int64]bool{}
	var highest int64
	var lat []time.Duration
	for _, s := range samples {
		lat = append(lat, s.took)
		switch {
		case s.err == nil && s.status == 200:
			o.ok++
			if seen[s.count] {
				o.duplicates++
			}
			seen[s.count] = true
			highest = max(highest, s.count)
		case s.status == 503:
			o.unavail++
		default:
			o.other++
		}
	}
	// Acknowledged visits lost: the counter grew by fewer than the 2xx answers, or ended below
	// a count a client was given.
	if grew := countAfter - countBefore; grew < int64(o.ok) {
		o.lost = int64(o.ok) - grew
	}
	if highest > countAfter {
		o.lost = max(o.lost, highest-countAfter)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		o.p99 = lat[(len(lat)-1)*99/100]
	}
	return o
}

// stackCount reads the counter without counting a visit (INCRBY 0 is the app user's read).
func (s *stack) stackCount() int64 {
	s.t.Helper()
	out := s.mustCompose(30*time.Second, "exec", "-T", "redis", "sh", "-c",
		`REDISCLI_AUTH="$(cat /run/secrets/redis_app_password)" redis-cli --user hitcounter INCRBY hitcounter:visits 0`)
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		s.t.Fatalf("reading the counter: %q", out)
	}
	return n
}

var (
	reportMu sync.Mutex
	report   []outcome
)

func record(t *testing.T, o outcome) {
	t.Logf("%s: sent %d, 2xx %d, 503 %d, other %d, lost %d, duplicates %d, p99 %s, recovery %s %s",
		o.scenario, o.sent, o.ok, o.unavail, o.other, o.lost, o.duplicates, o.p99.Round(time.Millisecond), o.recovery.Round(time.Millisecond), o.note)
	if o.lost != 0 {
		t.Errorf("%s: %d acknowledged visits lost", o.scenario, o.lost)
	}
	if o.duplicates != 0 {
		t.Errorf("%s: %d counts handed out twice", o.scenario, o.duplicates)
	}
	if o.sent < 50 {
		t.Errorf("%s: only %d requests sent; the scenario proved nothing", o.scenario, o.sent)
	}
	reportMu.Lock()
	report = append(report, o)
	reportMu.Unlock()
}

// writeReliabilityReport rewrites docs/reliability.md's table when CHAOS_REPORT=1.
func writeReliabilityReport() error {
	if os.Getenv("CHAOS_REPORT") != "1" || len(report) == 0 {
		return nil
	}
	path := filepath.Join("..", "docs", "reliability.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	const begin, end = "<!-- chaos:begin -->", "<!-- chaos:end -->"
	i, j := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if i < 0 || j < i {
		return fmt.Errorf("%s lacks the %s … %s markers", path, begin, end)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nRun: %s, `make chaos` (%d req/s open loop).\n\n", begin, time.Now().UTC().Format("2006-01-02 15:04 UTC"), chaosSettings().rate)
	b.WriteString("| scenario | sent | 2xx | 503 | other errors | lost acknowledged | duplicate counts | p99 | recovery |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, o := range report {
		rec := "-"
		if o.recovery > 0 {
			rec = o.recovery.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %s | %s |\n", o.scenario, o.sent, o.ok, o.unavail, o.other, o.lost, o.duplicates, o.p99.Round(time.Millisecond), rec)
	}
	out := string(doc[:i]) + b.String() + string(doc[j:])
	return os.WriteFile(path, []byte(out), 0o644)
}

func failures(samples []sample) []sample {
	var out []sample
	for _, s := range samples {
		if s.err != nil || s.status != 200 {
			out = append(out, s)
		}
	}
	return out
}

func describe(samples []sample) string {
	var parts []string
	for _, s := range samples[:min(5, len(samples))] {
		parts = append(parts, fmt.Sprintf("%s: %d %v", s.at.Format("15:04:05.000"), s.status, s.err))
	}
	return strings.Join(parts, "; ")
}

// underLoad brings up a stack with the given web replicas, waits until the balancer uses them
// all, reads the counter, and starts the load; the fault comes after cfg.settle.
func underLoad(t *testing.T, cfg chaosConfig, replicas int) (s *stack, before int64, l *loader) {
	t.Helper()
	s = newStack(t)
	s.up("--scale", "web="+strconv.Itoa(replicas))
	s.waitReplicas(replicas, 10*time.Second)
	before = s.stackCount()
	l = s.startLoad(cfg.rate, cfg.maxLoad)
	time.Sleep(cfg.settle)
	return s, before, l
}

// Scenario 1: SIGKILL one of three web replicas.
func TestChaosKillWebReplica(t *testing.T) {
	cfg := chaosSettings()
	s, before, l := underLoad(t, cfg, 3)
	victim := s.containers("web")[0]
	victimHost := victim[:12]
	// SIGKILL the replica's process, as a crash (or the kernel's OOM killer) would. `docker kill`
	// would mark the container as stopped by hand, and the restart policy leaves those alone.
	pid := s.inspectContainer(victim).State.Pid
	killedAt := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	// The restart policy brings it back; wait until it serves again, bounded.
	var back time.Time
	deadline := time.Now().Add(30 * time.Second)
	for back.IsZero() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		l.mu.Lock()
		for _, smp := range l.samples {
			if smp.at.After(killedAt.Add(500*time.Millisecond)) && smp.servedBy == victimHost && smp.status == 200 {
				back = smp.at
				break
			}
		}
		l.mu.Unlock()
	}
	time.Sleep(cfg.settle)
	samples := l.finish()
	o := summarise("1. SIGKILL one of 3 web replicas", samples, before, s.stackCount())
	if back.IsZero() {
		t.Errorf("the killed replica %s never served again within 30s", victimHost)
	} else {
		o.recovery = back.Sub(killedAt)
	}
	fails := failures(samples)
	if limit := max(1, o.sent/1000); len(fails) > limit {
		t.Errorf("%d of %d requests failed, want at most 0.1%% (%d): %s", len(fails), o.sent, limit, describe(fails))
	}
	for _, f := range fails {
		if f.at.After(killedAt.Add(2 * time.Second)) {
			t.Errorf("a request failed %s after the kill; the balancer should have dropped the replica within 2s: %s", f.at.Sub(killedAt).Round(time.Millisecond), describe([]sample{f}))
			break
		}
	}
	if c := s.inspectContainer(victim); c.RestartCount < 1 {
		t.Errorf("killed replica restart count %d, want the restart policy to bring it back", c.RestartCount)
	}
	record(t, o)
}

// waitReplicas waits until the load balancer spreads requests over n replicas.
func (s *stack) waitReplicas(n int, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for len(servedBy(s.burst(10*n, n))) < n {
		if time.Now().After(deadline) {
			s.t.Fatalf("the balancer did not reach %d replicas within %s", n, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Scenario 2: scale web 3 -> 1 -> 3 under load: no failed request.
func TestChaosScaleDownAndUp(t *testing.T) {
	cfg := chaosSettings()
	s, before, l := underLoad(t, cfg, 3)
	s.mustCompose(3*time.Minute, "up", "-d", "--wait", "--wait-timeout", "120", "--no-recreate", "--scale", "web=1")
	time.Sleep(cfg.settle)
	s.mustCompose(3*time.Minute, "up", "-d", "--wait", "--wait-timeout", "120", "--no-recreate", "--scale", "web=3")
	time.Sleep(cfg.settle)
	samples := l.finish()
	o := summarise("2. scale web 3 -> 1 -> 3", samples, before, s.stackCount())
	if fails := failures(samples); len(fails) > 0 {
		t.Errorf("%d of %d requests failed while scaling, want none: %s", len(fails), len(samples), describe(fails))
	}
	record(t, o)
}

// Scenario 3: replace every web replica with a new build, one at a time, under load.
func TestChaosRollingUpdate(t *testing.T) {
	cfg := chaosSettings()
	s, before, l := underLoad(t, cfg, 3)
	old := s.containers("web")
	env := append(slices.Clone(s.env), "COMPOSE_PROJECT_NAME="+s.name, "HITCOUNTER_VERSION=rolling-"+s.name)
	out, err := run(5*time.Minute, env, "bash", filepath.Join("..", "scripts", "rolling-update.sh"))
	if err != nil {
		t.Fatalf("rolling-update.sh: %v\n%s", err, out)
	}
	time.Sleep(cfg.settle)
	samples := l.finish()
	o := summarise("3. rolling update of every web replica", samples, before, s.stackCount())
	now := s.containers("web")
	if len(now) != 3 {
		t.Errorf("%d web replicas after the update, want 3", len(now))
	}
	for _, id := range now {
		if slices.Contains(old, id) {
			t.Errorf("replica %s was not replaced", id[:12])
		}
	}
	if fails := failures(samples); len(fails) > 0 {
		t.Errorf("%d of %d requests failed during the rolling update, want none: %s", len(fails), len(samples), describe(fails))
	}
	record(t, o)
}

// Scenario 4: SIGKILL Redis under load; it comes back by itself (restart policy).
func TestChaosKillRedis(t *testing.T) {
	cfg := chaosSettings()
	s, before, l := underLoad(t, cfg, 1)
	killedAt := time.Now()
	s.mustCompose(time.Minute, "kill", "-s", "SIGKILL", "redis")
	s.mustCompose(time.Minute, "start", "redis")
	// When does Redis answer again?
	var answering time.Time
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := s.compose(10*time.Second, "exec", "-T", "redis", "hitcounter-redis-healthcheck"); err == nil {
			answering = time.Now()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if answering.IsZero() {
		t.Fatal("redis did not answer within 60s of its restart")
	}
	time.Sleep(cfg.settle)
	samples := l.finish()
	o := summarise("4. SIGKILL redis, restart", samples, before, s.stackCount())
	// Requests sent may have been counted without an answer; never more than were sent.
	if grew := s.stackCount() - before; grew > int64(o.sent) {
		t.Errorf("counter grew by %d with %d requests sent", grew, o.sent)
	}
	var firstOK time.Time
	for _, smp := range samples {
		if smp.at.After(answering) && smp.status == 200 {
			firstOK = smp.at
			break
		}
	}
	if firstOK.IsZero() {
		t.Errorf("no 2xx after redis answered again")
	} else {
		o.recovery = firstOK.Sub(answering)
		if o.recovery > 2*time.Second {
			t.Errorf("service recovered %s after redis answered, want within 2s", o.recovery)
		}
	}
	for _, smp := range samples {
		if smp.at.After(killedAt) && smp.at.Before(answering) && smp.took > time.Second {
			t.Errorf("a request during the outage took %s, want an answer within 1s", smp.took)
			break
		}
		if smp.err != nil {
			t.Errorf("a request got no HTTP answer: %v", smp.err)
			break
		}
	}
	o.note = fmt.Sprintf("(outage %s)", answering.Sub(killedAt).Round(10*time.Millisecond))
	record(t, o)
}

// metricValue reads one unlabelled metric from a replica's /metrics through the balancer.
func (s *stack) metricValue(name string) float64 {
	s.t.Helper()
	resp, err := httpClient.Get(s.base + "/metrics")
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	s.t.Fatalf("metric %s not found", name)
	return 0
}

// Scenario 5: freeze Redis (docker pause) for 5 s: every answer within the Redis timeout plus
// 100 ms; no goroutine or connection leak afterwards.
func TestChaosFreezeRedis(t *testing.T) {
	cfg := chaosSettings()
	s := newStack(t)
	s.up()
	s.mustVisit()
	time.Sleep(time.Second)
	goroutinesBefore := s.metricValue("go_goroutines")
	fdsBefore := s.metricValue("process_open_fds")
	before := s.stackCount()

	l := s.startLoad(cfg.rate, cfg.maxLoad)
	time.Sleep(cfg.settle)
	redisID := s.containers("redis")[0]
	pausedAt := time.Now()
	if out, err := run(30*time.Second, nil, "docker", "pause", redisID); err != nil {
		t.Fatalf("docker pause: %v %s", err, out)
	}
	time.Sleep(5 * time.Second)
	if out, err := run(30*time.Second, nil, "docker", "unpause", redisID); err != nil {
		t.Fatalf("docker unpause: %v %s", err, out)
	}
	unpausedAt := time.Now()
	time.Sleep(cfg.settle)
	samples := l.finish()
	o := summarise("5. freeze redis 5 s (docker pause)", samples, before, s.stackCount())

	const limit = 250*time.Millisecond + 100*time.Millisecond // REDIS_TIMEOUT + 100 ms
	slow := 0
	for _, smp := range samples {
		if smp.took > limit {
			slow++
		}
		if smp.err != nil {
			t.Errorf("a request got no HTTP answer: %v", smp.err)
			break
		}
	}
	if slow > 0 {
		t.Errorf("%d requests took longer than %s", slow, limit)
	}
	var firstOK time.Time
	for _, smp := range samples {
		if smp.at.After(unpausedAt) && smp.status == 200 {
			firstOK = smp.at
			break
		}
	}
	if !firstOK.IsZero() {
		o.recovery = firstOK.Sub(unpausedAt)
	}
	// Leaks: once the balancer has closed its idle connections (pool-purge-delay 1s), the
	// replica is back to its idle goroutines and descriptors. Bounded wait.
	var goroutinesAfter, fdsAfter float64
	for deadline := time.Now().Add(30 * time.Second); ; {
		goroutinesAfter, fdsAfter = s.metricValue("go_goroutines"), s.metricValue("process_open_fds")
		if (goroutinesAfter <= goroutinesBefore+10 && fdsAfter <= fdsBefore+10) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if goroutinesAfter > goroutinesBefore+10 || fdsAfter > fdsBefore+10 {
		t.Errorf("after the freeze: goroutines %v -> %v, open fds %v -> %v; want no leak", goroutinesBefore, goroutinesAfter, fdsBefore, fdsAfter)
	}
	o.note = fmt.Sprintf("(paused %s; goroutines %v -> %v, fds %v -> %v)", unpausedAt.Sub(pausedAt).Round(10*time.Millisecond), goroutinesBefore, goroutinesAfter, fdsBefore, fdsAfter)
	record(t, o)
}

// Scenario 6: restart the load balancer under load: connection errors only while it is down,
// and the count stays exact.
func TestChaosRestartLoadBalancer(t *testing.T) {
	cfg := chaosSettings()
	s := newStack(t)
	// A fixed port: an ephemeral one may change when the container restarts.
	s.env = append(s.env, "HTTP_PORT="+strconv.Itoa(redistest.FreePort(t)))
	s.up()
	before := s.stackCount()

	l := s.startLoad(cfg.rate, cfg.maxLoad)
	time.Sleep(cfg.settle)
	restartAt := time.Now()
	s.mustCompose(2*time.Minute, "restart", "lb")
	s.waitHealthy("lb", 30*time.Second)
	healthyAt := time.Now()
	time.Sleep(cfg.settle)
	samples := l.finish()
	after := s.stackCount()
	o := summarise("6. restart the load balancer", samples, before, after)
	for _, smp := range samples {
		if (smp.err != nil || smp.status != 200) && (smp.at.Before(restartAt) || smp.at.After(healthyAt)) {
			t.Errorf("a request failed outside the restart window: %s", describe([]sample{smp}))
			break
		}
	}
	if grew := after - before; grew != int64(o.ok) {
		t.Errorf("counter grew by %d with %d 2xx answers, want exactly equal", grew, o.ok)
	}
	var lastFail time.Time
	for _, smp := range failures(samples) {
		lastFail = smp.at
	}
	if !lastFail.IsZero() {
		o.recovery = lastFail.Sub(restartAt)
	}
	o.note = fmt.Sprintf("(lb down for about %s)", healthyAt.Sub(restartAt).Round(10*time.Millisecond))
	record(t, o)
}
