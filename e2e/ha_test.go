package e2e

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// The ha profile (compose.yaml with compose.ha.yaml): a primary, two replicas (the profile's one,
// scaled to two so that writes go on while one server is down) and three Sentinels, two web
// replicas in sentinel mode acknowledging a hit only once a replica has it in its append-only
// file (WAITAOF). Under an open-loop load of /hit through the balancer, the primary is SIGKILLed,
// brought back (it must rejoin as a replica), the new primary SIGKILLed, and the next one frozen
// (docker pause). Each time: hits succeed again within the stated bound, every acknowledged hit
// is counted, none twice, and requests fail only inside the failover window.

// haWritesResumeWithin is the bound docs/reliability.md states for writes to resume after the
// primary dies, with compose.yaml's SENTINEL_DOWN_AFTER=1000 and SENTINEL_FAILOVER_TIMEOUT=3000;
// haSlack is for a busy 2-core test machine.
const (
	haWritesResumeWithin = 5 * time.Second
	haSlack              = 1500 * time.Millisecond
	haRate               = 50 // requests per second, spread over haCounters
	haCounters           = 4
	haNamespace          = "hatest"
)

// haServers are the services whose containers are the Redis servers.
var haServers = []string{"redis", "redis-replica"}

func TestHAFailover(t *testing.T) {
	s := newStack(t)
	// Every compose command of this stack (the helpers', the final down) sees the profile; up
	// is given compose.ha.yaml as well. One client sends the whole load through the published
	// port: the per-source and per-client limits would count it as one heavy client.
	s.Env = append(s.Env, "COMPOSE_PROFILES=ha", "RATE_LIMIT_HITS=0")
	s.Env = append(s.Env, liftSourceLimits...)
	haFile := filepath.Join(filepath.Dir(composeFile), "compose.ha.yaml")
	begin := time.Now()
	out, err := testkit.Run(5*time.Minute, s.Env, "docker", "compose", "-p", s.Name, "-f", composeFile, "-f", haFile,
		"up", "--build", "--wait", "--wait-timeout", "120", "--scale", "web=2", "--scale", "redis-replica=2")
	if err != nil {
		t.Fatalf("docker compose up with the ha profile: %v\n%s", err, out)
	}
	t.Logf("up --build --wait with the ha profile (2 web, 1 primary, 2 replicas, 3 Sentinels): %s", time.Since(begin).Round(100*time.Millisecond))
	s.findLB()
	s.checkHAHardening()

	names := make([]string, haCounters)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	}
	for _, n := range names {
		s.mustCall(200, "GET", "/hit/"+haNamespace+"/"+n, nil, nil, nil)
	}
	primary := s.haPrimary()
	s.waitReplicasOnline(primary, 2, time.Minute)

	var times []string
	// (1) SIGKILL the primary; (2) start it again: it must come back as a replica.
	old := primary
	took, next := s.failover(t, names, "SIGKILL #1", old, func() {
		if out, err := testkit.Run(30*time.Second, nil, "docker", "kill", "-s", "KILL", old.id); err != nil {
			t.Fatalf("docker kill: %v %s", err, out)
		}
	})
	times = append(times, "SIGKILL #1 "+took.Round(10*time.Millisecond).String())
	if out, err := testkit.Run(time.Minute, nil, "docker", "start", old.id); err != nil {
		t.Fatalf("docker start %s: %v %s", old.name, err, out)
	}
	s.waitRejoined(old, next, time.Minute)

	// (3) The same with the new primary.
	old = next
	took, next = s.failover(t, names, "SIGKILL #2", old, func() {
		if out, err := testkit.Run(30*time.Second, nil, "docker", "kill", "-s", "KILL", old.id); err != nil {
			t.Fatalf("docker kill: %v %s", err, out)
		}
	})
	times = append(times, "SIGKILL #2 "+took.Round(10*time.Millisecond).String())
	if out, err := testkit.Run(time.Minute, nil, "docker", "start", old.id); err != nil {
		t.Fatalf("docker start %s: %v %s", old.name, err, out)
	}
	s.waitRejoined(old, next, time.Minute)

	// (4) Freeze the current primary (docker pause) until the Sentinels have replaced it, then
	// thaw it: it finds itself demoted and must become a replica of the new primary.
	old = next
	took, next = s.failover(t, names, "pause", old, func() {
		if out, err := testkit.Run(30*time.Second, nil, "docker", "pause", old.id); err != nil {
			t.Fatalf("docker pause: %v %s", err, out)
		}
	})
	times = append(times, "pause "+took.Round(10*time.Millisecond).String())
	if out, err := testkit.Run(30*time.Second, nil, "docker", "unpause", old.id); err != nil {
		t.Fatalf("docker unpause %s: %v %s", old.name, err, out)
	}
	s.waitRejoined(old, next, 90*time.Second)
	t.Logf("writes resumed after: %s (bound %s + %s slack)", strings.Join(times, ", "), haWritesResumeWithin, haSlack)
}

// haServer is one Redis server container.
type haServer struct {
	id, name, ip string
}

func (s *stack) haServerList() []haServer {
	s.t.Helper()
	var out []haServer
	for _, svc := range haServers {
		for _, id := range strings.Fields(s.MustCompose(30*time.Second, "ps", "-a", "-q", svc)) {
			c := s.inspectContainer(id)
			var named []struct{ Name string }
			s.inspect(&named, id)
			out = append(out, haServer{id: id, name: strings.TrimPrefix(named[0].Name, "/"), ip: c.NetworkSettings.Networks[s.Name+"_backend"].IPAddress})
		}
	}
	return out
}

// sentinelSays asks one Sentinel, as the application's user, which server is the primary.
func (s *stack) sentinelSays(sentinel string) (string, error) {
	out, err := s.Compose(30*time.Second, "exec", "-T", sentinel, "sh", "-c",
		`REDISCLI_AUTH="$(cat /run/secrets/sentinel_app_password)" redis-cli --user hitcounter -p 26379 SENTINEL GET-MASTER-ADDR-BY-NAME hitcounter`)
	if err != nil {
		return "", fmt.Errorf("%s: %w %s", sentinel, err, out)
	}
	f := strings.Fields(out)
	if len(f) != 2 || f[1] != "6379" {
		return "", fmt.Errorf("%s names the primary %q", sentinel, out)
	}
	return f[0], nil
}

// haPrimary is the server all three Sentinels name the primary, and which says it is one.
func (s *stack) haPrimary() haServer {
	s.t.Helper()
	var p haServer
	waitfor.Until(s.t, 30*time.Second, func() error {
		var ip string
		for _, sn := range []string{"sentinel-1", "sentinel-2", "sentinel-3"} {
			got, err := s.sentinelSays(sn)
			if err != nil {
				return err
			}
			if ip != "" && got != ip {
				return fmt.Errorf("the Sentinels disagree on the primary: %s, %s", ip, got)
			}
			ip = got
		}
		for _, srv := range s.haServerList() {
			if srv.ip == ip {
				if role := s.replicationInfo(srv)["role"]; role != "master" {
					return fmt.Errorf("the Sentinels name %s (%s) the primary; it says it is a %q", srv.name, ip, role)
				}
				p = srv
				return nil
			}
		}
		return fmt.Errorf("no server container has the primary's address %s", ip)
	})
	return p
}

// replicationInfo is INFO replication of a server, read as the Sentinels' user (which may INFO).
func (s *stack) replicationInfo(srv haServer) map[string]string {
	out, _ := testkit.Run(30*time.Second, nil, "docker", "exec", srv.id, "sh", "-c",
		`REDISCLI_AUTH="$(cat /run/secrets/redis_sentinel_password)" redis-cli --user sentinel INFO replication`)
	info := map[string]string{}
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			info[k] = v
		}
	}
	return info
}

// waitReplicasOnline waits until the primary streams to n replicas (servers on port 6379: the
// backup service's snapshot connection shows up as a replica on port 0).
func (s *stack) waitReplicasOnline(primary haServer, n int, within time.Duration) {
	s.t.Helper()
	waitfor.Until(s.t, within, func() error {
		info := s.replicationInfo(primary)
		online := 0
		for k, v := range info {
			if strings.HasPrefix(k, "slave") && strings.Contains(v, "port=6379,") && strings.Contains(v, "state=online") {
				online++
			}
		}
		if info["role"] != "master" || online < n {
			return fmt.Errorf("%s: role %q with %d replicas online, want master with %d", primary.name, info["role"], online, n)
		}
		return nil
	})
}

// waitRejoined waits until old is a replica of primary with its link up, the primary streams
// to two replicas again, and every Sentinel sees old as a live replica (so that the next
// failover reconfigures it too).
func (s *stack) waitRejoined(old, primary haServer, within time.Duration) {
	s.t.Helper()
	begin := time.Now()
	waitfor.Until(s.t, within, func() error {
		info := s.replicationInfo(old)
		if info["role"] != "slave" || info["master_host"] != primary.ip || info["master_link_status"] != "up" {
			return fmt.Errorf("%s: role %q, primary %q, link %q; want a replica of %s (%s), link up",
				old.name, info["role"], info["master_host"], info["master_link_status"], primary.name, primary.ip)
		}
		return nil
	})
	s.waitReplicasOnline(primary, 2, within)
	// Each Sentinel logs +sdown when a replica stops answering and -sdown when it answers again.
	waitfor.Until(s.t, within, func() error {
		for _, sn := range []string{"sentinel-1", "sentinel-2", "sentinel-3"} {
			out, err := s.Compose(30*time.Second, "logs", "--no-color", sn)
			if err != nil {
				return err
			}
			last := ""
			for line := range strings.Lines(out) {
				if strings.Contains(line, "sdown slave "+old.ip+":6379 ") {
					last = line
				}
			}
			if strings.Contains(last, "+sdown") {
				return fmt.Errorf("%s still sees %s (%s) down", sn, old.name, old.ip)
			}
		}
		return nil
	})
	s.t.Logf("%s rejoined as a replica of %s %s after it was back", old.name, primary.name, time.Since(begin).Round(100*time.Millisecond))
}

// haLoad sends GET /hit on the counters in turn at haRate per second, whatever the answers,
// until stopped or bound passes.
type haLoad struct {
	mu      sync.Mutex
	samples [][]sample // per counter
	stop    chan struct{}
	done    chan struct{}
}

func (s *stack) startHALoad(names []string, bound time.Duration) *haLoad {
	l := &haLoad{samples: make([][]sample, len(names)), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		deadline := time.After(bound)
		tick := time.NewTicker(time.Second / haRate)
		defer tick.Stop()
		for i := 0; i < haRate*int(bound/time.Second); i++ {
			select {
			case <-l.stop:
				return
			case <-deadline:
				return
			case <-tick.C:
			}
			k := i % len(names)
			wg.Go(func() {
				smp := s.call("GET", "/hit/"+haNamespace+"/"+names[k], nil, nil).sample()
				l.mu.Lock()
				l.samples[k] = append(l.samples[k], smp)
				l.mu.Unlock()
			})
		}
	}()
	return l
}

func (l *haLoad) all() []sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sample
	for _, ks := range l.samples {
		out = append(out, ks...)
	}
	slices.SortFunc(out, func(a, b sample) int { return a.at.Compare(b.at) })
	return out
}

func (l *haLoad) finish() [][]sample {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.samples
}

// counterValues reads each counter (GET /get counts nothing), retrying a bounded while on a
// failed answer.
func (s *stack) counterValues(names []string) []int64 {
	s.t.Helper()
	vals := make([]int64, len(names))
	for i, n := range names {
		vals[i] = s.waitValue(haNamespace, n, 15*time.Second)
	}
	return vals
}

// failover runs one fault under load: 2 s of load, fault(), load until hits have succeeded
// for 2 s again (bounded), then the checks. It returns how long writes stopped (from the fault
// to the first success after the last failure) and the new primary.
func (s *stack) failover(t *testing.T, names []string, label string, old haServer, fault func()) (time.Duration, haServer) {
	t.Helper()
	before := s.counterValues(names)
	l := s.startHALoad(names, 40*time.Second)
	// The load runs 2 s before the fault.
	waitfor.Until(t, 10*time.Second, func() error {
		if got := len(l.all()); got < 2*haRate {
			return fmt.Errorf("%d requests answered so far", got)
		}
		return nil
	})
	faultAt := time.Now()
	fault()
	// Then until 2 s of successes follow the last failure (or the load's bound).
	var recoveredAt time.Time
	err := waitfor.Poll(35*time.Second, func() error {
		samples := l.all()
		lastFail := faultAt
		for _, smp := range samples {
			if smp.err != nil || smp.status != 200 {
				lastFail = smp.at
			}
		}
		recoveredAt = time.Time{}
		for _, smp := range samples {
			if smp.at.After(lastFail) && smp.err == nil && smp.status == 200 {
				recoveredAt = smp.at
				break
			}
		}
		if recoveredAt.IsZero() || time.Since(recoveredAt) < 2*time.Second {
			return fmt.Errorf("%s: hits have not succeeded for 2 s since the fault", label)
		}
		return nil
	})
	perKey := l.finish()
	if err != nil {
		t.Fatal(err)
	}
	took := recoveredAt.Sub(faultAt)
	after := s.counterValues(names)

	// Exactly once, per counter: every 2xx counted, no value handed out twice, and nothing
	// counted beyond the requests that may have been (failed ones, and first tries Go's client
	// sent again by itself).
	var sent, ok, failed int
	var window []sample
	for k, samples := range perKey {
		o := summarise(fmt.Sprintf("%s, counter %d", label, k), samples, before[k], after[k])
		sent += o.sent
		ok += o.ok
		failed += o.failedSends
		if o.grew < int64(o.ok) || o.grew > int64(o.ok+o.failedSends) {
			t.Errorf("%s: counter %s grew by %d with %d 2xx and %d failed sends; want 2xx <= growth <= 2xx + failed",
				label, names[k], o.grew, o.ok, o.failedSends)
		}
		if o.lost != 0 || o.duplicates != 0 {
			t.Errorf("%s: counter %s: %d acknowledged hits lost, %d values handed out twice", label, names[k], o.lost, o.duplicates)
		}
		window = append(window, failures(samples)...)
	}
	// Failures only inside the failover window: from just before the fault (requests in
	// flight on the old primary) to the recovery.
	for _, f := range window {
		if f.at.Before(faultAt.Add(-time.Second)) || f.at.After(recoveredAt) {
			t.Errorf("%s: a request failed outside the failover window [%s, %s]: %s", label,
				faultAt.Format("15:04:05.000"), recoveredAt.Format("15:04:05.000"), describe([]sample{f}))
		}
	}
	if sent < 5*haRate {
		t.Errorf("%s: only %d requests sent; the scenario proved nothing", label, sent)
	}
	if took > haWritesResumeWithin+haSlack {
		t.Errorf("%s: hits succeeded again %s after the fault, want within %s (+ %s slack)",
			label, took.Round(10*time.Millisecond), haWritesResumeWithin, haSlack)
	}
	next := s.haPrimary()
	if next.id == old.id {
		t.Fatalf("%s: the Sentinels still name %s the primary", label, old.name)
	}
	statuses := map[string]int{}
	for _, f := range window {
		key := strconv.Itoa(f.status)
		if f.err != nil {
			key = "no answer"
		}
		statuses[key]++
	}
	t.Logf("%s of %s: hits succeeded again after %s; %d requests, %d 2xx, failed %v (failed sends %d); new primary %s",
		label, old.name, took.Round(10*time.Millisecond), sent, ok, statuses, failed, next.name)
	return took, next
}

// checkHAHardening: the ha profile's servers and Sentinels are hardened like redis, only on the
// backend network, and each mounts only its own secrets.
func (s *stack) checkHAHardening() {
	s.t.Helper()
	wantSecrets := map[string][]string{
		"redis-replica": {"redis_app_password", "redis_backup_password", "redis_exporter_password", "redis_health_password",
			"redis_replication_password", "redis_sentinel_password", "sentinel_app_password"},
		"sentinel-1": {"redis_health_password", "redis_sentinel_password", "sentinel_app_password", "sentinel_peer_password"},
	}
	for _, svc := range []string{"redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"} {
		for _, id := range s.Containers(svc) {
			c := s.inspectContainer(id)
			st := procStatus(s.t, c.State.Pid)
			h := c.HostConfig
			if !strings.HasPrefix(st["Uid"], "999 ") || st["CapEff"] != "0000000000000000" || st["NoNewPrivs"] != "1" ||
				!h.ReadonlyRootfs || !slices.Equal(h.CapDrop, []string{"ALL"}) || h.Memory == 0 || h.PidsLimit == nil || *h.PidsLimit == 0 {
				s.t.Errorf("%s is not hardened like redis: uid %q, capabilities %s, NoNewPrivs %q, %+v", svc, st["Uid"], st["CapEff"], st["NoNewPrivs"], h)
			}
			if nets := slices.Sorted(maps.Keys(c.NetworkSettings.Networks)); !slices.Equal(nets, []string{s.Name + "_backend"}) {
				s.t.Errorf("%s is on %v, want %s_backend alone", svc, nets, s.Name)
			}
			if len(h.PortBindings) != 0 {
				s.t.Errorf("%s publishes %v", svc, h.PortBindings)
			}
			for _, m := range c.Mounts {
				if strings.HasPrefix(m.Destination, "/run/") && m.RW {
					s.t.Errorf("%s mounts %s at %s writable", svc, m.Name, m.Destination)
				}
			}
		}
		if want, ok := wantSecrets[svc]; ok {
			out := s.MustCompose(30*time.Second, "exec", "-T", svc, "ls", "/run/secrets")
			if got := strings.Fields(out); !slices.Equal(got, want) {
				s.t.Errorf("%s's /run/secrets holds %v, want exactly %v", svc, got, want)
			}
		}
	}
	// The Sentinels let nobody in without a password, and the application's user may only find
	// the primary and follow the Sentinels' events.
	for cmd, want := range map[string]string{
		`redis-cli -p 26379 PING`: "NOAUTH",
		`REDISCLI_AUTH="$(cat /run/secrets/sentinel_app_password)" redis-cli --user hitcounter -p 26379 SENTINEL SET hitcounter quorum 1`: "NOPERM",
		`REDISCLI_AUTH="$(cat /run/secrets/sentinel_app_password)" redis-cli --user hitcounter -p 26379 SENTINEL FAILOVER hitcounter`:     "NOPERM",
		`REDISCLI_AUTH="$(cat /run/secrets/sentinel_app_password)" redis-cli --user hitcounter -p 26379 ACL LIST`:                         "NOPERM",
		`REDISCLI_AUTH="$(cat /run/secrets/sentinel_app_password)" redis-cli --user hitcounter -p 26379 SENTINEL SENTINELS hitcounter`:    "name",
	} {
		out, _ := s.Compose(30*time.Second, "exec", "-T", "sentinel-1", "sh", "-c", cmd)
		// The refusal of a missing password comes worded either way.
		noAuth := want == "NOAUTH" && strings.Contains(out, "Authentication required")
		if !strings.Contains(out, want) && !noAuth {
			s.t.Errorf("sentinel-1: %s: %q, want %s", cmd, strings.TrimSpace(out), want)
		}
	}
	// The replication user may replicate and nothing else.
	for _, cmd := range []string{"GET hitcounter:visits", "INFO", "REPLICAOF NO ONE", "CONFIG GET dir", "SYNC"} {
		out, _ := s.Compose(30*time.Second, "exec", "-T", "redis", "sh", "-c",
			`REDISCLI_AUTH="$(cat /run/secrets/redis_replication_password)" redis-cli --user replication `+cmd)
		if !strings.Contains(out, "NOPERM") {
			s.t.Errorf("replication user %s: %q, want NOPERM", cmd, strings.TrimSpace(out))
		}
	}
}
