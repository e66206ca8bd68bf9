package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// sseEvent is one event of a stream, or one comment line (comment set).
type sseEvent struct {
	event, data, comment string
	retry                int
}

// sseStream reads a stream's events as they come.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
	ended  chan struct{} // closed when the body ends
	cancel context.CancelFunc
}

// openStream GETs path from base and, on a 200, reads its events in the background. The
// stream is closed when the test ends.
func openStream(t *testing.T, base, path string, header ...string) (*sseStream, int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, string(body)
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1024), ended: make(chan struct{}), cancel: cancel}
	go s.read()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-s.ended })
	return s, resp.StatusCode, ""
}

func (s *sseStream) read() {
	defer close(s.ended)
	sc := bufio.NewScanner(s.resp.Body)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			s.events <- sseEvent{comment: strings.TrimSpace(line[1:])}
		case strings.HasPrefix(line, "data: "):
			ev.data = line[len("data: "):]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[len("event: "):]
		case strings.HasPrefix(line, "retry: "):
			ev.retry, _ = strconv.Atoi(line[len("retry: "):])
		}
	}
}

// next returns the next event that is not a comment, within a bound.
func (s *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-s.events:
			if ev.comment == "" {
				return ev
			}
		case <-s.ended:
			select {
			case ev := <-s.events:
				if ev.comment == "" {
					return ev
				}
				continue
			default:
			}
			t.Fatal("the stream ended")
		case <-timeout:
			t.Fatal("no event within 5s")
		}
	}
}

// nextData is the next event with data, past the retry delay.
func (s *sseStream) nextData(t *testing.T) sseEvent {
	t.Helper()
	for {
		if ev := s.next(t); ev.data != "" || ev.event != "" {
			return ev
		}
	}
}

// valueOf reads a value event's data.
func valueOf(t *testing.T, ev sseEvent) int64 {
	t.Helper()
	v, ok := strings.CutPrefix(ev.data, `{"value":`)
	v, ok2 := strings.CutSuffix(v, "}")
	n, err := strconv.ParseInt(v, 10, 64)
	if ev.event != "" || !ok || !ok2 || err != nil {
		t.Fatalf("event %+v, want data {\"value\":N}", ev)
	}
	return n
}

// waitValue reads events until the value is want; the values on the way must rise.
func (s *sseStream) waitValue(t *testing.T, want int64) {
	t.Helper()
	last := int64(-1 << 63)
	for {
		v := valueOf(t, s.nextData(t))
		if v < last {
			t.Fatalf("value went back from %d to %d", last, v)
		}
		if v == want {
			return
		}
		last = v
	}
}

// waitEnd waits (boundedly) for the stream's body to end.
func (s *sseStream) waitEnd(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(within):
		t.Fatalf("the stream did not end within %s", within)
	}
}

// The first event is the value now; then each change, whoever made it; a deletion ends the
// stream.
func TestStreamValuesAndEnd(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	key := ts.adminKeyOf(t, "site/live") // value 10
	s, status, body := openStream(t, ts.url, "/stream/site/live")
	if s == nil {
		t.Fatalf("GET /stream: %d %q", status, body)
	}
	for header, want := range map[string]string{
		"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
		"X-Accel-Buffering": "no", "Access-Control-Allow-Origin": "*",
	} {
		if got := s.resp.Header.Get(header); got != want {
			t.Errorf("%s: %q, want %q", header, got, want)
		}
	}
	if ev := s.next(t); ev.retry != 2000 {
		t.Fatalf("first event %+v, want retry: 2000", ev)
	}
	if v := valueOf(t, s.nextData(t)); v != 10 {
		t.Fatalf("first value %d, want 10", v)
	}
	for range 3 {
		ts.do(t, "GET", "/hit/site/live")
	}
	s.waitValue(t, 13)
	ts.do(t, "POST", "/set/site/live?value=500", bearerHeader(key)...)
	s.waitValue(t, 500)
	ts.do(t, "POST", "/delete/site/live", bearerHeader(key)...)
	if ev := s.nextData(t); ev.event != "deleted" {
		t.Fatalf("after the delete: %+v, want event: deleted", ev)
	}
	s.waitEnd(t, 2*time.Second)
	checkStatusesDocumented(t, ts.metrics)
}

// Refusals come before any stream, as JSON.
func TestStreamRefusals(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	for _, tt := range []struct {
		path       string
		wantStatus int
		wantCode   string
	}{
		{"/stream/site/missing", 404, `"code":"not_found"`},
		{"/stream/ab/live", 400, `"code":"invalid"`},
	} {
		s, status, body := openStream(t, ts.url, tt.path)
		if s != nil || status != tt.wantStatus || !strings.Contains(body, tt.wantCode) {
			t.Errorf("GET %s: %d %q, want %d with %s", tt.path, status, body, tt.wantStatus, tt.wantCode)
		}
	}
	if got := ts.redis.Int("EXISTS", redisstore.CounterKey(counter.Name{Namespace: "site", Key: "missing"})); got != 0 {
		t.Fatal("a stream of a missing counter created it")
	}
}

// Many streams of one counter: one subscription, each stream sees every hit's final value.
func TestStreamFanOut(t *testing.T) {
	ts := newCounterServer(t, counterOptions{live: counter.LiveConfig{PerClient: 0, Total: 0}})
	ts.adminKeyOf(t, "site/fan") // value 10
	const streams, hits = 20, 300
	var all []*sseStream
	for range streams {
		s, status, body := openStream(t, ts.url, "/stream/site/fan")
		if s == nil {
			t.Fatalf("GET /stream: %d %q", status, body)
		}
		if v := valueOf(t, s.nextData(t)); v != 10 {
			t.Fatalf("first value %d, want 10", v)
		}
		all = append(all, s)
	}
	if got := testutil.ToFloat64(ts.metrics.streams.WithLabelValues("/stream/{namespace}/{key}")); got != streams {
		t.Errorf("hitcounter_http_streams_open = %v, want %d", got, streams)
	}
	if got := infoField(t, ts.redis, "pubsubshard_channels"); got != 1 {
		t.Errorf("Redis has %d sharded channels subscribed for %d streams of one counter, want 1", got, streams)
	}
	var wg sync.WaitGroup
	for range hits {
		wg.Go(func() {
			if resp, body := ts.do(t, "GET", "/hit/site/fan"); resp.StatusCode != 200 {
				t.Errorf("hit: %d %q", resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	for _, s := range all {
		s.waitValue(t, 10+hits)
	}
	for _, s := range all {
		s.cancel()
	}
	waitfor.Until(t, 5*time.Second, func() error {
		if got := testutil.ToFloat64(ts.metrics.streams.WithLabelValues("/stream/{namespace}/{key}")); got != 0 {
			return fmt.Errorf("hitcounter_http_streams_open = %v after every client left", got)
		}
		if got := infoField(t, ts.redis, "pubsubshard_channels"); got != 0 {
			return fmt.Errorf("%d sharded channels still subscribed", got)
		}
		return nil
	})
}

func infoField(t *testing.T, rs *redistest.Server, field string) int64 {
	t.Helper()
	info := rs.MustDo("INFO", "stats")
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("INFO stats has no %s", field)
	return 0
}

// Over the per-client or the total cap: 429 with Retry-After, before any stream; other
// clients keep theirs; a closed stream frees its place.
func TestStreamCaps(t *testing.T) {
	ts := newCounterServer(t, counterOptions{trustedProxies: "127.0.0.1", live: counter.LiveConfig{PerClient: 2, Total: 3}})
	ts.adminKeyOf(t, "site/capped")
	from := func(addr string) []string { return []string{"X-Forwarded-For", addr} }
	open := func(addr string, want int) *sseStream {
		t.Helper()
		s, status, body := openStream(t, ts.url, "/stream/site/capped", from(addr)...)
		if status != want {
			t.Fatalf("stream from %s: %d %q, want %d", addr, status, body, want)
		}
		if want == http.StatusTooManyRequests && !strings.Contains(body, `"code":"rate_limited"`) {
			t.Fatalf("stream from %s: %q, want a rate_limited error", addr, body)
		}
		return s
	}
	a1 := open("198.51.100.1", 200)
	open("198.51.100.1", 200)
	open("198.51.100.1", 429) // per client
	open("198.51.100.2", 200)
	open("198.51.100.3", 429) // total
	// The refusal's headers, read directly.
	req, _ := http.NewRequest("GET", ts.url+"/stream/site/capped", nil)
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("over the cap: %d, Retry-After %q, Content-Type %q; want 429, a Retry-After, JSON",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
	}
	// The accepted streams are unharmed, and hits go on.
	ts.do(t, "GET", "/hit/site/capped")
	a1.waitValue(t, 11)
	a1.cancel()
	waitfor.Until(t, 5*time.Second, func() error {
		s, status, _ := openStream(t, ts.url, "/stream/site/capped", from("198.51.100.3")...)
		if s == nil {
			return fmt.Errorf("after one stream closed, another client still gets %d", status)
		}
		return nil
	})
	if got := testutil.ToFloat64(ts.metrics.rateLimited.WithLabelValues("streams")); got < 3 {
		t.Errorf("hitcounter_rate_limited_total{limit=\"streams\"} = %v, want at least 3", got)
	}
	checkStatusesDocumented(t, ts.metrics)
}

// A quiet stream sends a heartbeat every interval.
func TestStreamHeartbeat(t *testing.T) {
	ts := newCounterServer(t, counterOptions{streams: StreamDeps{Heartbeat: 50 * time.Millisecond}})
	ts.adminKeyOf(t, "site/quiet")
	s, status, body := openStream(t, ts.url, "/stream/site/quiet")
	if s == nil {
		t.Fatalf("GET /stream: %d %q", status, body)
	}
	beats := 0
	deadline := time.After(5 * time.Second)
	for beats < 3 {
		select {
		case ev := <-s.events:
			if ev.comment == "heartbeat" {
				beats++
			}
		case <-deadline:
			t.Fatalf("%d heartbeats in 5s at one per 50ms", beats)
		}
	}
}

// Streams end at once when the server starts draining, so that shutdown waits for none of
// them; a stream asked for during the drain gets only the retry delay and its end.
func TestStreamEndsOnDrain(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	ts.adminKeyOf(t, "site/drain")
	var all []*sseStream
	for range 3 {
		s, status, body := openStream(t, ts.url, "/stream/site/drain")
		if s == nil {
			t.Fatalf("GET /stream: %d %q", status, body)
		}
		s.next(t) // retry
		s.next(t) // the value
		all = append(all, s)
	}
	close(ts.drain)
	for _, s := range all {
		s.waitEnd(t, 2*time.Second)
	}
	s, status, body := openStream(t, ts.url, "/stream/site/drain")
	if s == nil {
		t.Fatalf("GET /stream while draining: %d %q, want 200 and a retry", status, body)
	}
	if ev := s.next(t); ev.retry != 2000 {
		t.Fatalf("while draining: %+v, want retry: 2000", ev)
	}
	s.waitEnd(t, 2*time.Second)
}

// The server's read and write timeouts end ordinary requests; a stream outlives both, and ends
// at its own lifetime.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	rs := redistest.Start(t)
	store := redisstore.New(redisstore.Options{Addr: rs.Addr(), Timeout: 2 * time.Second})
	t.Cleanup(store.Close)
	counters := counter.NewCounters(counter.CountersConfig{Store: store.Named(0), MaxInFlight: 4, Timeout: 2 * time.Second})
	if _, _, err := counters.Create(context.Background(), counter.Name{Namespace: "site", Key: "long"}, 1, counter.Client{}); err != nil {
		t.Fatal(err)
	}
	m := NewMetrics("test")
	srv := httptest.NewUnstartedServer(NewHandler(Deps{
		Metrics: m, Logger: slog.New(slog.DiscardHandler), Hostname: "web-1",
		Named: CounterDeps{Counters: counters},
		Streams: StreamDeps{
			Live:      counter.NewLive(counter.LiveConfig{Feed: store.Live(slog.New(slog.DiscardHandler))}),
			Heartbeat: 100 * time.Millisecond, Lifetime: 2 * time.Second, WriteTimeout: 300 * time.Millisecond,
		},
	}))
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	start := time.Now()
	s, status, body := openStream(t, srv.URL, "/stream/site/long")
	if s == nil {
		t.Fatalf("GET /stream: %d %q", status, body)
	}
	if v := valueOf(t, s.nextData(t)); v != 1 {
		t.Fatalf("first value %d, want 1", v)
	}
	s.waitEnd(t, 5*time.Second)
	// Lifetime 2s, less up to a tenth; the server's timeouts would have ended it at 0.3s.
	if took := time.Since(start); took < 1700*time.Millisecond || took > 3*time.Second {
		t.Fatalf("the stream lasted %s, want about its lifetime, 1.8s to 2s", took)
	}
	beats := 0
	for {
		select {
		case ev := <-s.events:
			if ev.comment == "heartbeat" {
				beats++
			}
			continue
		default:
		}
		break
	}
	if beats < 10 {
		t.Fatalf("%d heartbeats in a stream of about 2s at one per 100ms, want at least 10", beats)
	}
}
