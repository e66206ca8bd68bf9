package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// Old clients against the real stack (docs/api.md, "Live values" and "JSONP"): CountAPI's
// script (GET /create, JSONP hit and get), an event stream on every replica that sees every
// hit made through the balancer, and a flood of 10,000 streams from one address that the
// service caps without harming another client.

// liveStream is one Server-Sent Events stream, read in the background.
type liveStream struct {
	servedBy string
	cancel   context.CancelFunc
	mu       sync.Mutex
	values   []int64
	beats    int
	ended    chan struct{}
}

// streamClient has no overall timeout (a stream is long) and a fresh connection per stream.
var streamClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 10 * time.Second}}

// openLive GETs url as an event stream with client; on a 200 it reads the values in the
// background until the stream ends or the test does. Otherwise it returns the status and body.
func openLive(t *testing.T, c *http.Client, url string) (*liveStream, int, string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		cancel()
		return nil, 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		return nil, 0, "", err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode, string(b), nil
	}
	ls := &liveStream{servedBy: resp.Header.Get("X-Served-By"), cancel: cancel, ended: make(chan struct{})}
	go func() {
		defer close(ls.ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if line == ": heartbeat" {
				ls.mu.Lock()
				ls.beats++
				ls.mu.Unlock()
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			var v struct{ Value int64 }
			if json.Unmarshal([]byte(data), &v) == nil {
				ls.mu.Lock()
				ls.values = append(ls.values, v.Value)
				ls.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { ls.close() })
	return ls, resp.StatusCode, "", nil
}

func (ls *liveStream) close() {
	ls.cancel()
	<-ls.ended
}

// waitValue waits (boundedly) until the stream's newest value is want; the values on the way
// must never go back.
func (ls *liveStream) waitValue(within time.Duration, want int64) error {
	return waitfor.Poll(within, func() error {
		ls.mu.Lock()
		defer ls.mu.Unlock()
		for i := 1; i < len(ls.values); i++ {
			if ls.values[i] < ls.values[i-1] {
				return waitfor.Stop(fmt.Errorf("the stream from %s went back from %d to %d", ls.servedBy, ls.values[i-1], ls.values[i]))
			}
		}
		select {
		case <-ls.ended:
			return waitfor.Stop(fmt.Errorf("the stream from %s ended at %v", ls.servedBy, ls.values[max(0, len(ls.values)-1):]))
		default:
		}
		if len(ls.values) == 0 || ls.values[len(ls.values)-1] != want {
			return fmt.Errorf("the stream from %s is at %v after %d values, want %d", ls.servedBy, ls.values[max(0, len(ls.values)-1):], len(ls.values), want)
		}
		return nil
	})
}

// publicURL is a web container's own public port on the frontend network (not published: the
// host reaches the container's address), for a request that must reach that replica.
func (s *stack) publicURL(webID string) string {
	s.t.Helper()
	ip := s.inspectContainer(webID).NetworkSettings.Networks[s.Name+"_frontend"].IPAddress
	if ip == "" {
		s.t.Fatalf("web container %s has no address on %s_frontend", webID, s.Name)
	}
	return "http://" + net.JoinHostPort(ip, "5000")
}

// metricSum adds up a metric's series whose labels contain every one of labels, from one
// replica's operator port.
func (s *stack) metricSum(webID, name string, labels ...string) float64 {
	s.t.Helper()
	resp, err := httpClient.Get(s.operatorURL(webID) + "/metrics")
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	sum := 0.0
	for line := range strings.Lines(string(b)) {
		series, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(series, l)
		}
		if f, err := strconv.ParseFloat(value, 64); err == nil && match {
			sum += f
		}
	}
	return sum
}

func TestLiveDropInThroughStack(t *testing.T) {
	const (
		ns        = "live-e2e"
		hits      = 1000
		flood     = 10_000
		floodPool = 128
		perClient = 4 // STREAM_MAX_PER_CLIENT as shipped
	)
	s := newStack(t)
	// The script, the hits and the flood come from the test, one client through one source:
	// the balancer's per-source limits and the hit limit would stop the load itself. The stream
	// caps, which this test is about, stay as shipped.
	s.asOneHeavyClient()
	// A heartbeat every 3 s: the test sees heartbeats pass the balancer, and how soon a replica
	// notices a stream whose client left through it (below) without waiting for the shipped 15 s.
	s.Env = append(s.Env, "RATE_LIMIT_HITS=0", "RATE_LIMIT_CREATES=100", "STREAM_HEARTBEAT=3s")
	s.up("--scale", "web=3")
	s.waitReplicas(3, 15*time.Second)
	webs := s.Containers("web")
	if len(webs) != 3 {
		t.Fatalf("%d web containers, want 3", len(webs))
	}

	// CountAPI's script: GET /create, then JSONP hit and get, as a page's <script> would.
	var created struct{ Namespace, Key, AdminKey string }
	s.mustCall(201, "GET", "/create/"+ns+"/visits", nil, nil, &created)
	a := s.call("GET", "/hit/"+ns+"/visits?callback=cb", nil, nil)
	if a.status != 200 || string(a.body) != "/**/cb({\"value\":1});\n" ||
		a.header.Get("Content-Type") != "application/javascript; charset=utf-8" || a.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("JSONP hit: %s (Content-Type %q, X-Content-Type-Options %q), want /**/cb({\"value\":1}); as JavaScript, nosniff",
			a, a.header.Get("Content-Type"), a.header.Get("X-Content-Type-Options"))
	}
	if a := s.call("GET", "/get/"+ns+"/visits?callback=app.show", nil, nil); a.status != 200 || string(a.body) != "/**/app.show({\"value\":1});\n" {
		t.Fatalf("JSONP get: %s", a)
	}
	s.wantError(400, "invalid", "GET", "/get/"+ns+"/visits?callback=alert(1)//", nil, nil)
	var random struct{ Namespace, Key string }
	s.mustCall(201, "GET", "/create", nil, nil, &random)
	if len(random.Namespace) != 22 || len(random.Key) != 22 {
		t.Fatalf("GET /create: %+v, want a random namespace and key of 22 characters", random)
	}

	// One subscriber per replica, each on the replica's own port, so each replica is proven.
	var subs []*liveStream
	for _, id := range webs {
		ls, status, body, err := openLive(t, streamClient, s.publicURL(id)+"/stream/"+ns+"/visits")
		if err != nil || ls == nil {
			t.Fatalf("stream from replica %s: %d %q %v", id[:12], status, body, err)
		}
		if err := ls.waitValue(10*time.Second, 1); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, ls)
	}
	served := map[string]bool{}
	for _, ls := range subs {
		served[ls.servedBy] = true
	}
	if len(served) != 3 {
		t.Fatalf("the streams were served by %v, want 3 replicas", served)
	}

	// 1,000 hits through the balancer, spread over the replicas; every subscriber sees the end.
	begin := time.Now()
	jobs := make(chan int, hits)
	for i := range hits {
		jobs <- i
	}
	close(jobs)
	var mu sync.Mutex
	hitBy := map[string]int{}
	var failed []string
	deadline := time.Now().Add(2 * time.Minute)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range jobs {
				if time.Now().After(deadline) {
					return
				}
				a := s.call("GET", "/hit/"+ns+"/visits", nil, nil)
				mu.Lock()
				if a.status == 200 {
					hitBy[a.header.Get("X-Served-By")]++
				} else if len(failed) < 5 {
					failed = append(failed, a.String())
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range hitBy {
		total += n
	}
	if total != hits || len(hitBy) != 3 {
		t.Fatalf("%d of %d hits answered 200, by %d replicas %v; failures: %v", total, hits, len(hitBy), hitBy, failed)
	}
	sent := time.Since(begin)
	for _, ls := range subs {
		if err := ls.waitValue(20*time.Second, 1+hits); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d hits in %s (by replica %v); every replica's subscriber at %d %s after the first hit",
		hits, sent.Round(time.Millisecond), hitBy, 1+hits, time.Since(begin).Round(time.Millisecond))

	// The flood: 10,000 streams from the test's one address through the balancer, a new
	// connection each, from a bounded pool. Each replica lets this client hold perClient
	// streams (the subscriber above holds one of them), so at most 3×(perClient-1) are
	// accepted; every other one is refused with 429 before any stream starts.
	other := s.sources(1)
	otherClient := &http.Client{Transport: &http.Transport{
		DialContext:           other.dialer(0).DialContext,
		DisableKeepAlives:     true,
		ResponseHeaderTimeout: 10 * time.Second,
	}}
	otherHits := other.client(0, true)

	var accepted []*liveStream
	var refused, otherStatus, errs atomic.Int64
	var slowest atomic.Int64 // nanoseconds, of a 429
	var firstOther string
	floodDeadline := time.Now().Add(3 * time.Minute)
	next := make(chan struct{}, flood)
	for range flood {
		next <- struct{}{}
	}
	close(next)
	floodBegin := time.Now()
	var otherErr error
	var otherStream *liveStream
	var otherWG sync.WaitGroup
	otherWG.Go(func() {
		// Another client, from another address, while the flood is on: its stream opens, its
		// hits count, and its stream sees them.
		ls, status, body, err := openLive(t, otherClient, other.url("/stream/"+ns+"/visits"))
		if err != nil {
			otherErr = fmt.Errorf("the other client's stream: %w", err)
			return
		}
		if ls == nil {
			otherErr = fmt.Errorf("the other client's stream: %d %q", status, body)
			return
		}
		otherStream = ls
		if err := ls.waitValue(20*time.Second, 1+hits); err != nil {
			otherErr = err
			return
		}
		for i := range 20 {
			resp, err := otherHits.Get(other.url("/hit/" + ns + "/visits"))
			if err != nil {
				otherErr = fmt.Errorf("the other client's hit %d: %w", i+1, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				otherErr = fmt.Errorf("the other client's hit %d: %d", i+1, resp.StatusCode)
				return
			}
		}
		otherErr = ls.waitValue(20*time.Second, 1+hits+20)
	})
	var acceptedMu sync.Mutex
	var floodWG sync.WaitGroup
	for range floodPool {
		floodWG.Go(func() {
			for range next {
				if time.Now().After(floodDeadline) {
					return
				}
				start := time.Now()
				ls, status, body, err := openLive(t, streamClient, s.base+"/stream/"+ns+"/visits")
				took := time.Since(start)
				switch {
				case err != nil:
					if errs.Add(1) <= 3 {
						t.Logf("flood: %v", err)
					}
				case ls != nil:
					acceptedMu.Lock()
					accepted = append(accepted, ls)
					acceptedMu.Unlock()
				case status == http.StatusTooManyRequests && strings.Contains(body, `"code":"rate_limited"`):
					refused.Add(1)
					for {
						cur := slowest.Load()
						if int64(took) <= cur || slowest.CompareAndSwap(cur, int64(took)) {
							break
						}
					}
				default:
					if otherStatus.Add(1) == 1 {
						firstOther = fmt.Sprintf("%d %q", status, body)
					}
				}
			}
		})
	}
	floodWG.Wait()
	floodTook := time.Since(floodBegin)
	otherWG.Wait()
	if otherErr != nil {
		t.Errorf("the other client was harmed by the flood: %v", otherErr)
	}
	sentFlood := int64(len(accepted)) + refused.Load() + otherStatus.Load() + errs.Load()
	t.Logf("flood: %d streams asked for in %s (%.0f/s): %d accepted, %d refused with 429 (slowest %s), %d other answers, %d errors",
		sentFlood, floodTook.Round(time.Millisecond), float64(sentFlood)/floodTook.Seconds(), len(accepted), refused.Load(),
		time.Duration(slowest.Load()).Round(time.Millisecond), otherStatus.Load(), errs.Load())
	if sentFlood != flood {
		t.Fatalf("the flood asked for %d streams of %d within its bound", sentFlood, flood)
	}
	if maxAccepted := 3 * (perClient - 1); len(accepted) > maxAccepted {
		t.Errorf("%d of the flood's streams accepted, want at most %d (%d per replica for one client, one held already)", len(accepted), maxAccepted, perClient)
	}
	if otherStatus.Load() != 0 || errs.Load() != 0 {
		t.Errorf("the flood got %d answers other than 200 and 429 (first: %s) and %d errors, want none", otherStatus.Load(), firstOther, errs.Load())
	}
	if refused.Load() < flood-int64(3*(perClient-1)) {
		t.Errorf("%d of %d refused with 429, want all but the accepted", refused.Load(), flood)
	}
	// The replicas counted the refusals, and hold no stream more than the caps allow.
	var limited float64
	for _, id := range webs {
		limited += s.metricSum(id, "hitcounter_rate_limited_total", `limit="streams"`)
		if open := s.metricSum(id, "hitcounter_http_streams_open", `route="/stream/{namespace}/{key}"`); open > perClient+1 {
			t.Errorf("replica %s holds %v streams, want at most %d of the test's address and 1 of the other client", id[:12], open, perClient)
		}
	}
	if int64(limited) != refused.Load() {
		t.Errorf("the replicas counted %v refusals of streams, the test saw %d", limited, refused.Load())
	}
	// The subscribers of before the flood are still there, at the newest value.
	for _, ls := range append(subs, accepted...) {
		if err := ls.waitValue(20*time.Second, 1+hits+20); err != nil {
			t.Error(err)
		}
	}
	// Heartbeats pass the balancer: a quiet stream opened through it gets them.
	if len(accepted) > 0 {
		waitfor.Until(t, 10*time.Second, func() error {
			accepted[0].mu.Lock()
			defer accepted[0].mu.Unlock()
			if accepted[0].beats == 0 {
				return errors.New("no heartbeat through the balancer yet")
			}
			return nil
		})
	}
	all := append(subs, accepted...)
	if otherStream != nil {
		all = append(all, otherStream)
	}
	for _, ls := range all {
		ls.close()
	}
	// Every stream closed, every replica lets go of them: at once for those it served directly;
	// behind the balancer, which keeps a closed client's stream open until a write to the client
	// fails, within a heartbeat or two.
	waitfor.Until(t, 20*time.Second, func() error {
		for _, id := range webs {
			if open := s.metricSum(id, "hitcounter_http_streams_open"); open != 0 {
				return fmt.Errorf("replica %s still holds %v streams", id[:12], open)
			}
		}
		return nil
	})
}
