package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/testkit"
	"github.com/hitcounter/hitcounter/internal/visitor"
	"github.com/hitcounter/hitcounter/internal/waitfor"
	"github.com/redis/rueidis"
)

// The hostile-client suite of issue #15, through the compose stack: what one client (an IPv4
// address, or an IPv6 /64) can do against the property "no client can make the service fail,
// lose or skew another client's counts, or learn who a visitor was, and a copy of everything
// Redis persists reveals no visitor's address". Each test prints its figure (docs/security.md
// quotes them). The load balancer's own limits (half-open connections, rates per source) are
// in lb_limits_test.go.

// trustTheTest makes the test a trusted proxy in front of the balancer, as a TLS terminator or
// a CDN would be: its X-Forwarded-For is believed. Docker's networks are private addresses, so
// trusting them all (only in these tests) lets a request say which client it is for.
const trustTheTest = "TRUSTED_PROXIES=lb,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"

// peakRSS is the most resident memory a container's main process has had (VmHWM), in MB.
func (s *stack) peakRSS(id string) float64 {
	s.t.Helper()
	st := procStatus(s.t, s.inspectContainer(id).State.Pid)
	kb, err := strconv.ParseFloat(strings.TrimSuffix(st["VmHWM"], " kB"), 64)
	if err != nil {
		s.t.Fatalf("VmHWM %q: %v", st["VmHWM"], err)
	}
	return kb / 1024
}

// 10,000 hits with distinct 15 KB user agents from 200 addresses: no replica restarts, each
// replica's peak RSS stays under half its 64 MiB limit, and every 2xx hit is counted once.
// Before issue #15 a pseudonym memo kept address and user agent for 16,384 clients: 6,000 such
// hits took one process's heap to 152 MB, past the container's limit.
func TestHostileUserAgents(t *testing.T) {
	const (
		addresses = 200
		perAddr   = 50
		agentSize = 15000
	)
	s := newStack(t)
	s.up("--scale", "web=2")
	src := s.sources(addresses)
	s.mustCall(201, "POST", "/create/hostile/agents", nil, nil, nil)

	var ok, failed, failedSends atomic.Int64
	var firstFailure atomic.Value
	jobs := make(chan int, addresses*perAddr)
	for i := range addresses * perAddr {
		jobs <- i
	}
	close(jobs)
	clients := make([]*http.Client, addresses)
	for i := range clients {
		clients[i] = src.client(i, true)
	}
	deadline := time.Now().Add(4 * time.Minute)
	begin := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range jobs {
				if time.Now().After(deadline) {
					return
				}
				req, _ := http.NewRequest("GET", src.url("/hit/hostile/agents"), nil)
				// Distinct in its first bytes, the rest filler: every request a new user agent.
				req.Header.Set("User-Agent", fmt.Sprintf("agent-%06d-", i)+strings.Repeat("u", agentSize-13))
				resp, err := clients[i%addresses].Do(req)
				if err != nil {
					failedSends.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(begin)
	value := s.getValue("hostile", "agents")
	var peaks []string
	worst := 0.0
	for _, id := range s.Containers("web") {
		c := s.inspectContainer(id)
		if c.RestartCount != 0 {
			t.Errorf("web %s restarted %d times", id[:12], c.RestartCount)
		}
		rss := s.peakRSS(id)
		worst = max(worst, rss)
		peaks = append(peaks, fmt.Sprintf("%.1f MB", rss))
	}
	fmt.Printf("e2e: hostile user agents: %d hits with distinct %d-byte user agents from %d addresses in %s: %d 2xx, %d other, %d failed sends; "+
		"counter %d; web peak RSS %s (limit 64 MiB)\n",
		ok.Load()+failed.Load()+failedSends.Load(), agentSize, addresses, took.Round(time.Millisecond), ok.Load(), failed.Load(), failedSends.Load(),
		value, strings.Join(peaks, ", "))
	if n := ok.Load() + failed.Load() + failedSends.Load(); n != addresses*perAddr {
		t.Fatalf("sent %d of %d hits within the bound", n, addresses*perAddr)
	}
	if failed.Load()+failedSends.Load() != 0 {
		t.Errorf("%d hits failed on a healthy stack (first: %v)", failed.Load()+failedSends.Load(), firstFailure.Load())
	}
	if value < ok.Load() || value > ok.Load()+failedSends.Load() {
		t.Errorf("counter %d after %d acknowledged hits and %d failed sends: want 2xx <= value <= 2xx + failed sends", value, ok.Load(), failedSends.Load())
	}
	if worst >= 32 {
		t.Errorf("a web replica's peak RSS was %.1f MB, want under half its 64 MiB limit", worst)
	}
}

// Creates cannot be multiplied: a client sending camo's user agent from its own address, and
// 100 addresses of one IPv6 /64 (through a trusted proxy), each create no more than one
// client's daily quota, 1% of COUNTER_LIMIT; another client still can.
func TestHostileCreates(t *testing.T) {
	s := newStack(t)
	// 1% of 500 is 5 a day; the per-minute limit (10) is higher, so the daily one binds.
	s.Env = append(s.Env, liftSourceLimits...)
	s.Env = append(s.Env, trustTheTest, "COUNTER_LIMIT=500", "RATE_LIMIT_CREATES=10")
	s.up()
	tryCreates := func(n int, name func(i int) string, header func(i int) http.Header) (made int) {
		t.Helper()
		for i := range n {
			method, path := "POST", "/create/flood/"+name(i)
			if i%2 == 1 { // half of them as first hits
				method, path = "GET", "/hit/flood/"+name(i)
			}
			a := s.call(method, path, header(i), nil)
			switch a.status {
			case 200, 201:
				made++
			case 429:
			default:
				t.Fatalf("%s %s: %s", method, path, a)
			}
		}
		return made
	}
	camo := tryCreates(40, func(i int) string { return fmt.Sprintf("camo-%02d", i) },
		func(int) http.Header { return http.Header{"User-Agent": {"github-camo (876de43e)"}} })
	v6 := tryCreates(100, func(i int) string { return fmt.Sprintf("v6-%03d", i) },
		func(i int) http.Header {
			return http.Header{"X-Forwarded-For": {fmt.Sprintf("2001:db8:15:15:%x:%x::1", i, i*7)}}
		})
	other := tryCreates(1, func(int) string { return "other-net" },
		func(int) http.Header { return http.Header{"X-Forwarded-For": {"2001:db8:15:16::1"}} })
	fmt.Printf("e2e: hostile creates: camo's user agent from one address created %d of 40, 100 addresses of one /64 created %d of 100 "+
		"(daily quota 5 = 1%% of COUNTER_LIMIT 500); another /64 %d of 1\n", camo, v6, other)
	if camo != 5 || v6 != 5 {
		t.Errorf("created %d with camo's user agent and %d from one /64, want the daily quota of 5 each", camo, v6)
	}
	if other != 1 {
		t.Errorf("a client of another /64 created %d of 1: one client's flood refused another's", other)
	}
}

// Redis driven to maxmemory by creates and by the rate-limit counts of thousands of clients:
// creates answer a clear 507, while hits on counters that exist answer 200, stay exact, and
// survive a SIGKILL of Redis.
func TestRedisFullRefusesOnlyNewCounters(t *testing.T) {
	const keep = 10
	s := newStack(t)
	s.Env = append(s.Env, liftSourceLimits...)
	s.Env = append(s.Env, trustTheTest, "REDIS_MAXMEMORY=3mb", "COUNTER_LIMIT=0",
		"RATE_LIMIT_CREATES=0", "RATE_LIMIT_CREATES_PER_DAY=0")
	s.up()
	for k := range keep {
		s.mustCall(201, "POST", fmt.Sprintf("/create/full/keep-%d", k), nil, nil, nil)
	}
	hits := make([]atomic.Int64, keep) // acknowledged hits per kept counter
	var clientSeq atomic.Int64
	hit := func(k int) answer {
		n := clientSeq.Add(1)
		// A new client each time: each one is a new shared rate-limit count in Redis.
		a := s.call("GET", fmt.Sprintf("/hit/full/keep-%d", k), http.Header{"X-Forwarded-For": {fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)}}, nil)
		if a.status == 200 {
			hits[k].Add(1)
		}
		return a
	}

	// Fill: creates and hits from new clients together, until creates are refused 50 times in
	// a row (at the edge, used memory moves around maxmemory as buffers come and go, and a
	// create may still fit now and then).
	var fullAt, refusedInARow atomic.Int64
	var created, other atomic.Int64
	var firstOther atomic.Value
	deadline := time.Now().Add(3 * time.Minute)
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := range 24 {
		wg.Go(func() {
			for refusedInARow.Load() < 50 && time.Now().Before(deadline) {
				i := seq.Add(1)
				if w%4 == 0 {
					if a := hit(int(i % keep)); a.status != 200 {
						other.Add(1)
						firstOther.CompareAndSwap(nil, "hit: "+a.String())
					}
					continue
				}
				a := s.call("POST", fmt.Sprintf("/create/full/filler-%07d-%s", i, strings.Repeat("x", 40)), nil, nil)
				switch a.status {
				case 201:
					created.Add(1)
					refusedInARow.Store(0)
				case 507:
					fullAt.CompareAndSwap(0, created.Load())
					refusedInARow.Add(1)
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, "create: "+a.String())
				}
			}
		})
	}
	wg.Wait()
	if refusedInARow.Load() < 50 {
		t.Fatalf("Redis did not refuse 50 creates in a row within the bound (%d created, first refusal after %d)", created.Load(), fullAt.Load())
	}
	if other.Load() != 0 {
		t.Errorf("%d answers while filling were neither 201, 507 nor a hit's 200 (first: %v)", other.Load(), firstOther.Load())
	}
	// Full: every create is a 507 that says so; every hit on a counter that exists, from old and
	// new clients, is a 200.
	a := s.wantError(507, "full", "POST", "/create/full/one-more", nil, nil)
	if !strings.Contains(string(a.body), "storage is full") {
		t.Errorf("the 507 of a full Redis says %s", a.body)
	}
	s.wantError(507, "full", "GET", "/hit/full/one-more", nil, nil)
	refusedHits := 0
	for i := range 2000 {
		if a := hit(i % keep); a.status != 200 {
			refusedHits++
			if refusedHits == 1 {
				t.Errorf("a hit on a counter that exists, Redis full: %s", a)
			}
		}
	}
	check := func(when string) {
		t.Helper()
		for k := range keep {
			if got, want := s.waitValue("full", fmt.Sprintf("keep-%d", k), 30*time.Second), hits[k].Load(); got != want {
				t.Errorf("%s: keep-%d = %d, want its %d acknowledged hits", when, k, got, want)
			}
		}
	}
	check("Redis full")
	// What the hits and their clients' counts added past maxmemory stays small: the counts are
	// a few dozen bytes per client, and the visitor sketches are left alone while Redis is full.
	info := s.MustCompose(30*time.Second, "exec", "-T", "redis", "sh", "-c",
		`REDISCLI_AUTH="$(cat /run/secrets/redis_exporter_password)" redis-cli --user exporter INFO memory`)
	// Redis holds maxmemory against used_memory less what it does not count for eviction (the
	// replication backlog, 1 MiB once the backup service has fetched a snapshot over SYNC, and
	// the append-only file's buffers): that is the figure bounded here.
	var used, notCounted, maxmemory int64
	for line := range strings.Lines(info) {
		field, value, _ := strings.Cut(strings.TrimSpace(line), ":")
		v, _ := strconv.ParseInt(value, 10, 64)
		switch field {
		case "used_memory":
			used = v
		case "mem_not_counted_for_evict":
			notCounted = v
		case "maxmemory":
			maxmemory = v
		}
	}
	counted := used - notCounted
	fmt.Printf("e2e: Redis full (maxmemory 3mb) after %d creates (%d in all before 50 refusals in a row): creates answer 507, "+
		"%d of 2,000 hits on existing counters from new clients refused, %d clients' rate-limit counts; "+
		"used_memory %d (%d not counted for eviction) of maxmemory %d\n",
		fullAt.Load(), created.Load(), refusedHits, clientSeq.Load(), used, notCounted, maxmemory)
	// Past maxmemory go only what is allowed there: each new client's rate-limit count (a key
	// with an expiry: about 400 bytes each measured on Valkey 8.1, 1.0-1.15 MB for ~2,660
	// clients) and the hits' day fields on counters that exist. 512 bytes a client bounds it.
	clients := clientSeq.Load()
	if maxmemory != 3<<20 || counted-maxmemory > 512*clients {
		t.Errorf("used_memory %d less %d not counted for eviction with maxmemory %d: want maxmemory 3 MiB and at most 512 bytes a client (%d) past it",
			used, notCounted, maxmemory, clients)
	}

	s.MustCompose(time.Minute, "kill", "-s", "SIGKILL", "redis")
	s.MustCompose(time.Minute, "start", "redis")
	s.waitHealthy("redis", 60*time.Second)
	check("after a SIGKILL of Redis")
}

// hexRun finds key-like material a reader of Redis's files would try: runs of hex digits.
var hexRun = regexp.MustCompile(`[0-9a-fA-F]{32,}`)

// base64Run finds what may be a pseudonym: a run of base64url characters, of which pseudonyms
// are exactly 22, always between delimiters in Redis's files (RESP's CRLF, a key's colons, the
// newlines of dumpRDB).
var base64Run = regexp.MustCompile(`[A-Za-z0-9_-]+`)

// dumpRDB loads an RDB file into a redis-server of its own (on loopback, no persistence of its
// own) and returns every key and value as text: RDB compresses strings, so its bytes alone do
// not show what it holds. The server is $REDIS_SERVER_BIN, as for internal/redistest (the make
// targets set it to the stack's own server, see scripts/test-server.sh), else redis-server from
// PATH: it must read the RDB version the stack's server writes (a Redis 7.0 cannot read Valkey
// 8.1's).
func dumpRDB(t *testing.T, rdb []byte) []byte {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER_BIN")
	if bin == "" {
		bin = "redis-server"
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), rdb, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	srv := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", "dump.rdb",
		"--appendonly", "no", "--save", "")
	var log bytes.Buffer
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = srv.Wait(); close(exited) }()
	defer func() { _ = srv.Process.Kill(); <-exited }()
	var c rueidis.Client
	err = waitfor.Poll(20*time.Second, func() error {
		select {
		case <-exited: // e.g. "Can't handle RDB format version": no use waiting
			return waitfor.Stop(fmt.Errorf("%s exited", bin))
		default:
		}
		var err error
		c, err = rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:" + port}, DisableCache: true})
		return err
	})
	if err != nil {
		_ = srv.Process.Kill()
		<-exited // the log is complete and no longer written
		t.Fatalf("%s did not serve the RDB (it must read the RDB version the stack's server writes; "+
			"REDIS_SERVER_BIN chooses the server, see scripts/test-server.sh): %v\n%s", bin, err, log.String())
	}
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Do(ctx, c.B().Keys().Pattern("*").Build()).AsStrSlice()
	if err != nil {
		t.Fatalf("reading the RDB: %v\n%s", err, log.String())
	}
	var b bytes.Buffer
	for _, k := range keys {
		b.WriteString(k + "\n")
		typ, _ := c.Do(ctx, c.B().Type().Key(k).Build()).ToString()
		switch typ {
		case "string":
			v, _ := c.Do(ctx, c.B().Get().Key(k).Build()).ToString()
			b.WriteString(v + "\n")
		case "hash":
			m, _ := c.Do(ctx, c.B().Hgetall().Key(k).Build()).AsStrMap()
			for f, v := range m {
				b.WriteString(f + " " + v + "\n")
			}
		case "set":
			m, _ := c.Do(ctx, c.B().Smembers().Key(k).Build()).AsStrSlice()
			b.WriteString(strings.Join(m, "\n") + "\n")
		default:
			t.Fatalf("key %s of type %s in the RDB: teach dumpRDB to read it", k, typ)
		}
	}
	return b.Bytes()
}

// pseudonymUnder is the service's pseudonym scheme with a day key given directly: HMAC-SHA256
// (dayKey, purpose || 0 || identity), 128 bits, base64url. The test's own copy, checked against
// the service by the positive control in TestPersistedDataRevealsNoVisitor.
func pseudonymUnder(dayKey []byte, purpose string, identity []byte) string {
	mac := hmac.New(sha256.New, dayKey)
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write(identity)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

// After 1,000 visitors from known addresses, everything Redis persists (the append-only file and
// the RDB snapshot) holds no address, no visitor key or salt, and no pseudonym that a brute force
// over the test's addresses maps back, under any key-like value found in those files. With the
// visitor key (which lives only in the web containers' secrets) the same brute force finds
// every visitor: the search works, and the key is what it lacks.
func TestPersistedDataRevealsNoVisitor(t *testing.T) {
	const visitors = 1000
	s := newStack(t)
	s.Env = append(s.Env, liftSourceLimits...)
	s.Env = append(s.Env, trustTheTest)
	s.up()
	s.mustCall(201, "POST", "/create/privacy/page", nil, nil, nil)
	addrs := make([]netip.Addr, visitors)
	agents := make([]string, visitors)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)})
		agents[i] = fmt.Sprintf("Mozilla/5.0 (visitor %d)", i)
	}
	var wg sync.WaitGroup
	jobs := make(chan int, visitors)
	for i := range visitors {
		jobs <- i
	}
	close(jobs)
	var failed atomic.Int64
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				h := http.Header{"X-Forwarded-For": {addrs[i].String()}, "User-Agent": {agents[i]}}
				for _, path := range []string{"/hit/privacy/page", "/hit/privacy/page/shield", "/get/privacy/page"} {
					if a := s.call("GET", path, h, nil); a.status != 200 {
						failed.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests of the visitors failed", failed.Load())
	}
	secret := s.webSecret("visitor_key")
	// A clean stop: Redis writes its RDB snapshot, and the append-only file is complete.
	s.MustCompose(time.Minute, "stop", "redis")
	dir := t.TempDir()
	s.MustCompose(time.Minute, "cp", "redis:/data/.", dir)
	files := map[string][]byte{}
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			rel, _ := filepath.Rel(dir, path)
			files[rel] = b
			if strings.HasSuffix(path, ".rdb") { // the snapshot, and the AOF's RDB preamble
				files[rel+" (loaded)"] = dumpRDB(t, b)
			}
		}
		return nil
	})
	var names []string
	var all []byte
	for name, b := range files {
		names = append(names, fmt.Sprintf("%s (%d bytes)", name, len(b)))
		all = append(all, b...)
		all = append(all, '\n')
	}
	if !bytes.Contains(all, []byte("hitcounter:c:{privacy/page}")) {
		t.Fatalf("the counter is not in Redis's files %v: the test reads the wrong files", names)
	}
	tokens := map[string]bool{}
	for _, m := range base64Run.FindAll(all, -1) {
		if len(m) == 22 {
			tokens[string(m)] = true
		}
	}

	// No address, in any form a reader could grep for.
	for _, a := range addrs {
		for _, form := range []string{a.String(), netip.AddrFrom16(a.As16()).String()} {
			if bytes.Contains(all, []byte(form)) {
				t.Fatalf("Redis's files hold the address %s", form)
			}
		}
	}
	// No key: not the secret, not the day's key derived from it, no salt.
	pseudonyms, err := visitor.New(bytes.TrimSpace(secret))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for what, k := range map[string][]byte{
		"the visitor key": bytes.TrimSpace(secret), "today's key": pseudonyms.DayKey(now), "yesterday's key": pseudonyms.DayKey(now.Add(-24 * time.Hour)),
	} {
		if bytes.Contains(all, k) || bytes.Contains(all, []byte(hex.EncodeToString(k))) ||
			bytes.Contains(all, []byte(base64.RawURLEncoding.EncodeToString(k))) {
			t.Fatalf("Redis's files hold %s", what)
		}
	}
	if bytes.Contains(all, []byte("hitcounter:salt")) {
		t.Fatal("Redis's files hold a salt key")
	}

	// The brute force: every visitor's identity (address, and each of the 16 user-agent
	// buckets), under every key-like value in the files taken as the secret, as a day key, and
	// as the salt of the scheme before issue #15 (HMAC of address and user agent).
	type guess struct{ what, pseudonym string }
	candidates := map[string]bool{}
	for _, m := range hexRun.FindAll(all, -1) {
		candidates[string(m)] = true
		if raw, err := hex.DecodeString(string(m[:len(m)/2*2])); err == nil {
			candidates[string(raw)] = true
		}
	}
	today, yesterday := now.UTC(), now.UTC().Add(-24*time.Hour)
	found := 0
	for k := range candidates {
		var asSecret *visitor.Pseudonyms
		if len(k) >= visitor.MinSecretBytes {
			asSecret, _ = visitor.New([]byte(k))
		}
		for i, a := range addrs {
			for bucket := range uint8(counter.AgentBuckets) {
				c := counter.Client{Addr: a, Prefix: netip.PrefixFrom(a, 32), Agent: bucket}
				var gs []guess
				if asSecret != nil {
					gs = append(gs, guess{"as the secret", asSecret.Visitor(today, c)}, guess{"as the secret", asSecret.Visitor(yesterday, c)})
				}
				gs = append(gs, guess{"as a day key", pseudonymUnder([]byte(k), "visitor", c.AppendIdentity(nil, true))})
				if bucket == 0 { // the shared rate-limit counts' names: the client, no user agent
					for _, limit := range []string{"hits", "creates", "creates_per_day"} {
						key := counter.LimitKey{Client: c.Prefix}
						if asSecret != nil {
							gs = append(gs,
								guess{"as the secret", asSecret.Limit(today, limit, key)},
								guess{"as the secret", asSecret.Limit(yesterday, limit, key)})
						}
						input := append(append([]byte(limit+"\x00"), c.AppendIdentity(nil, false)...), '/')
						gs = append(gs, guess{"as a day key", pseudonymUnder([]byte(k), "limit", input)})
					}
				}
				if bucket == 0 {
					gs = append(gs, guess{"as a salt of the old scheme", pseudonymUnder([]byte(k), "visitor", []byte(a.String()+"\x00"+agents[i]))})
				}
				for _, g := range gs {
					if tokens[g.pseudonym] {
						found++
						t.Errorf("visitor %s's pseudonym is in Redis's files, found with a key-like value of theirs %s", a, g.what)
					}
				}
			}
			if found > 3 {
				t.FailNow()
			}
		}
	}

	// The positive control: with the secret, each visitor's pseudonym is there to be found.
	withKey := 0
	limitsWithKey := 0
	for i, a := range addrs {
		c := counter.ClientRules{}.Identify(a, nil, agents[i]) // its user agent's bucket, as the service made it
		if tokens[pseudonyms.Visitor(now, c)] || tokens[pseudonyms.Visitor(now.Add(-24*time.Hour), c)] {
			withKey++
		}
		key := counter.LimitKey{Client: c.Prefix}
		if tokens[pseudonyms.Limit(now, "hits", key)] || tokens[pseudonyms.Limit(now.Add(-24*time.Hour), "hits", key)] {
			limitsWithKey++
		}
	}
	fmt.Printf("e2e: persisted data: %d visitors from known addresses; files %v hold %d pseudonym-shaped values; "+
		"%d key-like values tried as secret, day key and old salt over %d addresses x %d buckets, for visitors and rate-limit counts: 0 found; "+
		"with the visitor key (kept out of Redis): %d of %d visitors, %d of %d rate-limit counts found\n",
		visitors, names, len(tokens), len(candidates), visitors, counter.AgentBuckets, withKey, visitors, limitsWithKey, visitors)
	// Not quite all: a PFADD that changes no register of the sketch is not written to the
	// append-only file (a few in a thousand, by the sketch's collisions).
	if limitsWithKey != visitors {
		t.Errorf("with the visitor key, %d of %d clients' rate-limit counts were found: the brute force would not have found them either",
			limitsWithKey, visitors)
	}
	if withKey < visitors*95/100 {
		t.Errorf("with the visitor key, %d of %d visitors' pseudonyms were found in the files: "+
			"the brute force would not have found them either, so it proves nothing", withKey, visitors)
	}
}

// A DNS failure of the trusted proxy's name: the replicas keep the address they last resolved,
// so clients keep their own limits. Before issue #15 a failed look-up emptied the list, after
// which every client looked like the balancer and shared one limit.
func TestTrustedProxyDNSFailure(t *testing.T) {
	const limit = 20
	window, _ := rateWindow(time.Now(), 10*time.Minute)
	s := newStack(t)
	s.Env = append(s.Env, "RATE_LIMIT_HITS="+strconv.Itoa(limit), "RATE_LIMIT_WINDOW="+window.String())
	s.up()
	src := s.sources(2)
	a, b := src.client(0, true), src.client(1, true)
	lbDo(a, "POST", src.url("/create/dns/page"), nil) // spends a create, not a hit

	// Docker's DNS answers the web container at 127.0.0.11; drop everything sent there, in the
	// container's own network namespace, so that the look-ups of "lb" time out.
	web := s.Containers("web")[0]
	pid := strconv.Itoa(s.inspectContainer(web).State.Pid)
	s.mustRunHost(30*time.Second, "nsenter", "-t", pid, "-n", "iptables", "-I", "OUTPUT", "-d", "127.0.0.11", "-j", "DROP")
	t.Cleanup(func() {
		_, _ = testkit.Run(30*time.Second, nil, "nsenter", "-t", pid, "-n", "iptables", "-D", "OUTPUT", "-d", "127.0.0.11", "-j", "DROP")
	})
	ops := s.operatorURL(web)
	failures := func() float64 {
		resp, err := httpClient.Get(ops + "/metrics")
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		for line := range strings.Lines(body.String()) {
			if v, ok := strings.CutPrefix(line, `hitcounter_trusted_proxy_lookups_total{result="error"} `); ok {
				f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return f
			}
		}
		return 0
	}
	// Look-ups run every 10 s once the name is known; two failed ones are proof enough.
	waitfor.Until(t, 60*time.Second, func() error {
		if n := failures(); n < 2 {
			return fmt.Errorf("%v failed look-ups of lb so far", n)
		}
		return nil
	})
	var gotA, gotB int
	for range limit + 5 {
		if r := lbDo(a, "GET", src.url("/hit/dns/page"), nil); r.status == 200 {
			gotA++
		}
	}
	for range 5 {
		if r := lbDo(b, "GET", src.url("/hit/dns/page"), nil); r.status == 200 {
			gotB++
		}
	}
	fmt.Printf("e2e: trusted proxy's DNS failing (%v failed look-ups): client A got %d of %d hits (limit %d), client B then %d of 5\n",
		failures(), gotA, limit+5, limit, gotB)
	if gotA != limit || gotB != 5 {
		t.Errorf("with the proxy's name failing to resolve, A got %d (want its limit %d) and B %d of 5 (want all: its own limit)", gotA, limit, gotB)
	}
}
