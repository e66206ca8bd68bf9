package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/redisstore"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// syncBuffer collects the program's log lines while the test reads them.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// instance is the real program started through run on port 0.
type instance struct {
	base   string // http://127.0.0.1:port
	ops    string // the operator port's, http://127.0.0.1:port
	port   int    // the operator port
	stdout *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// start runs the program with env (plus PORT=0 and OPERATOR_PORT=0) and waits, with a
// deadline, until it listens and /healthz answers.
func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	env["PORT"] = "0"
	env["OPERATOR_PORT"] = "0"
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stdout: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	var stderr syncBuffer
	go func() {
		in.done <- run(ctx, []string{"hitcounter"}, envFunc(env), strings.NewReader(""), in.stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-in.done:
			// The tests that expect a result check stop's; here it only explains a failure.
			if err != nil && t.Failed() {
				t.Logf("run returned: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("run did not return within 15s of cancel")
		}
		if t.Failed() {
			t.Logf("program output:\n%s%s", in.stdout, stderr.String())
		}
	})

	waitfor.Until(t, 5*time.Second, func() error {
		select {
		case err := <-in.done:
			t.Fatalf("run returned before listening: %v\n%s", err, in.stdout)
		default:
		}
		addr, opsAddr := listenAddr(in.stdout.String())
		if addr == "" {
			return errors.New("no 'listening' log line yet")
		}
		_, port, _ := net.SplitHostPort(addr)
		_, opsPort, _ := net.SplitHostPort(opsAddr)
		in.base, in.ops = "http://127.0.0.1:"+port, "http://127.0.0.1:"+opsPort
		in.port, _ = strconv.Atoi(opsPort)
		return nil
	})
	waitStatus(t, in.base+"/healthz", 200, 5*time.Second)
	return in
}

func hasAccessLine(logs, route string, status int, requestID string) bool {
	for line := range strings.Lines(logs) {
		var e struct {
			Msg, Method, Route string
			RequestID          string `json:"request_id"`
			Status             int
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "request" && e.Route == route && e.Status == status && e.RequestID == requestID {
			return true
		}
	}
	return false
}

// listenAddr reads the public and the operator addresses from the "listening" log line.
func listenAddr(logs string) (addr, operatorAddr string) {
	for line := range strings.Lines(logs) {
		var entry struct {
			Msg, Addr    string
			OperatorAddr string `json:"operator_addr"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
			return entry.Addr, entry.OperatorAddr
		}
	}
	return "", ""
}

// stop cancels the program's context, as SIGTERM does, and returns run's result.
func (in *instance) stop(t *testing.T) error {
	t.Helper()
	in.cancel()
	select {
	case err := <-in.done:
		in.done <- err // for the cleanup
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return within 15s")
		return nil
	}
}

func get(t *testing.T, url string, header ...string) (status int, body string, h http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func redisEnv(srv *redistest.Server, extra ...string) map[string]string {
	host, port, _ := net.SplitHostPort(srv.Addr())
	env := map[string]string{"REDIS_HOST": host, "REDIS_PORT": port, "ACCESS_LOG": "false"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func TestServesVisits(t *testing.T) {
	srv := redistest.Start(t)
	in := start(t, redisEnv(srv, "ACCESS_LOG", "true"))

	status, body, h := get(t, in.base+"/", "X-Request-Id", "test-abc-123")
	if status != http.StatusOK || body != "Hello World! I have been seen 1 times.\n" {
		t.Fatalf("GET / = %d %q", status, body)
	}
	if got := h.Get("X-Request-Id"); got != "test-abc-123" {
		t.Errorf("X-Request-Id = %q, want the client's id echoed", got)
	}
	if h.Get("X-Served-By") == "" {
		t.Error("X-Served-By is missing")
	}
	// The access log line carries the route pattern and the request id. Log lines are flushed
	// every 100 ms, so wait for it, within a bound.
	waitfor.Until(t, 2*time.Second, func() error {
		if !hasAccessLine(in.stdout.String(), "/", 200, "test-abc-123") {
			return fmt.Errorf("no access log line for GET / with the request id:\n%s", in.stdout)
		}
		return nil
	})
	if err := in.stop(t); err != nil {
		t.Fatalf("run() = %v, want nil after a clean shutdown", err)
	}
}

// The named counters as wired by run: the operator token from its file, the rate limit, the
// client taken from X-Forwarded-For of a trusted proxy, and the counter limit.
func TestNamedCountersWired(t *testing.T) {
	srv := redistest.Start(t)
	token := filepath.Join(t.TempDir(), "operator_token")
	if err := os.WriteFile(token, []byte("an-operator-token-for-tests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := start(t, redisEnv(srv, "OPERATOR_TOKEN_FILE", token, "RATE_LIMIT_HITS", "3", "RATE_LIMIT_WINDOW", "1h",
		"TRUSTED_PROXIES", "127.0.0.1", "COUNTER_LIMIT", "3", "RATE_LIMIT_CREATES_PER_DAY", "2"))
	for i := 1; i <= 3; i++ {
		status, body, _ := get(t, in.base+"/hit/wired/page", "X-Forwarded-For", "198.51.100.7")
		if status != 200 || body != fmt.Sprintf(`{"value":%d}`+"\n", i) {
			t.Fatalf("hit %d: %d %q", i, status, body)
		}
	}
	if status, _, h := get(t, in.base+"/hit/wired/page", "X-Forwarded-For", "198.51.100.7"); status != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("4th hit from one client: %d, want 429 with Retry-After", status)
	}
	if status, _, _ := get(t, in.base+"/hit/wired/page", "X-Forwarded-For", "198.51.100.8"); status != 200 {
		t.Fatalf("another client: %d, want 200", status)
	}
	if status, _, _ := get(t, in.base+"/hit/wired/second", "X-Forwarded-For", "198.51.100.8"); status != 200 {
		t.Fatalf("second counter: %d, want 200", status)
	}
	if status, body, _ := get(t, in.base+"/hit/wired/third", "X-Forwarded-For", "198.51.100.8"); status != 200 {
		t.Fatalf("third counter: %d %q, want 200", status, body)
	}
	create := func(path, client string) (int, string) {
		req, _ := http.NewRequest("POST", in.base+path, nil)
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The daily create limit: client .8 made two today.
	if status, body := create("/create/wired/fourth", "198.51.100.8"); status != 429 || !strings.Contains(body, "per 24h0m0s") {
		t.Fatalf("a third counter of one client, RATE_LIMIT_CREATES_PER_DAY=2: %d %q, want 429", status, body)
	}
	if status, body := create("/create/wired/fourth", "198.51.100.9"); status != 507 {
		t.Fatalf("a fourth counter past COUNTER_LIMIT=3: %d %q, want 507", status, body)
	}
	status, body, _ := get(t, in.ops+"/admin/export", "Authorization", "Bearer an-operator-token-for-tests")
	if status != 200 || strings.Count(body, "\n") != 3 || !strings.Contains(body, `"key":"page","value":4`) {
		t.Fatalf("export with the token from OPERATOR_TOKEN_FILE: %d %q", status, body)
	}
	if strings.Contains(in.stdout.String(), "an-operator-token-for-tests") {
		t.Fatal("the operator token is in the log")
	}
}

// TestExactUnderConcurrency: 64 clients × 500 requests move the counter by exactly 32,000,
// and the 32,000 counts handed out are all distinct.
func TestExactUnderConcurrency(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	srv.MustDo("SET", redisstore.Key, "1000")
	// One client sends all 32,000: the read limit (which GET / is under) is off.
	in := start(t, redisEnv(srv, "REDIS_TIMEOUT", "5s", "RATE_LIMIT_READS", "0"))
	checkExact(t, srv, in)
}

func checkExact(t *testing.T, srv *redistest.Server, in *instance) {

	const clients, each = 64, 500
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	results := make([][]int64, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for range each {
				resp, err := client.Get(in.base + "/")
				if err != nil {
					t.Errorf("GET /: %v", err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var n int64
				if _, err := fmt.Sscanf(string(body), "Hello World! I have been seen %d times.", &n); err != nil || resp.StatusCode != 200 {
					t.Errorf("GET / = %d %q", resp.StatusCode, body)
					return
				}
				results[c] = append(results[c], n)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := make(map[int64]bool, clients*each)
	for _, counts := range results {
		for _, n := range counts {
			if seen[n] {
				t.Fatalf("count %d was handed out twice", n)
			}
			if n <= 1000 || n > 1000+clients*each {
				t.Fatalf("count %d is outside (1000, %d]", n, 1000+clients*each)
			}
			seen[n] = true
		}
	}
	if got, want := len(seen), clients*each; got != want {
		t.Fatalf("%d distinct counts, want %d", got, want)
	}
	if got, want := srv.Int("GET", redisstore.Key), int64(1000+clients*each); got != want {
		t.Fatalf("counter = %d, want %d (moved by exactly %d)", got, want, clients*each)
	}
}

// waitStatus polls url until it answers want, within a bounded time.
func waitStatus(t *testing.T, url string, want int, within time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	waitfor.Until(t, within, func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("GET %s = %d %q, want %d", url, resp.StatusCode, b, want)
		}
		return nil
	})
}

// checkFast503s sends GET / n times and wants each answered 503 with a message, and the median
// within the Redis timeout plus 150 ms. The median, not each request: on a busy 2-core machine
// one request can be descheduled for longer than the whole budget, which says nothing about
// the service, while a service that waited on a dead Redis (TCP gives up after minutes) would
// put every request, and so the median, far over it. The 150 ms is for scheduling on such a
// machine and the HTTP round trip on loopback.
func checkFast503s(t *testing.T, url string, n int, timeout time.Duration) {
	t.Helper()
	var took []time.Duration
	for range n {
		begin := time.Now()
		status, body, _ := get(t, url)
		took = append(took, time.Since(begin))
		if status != 503 || !strings.Contains(body, "storage") {
			t.Fatalf("GET %s = %d %q, want 503 with a clear message", url, status, body)
		}
	}
	slices.Sort(took)
	if median, limit := took[n/2], timeout+150*time.Millisecond; median > limit {
		t.Fatalf("503s took %v (sorted), median %s; want a median within %s", took, median, limit)
	}
}

func TestRedisMissingAtStart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill()
	in := start(t, redisEnv(srv, "REDIS_TIMEOUT", "200ms"))

	if status, _, _ := get(t, in.base+"/healthz"); status != 200 {
		t.Fatalf("/healthz = %d, want 200 without Redis", status)
	}
	if status, body, _ := get(t, in.base+"/readyz"); status != 503 || strings.Count(body, "\n") != 1 {
		t.Fatalf("/readyz = %d %q, want 503 with a one-line reason", status, body)
	}
	checkFast503s(t, in.base+"/", 9, 200*time.Millisecond)

	srv.Restart()
	waitStatus(t, in.base+"/", 200, 3*time.Second)
	waitStatus(t, in.base+"/readyz", 200, 3*time.Second)
}

func TestRedisKilledMidRun(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	in := start(t, redisEnv(srv, "REDIS_TIMEOUT", "200ms"))
	waitStatus(t, in.base+"/", 200, 3*time.Second)

	srv.Kill()
	checkFast503s(t, in.base+"/", 9, 200*time.Millisecond)
	waitStatus(t, in.base+"/readyz", 503, 3*time.Second)

	srv.Restart()
	waitStatus(t, in.base+"/", 200, 3*time.Second)
	_, body, _ := get(t, in.base+"/")
	if body != "Hello World! I have been seen 3 times.\n" {
		t.Fatalf("after restart GET / = %q, want count 3 (1 before the kill, 1 at recovery)", body)
	}
}

// TestGracefulShutdown: after the signal /readyz turns 503 while the listener still serves
// (drain delay), the in-flight request completes, the listener closes, and run returns nil.
func TestGracefulShutdown(t *testing.T) {
	srv := redistest.Start(t)
	in := start(t, redisEnv(srv, "REDIS_TIMEOUT", "5s", "SHUTDOWN_DRAIN_DELAY", "500ms", "SHUTDOWN_TIMEOUT", "8s"))
	waitStatus(t, in.base+"/readyz", 200, 3*time.Second)

	// Freeze Redis so a visit stays in flight across the signal.
	srv.Freeze()
	inflight := make(chan string, 1)
	go func() {
		resp, err := http.Get(in.base + "/")
		if err != nil {
			inflight <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- strconv.Itoa(resp.StatusCode) + " " + string(b)
	}()
	// The visit has reached the handler when two requests are in flight: it and the scrape.
	waitfor.Until(t, 5*time.Second, func() error {
		_, body, _ := get(t, in.ops+"/metrics")
		if !strings.Contains(body, "\nhitcounter_http_requests_in_flight 2\n") {
			return errors.New("the visit is not in flight yet")
		}
		return nil
	})

	in.cancel() // what SIGTERM does through signal.NotifyContext
	// A probe answers "shutting down" from the moment the drain begins, including one that was
	// already waiting on the frozen Redis: no race with the first poll.
	waitStatus(t, in.base+"/readyz", 503, 3*time.Second)
	if _, body, _ := get(t, in.base+"/readyz"); body != "not ready: shutting down\n" {
		t.Fatalf("/readyz while draining = %q", body)
	}

	// After the drain delay the listener closes: new connections are refused.
	waitfor.Until(t, 5*time.Second, func() error {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(in.base, "http://"), 200*time.Millisecond)
		if err != nil {
			return nil
		}
		conn.Close()
		return errors.New("the listener still accepts connections")
	})
	select {
	case got := <-inflight:
		t.Fatalf("in-flight request finished while Redis was frozen: %s", got)
	case err := <-in.done:
		t.Fatalf("run returned %v with a request still in flight", err)
	default:
	}

	srv.Thaw()
	select {
	case got := <-inflight:
		if got != "200 Hello World! I have been seen 1 times.\n" {
			t.Fatalf("in-flight request = %q, want it completed with 200", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request did not complete")
	}
	if err := in.stop(t); err != nil {
		t.Fatalf("run() = %v, want nil", err)
	}
}

// TestSlowHeadersAreCutOff: a client that trickles its request headers byte by byte (each byte
// in time, so no per-read timeout would ever fire) is disconnected by the header timeout, its
// request never served; another connection is served all along. The read timeout is set far
// beyond the test's own bound, so only the header timeout can have closed the connection: the
// test checks what happens, not how long it took.
func TestSlowHeadersAreCutOff(t *testing.T) {
	srv := redistest.Start(t)
	in := start(t, redisEnv(srv, "HTTP_READ_HEADER_TIMEOUT", "200ms", "HTTP_READ_TIMEOUT", "10m"))
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// The slow client: a request line, then a header that never ends, one byte every 10 ms.
	// The pace is the client being simulated, not a wait; it stops when the server closes the
	// connection or after 4,000 bytes (40 s, within the 16 KiB header limit).
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
			return
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for range 4000 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{'a'}); err != nil {
				return
			}
		}
	}()

	// Another client is served meanwhile.
	if status, body, _ := get(t, in.base+"/"); status != http.StatusOK || body != "Hello World! I have been seen 1 times.\n" {
		t.Fatalf("GET / beside the slow client = %d %q", status, body)
	}

	// The server closes the slow connection without serving it: the read ends (EOF, or a reset
	// when the close finds unread bytes) before the read timeout could have, and well before
	// this bound, which only keeps a broken server from hanging the test.
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	reply, err := io.ReadAll(conn)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("the slow client's connection is still open after a minute, with a 200ms header timeout")
	}
	if strings.Contains(string(reply), "I have been seen") {
		t.Fatalf("the slow request was served: %q", reply)
	}

	// The server goes on serving, and counted only the other client's visit.
	if status, body, _ := get(t, in.base+"/"); status != http.StatusOK || body != "Hello World! I have been seen 2 times.\n" {
		t.Fatalf("GET / after the slow client was cut off = %d %q", status, body)
	}
	if got := srv.Int("GET", redisstore.Key); got != 2 {
		t.Fatalf("counter = %d, want 2", got)
	}
}

func TestOversizedHeadersRejected(t *testing.T) {
	srv := redistest.Start(t)
	in := start(t, redisEnv(srv))
	status, _, _ := get(t, in.base+"/", "X-Big", strings.Repeat("b", 64<<10))
	if status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("GET / with 64 KiB of headers = %d, want 431", status)
	}
	if got := srv.Int("GET", redisstore.Key); got != 0 {
		t.Fatalf("counter = %d, want 0", got)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	srv := redistest.Start(t)
	in := start(t, redisEnv(srv))
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(in.base, "http://"))
	env := envFunc(map[string]string{"PORT": port})
	var out strings.Builder

	waitStatus(t, in.base+"/readyz", 200, 3*time.Second)
	if err := run(context.Background(), []string{"hitcounter", "healthcheck"}, env, nil, &out, io.Discard); err != nil {
		t.Fatalf("healthcheck with Redis up = %v, want nil", err)
	}
	srv.Kill()
	if err := run(context.Background(), []string{"hitcounter", "healthcheck"}, env, nil, &out, io.Discard); err == nil {
		t.Fatal("healthcheck (readiness) with Redis down = nil, want an error")
	}
	if err := run(context.Background(), []string{"hitcounter", "healthcheck", "-live"}, env, nil, &out, io.Discard); err != nil {
		t.Fatalf("healthcheck -live with Redis down = %v, want nil", err)
	}
	if err := in.stop(t); err != nil {
		t.Fatalf("stopping the server with Redis down = %v, want nil", err)
	}
	if err := run(context.Background(), []string{"hitcounter", "healthcheck", "-live"}, env, nil, &out, io.Discard); err == nil {
		t.Fatal("healthcheck with the server stopped = nil, want an error")
	}
}

func TestBadConfigurationExitsWithStatus2(t *testing.T) {
	tests := []struct {
		env     map[string]string
		wantVar string
	}{
		{map[string]string{"PORT": "eighty"}, "PORT"},
		{map[string]string{"REDIS_TIMEOUT": "soon"}, "REDIS_TIMEOUT"},
		{map[string]string{"REDIS_URL": "ftp://x"}, "REDIS_URL"},
		{map[string]string{"TRUSTED_PROXIES": "10.0.0.0/99"}, "TRUSTED_PROXIES"},
		{map[string]string{"OPERATOR_TOKEN_FILE": "/nonexistent/token"}, "OPERATOR_TOKEN_FILE"},
		{map[string]string{"RATE_LIMIT_HITS": "lots"}, "RATE_LIMIT_HITS"},
	}
	for _, tt := range tests {
		err := run(context.Background(), []string{"hitcounter"}, envFunc(tt.env), nil, io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), tt.wantVar+": ") {
			t.Errorf("run(%v) = %v, want an error naming %s", tt.env, err, tt.wantVar)
		}
		if got := exitCode(err); got != 2 {
			t.Errorf("exitCode(%v) = %d, want 2", err, got)
		}
	}
	if got := exitCode(errors.New("listen: address in use")); got != 1 {
		t.Errorf("exitCode(runtime error) = %d, want 1", got)
	}
	if err := run(context.Background(), []string{"hitcounter", "frobnicate"}, envFunc(nil), nil, io.Discard, io.Discard); exitCode(err) != 2 {
		t.Errorf("unknown sub-command: run = %v, want a usage error", err)
	}
}

// buildBinary compiles the real command once for the tests that need a process.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hitcounter-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hitcounter")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

// TestProcess runs the compiled binary: a malformed variable is one line on stderr and exit
// status 2; SIGTERM and SIGINT make it exit 0.
func TestProcess(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(bin)) })

	t.Run("malformed variable", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = []string{"REDIS_PORT=abc", "REDIS_PASSWORD=do-not-print-me"}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
			t.Fatalf("exit = %v, want status 2", err)
		}
		if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "REDIS_PORT") || strings.Contains(got, "do-not-print-me") {
			t.Fatalf("stderr = %q, want one line naming REDIS_PORT without the password", got)
		}
	})

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			port := redistest.FreePort(t)
			cmd := exec.Command(bin)
			cmd.Env = []string{"PORT=" + strconv.Itoa(port), "OPERATOR_PORT=0", "REDIS_HOST=127.0.0.1", "REDIS_PORT=1", "REDIS_PASSWORD=do-not-print-me"}
			var stdout syncBuffer
			cmd.Stdout = &stdout
			cmd.Stderr = &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				// Done already when the signal stopped it, as it should.
				if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
					t.Errorf("killing the program: %v", err)
				}
			}()
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("the program's output:\n%s", stdout.String())
				}
			})
			// 15 s: a process start is milliseconds, but make test runs every package at once
			// on a machine that may be busy with other work too.
			waitStatus(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz", 200, 15*time.Second)
			begin := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("exit after %v = %v, want status 0\n%s", sig, err, stdout.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("still running 10s after %v", sig)
			}
			if took := time.Since(begin); took > 2*time.Second {
				t.Errorf("took %s to exit with nothing in flight", took)
			}
			logs := stdout.String()
			if strings.Contains(logs, "do-not-print-me") {
				t.Errorf("logs show the password:\n%s", logs)
			}
			for _, msg := range []string{`"msg":"starting"`, `"memory_limit":{"source":`, `"password_set":true`, `"msg":"shutting down"`, `"msg":"stopped"`} {
				if !strings.Contains(logs, msg) {
					t.Errorf("logs lack %s:\n%s", msg, logs)
				}
			}
		})
	}
}

// The operator's way in, now that the public port does not serve /admin/: the export, import
// and admin-key subcommands, run beside the server (docker compose exec), reach its operator
// port with the token file.
func TestOperatorSubcommands(t *testing.T) {
	token := filepath.Join(t.TempDir(), "operator_token")
	if err := os.WriteFile(token, []byte("an-operator-token-for-tests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	from := start(t, redisEnv(redistest.Start(t), "OPERATOR_TOKEN_FILE", token))
	to := start(t, redisEnv(redistest.Start(t), "OPERATOR_TOKEN_FILE", token))
	for range 3 {
		get(t, from.base+"/hit/moved/page")
	}
	if status, _, _ := get(t, from.base+"/admin/export", "Authorization", "Bearer an-operator-token-for-tests"); status != 404 {
		t.Fatalf("/admin/export on the public port: %d, want 404", status)
	}
	sub := func(in *instance, stdin string, args ...string) (string, error) {
		var out, errOut strings.Builder
		env := envFunc(map[string]string{"OPERATOR_PORT": strconv.Itoa(in.port), "OPERATOR_TOKEN_FILE": token})
		err := run(context.Background(), append([]string{"hitcounter"}, args...), env, strings.NewReader(stdin), &out, &errOut)
		return out.String(), err
	}

	export, err := sub(from, "", "export")
	if err != nil || !strings.Contains(export, `"namespace":"moved","key":"page","value":3`) {
		t.Fatalf("hitcounter export = %q, %v", export, err)
	}
	for range 2 {
		if out, err := sub(to, export, "import"); err != nil || !strings.Contains(out, "imported:") {
			t.Fatalf("hitcounter import = %q, %v", out, err)
		}
	}
	if status, body, _ := get(t, to.base+"/get/moved/page"); status != 200 || body != `{"value":3}`+"\n" {
		t.Fatalf("the imported counter: %d %q, want 3", status, body)
	}
	if out, err := sub(to, "not json\n", "import"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("import of a bad line = %q, %v; want an error naming line 1", out, err)
	}

	key, err := sub(to, "", "admin-key", "moved/page")
	key = strings.TrimSpace(key)
	if err != nil || len(key) != 43 {
		t.Fatalf("hitcounter admin-key = %q, %v; want a 43-character key", key, err)
	}
	req, _ := http.NewRequest("POST", to.base+"/set/moved/page?value=10", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("set with the new admin key: %v %v", resp, err)
	}
	resp.Body.Close()

	if _, err := sub(to, "", "admin-key", "x/y"); exitCode(err) != 2 {
		t.Fatalf("admin-key of a bad name: %v, want a usage error (exit 2)", err)
	}
	badToken := filepath.Join(t.TempDir(), "wrong")
	_ = os.WriteFile(badToken, []byte("a-wrong-token-of-some-length\n"), 0o600)
	var out strings.Builder
	err = run(context.Background(), []string{"hitcounter", "export"},
		envFunc(map[string]string{"OPERATOR_PORT": strconv.Itoa(to.port), "OPERATOR_TOKEN_FILE": badToken}), nil, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "403") || out.Len() != 0 {
		t.Fatalf("export with a wrong token = %v, wrote %q; want a 403 error and nothing written", err, out.String())
	}
	if strings.Contains(from.stdout.String()+to.stdout.String(), "an-operator-token-for-tests") {
		t.Fatal("the operator token is in a log")
	}
}

// At start the service says in one line whether Redis's maxmemory holds the counter limit with
// its full history, and warns when the visitor key is missing.
func TestStartLogsCapacityAndKeyWarnings(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "100mb")
	key := filepath.Join(t.TempDir(), "visitor_key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := start(t, redisEnv(srv, "COUNTER_LIMIT", "100000", "VISITOR_KEY_FILE", key))
	waitfor.Until(t, 10*time.Second, func() error {
		if !strings.Contains(in.stdout.String(), "redis capacity") {
			return errors.New("no capacity line yet")
		}
		return nil
	})
	logs := in.stdout.String()
	if !strings.Contains(logs, `"fits":false`) || !strings.Contains(logs, `"maxmemory":104857600`) ||
		!strings.Contains(logs, `"level":"WARN","msg":"redis capacity`) {
		t.Fatalf("capacity line for 100,000 counters in 100 MB: want a warning that they do not fit:\n%s", logs)
	}
	if strings.Contains(logs, "VISITOR_KEY_FILE is not set") || strings.Contains(logs, "0123456789abcdef0123456789abcdef") {
		t.Fatalf("with a key file: a warning about it, or the key itself, in the log:\n%s", logs)
	}

	other := start(t, redisEnv(redistest.Start(t, "--maxmemory", "100mb"), "COUNTER_LIMIT", "1000"))
	waitfor.Until(t, 10*time.Second, func() error {
		if !strings.Contains(other.stdout.String(), `"fits":true`) {
			return errors.New("no capacity line saying it fits yet")
		}
		return nil
	})
	if !strings.Contains(other.stdout.String(), "VISITOR_KEY_FILE is not set") {
		t.Fatalf("without a key file: no warning:\n%s", other.stdout.String())
	}
}
