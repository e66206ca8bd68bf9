package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redisstore"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/waitfor"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type testServer struct {
	url     string // the public listener
	ops     string // the operator's listener
	redis   *redistest.Server
	metrics *Metrics
	drain   chan struct{}
	logs    *lockedBuffer
}

// lockedBuffer is a log destination that handler goroutines write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestServer serves the real handler over a real Redis.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	rs := redistest.Start(t)
	store := redisstore.New(redisstore.Options{Addr: rs.Addr(), Timeout: 500 * time.Millisecond})
	t.Cleanup(store.Close)
	ts := &testServer{redis: rs, metrics: NewMetrics("test-version"), drain: make(chan struct{}), logs: new(lockedBuffer)}
	ts.serve(t, Deps{
		Visits:    counter.VisitCounter{Counter: counter.NewCoalescer(store, 4, 500*time.Millisecond)},
		Pinger:    store,
		Metrics:   ts.metrics,
		Logger:    slog.New(slog.NewJSONHandler(ts.logs, nil)),
		Hostname:  "web-1",
		AccessLog: true,
		Drain:     ts.drain,
	})
	return ts
}

// serve starts both listeners of d, as the program does.
func (ts *testServer) serve(t *testing.T, d Deps) {
	t.Helper()
	public, ops := httptest.NewServer(NewHandler(d)), httptest.NewServer(NewOperatorHandler(d))
	t.Cleanup(public.Close)
	t.Cleanup(ops.Close)
	ts.url, ts.ops = public.URL, ops.URL
}

// operatorPath says whether path is served on the operator's listener, where do sends it.
func operatorPath(path string) bool {
	return strings.HasPrefix(path, "/admin/") || path == "/metrics"
}

// do sends a request to the listener that serves path, as a client would (the operator routes on
// the operator's), and returns the answer with its body.
func (ts *testServer) do(t *testing.T, method, path string, header ...string) (*http.Response, string) {
	t.Helper()
	base := ts.url
	if operatorPath(path) {
		base = ts.ops
	}
	return ts.doAt(t, base, method, path, header...)
}

func (ts *testServer) doAt(t *testing.T, base, method, path string, header ...string) (*http.Response, string) {
	t.Helper()
	return request(t, method, base+path, "", header...)
}

// request sends one request with header's name/value pairs and returns the answer with its body
// read: every test's way of asking a server something.
func request(t *testing.T, method, url, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	read, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(read)
}

func (ts *testServer) count(t *testing.T) int64 {
	t.Helper()
	return ts.redis.Int("GET", redisstore.Key)
}

func TestVisitNegotiation(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		accept          string
		wantContentType string
		wantBody        *regexp.Regexp
	}{
		{"", "text/plain; charset=utf-8", regexp.MustCompile(`^Hello World! I have been seen 1 times\.\n$`)},
		{"text/plain", "text/plain; charset=utf-8", regexp.MustCompile(`^Hello World! I have been seen 2 times\.\n$`)},
		{"*/*", "text/plain; charset=utf-8", regexp.MustCompile(`^Hello World! I have been seen 3 times\.\n$`)},
		{"application/json", "application/json", regexp.MustCompile(`^\{"count":4,"served_by":"web-1"\}\n$`)},
		{"text/html,application/xhtml+xml,*/*;q=0.8", "text/html; charset=utf-8",
			regexp.MustCompile(`(?s)^<!doctype html>.*<p class="count">5</p>.*<code>web-1</code>.*</html>\n$`)},
	}
	for _, tt := range tests {
		resp, body := ts.do(t, "GET", "/", "Accept", tt.accept)
		if resp.StatusCode != 200 {
			t.Fatalf("Accept %q: status %d %q", tt.accept, resp.StatusCode, body)
		}
		if resp.ContentLength != int64(len(body)) {
			t.Errorf("Accept %q: Content-Length %d, body %d bytes", tt.accept, resp.ContentLength, len(body))
		}
		if got := resp.Header.Get("Content-Type"); got != tt.wantContentType {
			t.Errorf("Accept %q: Content-Type = %q, want %q", tt.accept, got, tt.wantContentType)
		}
		if !tt.wantBody.MatchString(body) {
			t.Errorf("Accept %q: body = %q, want match of %s", tt.accept, body, tt.wantBody)
		}
		for header, want := range map[string]string{"Cache-Control": "no-store", "X-Served-By": "web-1", "Vary": "Accept"} {
			if got := resp.Header.Get(header); got != want {
				t.Errorf("Accept %q: %s = %q, want %q", tt.accept, header, got, want)
			}
		}
	}
	// The JSON answer is valid JSON with the documented fields.
	_, body := ts.do(t, "GET", "/", "Accept", "application/json")
	var v struct {
		Count    int64  `json:"count"`
		ServedBy string `json:"served_by"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Count != 6 || v.ServedBy != "web-1" {
		t.Fatalf("JSON body %q decodes to %+v, %v", body, v, err)
	}
	// The HTML page loads nothing from elsewhere.
	_, page := ts.do(t, "GET", "/", "Accept", "text/html")
	for _, external := range []string{"http://", "https://", "<script", "<link", "src="} {
		if strings.Contains(page, external) {
			t.Errorf("HTML page contains %q; it must be self-contained", external)
		}
	}
}

func TestVisitNotAcceptable(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.do(t, "GET", "/", "Accept", "image/png")
	if resp.StatusCode != http.StatusNotAcceptable || !strings.Contains(body, "text/plain") {
		t.Fatalf("GET / Accept image/png = %d %q, want 406 naming the offered types", resp.StatusCode, body)
	}
	if got := ts.count(t); got != 0 {
		t.Fatalf("a 406 counted a visit: counter = %d", got)
	}
}

func TestHeadDoesNotCount(t *testing.T) {
	ts := newTestServer(t)
	for range 3 {
		resp, body := ts.do(t, "HEAD", "/")
		if resp.StatusCode != 200 || body != "" {
			t.Fatalf("HEAD / = %d %q, want 200 and no body", resp.StatusCode, body)
		}
		if resp.Header.Get("X-Served-By") != "web-1" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("HEAD / headers = %v", resp.Header)
		}
	}
	if got := ts.count(t); got != 0 {
		t.Fatalf("counter = %d after 3 HEADs, want 0", got)
	}
	_, body := ts.do(t, "GET", "/")
	if body != "Hello World! I have been seen 1 times.\n" {
		t.Fatalf("first GET after HEADs = %q, want count 1", body)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		method, path string
		wantStatus   int
		wantAllow    string
	}{
		{"GET", "/nope", 404, ""},
		{"GET", "/index.html", 404, ""},
		{"GET", "/healthz/extra", 404, ""},
		{"POST", "/", 405, "GET, HEAD"},
		{"DELETE", "/", 405, "GET, HEAD"},
		{"PUT", "/healthz", 405, "GET, HEAD"},
		{"POST", "/metrics", 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		resp, body := ts.do(t, tt.method, tt.path)
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.wantStatus)
		}
		if got := resp.Header.Get("Allow"); got != tt.wantAllow {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, got, tt.wantAllow)
		}
		if len(body) > 64 || strings.Count(body, "\n") > 1 {
			t.Errorf("%s %s: error body %q is not short", tt.method, tt.path, body)
		}
		if resp.Header.Get("X-Served-By") != "web-1" {
			t.Errorf("%s %s: X-Served-By missing", tt.method, tt.path)
		}
	}
	if got := ts.count(t); got != 0 {
		t.Fatalf("counter = %d, want 0", got)
	}
}

func TestReadinessTransitions(t *testing.T) {
	ts := newTestServer(t)
	check := func(wantStatus int, wantBody string) {
		t.Helper()
		resp, body := ts.do(t, "GET", "/readyz")
		if resp.StatusCode != wantStatus || body != wantBody {
			t.Fatalf("/readyz = %d %q, want %d %q", resp.StatusCode, body, wantStatus, wantBody)
		}
	}
	check(200, "ok\n")
	ts.redis.Kill()
	check(503, "not ready: storage unavailable\n")
	if resp, _ := ts.do(t, "GET", "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("/healthz with Redis down = %d, want 200", resp.StatusCode)
	}
	ts.redis.Restart()
	waitfor.Until(t, 5*time.Second, func() error {
		if resp, body := ts.do(t, "GET", "/readyz"); resp.StatusCode != 200 {
			return fmt.Errorf("/readyz = %d %q", resp.StatusCode, body)
		}
		return nil
	})

	resp, _ := ts.do(t, "GET", "/")
	if resp.Header.Get("Connection") == "close" {
		t.Fatal("GET / before the drain says Connection: close")
	}
	close(ts.drain)
	check(503, "not ready: shutting down\n")
	if resp, _ := ts.do(t, "GET", "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("/healthz while draining = %d, want 200", resp.StatusCode)
	}
	resp, _ = ts.do(t, "GET", "/")
	if resp.StatusCode != 200 {
		t.Fatalf("GET / while draining = %d, want 200: requests still in the pipe are served", resp.StatusCode)
	}
	if !resp.Close {
		t.Fatal("GET / while draining does not close its connection; the balancer would keep reusing it")
	}
}

// blockingPinger holds every Ping until its context ends, like a frozen Redis.
type blockingPinger struct{ entered chan struct{} }

func (p blockingPinger) Ping(ctx context.Context) error {
	p.entered <- struct{}{}
	<-ctx.Done()
	return counter.Errorf(counter.EUNAVAILABLE, ctx.Err(), "storage did not answer in time")
}

// A probe already waiting on Redis when the drain begins answers "shutting down" at once: the
// drain shows in the very next answer, whatever Redis does.
func TestReadinessProbeInFlightSeesTheDrain(t *testing.T) {
	drain := make(chan struct{})
	p := blockingPinger{entered: make(chan struct{}, 1)}
	h := handleReadyz(p, drain, NewMetrics("x"))
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), "GET", "/readyz", nil))
	}()
	<-p.entered // the probe is in Ping, which would wait forever
	close(drain)
	<-done
	if rec.Code != 503 || rec.Body.String() != "not ready: shutting down\n" {
		t.Fatalf("/readyz in flight at the drain = %d %q, want 503 shutting down", rec.Code, rec.Body.String())
	}
}

// hookedCounter tells the test when a visit has reached the counter.
type hookedCounter struct {
	counter.Counter
	entered chan struct{}
}

func (h hookedCounter) Visit(ctx context.Context) (int64, error) {
	h.entered <- struct{}{}
	return h.Counter.Visit(ctx)
}

// A client that hangs up while its visit waits on Redis is logged as 499, as nginx does: not a
// 503, not a warning, not a Redis error in the metrics.
func TestClientHangUpIsNotARedisFailure(t *testing.T) {
	rs := redistest.Start(t)
	store := redisstore.New(redisstore.Options{Addr: rs.Addr(), Timeout: time.Second})
	t.Cleanup(store.Close)
	logs := new(lockedBuffer)
	m := NewMetrics("x")
	entered := make(chan struct{}, 1)
	srv := httptest.NewServer(NewHandler(Deps{
		Visits:    counter.VisitCounter{Counter: hookedCounter{counter.NewCoalescer(store, 4, time.Second), entered}},
		Pinger:    store,
		Metrics:   m,
		Logger:    slog.New(slog.NewJSONHandler(logs, nil)),
		Hostname:  "web-1",
		AccessLog: true,
	}))
	t.Cleanup(srv.Close)
	if err := store.Ping(context.Background()); err != nil { // connected before the freeze
		t.Fatal(err)
	}
	rs.Freeze()
	defer rs.Thaw()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/", nil)
	errs := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errs <- err
	}()
	<-entered
	cancel() // the client hangs up while the visit waits on the frozen Redis
	if err := <-errs; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	waitfor.Until(t, 5*time.Second, func() error {
		if !strings.Contains(logs.String(), `"status":499`) {
			return fmt.Errorf("no 499 in the log yet:\n%s", logs)
		}
		return nil
	})
	if out := logs.String(); strings.Contains(out, `"status":503`) || strings.Contains(out, `"level":"WARN"`) {
		t.Errorf("a client hang-up logged as a failure:\n%s", out)
	}
	if n := testutil.CollectAndCount(m.redisErrors); n != 0 {
		t.Errorf("hitcounter_redis_errors_total has %d series after a hang-up, want none", n)
	}
}

func TestStorageErrorsAreShortAndMapped(t *testing.T) {
	ts := newTestServer(t)
	ts.redis.MustDo("SET", redisstore.Key, "not-a-number")
	resp, body := ts.do(t, "GET", "/")
	if resp.StatusCode != 500 || body != "storage error\n" {
		t.Fatalf("GET / on a corrupt counter = %d %q, want 500 %q", resp.StatusCode, body, "storage error\n")
	}
	resp, body = ts.do(t, "GET", "/", "Accept", "application/json")
	if resp.StatusCode != 500 || body != `{"error":"storage error","code":"internal"}`+"\n" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("JSON error = %d %q %v", resp.StatusCode, body, resp.Header)
	}
	ts.redis.Kill()
	resp, body = ts.do(t, "GET", "/")
	if resp.StatusCode != 503 || body != "storage unavailable\n" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("GET / with Redis down = %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// The cause is in the log, not in the answer.
	if !strings.Contains(ts.logs.String(), "value is not an integer") {
		t.Errorf("log lacks the Redis error:\n%s", ts.logs)
	}
}

func TestRequestID(t *testing.T) {
	ts := newTestServer(t)
	resp, _ := ts.do(t, "GET", "/healthz", "X-Request-Id", "0f8fad5b-d9cb-469f-a165-70867728950e")
	if got := resp.Header.Get("X-Request-Id"); got != "0f8fad5b-d9cb-469f-a165-70867728950e" {
		t.Errorf("valid id not echoed: %q", got)
	}
	for _, bad := range []string{"has space", "tab\tchar", "ünïcode", strings.Repeat("a", 129), `quote"d`, "<script>"} {
		resp, _ := ts.do(t, "GET", "/healthz", "X-Request-Id", bad)
		got := resp.Header.Get("X-Request-Id")
		if got == bad || !validRequestID(got) {
			t.Errorf("X-Request-Id %q answered with %q, want a fresh generated id", bad, got)
		}
	}
	resp1, _ := ts.do(t, "GET", "/healthz")
	resp2, _ := ts.do(t, "GET", "/healthz")
	if a, b := resp1.Header.Get("X-Request-Id"), resp2.Header.Get("X-Request-Id"); a == "" || a == b {
		t.Errorf("generated ids %q and %q are empty or equal", a, b)
	}
}

func TestValidRequestID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"abc-123", true},
		{"a.b_c:d/e+f=", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{strings.Repeat("x", 129), false},
		{"a\r\nX-Injected: 1", false},
		{"a\nb", false},
		{"a\x00b", false},
		{"a b", false},
		{"é", false},
	}
	for _, tt := range tests {
		if got := validRequestID(tt.id); got != tt.want {
			t.Errorf("validRequestID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestMetrics(t *testing.T) {
	ts := newTestServer(t)
	ts.do(t, "GET", "/")
	ts.do(t, "GET", "/")
	ts.do(t, "HEAD", "/")
	ts.do(t, "GET", "/no/such/page/12345")
	ts.do(t, "POST", "/")
	ts.do(t, "GET", "/readyz")
	ts.redis.Kill()
	ts.do(t, "GET", "/")
	ts.do(t, "GET", "/readyz")

	m := ts.metrics
	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{`requests{/,GET,200}`, testutil.ToFloat64(m.requests.WithLabelValues("/", "GET", "200")), 2},
		{`requests{/,HEAD,200}`, testutil.ToFloat64(m.requests.WithLabelValues("/", "HEAD", "200")), 1},
		{`requests{/,GET,503}`, testutil.ToFloat64(m.requests.WithLabelValues("/", "GET", "503")), 1},
		{`requests{unmatched,GET,404}`, testutil.ToFloat64(m.requests.WithLabelValues("unmatched", "GET", "404")), 1},
		{`requests{unmatched,POST,405}`, testutil.ToFloat64(m.requests.WithLabelValues("unmatched", "POST", "405")), 1},
		{`requests{/readyz,GET,503}`, testutil.ToFloat64(m.requests.WithLabelValues("/readyz", "GET", "503")), 1},
		{`visits`, testutil.ToFloat64(m.visits), 2},
		{`redis_errors{visit,unavailable}`, testutil.ToFloat64(m.redisErrors.WithLabelValues("visit", "unavailable")), 1},
		{`redis_errors{ping,unavailable}`, testutil.ToFloat64(m.redisErrors.WithLabelValues("ping", "unavailable")), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	resp, body := ts.do(t, "GET", "/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`hitcounter_http_requests_total{code="200",method="GET",route="/"} 2`,
		`hitcounter_http_request_duration_seconds_bucket{route="/",le="0.005"}`,
		`hitcounter_redis_errors_total{code="unavailable",op="visit"} 1`,
		`hitcounter_visits_total 2`,
		`hitcounter_build_info{goversion="go`,
		`version="test-version"`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Labels come from route patterns, never raw paths.
	if strings.Contains(body, "12345") || strings.Contains(body, "/no/such") {
		t.Error("/metrics contains a raw request path")
	}
}

// TestPanicBecomes500: a panicking handler answers 500 with a short message and is logged.
func TestPanicBecomes500(t *testing.T) {
	logs := new(strings.Builder)
	d := Deps{Metrics: NewMetrics("x"), Logger: slog.New(slog.NewJSONHandler(logs, nil)), Hostname: "h"}
	h := observe(d, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: secret internals") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), "GET", "/", nil))
	if rec.Code != 500 || rec.Body.String() != "internal error\n" {
		t.Fatalf("panic answered %d %q, want 500 %q", rec.Code, rec.Body.String(), "internal error\n")
	}
	if !strings.Contains(logs.String(), `"msg":"panic"`) {
		t.Fatalf("panic not logged:\n%s", logs)
	}
}

// A panic after the status went out cannot become a 500, and must not end as a clean short
// answer: the connection is cut, so the client sees a truncated transfer, not a whole one.
func TestPanicAfterWriteHeaderAbortsTheConnection(t *testing.T) {
	logs := new(lockedBuffer)
	d := Deps{Metrics: NewMetrics("x"), Logger: slog.New(slog.NewJSONHandler(logs, nil)), Hostname: "h"}
	srv := httptest.NewServer(observe(d, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("{\"line\":1}\n"))
		http.NewResponseController(w).Flush()
		panic("boom halfway")
	})))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || err == nil {
		t.Fatalf("a panic after 200 and a line: status %d, body %q, read error %v; want the transfer cut off (an error)", resp.StatusCode, body, err)
	}
	if !strings.Contains(logs.String(), `"msg":"panic"`) {
		t.Fatalf("panic not logged:\n%s", logs)
	}
}
