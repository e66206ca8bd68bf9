package e2e

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// 1. Counting through the load balancer: 500 requests from 16 clients move the counter by
// exactly 500, all 2xx, every count distinct.
func TestCountingThroughLoadBalancer(t *testing.T) {
	s := newStack(t)
	s.up()
	before := s.mustVisit().count

	results := s.burst(500, 16)
	seen := map[int64]bool{}
	for _, v := range results {
		if v.err != nil || v.status != 200 {
			t.Fatalf("GET / = %d, %v; want every request 2xx", v.status, v.err)
		}
		if seen[v.count] {
			t.Fatalf("count %d handed out twice", v.count)
		}
		seen[v.count] = true
	}
	after := s.mustVisit().count
	if got, want := after-before, int64(501); got != want {
		t.Fatalf("counter moved by %d over 500 requests (plus the closing one), want exactly %d", got-1, want-1)
	}
	for c := before + 1; c < after; c++ {
		if !seen[c] {
			t.Fatalf("count %d was never handed out", c)
		}
	}
}

// 2. Redis is private: no host port, only on the internal backend network.
func TestRedisIsPrivate(t *testing.T) {
	s := newStack(t)
	s.up()

	// Compose answers "no port" for a port that is not published; any other failure (a wrong
	// project, a missing service) proves nothing and fails the test.
	if out, err := s.Compose(30*time.Second, "port", "redis", "6379"); err == nil {
		if strings.TrimSpace(out) != "" && strings.TrimSpace(out) != ":0" {
			t.Fatalf("docker compose port redis 6379 = %q, want no binding", out)
		}
	} else if !strings.Contains(out, "no port") {
		t.Fatalf("docker compose port redis 6379 failed for another reason: %v: %s", err, out)
	}
	ids := s.Containers("redis")
	if len(ids) != 1 {
		t.Fatalf("%d redis containers, want 1", len(ids))
	}
	c := s.inspectContainer(ids[0])
	if len(c.HostConfig.PortBindings) != 0 {
		t.Fatalf("redis has port bindings %v", c.HostConfig.PortBindings)
	}
	for port, bindings := range c.NetworkSettings.Ports {
		if len(bindings) != 0 {
			t.Fatalf("redis port %s is bound on the host: %v", port, bindings)
		}
	}
	backend := s.Name + "_backend"
	var nets []string
	for n := range c.NetworkSettings.Networks {
		nets = append(nets, n)
	}
	if len(nets) != 1 || nets[0] != backend {
		t.Fatalf("redis is on networks %v, want only %s", nets, backend)
	}
	var networks []struct{ Internal bool }
	s.inspect(&networks, "--type", "network", backend)
	if len(networks) != 1 || !networks[0].Internal {
		t.Fatalf("network %s: %+v, want internal", backend, networks)
	}
	// Only lb publishes anything.
	for _, service := range []string{"web", "redis"} {
		for _, id := range s.Containers(service) {
			if b := s.inspectContainer(id).HostConfig.PortBindings; len(b) != 0 {
				t.Fatalf("%s publishes %v", service, b)
			}
		}
	}
}

// procStatus reads fields of /proc/PID/status of a container's main process on this host.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the process status: %v", err)
	}
	fields := map[string]string{}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
		fields[k] = strings.Join(strings.Fields(v), " ")
	}
	return fields
}

// 3. Least privilege, checked on the running processes and on Redis itself.
func TestLeastPrivilege(t *testing.T) {
	s := newStack(t)
	s.up()

	web := s.inspectContainer(s.Containers("web")[0])
	st := procStatus(t, web.State.Pid)
	if st["Uid"] != "65532 65532 65532 65532" {
		t.Errorf("web runs as uid %q, want 65532", st["Uid"])
	}
	if st["CapEff"] != "0000000000000000" || st["CapPrm"] != "0000000000000000" {
		t.Errorf("web capabilities: effective %s permitted %s, want none", st["CapEff"], st["CapPrm"])
	}
	if st["NoNewPrivs"] != "1" {
		t.Errorf("web NoNewPrivs = %q, want 1", st["NoNewPrivs"])
	}
	if !web.HostConfig.ReadonlyRootfs {
		t.Error("web root filesystem is writable")
	}

	redis := s.inspectContainer(s.Containers("redis")[0])
	rst := procStatus(t, redis.State.Pid)
	if !strings.HasPrefix(rst["Uid"], "999 ") {
		t.Errorf("redis runs as uid %q, want 999", rst["Uid"])
	}
	if rst["CapEff"] != "0000000000000000" {
		t.Errorf("redis effective capabilities %s, want none", rst["CapEff"])
	}
	if !redis.HostConfig.ReadonlyRootfs {
		t.Error("redis root filesystem is writable")
	}
	lb := s.inspectContainer(s.Containers("lb")[0])
	if lst := procStatus(t, lb.State.Pid); lst["CapEff"] != "0000000000000000" || strings.HasPrefix(lst["Uid"], "0 ") {
		t.Errorf("lb runs as uid %q with capabilities %s, want non-root and none", lst["Uid"], lst["CapEff"])
	}

	// The application's Redis user may count and nothing more: no other command, no key outside
	// hitcounter:, and a script it may run reaches neither (scripts run with the user's ACL).
	for _, cmd := range []string{"FLUSHALL", "FLUSHDB", "CONFIG GET dir", "KEYS *", "SCAN 0", "DEBUG SLEEP 0", "SHUTDOWN", "ACL LIST", "MODULE LIST",
		"SCRIPT LOAD 'return 1'", "FUNCTION LIST", "GET other:key", "INCR other:key", "HSET other:key f 1", "SADD other:key m", "DEL other:key",
		// Nothing the service keeps is a plain string but counts: no SET, no GET.
		"SET hitcounter:salt:2026-12-03 x", "GET hitcounter:salt:2026-12-03",
		`EVAL "return redis.call('FLUSHALL')" 0`, `EVAL "return redis.call('INCR', KEYS[1])" 1 other:key`, `EVAL "return redis.call('KEYS', '*')" 0`} {
		out, _ := s.Compose(30*time.Second, "exec", "-T", "redis", "sh", "-c",
			`REDISCLI_AUTH="$(cat /run/secrets/redis_app_password)" redis-cli --user hitcounter `+cmd)
		// Redis refuses DEBUG before it looks at the ACL unless enable-debug-command is set.
		// A script's forbidden call is refused in words of its own: "The user executing the script
		// can't run this command" (Redis 7.0), "ACL failure in script" (7.2 and later).
		refused := strings.Contains(out, "NOPERM") || (strings.HasPrefix(cmd, "DEBUG") && strings.Contains(out, "DEBUG command not allowed")) ||
			(strings.HasPrefix(cmd, "EVAL") && (strings.Contains(out, "user executing the script can't run") || strings.Contains(out, "ACL failure in script")))
		if !refused {
			t.Errorf("app user %s: %q, want NOPERM", cmd, strings.TrimSpace(out))
		}
	}
	// And it may do what the API needs (a sample: the visit counter, a named counter's hash and
	// script, the index).
	for _, cmd := range []string{"INCRBY hitcounter:visits 1", "HINCRBY hitcounter:c:{acl/test} v 1", "SADD hitcounter:index acl/test", "INFO memory",
		"PFADD hitcounter:c:{acl/test}:u:20261126 visitor", "PFCOUNT hitcounter:c:{acl/test}:u:20261126",
		`EVAL "return redis.call('HINCRBY', KEYS[1], 'v', 1)" 1 hitcounter:c:{acl/test}`} {
		out, _ := s.Compose(30*time.Second, "exec", "-T", "redis", "sh", "-c",
			`REDISCLI_AUTH="$(cat /run/secrets/redis_app_password)" redis-cli --user hitcounter `+cmd)
		if strings.Contains(out, "ERR") || strings.Contains(out, "NOPERM") {
			t.Errorf("app user %s: %q, want it allowed", cmd, strings.TrimSpace(out))
		}
	}
	// Each container reads its own secrets and no other: web the app's Redis password, the
	// operator token and the visitor key; redis the users' passwords, never the token or the key;
	// backup its own Redis password.
	for service, want := range map[string][]string{
		"web":    {"operator_token", "redis_app_password", "visitor_key"},
		"redis":  {"redis_app_password", "redis_backup_password", "redis_exporter_password", "redis_health_password"},
		"backup": {"redis_backup_password"},
	} {
		c := s.inspectContainer(s.Containers(service)[0])
		var secretMounts []string
		for _, m := range c.Mounts {
			if strings.HasPrefix(m.Destination, "/run/") {
				secretMounts = append(secretMounts, m.Name+" at "+m.Destination)
				if m.RW {
					t.Errorf("%s mounts %s writable", service, m.Name)
				}
			}
		}
		if wantMount := s.Name + "_" + service + "-secrets at /run/secrets"; !slices.Equal(secretMounts, []string{wantMount}) {
			t.Errorf("%s mounts %v, want only %s", service, secretMounts, wantMount)
		}
		dir := t.TempDir()
		s.MustCompose(30*time.Second, "cp", service+":/run/secrets/.", dir)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s's /run/secrets holds %v, want exactly %v", service, got, want)
		}
	}

	// The backup service: uid 999, no capabilities, read-only, on the backend network alone,
	// writing only its backups volume. Its Redis user may fetch a snapshot (TestBackupRestore)
	// and do nothing else: no command on a key, no PING, no PSYNC, no REPLCONF but the two
	// arguments redis-cli --rdb sends (so it cannot acknowledge offsets as a replica would).
	backup := s.inspectContainer(s.Containers("backup")[0])
	if bst := procStatus(t, backup.State.Pid); !strings.HasPrefix(bst["Uid"], "999 ") || bst["CapEff"] != "0000000000000000" ||
		bst["CapPrm"] != "0000000000000000" || bst["NoNewPrivs"] != "1" {
		t.Errorf("backup runs as uid %q with capabilities %s/%s, NoNewPrivs %q; want 999, none, 1", bst["Uid"], bst["CapEff"], bst["CapPrm"], bst["NoNewPrivs"])
	}
	if h := backup.HostConfig; !h.ReadonlyRootfs || !slices.Equal(h.CapDrop, []string{"ALL"}) || h.Memory == 0 || h.PidsLimit == nil || *h.PidsLimit == 0 ||
		h.LogConfig.Type != "json-file" || h.LogConfig.Config["max-size"] == "" {
		t.Errorf("backup is not hardened: %+v", h)
	}
	if nets := slices.Sorted(maps.Keys(backup.NetworkSettings.Networks)); !slices.Equal(nets, []string{s.Name + "_backend"}) {
		t.Errorf("backup is on %v, want %s_backend alone", nets, s.Name)
	}
	for _, m := range backup.Mounts {
		if m.RW && m.Name != s.Name+"_backups" {
			t.Errorf("backup mounts %s at %s writable; only the backups volume should be", m.Name, m.Destination)
		}
	}
	for _, cmd := range []string{"PING", "GET hitcounter:visits", "INCR hitcounter:visits", "HGETALL hitcounter:index", "KEYS *", "SCAN 0",
		"INFO", "CONFIG GET dir", "FLUSHALL", "ACL LIST", "REPLCONF ACK 0", "REPLCONF listening-port 6380", "PSYNC ? -1", "MONITOR", "DEBUG SLEEP 0"} {
		out, _ := s.Compose(30*time.Second, "exec", "-T", "redis", "sh", "-c",
			`REDISCLI_AUTH="$(cat /run/secrets/redis_backup_password)" redis-cli --user backup `+cmd)
		debugRefused := strings.HasPrefix(cmd, "DEBUG") && strings.Contains(out, "DEBUG command not allowed")
		if !strings.Contains(out, "NOPERM") && !debugRefused {
			t.Errorf("backup user %s: %q, want NOPERM", cmd, strings.TrimSpace(out))
		}
	}

	// A connection without credentials, from a separate container on the backend network.
	out, _ := s.Compose(time.Minute, "run", "--rm", "--no-deps", "-T", "--entrypoint", "redis-cli", "redis", "-h", "redis", "-p", "6379", "PING")
	if !strings.Contains(out, "NOAUTH") && !strings.Contains(out, "Authentication required") {
		t.Errorf("unauthenticated PING from the backend network: %q, want an authentication error", out)
	}
	// The health check fails on a wrong password.
	out, err := s.Compose(30*time.Second, "exec", "-T", "-e", "SECRETS_DIR=/tmp/wrong", "redis", "sh", "-c",
		`mkdir -p /tmp/wrong && echo not-the-password > /tmp/wrong/redis_health_password && hitcounter-redis-healthcheck`)
	wrongPassword := strings.Contains(out, "WRONGPASS") || strings.Contains(out, "invalid username-password")
	if err == nil || !strings.Contains(out, "unhealthy:") || !wrongPassword {
		t.Errorf("redis health check with a wrong password: %v %q, want it to fail on the password", err, out)
	}
}

// 4. Persistence across down/up, rebuilds, and a SIGKILL of Redis right after a burst.
func TestPersistence(t *testing.T) {
	s := newStack(t)
	s.asOneHeavyClient()
	s.up()
	var last int64
	for range 5 {
		last = s.mustVisit().count
	}

	s.MustCompose(3*time.Minute, "down") // volumes kept
	s.up()
	if got := s.waitVisit(10 * time.Second).count; got != last+1 {
		t.Fatalf("after down/up: count %d, want %d", got, last+1)
	}
	last++

	s.up("--force-recreate")
	if got := s.waitVisit(10 * time.Second).count; got != last+1 {
		t.Fatalf("after up --build --force-recreate: count %d, want %d", got, last+1)
	}

	var highest int64
	for _, v := range s.burst(300, 16) {
		if v.status == 200 && v.count > highest {
			highest = v.count
		}
	}
	s.MustCompose(time.Minute, "kill", "-s", "SIGKILL", "redis")
	s.MustCompose(time.Minute, "start", "redis")
	s.waitHealthy("redis", 60*time.Second)
	got := s.waitVisit(15 * time.Second).count
	if got <= highest {
		t.Fatalf("after SIGKILL of redis: count %d, want more than %d, the highest acknowledged", got, highest)
	}
}

// servedBy counts requests per replica.
func servedBy(results []visit) map[string]int {
	m := map[string]int{}
	for _, v := range results {
		if v.status == 200 {
			m[v.servedBy]++
		}
	}
	return m
}

// 5. Scaling: three replicas share the traffic; 3 -> 1 -> 3 under a stream of requests loses
// none of them.
func TestScaling(t *testing.T) {
	s := newStack(t)
	s.asOneHeavyClient()
	s.up("--scale", "web=3")

	// The balancer sees new replicas within a couple of seconds; wait for all three, bounded.
	s.waitReplicas(3, 10*time.Second)
	results := s.burst(300, 6)
	per := servedBy(results)
	if len(per) != 3 {
		t.Fatalf("300 requests served by %d replicas %v, want 3", len(per), per)
	}
	for id, n := range per {
		if n < 60 {
			t.Errorf("replica %s served %d of 300, want at least 20%%", id, n)
		}
	}

	// A bounded stream: 4 clients, until the scaling is done, at most 2 minutes or 50,000 requests.
	stop := make(chan struct{})
	var mu sync.Mutex
	var stream []visit
	var wg sync.WaitGroup
	streamDeadline := time.Now().Add(2 * time.Minute)
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 12500 && time.Now().Before(streamDeadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				v := s.visit("/")
				mu.Lock()
				stream = append(stream, v)
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	s.MustCompose(3*time.Minute, "up", "--wait", "--wait-timeout", "120", "--no-recreate", "--scale", "web=1")
	if n := len(s.Containers("web")); n != 1 {
		t.Errorf("%d web containers after scaling to 1", n)
	}
	time.Sleep(2 * time.Second) // load on one replica
	s.MustCompose(3*time.Minute, "up", "--wait", "--wait-timeout", "120", "--no-recreate", "--scale", "web=3")
	time.Sleep(3 * time.Second) // load on the three again
	close(stop)
	wg.Wait()

	var failed []string
	for _, v := range stream {
		if v.err != nil || v.status != 200 {
			failed = append(failed, fmt.Sprintf("%d %v", v.status, v.err))
		}
	}
	t.Logf("stream during 3 -> 1 -> 3: %d requests, %d failed, replicas seen %v", len(stream), len(failed), servedBy(stream))
	if len(failed) > 0 {
		t.Fatalf("%d of %d requests failed while scaling, want none; first: %v", len(failed), len(stream), failed[:min(5, len(failed))])
	}
	if len(stream) < 100 {
		t.Fatalf("only %d requests in the stream; the test proved nothing", len(stream))
	}
	// And traffic reaches the new replicas again.
	s.waitReplicas(3, 10*time.Second)
}

// 6. Outage: with Redis stopped, visits get 503 within 1 s and readiness fails; once Redis is
// back the service resumes without restarting web.
func TestRedisOutage(t *testing.T) {
	s := newStack(t)
	s.asOneHeavyClient()
	s.up()
	s.mustVisit()
	webID := s.Containers("web")[0]
	before := s.inspectContainer(webID)

	s.MustCompose(time.Minute, "stop", "redis")
	// 20 requests over about 2 s: each a 503, and their median under 1 s. The median, not
	// each: on a busy 2-core host one request can stall for longer, which says nothing about
	// the service; a service waiting on the stopped Redis would stall them all.
	var took []time.Duration
	for range 20 {
		v := s.visit("/")
		if v.err != nil || v.status != 503 {
			t.Fatalf("GET / with redis stopped = %d, %v; want 503", v.status, v.err)
		}
		took = append(took, v.took)
		time.Sleep(100 * time.Millisecond) // pacing
	}
	slices.Sort(took)
	if median := took[len(took)/2]; median > time.Second {
		t.Fatalf("GET / with redis stopped took %v (sorted), want a median under 1s", took)
	}
	if out, err := s.Compose(30*time.Second, "exec", "-T", "web", "/hitcounter", "healthcheck"); err == nil || !strings.Contains(out, "/readyz 503") {
		t.Fatalf("web readiness with redis stopped: %v %q, want it to fail with /readyz 503", err, out)
	}
	if out, err := s.Compose(30*time.Second, "exec", "-T", "web", "/hitcounter", "healthcheck", "-live"); err != nil {
		t.Fatalf("web liveness failed with redis stopped: %v %s", err, out)
	}

	s.MustCompose(time.Minute, "start", "redis")
	s.waitHealthy("redis", 60*time.Second)
	s.waitVisit(10 * time.Second)
	after := s.inspectContainer(webID)
	if after.RestartCount != 0 || after.State.StartedAt != before.State.StartedAt {
		t.Fatalf("web restarted during the outage (restarts %d, started %s then %s)", after.RestartCount, before.State.StartedAt, after.State.StartedAt)
	}
}

// 7. Start-up order: from nothing, every service ends healthy and web never crash-loops.
func TestStartupOrder(t *testing.T) {
	s := newStack(t)
	took := s.up()

	for _, service := range []string{"lb", "web", "redis"} {
		for _, id := range s.Containers(service) {
			c := s.inspectContainer(id)
			if c.State.Health == nil || c.State.Health.Status != "healthy" {
				t.Errorf("%s is not healthy: %+v", service, c.State.Health)
			}
			if c.RestartCount != 0 {
				t.Errorf("%s restarted %d times during start-up", service, c.RestartCount)
			}
		}
	}
	logs := s.MustCompose(time.Minute, "logs", "--no-color", "web")
	if n := strings.Count(logs, `"msg":"starting"`); n != 1 {
		t.Errorf("web started %d times, want once:\n%s", n, logs)
	}
	s.mustVisit()

	var images []struct{ Size int64 }
	s.inspect(&images, "--type", "image", "hitcounter/web:"+runTag)
	size := float64(images[0].Size) / 1e6
	fmt.Printf("e2e: web image %.1f MB; up (images built) to all healthy: %.1f s\n", size, took.Seconds())
	if size > 15 {
		t.Errorf("web image is %.1f MB, want at most 15 MB", size)
	}
}
