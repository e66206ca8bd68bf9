package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// The load balancer's per-source limits (lb/haproxy.cfg, frontend http), tested through the
// real stack from distinct client addresses (sources_test.go): concurrent connections and
// connection rate refused at accept, request rate answered 429 before any replica, and
// X-Forwarded-Proto set by the balancer whatever the client sent.

// lbLimitNames are the lb container's variables for the per-source limits.
var lbLimitNames = []string{"LB_CONN_PER_SOURCE", "LB_CONN_RATE_PER_SOURCE", "LB_REQ_RATE_PER_SOURCE"}

var presetenvRe = regexp.MustCompile(`(?m)^\s*presetenv\s+(LB_[A-Z_]+)\s+(\d+)\s*$`)

// lbDefault is a limit's default: its presetenv line in lb/haproxy.cfg.
func lbDefault(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "lb", "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range presetenvRe.FindAllStringSubmatch(string(b), -1) {
		if m[1] == name {
			n, _ := strconv.Atoi(m[2])
			return n
		}
	}
	t.Fatalf("lb/haproxy.cfg has no presetenv line for %s", name)
	return 0
}

// setLBLimits passes exactly the given limits to the lb container, and leaves the others
// unset, so that haproxy.cfg's defaults apply to them: whatever the stack's default
// environment or this process's environment says (restored when the test ends).
func (s *stack) setLBLimits(set map[string]int) {
	s.t.Helper()
	s.Env = slices.DeleteFunc(s.Env, func(kv string) bool { return strings.HasPrefix(kv, "LB_") })
	for _, name := range lbLimitNames {
		if _, ok := os.LookupEnv(name); ok {
			s.t.Setenv(name, "") // restores the value at the end of the test
			os.Unsetenv(name)
		}
		if v, ok := set[name]; ok {
			s.Env = append(s.Env, name+"="+strconv.Itoa(v))
		}
	}
}

// checkLBEnv checks the per-source limits the balancer runs with, from its process's
// environment: each variable is the value set for it, or unset or the haproxy.cfg default
// (HAProxy's master process, which re-executes itself after reading the configuration, shows
// the defaults presetenv set). docker inspect is not the place to look: for a variable that
// Compose passes without a value it lists the bare name, which the process never gets.
func (s *stack) checkLBEnv(set map[string]int) {
	s.t.Helper()
	pid := s.inspectContainer(s.Containers("lb")[0]).State.Pid
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		s.t.Fatalf("lb's environment: %v", err)
	}
	env := map[string]string{}
	for kv := range strings.SplitSeq(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "LB_") {
			env[k] = v
		}
	}
	for _, name := range lbLimitNames {
		v, isSet := set[name]
		if !isSet {
			v = lbDefault(s.t, name)
		}
		got, ok := env[name]
		switch {
		case ok && got != strconv.Itoa(v):
			s.t.Fatalf("lb runs with %s=%s, want %d", name, got, v)
		case !ok && isSet:
			s.t.Fatalf("lb runs without %s, want %d", name, v)
		}
	}
	s.t.Logf("lb's environment: %v", env)
}

// lbReply is one HTTP exchange.
type lbReply struct {
	status int
	header http.Header
	body   string
	took   time.Duration
	err    error
}

// servedByReplica says whether a replica answered (every answer of the web tier names its
// replica; the balancer's own answers do not).
func (r lbReply) servedByReplica() bool { return r.err == nil && r.header.Get("X-Served-By") != "" }

func (r lbReply) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("%d %q", r.status, strings.TrimSpace(r.body))
}

func lbDo(c *http.Client, method, url string, header http.Header) lbReply {
	begin := time.Now()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return lbReply{err: err}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return lbReply{err: err, took: time.Since(begin)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return lbReply{status: resp.StatusCode, header: resp.Header, body: string(body), took: time.Since(begin), err: err}
}

func lbMustDo(t *testing.T, c *http.Client, want int, method, url string, header http.Header) lbReply {
	t.Helper()
	r := lbDo(c, method, url, header)
	if r.err != nil || r.status != want {
		t.Fatalf("%s %s = %s, want %d", method, url, r, want)
	}
	return r
}

// lbPaced sends n GETs of url from c at perSecond (one at a time: a slow answer delays the next),
// on keep-alive connections, with a new connection before every 10th request so that accepting
// connections is measured as well as serving requests. It returns every latency and the
// failures (anything but a 200 from a replica).
func lbPaced(c *http.Client, url string, n, perSecond int) (lat []time.Duration, failed []string) {
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		if i%10 == 0 {
			c.CloseIdleConnections()
		}
		r := lbDo(c, "GET", url, nil)
		lat = append(lat, r.took)
		if r.status != 200 || !r.servedByReplica() {
			failed = append(failed, r.String())
		}
	}
	return lat, failed
}

// lbPercentile of durations (nearest rank below).
func lbPercentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// floodResult is the outcome of a half-open flood from one source.
type floodResult struct {
	held       int             // still open, no answer, 1 s after the partial request was written
	refused    int             // closed by the balancer within 1 s, no answer (or reset while connecting)
	answered   int             // got bytes within 1 s (should not happen: nothing was complete)
	dialFailed int             // the connection could not even be made
	dialErrs   map[string]int  // why, by message (without the addresses)
	refusedIn  []time.Duration // from writing (or dialling) to the close, for the refused ones
	dialling   time.Duration   // opening every connection
	conns      []net.Conn      // every connection made, for the caller to close
}

var addrsRe = regexp.MustCompile(`[0-9.]+:[0-9]+`)

// halfOpenFlood opens n connections from source `from` to lb, perSecond a second (up to 32
// being opened at a time), and writes a partial request line on each, then nothing. Each
// connection is judged 1 s after its write: held (open, silent) or refused (closed). Bounded:
// n connections, each dial 2 s, all within `within`.
func halfOpenFlood(src *sources, from, n, perSecond int, within time.Duration) *floodResult {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	f := &floodResult{dialErrs: map[string]int{}}
	var mu sync.Mutex
	jobs := make(chan struct{})
	go func() {
		defer close(jobs)
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for range n {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case <-ctx.Done():
				return
			case jobs <- struct{}{}:
			}
		}
	}()
	var dialers, judges sync.WaitGroup
	begin := time.Now()
	for range 32 {
		dialers.Go(func() {
			for range jobs {
				dialed := time.Now()
				c, err := src.dial(ctx, from)
				if errors.Is(err, syscall.ECONNRESET) {
					// Accepted and closed before the connect returned: the kernel completed
					// the handshake, the balancer refused the connection at once.
					mu.Lock()
					f.refused++
					f.refusedIn = append(f.refusedIn, time.Since(dialed))
					mu.Unlock()
					continue
				}
				if err != nil {
					mu.Lock()
					f.dialFailed++
					f.dialErrs[addrsRe.ReplaceAllString(err.Error(), "ADDR")]++
					mu.Unlock()
					continue
				}
				mu.Lock()
				f.conns = append(f.conns, c)
				mu.Unlock()
				judges.Go(func() {
					wrote := time.Now()
					_, err := c.Write([]byte("GET /get/lb-e2e/flo"))
					var n int
					if err == nil {
						_ = c.SetReadDeadline(wrote.Add(time.Second))
						var buf [512]byte
						n, err = c.Read(buf[:])
					}
					mu.Lock()
					defer mu.Unlock()
					var ne net.Error
					switch {
					case n > 0:
						f.answered++
					case errors.As(err, &ne) && ne.Timeout():
						f.held++
					default: // EOF or reset: closed by the balancer
						f.refused++
						f.refusedIn = append(f.refusedIn, time.Since(wrote))
					}
				})
			}
		})
	}
	dialers.Wait()
	f.dialling = time.Since(begin)
	judges.Wait()
	return f
}

func (f *floodResult) close() {
	for _, c := range f.conns {
		c.Close()
	}
}

// establishedFrom counts the TCP connections to port 8080 from addr that are established in
// the network namespace of process pid (lb's): what the balancer holds open, as the kernel
// sees it. /proc/PID/net/tcp prints IPv4 addresses as the hex of a little-endian word.
func establishedFrom(t *testing.T, pid int, addr netip.Addr) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := addr.As4()
	remote := fmt.Sprintf("%02X%02X%02X%02X:", a[3], a[2], a[1], a[0])
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st ...; st 01 is ESTABLISHED; 1F90 is 8080.
		if len(fields) > 3 && strings.HasSuffix(fields[1], ":1F90") && strings.HasPrefix(fields[2], remote) && fields[3] == "01" {
			n++
		}
	}
	return n
}

// TestLBHalfOpenFlood: 2,000 half-open connections (a partial request line, then nothing) from
// one source address, with the default limits. The balancer holds at most the per-source limit
// of them and refuses the rest as they are accepted, and another client, from another source,
// keeps its p99 under 100 ms over a few hundred requests (issue #15).
func TestLBHalfOpenFlood(t *testing.T) {
	const (
		floodConns = 2000
		floodRate  = 800 // new connections a second: the flood lasts as long as the probes
		probes     = 300 // requests of the other client, before and during the flood
		perSecond  = 100
	)
	s := newStack(t)
	s.setLBLimits(nil) // nothing passed: haproxy.cfg's defaults
	s.up()
	s.checkLBEnv(nil)
	limit := lbDefault(t, "LB_CONN_PER_SOURCE")
	src := s.sources(2)
	attacker, other := 0, 1
	client := src.client(other, true)
	lbMustDo(t, client, 200, "GET", src.url("/hit/lb-e2e/flood"), nil) // creates the counter
	read := src.url("/get/lb-e2e/flood")
	lbPID := s.inspectContainer(s.Containers("lb")[0]).State.Pid
	lbBefore := s.rssMB("lb")

	// Baseline: the same client and requests on the idle stack.
	base, failed := lbPaced(client, read, probes, perSecond)
	if len(failed) > 0 {
		t.Fatalf("%d of %d requests failed on the idle stack: %v", len(failed), probes, failed[:min(5, len(failed))])
	}

	// The flood, while the other client reads at the same pace.
	floodDone := make(chan *floodResult, 1)
	go func() { floodDone <- halfOpenFlood(src, attacker, floodConns, floodRate, time.Minute) }()
	under, failed := lbPaced(client, read, probes, perSecond)
	f := <-floodDone
	defer f.close()
	// What the balancer holds, seen from its side: at most the limit once it has judged every
	// connection it accepted (some may still wait in the kernel's accept queue for a moment).
	// Within 1 s: the flood's first connections are about 3.5 s old by now, and the balancer
	// drops a silent one at 5 s (timeout http-request), which must not be what brings the count
	// down.
	var server int
	waitfor.Until(t, time.Second, func() error {
		if server = establishedFrom(t, lbPID, src.addrs[attacker]); server > limit {
			return fmt.Errorf("%d connections from the attacker established in lb's namespace, want at most %d", server, limit)
		}
		return nil
	})
	lbAfter := s.rssMB("lb")

	basep99, underp99 := lbPercentile(base, .99), lbPercentile(under, .99)
	slowestRefusal := lbPercentile(f.refusedIn, 1)
	fmt.Printf("e2e: lb half-open flood: %d connections from one source in %s: %d held (limit %d; %d established in lb's namespace), "+
		"%d refused within 1 s (p99 %s, slowest %s), %d answered, %d not made; "+
		"other source, %d GET /get each at %d/s: p50 %s p99 %s idle, p50 %s p99 %s under the flood, %d failed; lb RSS %.1f -> %.1f MB\n",
		floodConns, f.dialling.Round(time.Millisecond), f.held, limit, server,
		f.refused, lbPercentile(f.refusedIn, .99).Round(time.Microsecond), slowestRefusal.Round(time.Microsecond),
		f.answered, f.dialFailed, probes, perSecond, lbPercentile(base, .5).Round(time.Microsecond), basep99.Round(time.Microsecond),
		lbPercentile(under, .5).Round(time.Microsecond), underp99.Round(time.Microsecond), len(failed), lbBefore, lbAfter)

	if f.held > limit {
		t.Errorf("the balancer held %d half-open connections from one source, want at most the limit %d", f.held, limit)
	}
	if f.held < limit*9/10 {
		// A few short of the limit can be two HAProxy threads judging connections at once;
		// far fewer means the limit is not the one configured.
		t.Errorf("the balancer held %d half-open connections from one source, want the limit %d (give or take a few)", f.held, limit)
	}
	if f.answered > 0 {
		t.Errorf("%d half-open connections got an answer within 1 s", f.answered)
	}
	if f.dialFailed > 0 {
		t.Errorf("%d of %d connections could not be made (want each accepted, then held or refused): %v", f.dialFailed, floodConns, f.dialErrs)
	}
	if f.held+f.refused+f.answered+f.dialFailed != floodConns {
		t.Errorf("%d connections judged of %d", f.held+f.refused+f.answered+f.dialFailed, floodConns)
	}
	if len(failed) > 0 {
		t.Errorf("the other source: %d of %d requests failed during the flood: %v", len(failed), probes, failed[:min(5, len(failed))])
	}
	// 100 ms is the bound, absolute. On an idle stack this client's p99 is a few ms;
	// the rest is slack for what the flood costs everyone on this 2-core host (the test's own
	// 2,000 dials and reads, HAProxy accepting and closing them, the kernel's TCP work), none of
	// which is the balancer making the other client wait its turn behind the attacker.
	if underp99 >= 100*time.Millisecond {
		t.Errorf("the other source's p99 during the flood is %s (idle: %s), want under 100 ms", underp99, basep99)
	}
	if lbAfter > 96 {
		t.Errorf("lb's memory after the flood: %.1f MB, want well inside its 128 MB", lbAfter)
	}
}

// TestLBRatesPerSource: with lower limits set through the lb container's environment, one
// source opening connections too fast gets them refused at accept, one sending requests too
// fast gets 429 from the balancer (never from or through a replica), and another source is
// served all along.
func TestLBRatesPerSource(t *testing.T) {
	const connRate, reqRate = 50, 100
	s := newStack(t)
	// LB_CONN_PER_SOURCE is left unset: compose must not pass it, so the default applies.
	limits := map[string]int{"LB_CONN_RATE_PER_SOURCE": connRate, "LB_REQ_RATE_PER_SOURCE": reqRate}
	s.setLBLimits(limits)
	s.up()
	s.checkLBEnv(limits)
	src := s.sources(3)
	connSource, reqSource, other := 0, 1, 2
	otherClient := src.client(other, true)
	lbMustDo(t, otherClient, 200, "GET", src.url("/hit/lb-e2e/rates"), nil) // creates the counter
	read := src.url("/get/lb-e2e/rates")
	replicaReads := 0 // GET /get answered by a replica, to compare with the replica's metrics

	// Connection rate: one request per new connection. Each 10 s window starts at the source's
	// first connection, so the burst below (well under 10 s) is judged against exactly the
	// limit, give or take the sliding estimate.
	fresh := src.client(connSource, false)
	begin := time.Now()
	var conns []lbReply
	for range connRate + 30 {
		conns = append(conns, lbDo(fresh, "GET", read, nil))
	}
	took := time.Since(begin)
	accepted, firstRefused := 0, -1
	for i, r := range conns {
		switch {
		case r.servedByReplica() && r.status == 200:
			accepted++
			replicaReads++
			if firstRefused >= 0 {
				t.Errorf("connection %d was served after connection %d was refused: a refused source must stay refused while it keeps trying",
					i+1, firstRefused+1)
			}
		case r.err != nil:
			if firstRefused < 0 {
				firstRefused = i
			}
			if r.took > time.Second {
				t.Errorf("connection %d was refused after %s, want at once", i+1, r.took)
			}
		default:
			t.Errorf("connection %d: %s, want a 200 from a replica or a refused connection", i+1, r)
		}
	}
	fmt.Printf("e2e: lb connection rate: %d new connections from one source in %s (limit %d per 10 s): %d served, %d refused at accept (first: %v)\n",
		len(conns), took.Round(time.Millisecond), connRate, accepted, len(conns)-accepted, conns[max(firstRefused, 0)].err)
	if took > 8*time.Second {
		t.Fatalf("the %d connections took %s; a 10 s window cannot be judged", len(conns), took)
	}
	if accepted < connRate || accepted > connRate+connRate/10 {
		t.Errorf("%d connections served from one source, want the limit %d (up to 10%% more for the sliding estimate)", accepted, connRate)
	}
	// Meanwhile, another source.
	lbMustDo(t, otherClient, 200, "GET", read, nil)
	replicaReads++

	// Request rate: keep-alive, one request after the other.
	keep := src.client(reqSource, true)
	begin = time.Now()
	var reqs []lbReply
	for range reqRate + 30 {
		reqs = append(reqs, lbDo(keep, "GET", read, nil))
	}
	took = time.Since(begin)
	accepted, firstRefused = 0, -1
	for i, r := range reqs {
		switch {
		case r.servedByReplica() && r.status == 200:
			accepted++
			replicaReads++
			if firstRefused >= 0 {
				t.Errorf("request %d was served after request %d was refused", i+1, firstRefused+1)
			}
		case r.err == nil && r.status == 429 && !r.servedByReplica():
			if firstRefused < 0 {
				firstRefused = i
			}
			if got := r.header.Get("Retry-After"); got != "10" {
				t.Errorf("the balancer's 429: Retry-After %q, want 10", got)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("the balancer's 429: Content-Type %q, want text/plain", ct)
			}
			if !strings.HasSuffix(r.body, "\n") || strings.Count(r.body, "\n") != 1 || len(r.body) < 10 {
				t.Errorf("the balancer's 429: body %q, want one line of text", r.body)
			}
		default:
			t.Errorf("request %d: %s (served by %q), want a 200 from a replica or the balancer's 429", i+1, r, r.header.Get("X-Served-By"))
		}
	}
	last := reqs[len(reqs)-1]
	fmt.Printf("e2e: lb request rate: %d requests on keep-alive from one source in %s (limit %d per 10 s): "+
		"%d served, %d answered 429 by the balancer (%q, Retry-After %s)\n",
		len(reqs), took.Round(time.Millisecond), reqRate, accepted, len(reqs)-accepted, strings.TrimSpace(last.body), last.header.Get("Retry-After"))
	if took > 8*time.Second {
		t.Fatalf("the %d requests took %s; a 10 s window cannot be judged", len(reqs), took)
	}
	if accepted < reqRate || accepted > reqRate+reqRate/10 {
		t.Errorf("%d requests served from one source, want the limit %d (up to 10%% more for the sliding estimate)", accepted, reqRate)
	}
	lbMustDo(t, otherClient, 200, "GET", read, nil)
	replicaReads++

	// No refused request reached a replica: the replica counted exactly the reads it answered.
	if got := s.replicaRequests(src, "/get/{namespace}/{key}"); got != replicaReads {
		t.Errorf("the replica counted %d GET /get requests, want %d, the ones it answered: refused ones must never reach it", got, replicaReads)
	}

	// No client's address in the balancer's log, refusals included (it logs at level notice,
	// under which request lines are not written; its log format leaves the address out too).
	logs := s.MustCompose(time.Minute, "logs", "--no-color", "lb")
	for _, a := range src.addrs {
		if strings.Contains(logs, a.String()) {
			t.Errorf("the balancer's log holds the client address %s:\n%s", a, logs)
		}
	}
}

// replicaRequests is hitcounter_http_requests_total of a route, summed over methods and codes,
// read straight from the (one) web replica: on its operator port (5001) where the service has
// one, else on its public port.
func (s *stack) replicaRequests(src *sources, route string) int {
	s.t.Helper()
	web := s.inspectContainer(s.Containers("web")[0]).NetworkSettings.Networks[src.network].IPAddress
	c := src.client(0, false)
	var body string
	for _, port := range []string{"5001", "5000"} {
		r := lbDo(c, "GET", "http://"+net.JoinHostPort(web, port)+"/metrics", nil)
		if r.err == nil && r.status == 200 && strings.Contains(r.body, "hitcounter_http_requests_total") {
			body = r.body
			break
		}
	}
	if body == "" {
		s.t.Fatalf("no metrics from the web replica at %s (ports 5001, 5000)", web)
	}
	n := 0
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "hitcounter_http_requests_total{") && strings.Contains(line, `route="`+route+`"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				s.t.Fatalf("metrics line %q: %v", line, err)
			}
			n += int(v)
		}
	}
	return n
}

// TestLBForwardedProto: the balancer sets X-Forwarded-Proto itself, replacing what a client
// sent. Observed through the counter page (/c/…), whose snippets start with https:// when a
// trusted proxy says X-Forwarded-Proto: https. The replicas trust every address here
// (TRUSTED_PROXIES=0.0.0.0/0), so that a forged header that got through would show; and a
// request straight to a replica, with the same header, shows that it would.
func TestLBForwardedProto(t *testing.T) {
	s := newStack(t)
	s.setLBLimits(nil)
	s.Env = append(s.Env, "TRUSTED_PROXIES=0.0.0.0/0")
	s.up()
	src := s.sources(1)
	c := src.client(0, true)
	lbMustDo(t, c, 201, "POST", src.url("/create/lb-e2e/proto"), nil)
	const page = "/c/lb-e2e/proto"
	hitURL := func(scheme, host string) string { return scheme + "://" + host + "/hit/lb-e2e/proto/shield" }

	// The control: straight to the replica, the forged header is believed.
	web := s.inspectContainer(s.Containers("web")[0]).NetworkSettings.Networks[src.network].IPAddress
	if web == "" {
		t.Fatalf("web has no address on %s", src.network)
	}
	webHost := net.JoinHostPort(web, "5000")
	r := lbMustDo(t, c, 200, "GET", "http://"+webHost+page, http.Header{"X-Forwarded-Proto": {"https"}})
	if !strings.Contains(r.body, hitURL("https", webHost)) {
		t.Fatalf("straight to the replica with X-Forwarded-Proto: https, the page does not show %s: the test cannot see the header", hitURL("https", webHost))
	}

	// Through the balancer, from a source on the frontend network and through the published
	// port (docker-proxy): one forged line, and two.
	published := &http.Client{Timeout: 5 * time.Second}
	for _, via := range []struct {
		name, host string
		c          *http.Client
	}{{"lb's address", src.lb.String(), c}, {"the published port", strings.TrimPrefix(s.base, "http://"), published}} {
		for _, forged := range [][]string{{"https"}, {"https", "https"}} {
			r := lbMustDo(t, via.c, 200, "GET", "http://"+via.host+page, http.Header{"X-Forwarded-Proto": forged})
			if !strings.Contains(r.body, hitURL("http", via.host)) || strings.Contains(r.body, "https://") {
				t.Errorf("via %s with X-Forwarded-Proto %q: the page does not show %s only (the replica got the client's header)",
					via.name, forged, hitURL("http", via.host))
			}
		}
	}
}
