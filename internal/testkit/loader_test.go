package testkit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// countingServer answers each request with the next count, after delay.
func countingServer(t *testing.T, delay time.Duration) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count := n.Add(1)
		time.Sleep(delay) // the server's slowness under test, not a wait of the test
		if r.URL.Query().Get("fail") != "" {
			http.Error(w, "failing", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Served-By", "only")
		fmt.Fprint(w, count)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func get(url string) Sample {
	resp, err := http.Get(url)
	if err != nil {
		return Sample{Err: err}
	}
	defer resp.Body.Close()
	var body [32]byte
	n, _ := resp.Body.Read(body[:])
	s := Sample{Status: resp.StatusCode, ServedBy: resp.Header.Get("X-Served-By")}
	s.Count, _ = strconv.ParseInt(string(body[:n]), 10, 64)
	return s
}

func TestLoaderStopsAtItsBound(t *testing.T) {
	srv, served := countingServer(t, 0)
	const rate, bound = 100, 300 * time.Millisecond
	begin := time.Now()
	l := StartLoad(rate, bound, func() Sample { return get(srv.URL) })
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the loader still sends 10 s after its 300 ms bound")
	}
	took := time.Since(begin)
	samples := l.Finish()
	// At most rate × bound: 30. At least a third of it, on a busy machine.
	if got := len(samples); got > 30 || got < 10 {
		t.Errorf("%d requests in %s at %d/s, want 10 to 30", got, bound, rate)
	}
	if int64(len(samples)) != served.Load() {
		t.Errorf("%d samples, the server saw %d requests; want one sample per request", len(samples), served.Load())
	}
	if took > 5*time.Second {
		t.Errorf("stopping took %s", took)
	}
	for i, s := range samples {
		if !s.OK() || s.Count <= 0 || s.ServedBy != "only" || s.At.IsZero() || s.Took <= 0 {
			t.Errorf("sample %d = %+v, want a 2xx with a count, At and Took", i, s)
		}
		if i > 0 && s.At.Before(samples[i-1].At) {
			t.Errorf("sample %d was sent before sample %d: want them in order of sending", i, i-1)
		}
	}
}

func TestLoaderIsOpenLoop(t *testing.T) {
	// Every answer takes 300 ms. A closed loop of one client would send 2 requests in 600 ms; an
	// open loop at 50/s sends about 30, whatever the answers take.
	srv, _ := countingServer(t, 300*time.Millisecond)
	l := StartLoad(50, 600*time.Millisecond, func() Sample { return get(srv.URL) })
	<-l.Done()
	c := Count(l.Finish())
	if c.Sent < 15 || c.Sent > 30 {
		t.Errorf("sent %d at 50/s for 600 ms against 300 ms answers, want 15 to 30: %v", c.Sent, c)
	}
	if c.Failed != 0 {
		t.Errorf("failures: %v", c)
	}
}

func TestFinishStopsTheLoad(t *testing.T) {
	srv, served := countingServer(t, 0)
	l := StartLoad(200, time.Minute, func() Sample { return get(srv.URL) })
	err := waitfor.Poll(10*time.Second, func() error {
		if n := len(l.Samples()); n < 10 {
			return fmt.Errorf("%d answers", n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fewer than 10 answers in 10 s at 200/s: %v", err)
	}
	samples := l.Finish()
	after := served.Load()
	if int64(len(samples)) != after {
		t.Errorf("Finish returned %d samples, the server saw %d: want every answer waited for", len(samples), after)
	}
	if len(samples) >= 200*60 {
		t.Errorf("Finish returned %d samples, want the load stopped long before its bound", len(samples))
	}
	// Nothing is sent after Finish: a second Finish sees the same.
	if again := l.Finish(); len(again) != len(samples) || served.Load() != after {
		t.Errorf("after Finish: %d samples, %d served; want %d, %d", len(again), served.Load(), len(samples), after)
	}
}

func TestLoaderRecordsFailures(t *testing.T) {
	srv, _ := countingServer(t, 0)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	var n atomic.Int64
	l := StartLoad(100, 200*time.Millisecond, func() Sample {
		switch n.Add(1) % 3 {
		case 0:
			return get(srv.URL + "?fail=1")
		case 1:
			return get(closed.URL)
		default:
			return get(srv.URL)
		}
	})
	<-l.Done()
	samples := l.Finish()
	var ok, unavailable, noAnswer int
	for _, s := range samples {
		switch {
		case s.OK():
			ok++
		case s.Status == http.StatusServiceUnavailable && s.Err == nil:
			unavailable++
		case s.Status == 0 && s.Err != nil:
			noAnswer++
		default:
			t.Errorf("unexpected sample %+v", s)
		}
	}
	if ok == 0 || unavailable == 0 || noAnswer == 0 {
		t.Errorf("2xx %d, 503 %d, no answer %d; want each recorded", ok, unavailable, noAnswer)
	}
}

func TestCount(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	got := Count([]Sample{
		{At: at(0), Status: 200, Count: 1},
		{At: at(10), Status: 503},
		{At: at(20), Status: 200, Count: 3},
		{At: at(30), Status: 200, Count: 3},
		{At: at(40), Err: http.ErrHandlerTimeout},
		{At: at(50), Status: 204, Count: 2},
	})
	want := Tally{Sent: 6, OK: 4, Failed: 2, Duplicates: []int64{3}, Highest: 3, FirstFail: at(10), LastFail: at(40)}
	if got.Sent != want.Sent || got.OK != want.OK || got.Failed != want.Failed || got.Highest != want.Highest ||
		len(got.Duplicates) != 1 || got.Duplicates[0] != 3 || !got.FirstFail.Equal(want.FirstFail) || !got.LastFail.Equal(want.LastFail) {
		t.Errorf("Count = %+v, want %+v", got, want)
	}
	if len(got.Examples) != 2 {
		t.Errorf("examples %q, want the two failures", got.Examples)
	}
}
