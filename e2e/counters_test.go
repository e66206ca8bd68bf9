package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// Named counters (docs/api.md) through the real stack: every request goes to the load
// balancer's published port on 127.0.0.1, as a client's would.

// answer is one HTTP exchange with the stack.
type answer struct {
	at       time.Time
	took     time.Duration
	status   int // 0: no HTTP answer
	header   http.Header
	body     []byte
	err      error
	attempts int // times the client sent it (see stack.visit)
}

// call sends one request through the load balancer. header may be nil; body is sent as is.
func (s *stack) call(method, path string, header http.Header, body []byte) answer {
	a := answer{at: time.Now()}
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { a.attempts++ }}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, s.base+path, rd)
	if err != nil {
		a.err = err
		return a
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		a.err, a.took = err, time.Since(a.at)
		return a
	}
	defer resp.Body.Close()
	a.body, a.err = io.ReadAll(resp.Body)
	a.status, a.header, a.took = resp.StatusCode, resp.Header, time.Since(a.at)
	return a
}

func (a answer) String() string {
	if a.err != nil {
		return fmt.Sprintf("%d %v", a.status, a.err)
	}
	return fmt.Sprintf("%d %s", a.status, strings.TrimSpace(string(a.body)))
}

// value reads {"value":N} from a 200 answer.
func (a answer) value() (int64, error) {
	if a.err != nil || a.status != 200 {
		return 0, fmt.Errorf("answer %s, want 200 with a value", a)
	}
	var v struct{ Value *int64 }
	if err := json.Unmarshal(a.body, &v); err != nil || v.Value == nil {
		return 0, fmt.Errorf("body %q is not {\"value\":N}", a.body)
	}
	return *v.Value, nil
}

// sample turns a hit into the chaos suite's record of one request, so that summarise can judge
// each counter like the visit counter.
func (a answer) sample() sample {
	smp := sample{at: a.at, took: a.took, status: a.status, err: a.err, attempts: a.attempts}
	if a.header != nil {
		smp.servedBy = a.header.Get("X-Served-By")
	}
	if a.err == nil && a.status == 200 {
		n, err := a.value()
		smp.count, smp.err = n, err
	}
	return smp
}

// mustCall wants the given status and a JSON body, which it decodes into v (if not nil).
func (s *stack) mustCall(want int, method, path string, header http.Header, body []byte, v any) answer {
	s.t.Helper()
	a := s.call(method, path, header, body)
	if a.err != nil || a.status != want {
		s.t.Fatalf("%s %s = %s, want %d", method, path, a, want)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/x-ndjson") {
		s.t.Fatalf("%s %s: Content-Type %q, want JSON", method, path, ct)
	}
	if v != nil {
		if err := json.Unmarshal(a.body, v); err != nil {
			s.t.Fatalf("%s %s: body %q: %v", method, path, a.body, err)
		}
	}
	return a
}

// wantError checks a JSON error answer: status and code.
func (s *stack) wantError(status int, code, method, path string, header http.Header, body []byte) answer {
	s.t.Helper()
	var e struct{ Error, Code string }
	a := s.mustCall(status, method, path, header, body, &e)
	if e.Code != code || e.Error == "" {
		s.t.Fatalf("%s %s = %s, want code %q and a message", method, path, a, code)
	}
	return a
}

// getValue reads a counter with GET /get (which counts nothing).
func (s *stack) getValue(ns, key string) int64 {
	s.t.Helper()
	var v struct{ Value int64 }
	s.mustCall(200, "GET", "/get/"+ns+"/"+key, nil, nil, &v)
	return v.Value
}

// waitValue reads a counter, retrying within a bound while the answer is not a 200: after
// Redis restarts, each of the service's connections to it fails its next call once (503).
func (s *stack) waitValue(ns, key string, within time.Duration) int64 {
	s.t.Helper()
	var n int64
	waitfor.Until(s.t, within, func() error {
		var err error
		n, err = s.call("GET", "/get/"+ns+"/"+key, nil, nil).value()
		return err
	})
	return n
}

func bearerHeader(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// hitLoad is a bounded closed-loop load of GET /hit: clients goroutines, each sending perClient
// hits one after the other (keep-alive), the i-th hit of client c on names[keyOf(c, i)]; every
// answer recorded per key. It stops at the deadline, whatever is left.
func (s *stack) hitLoad(ns string, names []string, clients, perClient int, within time.Duration, keyOf func(c, i int) int) (perKey [][]sample, sent int) {
	deadline := time.Now().Add(within)
	perKey = make([][]sample, len(names))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := 0; i < perClient && time.Now().Before(deadline); i++ {
				k := keyOf(c, i)
				smp := s.call("GET", "/hit/"+ns+"/"+names[k], nil, nil).sample()
				mu.Lock()
				perKey[k] = append(perKey[k], smp)
				sent++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for k := range perKey {
		slices.SortFunc(perKey[k], func(a, b sample) int { return a.at.Compare(b.at) })
	}
	return perKey, sent
}

// TestNamedCountersExact: 64 clients × 200 hits over 100 counters through the balancer; each
// counter's value is exactly its acknowledged hits and each hit got its own number. The values
// survive down/up, and a SIGKILL of Redis right after a burst loses no acknowledged hit.
func TestNamedCountersExact(t *testing.T) {
	const (
		numKeys   = 100
		clients   = 64
		perClient = 200
		ns        = "exact-e2e"
	)
	s := newStack(t)
	s.asOneHeavyClient()
	s.Env = append(s.Env, "RATE_LIMIT_HITS=0", "RATE_LIMIT_CREATES=0")
	s.up()
	names := make([]string, numKeys)
	for k := range names {
		names[k] = fmt.Sprintf("key-%03d", k)
	}

	// Phase 1: the load. Client c walks the keys from its own offset, so every key gets exactly
	// clients*perClient/numKeys hits, and the clients meet on keys at different moments.
	begin := time.Now()
	perKey, sent := s.hitLoad(ns, names, clients, perClient, 5*time.Minute, func(c, i int) int { return (c*37 + i) % numKeys })
	took := time.Since(begin)
	if sent != clients*perClient {
		t.Fatalf("sent %d hits of %d within the bound", sent, clients*perClient)
	}
	values := make([]int64, numKeys)
	var ok, failedSends, failed int
	var problems []string
	for k := range names {
		values[k] = s.getValue(ns, names[k])
		o := summarise(names[k], perKey[k], 0, values[k])
		ok += o.ok
		failedSends += o.failedSends
		failed += len(failures(perKey[k]))
		problems = append(problems, exactProblems(perKey[k], o, values[k])...)
	}
	reportProblems(t, "load", problems, numKeys)
	t.Logf("load: %d hits from %d clients over %d counters in %s (%.0f/s): 2xx %d, failed %d, failed sends %d",
		sent, clients, numKeys, took.Round(time.Millisecond), float64(sent)/took.Seconds(), ok, failed, failedSends)
	if failed > 0 {
		// Not a correctness failure (the bounds above hold with them), but nothing was wrong
		// with this stack: say so loudly, with examples.
		var all []sample
		for _, p := range perKey {
			all = append(all, failures(p)...)
		}
		t.Errorf("%d of %d hits failed on a healthy stack: %s", failed, sent, describe(all))
	}

	// Phase 2: down (volumes kept) and up: every value unchanged.
	s.MustCompose(3*time.Minute, "down")
	s.up()
	var changed []string
	restarted := make([]int64, numKeys)
	for k := range names {
		restarted[k] = s.waitValue(ns, names[k], 15*time.Second)
		if restarted[k] != values[k] {
			changed = append(changed, fmt.Sprintf("%s %d -> %d", names[k], values[k], restarted[k]))
		}
	}
	if len(changed) > 0 {
		t.Errorf("after down/up, %d of %d counters changed (first ones: %s)", len(changed), numKeys, strings.Join(changed[:min(5, len(changed))], ", "))
	}

	// Phase 3: a burst, then SIGKILL of Redis right after it (as TestPersistence does for GET /).
	// Every acknowledged hit was fsynced before its answer (appendfsync always), so all of them
	// are there when Redis is back. Judged from the values read after phase 2, so that a loss
	// there is not counted twice; numbers handed out in phase 1 must not come again.
	perKey, sent = s.hitLoad(ns, names, 16, 100, 2*time.Minute, func(c, i int) int { return (c*7 + i) % numKeys })
	if sent != 1600 {
		t.Fatalf("burst: sent %d hits of 1600 within the bound", sent)
	}
	s.MustCompose(time.Minute, "kill", "-s", "SIGKILL", "redis")
	s.MustCompose(time.Minute, "start", "redis")
	s.waitHealthy("redis", 60*time.Second)
	ok, failedSends, failed, problems = 0, 0, 0, nil
	for k := range names {
		after := s.waitValue(ns, names[k], 15*time.Second)
		o := summarise(names[k], perKey[k], restarted[k], after)
		ok += o.ok
		failedSends += o.failedSends
		failed += len(failures(perKey[k]))
		problems = append(problems, growthProblems(o, restarted[k], after)...)
		for _, smp := range perKey[k] {
			if smp.status == 200 && smp.err == nil && smp.count <= values[k] {
				problems = append(problems, fmt.Sprintf("%s: number %d handed out again (phase 1 had handed out 1..%d)", names[k], smp.count, values[k]))
				break
			}
		}
	}
	reportProblems(t, "after SIGKILL of redis", problems, numKeys)
	t.Logf("burst before the SIGKILL: %d hits, 2xx %d, failed %d, failed sends %d", sent, ok, failed, failedSends)
	if failed > 0 {
		t.Errorf("%d of %d hits of the burst failed; Redis was killed only after it", failed, sent)
	}
}

// growthProblems: no acknowledged hit lost (the value is at least the highest number handed
// out and grew by at least the 2xx count), none counted twice (at most 2xx plus the sends that
// got no 2xx, which may or may not have been counted, as in the chaos suite), no number twice.
func growthProblems(o outcome, before, after int64) []string {
	var p []string
	if o.lost != 0 {
		p = append(p, fmt.Sprintf("%s: %d acknowledged hits lost (value %d -> %d, %d 2xx)", o.scenario, o.lost, before, after, o.ok))
	}
	if o.duplicates != 0 {
		p = append(p, fmt.Sprintf("%s: %d numbers handed out twice", o.scenario, o.duplicates))
	}
	if grew := after - before; grew < int64(o.ok) || grew > int64(o.ok+o.failedSends) {
		p = append(p, fmt.Sprintf("%s: grew by %d with %d 2xx and %d failed sends; want 2xx <= growth <= 2xx + failed sends",
			o.scenario, grew, o.ok, o.failedSends))
	}
	return p
}

// exactProblems is growthProblems from 0, and with no failed send the numbers are exactly 1..N.
func exactProblems(samples []sample, o outcome, value int64) []string {
	p := growthProblems(o, 0, value)
	if o.failedSends != 0 {
		return p
	}
	var got []int64
	for _, smp := range samples {
		got = append(got, smp.count)
	}
	slices.Sort(got)
	for i, n := range got {
		if n != int64(i+1) {
			return append(p, fmt.Sprintf("%s: the numbers handed out are not 1..%d: position %d holds %d", o.scenario, len(got), i+1, n))
		}
	}
	return p
}

// reportProblems fails the test with how many counters broke a rule, and the first few.
func reportProblems(t *testing.T, phase string, problems []string, counters int) {
	t.Helper()
	if len(problems) > 0 {
		t.Errorf("%s: %d problems over %d counters; the first ones:\n  %s",
			phase, len(problems), counters, strings.Join(problems[:min(6, len(problems))], "\n  "))
	}
}

// rateWindow picks RATE_LIMIT_WINDOW so that the current window has at least margin left:
// windows are fixed, aligned to multiples of their length since the Unix epoch, and a boundary
// inside the test would give the client a second full limit. One hour, unless the next full
// hour is closer than margin; then a slightly longer window, whose boundaries fall elsewhere.
func rateWindow(now time.Time, margin time.Duration) (window, left time.Duration) {
	for window = time.Hour; window <= 2*time.Hour; window += time.Minute {
		left = window - time.Duration(now.UnixNano()%int64(window))
		if left > margin {
			return window, left
		}
	}
	return time.Hour, time.Hour - time.Duration(now.UnixNano()%int64(time.Hour))
}

// TestRateLimitAcrossReplicas: one client against three replicas sharing one limit. The stack
// never accepts more than the limit in a window, however the balancer spreads the requests,
// and a forged X-Forwarded-For does not make a new client.
func TestRateLimitAcrossReplicas(t *testing.T) {
	const (
		limit   = 300
		workers = 16
		numKeys = 4
		ns      = "ratelimit-e2e"
	)
	// The test (start-up included) takes a few minutes at most; the window must outlast it.
	window, left := rateWindow(time.Now(), 10*time.Minute)
	s := newStack(t)
	s.asOneHeavyClient()
	s.Env = append(s.Env, "RATE_LIMIT_HITS="+strconv.Itoa(limit), "RATE_LIMIT_WINDOW="+window.String(),
		// Creates get a limit of their own, high enough for the set-up below.
		"RATE_LIMIT_CREATES=1000")
	s.up("--scale", "web=3")
	s.waitReplicas(3, 10*time.Second) // GET /: no rate limit spent
	t.Logf("RATE_LIMIT_WINDOW=%s, %s left in the current window when chosen", window, left.Round(time.Second))

	// The counters exist before the load (POST /create spends creates, not hits), so that all
	// the load's hits go through the same path. The creates also make each replica look up its
	// trusted proxy ("lb"): until that look-up answers, a replica takes the balancer itself for
	// the client (see visitor.Proxies), which would be a second client here.
	for k := range numKeys {
		s.mustCall(201, "POST", fmt.Sprintf("/create/%s/key-%d", ns, k), nil, nil, nil)
	}
	seen := map[string]bool{}
	waitfor.Until(t, 15*time.Second, func() error {
		a := s.call("POST", "/create/"+ns+"/key-0", nil, nil)
		if a.status != 409 {
			return waitfor.Stop(fmt.Errorf("POST /create on an existing counter = %s, want 409", a))
		}
		seen[a.header.Get("X-Served-By")] = true
		if len(seen) < 3 {
			return fmt.Errorf("creates reached %d of 3 replicas", len(seen))
		}
		return nil
	})

	// The load: 3×limit hits over the keys from 16 concurrent keep-alive connections, which
	// the balancer spreads over the replicas request by request. Every fifth hit carries a
	// forged X-Forwarded-For: only the balancer is a trusted proxy, it appends the address it
	// got the connection from, and the replicas take the rightmost untrusted address, so the
	// forged one must change nothing.
	total := 3 * limit
	jobs := make(chan int, total)
	for i := range total {
		jobs <- i
	}
	close(jobs)
	type hitAnswer struct {
		answer
		forged bool // sent with a forged X-Forwarded-For
	}
	var mu sync.Mutex
	var answers []hitAnswer
	deadline := time.Now().Add(2 * time.Minute)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if time.Now().After(deadline) {
					return
				}
				var h http.Header
				if i%5 == 0 {
					h = http.Header{"X-Forwarded-For": {randomIP()}}
					if i%10 == 0 {
						h["X-Forwarded-For"] = []string{randomIP() + ", " + randomIP()}
					}
				}
				a := s.call("GET", fmt.Sprintf("/hit/%s/key-%d", ns, i%numKeys), h, nil)
				mu.Lock()
				answers = append(answers, hitAnswer{a, h != nil})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(answers) != total {
		t.Fatalf("sent %d hits of %d within the bound", len(answers), total)
	}
	// Then, sequentially, more of both kinds: the client is out of tokens, however it dresses.
	for i := range 20 {
		var h http.Header
		if i%2 == 0 {
			h = http.Header{"X-Forwarded-For": {randomIP()}}
		}
		a := s.call("GET", fmt.Sprintf("/hit/%s/key-%d", ns, i%numKeys), h, nil)
		if a.status != 429 {
			t.Errorf("hit %d after the limit was used up (forged X-Forwarded-For: %v) = %s, want 429", i, h != nil, a)
		}
		answers = append(answers, hitAnswer{a, h != nil})
	}

	// Did the window end during the test? RateLimit-Reset counts down within a window; a later
	// answer with a larger Reset than the first one's is from the next window.
	slices.SortStableFunc(answers, func(a, b hitAnswer) int { return a.at.Compare(b.at) })
	firstReset := int64(-1)
	for _, a := range answers {
		r, err := strconv.ParseInt(a.header.Get("RateLimit-Reset"), 10, 64)
		if err != nil {
			continue // reported below
		}
		if firstReset < 0 {
			firstReset = r
			if want := int64(window.Seconds()); r <= 0 || r > want {
				t.Fatalf("RateLimit-Reset %d at the first hit, want 1..%d", r, want)
			}
		} else if r > firstReset+1 {
			t.Fatalf("the rate-limit window ended during the test (RateLimit-Reset went from %d to %d s): the client may get up to twice the limit, "+
				"so the bounds below cannot be checked; run it again", firstReset, r)
		}
	}

	var accepted, refused, forged, acceptedForged, failedSends int
	replicas := map[string]int{}
	for _, a := range answers {
		if a.forged {
			forged++
		}
		failedSends += max(a.attempts-1, 0)
		if a.err != nil {
			t.Errorf("hit without an HTTP answer: %v", a.err)
			failedSends++
			continue
		}
		replicas[a.header.Get("X-Served-By")]++
		for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
			if a.header.Get(h) == "" {
				t.Errorf("answer %s lacks %s", a, h)
			}
		}
		if got := a.header.Get("RateLimit-Limit"); got != strconv.Itoa(limit) {
			t.Errorf("RateLimit-Limit %q, want %d", got, limit)
		}
		switch a.status {
		case 200:
			accepted++
			if a.forged {
				acceptedForged++
			}
		case 429:
			refused++
			var e struct{ Code string }
			_ = json.Unmarshal(a.body, &e)
			retry, err := strconv.Atoi(a.header.Get("Retry-After"))
			if err != nil || retry < 1 || e.Code != "rate_limited" || a.header.Get("RateLimit-Remaining") != "0" {
				t.Errorf("429 with Retry-After %q, RateLimit-Remaining %q, body %s; want Retry-After in seconds, Remaining 0, code rate_limited",
					a.header.Get("Retry-After"), a.header.Get("RateLimit-Remaining"), a.body)
			}
		default:
			t.Errorf("hit = %s, want 200 or 429", a)
			failedSends++
		}
	}
	// Each replica leases max(limit/16, 1) tokens at a time and asks for more when a quarter
	// of a lease is left, so it holds at most about 1.25 leases. Tokens leased from Redis but
	// never spent before the client stopped are lost for the window: at most that much on
	// each of the 3 replicas. (The client reaches every replica to the end here, so in
	// practice nearly none are.)
	lease := max(limit/16, 1)
	stranded := 3 * ((5*lease + 3) / 4)
	growth := int64(0)
	for k := range numKeys {
		growth += s.getValue(ns, fmt.Sprintf("key-%d", k))
	}
	t.Logf("%d hits (%d with a forged X-Forwarded-For): %d accepted (%d forged), %d refused, failed sends %d; replicas %v; counters grew by %d; "+
		"window reset in %d s at the first hit",
		len(answers), forged, accepted, acceptedForged, refused, failedSends, replicas, growth, firstReset)
	if accepted > limit {
		t.Errorf("the stack accepted %d hits from one client, want at most the limit %d", accepted, limit)
	}
	if accepted < limit-stranded {
		t.Errorf("the stack accepted %d hits, want at least %d (the limit %d less %d tokens that may be stranded on 3 replicas)",
			accepted, limit-stranded, limit, stranded)
	}
	if len(replicas) != 3 {
		t.Errorf("answers came from %d replicas %v, want 3", len(replicas), replicas)
	}
	if growth < int64(accepted) || growth > int64(accepted+failedSends) {
		t.Errorf("the counters grew by %d with %d hits accepted and %d failed sends; want exactly the accepted ones", growth, accepted, failedSends)
	}
}

// randomIP is a forged client address: sometimes IPv4, sometimes IPv6.
func randomIP() string {
	if rand.IntN(4) == 0 {
		return fmt.Sprintf("2001:db8::%x:%x", rand.IntN(0x10000), rand.IntN(0x10000))
	}
	return fmt.Sprintf("%d.%d.%d.%d", 1+rand.IntN(223), rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))
}

// TestCounterAPIThroughStack: the owner and operator endpoints through the balancer, with
// the operator token the stack generated, and the counter limit.
func TestCounterAPIThroughStack(t *testing.T) {
	const ns = "api-e2e"
	s := newStack(t)
	s.Env = append(s.Env, "COUNTER_LIMIT=5", "RATE_LIMIT_CREATES=100", "RATE_LIMIT_CREATES_PER_DAY=100")
	s.up()
	// The token the secrets service generated, as only the web containers have it.
	token := strings.TrimSpace(string(s.webSecret("operator_token")))
	if len(token) < 32 {
		t.Fatalf("operator token %q is too short", token)
	}

	// An owner's life cycle.
	var created struct {
		Namespace, Key string
		Value          int64
		AdminKey       string `json:"admin_key"`
	}
	s.mustCall(201, "POST", "/create/"+ns+"/owned?initializer=42", nil, nil, &created)
	if created.Namespace != ns || created.Key != "owned" || created.Value != 42 || len(created.AdminKey) != 43 {
		t.Fatalf("create answered %+v, want %s/owned, value 42 and a 43-character admin key", created, ns)
	}
	key := created.AdminKey
	if got := s.getValue(ns, "owned"); got != 42 {
		t.Fatalf("GET /get after create = %d, want 42", got)
	}
	var info struct {
		Value       int64
		AdminKeySet bool `json:"admin_key_set"`
	}
	s.mustCall(200, "GET", "/info/"+ns+"/owned", nil, nil, &info)
	if info.Value != 42 || !info.AdminKeySet {
		t.Fatalf("info = %+v, want value 42 with an admin key", info)
	}
	s.wantError(409, "conflict", "POST", "/create/"+ns+"/owned", nil, nil)

	for _, step := range []struct {
		path string
		want int64
	}{
		{"/set/" + ns + "/owned?value=100", 100},
		{"/update/" + ns + "/owned?value=-5", 95},
		{"/update/" + ns + "/owned?value=7", 102},
		{"/reset/" + ns + "/owned", 0},
		{"/set/" + ns + "/owned?value=9", 9},
	} {
		// Without a key: 401 with WWW-Authenticate; with a wrong one: 403; neither changes anything.
		before := s.getValue(ns, "owned")
		a := s.wantError(401, "unauthorized", "POST", step.path, nil, nil)
		if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 on %s without WWW-Authenticate: Bearer (%q)", step.path, a.header.Get("WWW-Authenticate"))
		}
		s.wantError(401, "unauthorized", "POST", step.path, http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, nil)
		s.wantError(403, "forbidden", "POST", step.path, bearerHeader("not-the-admin-key-"+key[:10]), nil)
		if got := s.getValue(ns, "owned"); got != before {
			t.Fatalf("refused %s changed the counter from %d to %d", step.path, before, got)
		}
		var v struct{ Value int64 }
		s.mustCall(200, "POST", step.path, bearerHeader(key), nil, &v)
		if v.Value != step.want || s.getValue(ns, "owned") != step.want {
			t.Fatalf("POST %s answered %d, want %d (and /get the same)", step.path, v.Value, step.want)
		}
	}
	// The operator token opens every counter.
	var v struct{ Value int64 }
	s.mustCall(200, "POST", "/update/"+ns+"/owned?value=1", bearerHeader(token), nil, &v)
	if v.Value != 10 {
		t.Fatalf("update with the operator token = %d, want 10", v.Value)
	}
	s.wantError(401, "unauthorized", "POST", "/delete/"+ns+"/owned", nil, nil)
	s.wantError(403, "forbidden", "POST", "/delete/"+ns+"/owned", bearerHeader("wrong"), nil)
	var del struct{ Status, Message string }
	s.mustCall(200, "POST", "/delete/"+ns+"/owned", bearerHeader(key), nil, &del)
	if del.Status != "ok" {
		t.Fatalf("delete answered %+v", del)
	}
	s.wantError(404, "not_found", "GET", "/get/"+ns+"/owned", nil, nil)
	s.wantError(404, "not_found", "POST", "/set/"+ns+"/owned?value=1", bearerHeader(key), nil)

	// The counter limit: five counters fit, the sixth is refused with 507 whichever way it
	// would be created, and nothing is evicted for it.
	adminKeys := map[string]string{}
	for i := 1; i <= 5; i++ {
		var c struct {
			AdminKey string `json:"admin_key"`
		}
		s.mustCall(201, "POST", fmt.Sprintf("/create/%s/cnt%d?initializer=%d", ns, i, 10*i), nil, nil, &c)
		adminKeys[fmt.Sprintf("cnt%d", i)] = c.AdminKey
	}
	s.wantError(507, "full", "POST", "/create/"+ns+"/cnt6?initializer=60", nil, nil)
	s.wantError(507, "full", "GET", "/hit/"+ns+"/cnt6", nil, nil)
	s.wantError(404, "not_found", "GET", "/get/"+ns+"/cnt6", nil, nil)
	for i := 1; i <= 5; i++ {
		if got := s.getValue(ns, fmt.Sprintf("cnt%d", i)); got != int64(10*i) {
			t.Errorf("after the 507s: cnt%d = %d, want %d", i, got, 10*i)
		}
	}
	// A counter that exists keeps counting at the limit.
	var hit struct{ Value int64 }
	s.mustCall(200, "GET", "/hit/"+ns+"/cnt1", nil, nil, &hit)
	if hit.Value != 11 {
		t.Fatalf("hit on cnt1 at the limit = %d, want 11", hit.Value)
	}

	// Export, delete, import, the operator's way: the subcommands in a web container, on its
	// operator port. Through the published port /admin/ is not there, whatever the token.
	for _, c := range []struct{ method, path string }{{"GET", "/admin/export"}, {"POST", "/admin/import"}, {"GET", "/metrics"}} {
		if a := s.call(c.method, c.path, bearerHeader(token), []byte("{}\n")); a.status != 404 {
			t.Errorf("%s %s with the operator token through the published port = %s, want 404", c.method, c.path, a)
		}
	}
	exported := s.MustCompose(2*time.Minute, "exec", "-T", "web", "/hitcounter", "export")
	exp := answer{body: []byte(exported)}
	lines := strings.Split(strings.TrimSpace(string(exp.body)), "\n")
	values := map[string]int64{}
	for _, l := range lines {
		var e struct {
			Namespace, Key string
			Value          int64
			Created        string
			AdminKeySHA256 string `json:"admin_key_sha256"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
		if e.Namespace != ns || len(e.AdminKeySHA256) != 64 || e.Created == "" {
			t.Errorf("export line %q: want namespace %s, a creation time and an admin key hash", l, ns)
		}
		values[e.Key] = e.Value
	}
	want := map[string]int64{"cnt1": 11, "cnt2": 20, "cnt3": 30, "cnt4": 40, "cnt5": 50}
	if len(values) != len(want) || len(lines) != len(want) {
		t.Fatalf("export has %d lines %v, want the 5 counters %v", len(lines), values, want)
	}
	for k, n := range want {
		if values[k] != n {
			t.Errorf("export: %s = %d, want %d", k, values[k], n)
		}
	}
	s.mustCall(200, "POST", "/delete/"+ns+"/cnt3", bearerHeader(adminKeys["cnt3"]), nil, nil)
	s.wantError(404, "not_found", "GET", "/get/"+ns+"/cnt3", nil, nil)

	importFile := func() string {
		t.Helper()
		out, err := s.ComposeInput(2*time.Minute, exp.body, "exec", "-T", "web", "/hitcounter", "import")
		if err != nil {
			t.Fatalf("hitcounter import: %v\n%s", err, out)
		}
		return strings.TrimSpace(out)
	}
	if got := importFile(); got != "imported: 1 created, 0 updated, 4 unchanged" {
		t.Errorf("import after deleting cnt3: %q, want 1 created, 4 unchanged", got)
	}
	if got := s.getValue(ns, "cnt3"); got != 30 {
		t.Errorf("cnt3 after the import = %d, want 30", got)
	}
	// Its owner's key works again: the hash moved with the counter.
	s.mustCall(200, "POST", "/update/"+ns+"/cnt3?value=0", bearerHeader(adminKeys["cnt3"]), nil, &v)
	if v.Value != 30 {
		t.Errorf("update +0 on cnt3 with its old admin key = %d, want 30", v.Value)
	}
	if got := importFile(); got != "imported: 0 created, 0 updated, 5 unchanged" {
		t.Errorf("the same import again: %q, want 5 unchanged", got)
	}
	// At the limit still: the import created nothing more than it restored.
	s.wantError(507, "full", "POST", "/create/"+ns+"/cnt6", nil, nil)
}
