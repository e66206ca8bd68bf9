package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/proxies"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
	"github.com/hitcounter/hitcounter/internal/redisstore"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/visitor"
)

// Hostile clients against the handlers over a real Redis: the operator's routes are not on the
// public port, limits cannot be dodged by user agent or by address within an IPv6 /64, reads
// have a limit, and no header makes memory grow. The same attacks through the whole compose
// stack are in e2e/hostile_test.go.

// /admin/ and /metrics answer only on the operator's listener; the public one does not know
// them, whatever the credentials.
func TestOperatorRoutesOnlyOnTheOperatorPort(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	operator := bearerHeader(testOperatorToken)
	for _, c := range []struct{ method, path string }{
		{"GET", "/metrics"}, {"GET", "/admin/export"}, {"POST", "/admin/import"}, {"POST", "/admin/key/site/page"},
	} {
		if resp, body := ts.doAt(t, ts.url, c.method, c.path, operator...); resp.StatusCode != 404 {
			t.Errorf("%s %s on the public port = %d %q, want 404", c.method, c.path, resp.StatusCode, body)
		}
	}
	if resp, _ := ts.doAt(t, ts.ops, "GET", "/metrics"); resp.StatusCode != 200 {
		t.Errorf("/metrics on the operator port = %d, want 200", resp.StatusCode)
	}
	if resp, _ := ts.doAt(t, ts.ops, "GET", "/admin/export", operator...); resp.StatusCode != 200 {
		t.Errorf("/admin/export on the operator port = %d, want 200", resp.StatusCode)
	}
	// And the public routes are not on the operator's.
	if resp, _ := ts.doAt(t, ts.ops, "GET", "/hit/site/page"); resp.StatusCode != 404 {
		t.Errorf("/hit on the operator port = %d, want 404", resp.StatusCode)
	}
}

// Creates are limited per client, per window and per day: camo's user agent gains nothing, and
// neither do 100 addresses of one IPv6 /64.
func TestCreateLimitsCannotBeDodged(t *testing.T) {
	ts := newCounterServer(t, counterOptions{createLimit: 10, createsPerDay: 4, counterLimit: 1000, trustedProxies: "127.0.0.1"})
	created := func(header ...string) (made int) {
		t.Helper()
		for i := range 40 {
			path := fmt.Sprintf("/hit/flood/%s-%d", strings.ReplaceAll(header[len(header)-1], ":", "-"), i)
			if i%2 == 0 {
				path = strings.Replace(path, "/hit/", "/create/", 1)
			}
			method := "GET"
			if i%2 == 0 {
				method = "POST"
			}
			resp, body := ts.do(t, method, path, header...)
			switch resp.StatusCode {
			case 200, 201:
				made++
			case 429:
			default:
				t.Fatalf("%s %s: %d %q", method, path, resp.StatusCode, body)
			}
		}
		return made
	}
	camo := []string{"User-Agent", "github-camo (876de43e)", "X-Forwarded-For", "203.0.113.9"}
	if made := created(camo...); made != 4 {
		t.Errorf("a client with camo's user agent created %d counters of 40 tries, want its daily 4", made)
	}
	realCamo := []string{"User-Agent", "github-camo (876de43e)", "X-Forwarded-For", "140.82.115.1"}
	if made := created(realCamo...); made != 4 {
		t.Errorf("camo itself created %d counters, want the same daily 4 as anyone", made)
	}
	var made int
	for i := range 100 {
		addr := fmt.Sprintf("2001:db8:7:7:%x::%x", i, i+1)
		resp, _ := ts.do(t, "POST", fmt.Sprintf("/create/v6net/key-%03d", i), "X-Forwarded-For", addr)
		if resp.StatusCode == 201 {
			made++
		}
	}
	if made != 4 {
		t.Errorf("100 addresses of one /64 created %d counters, want one client's daily 4", made)
	}
	if resp, _ := ts.do(t, "POST", "/create/v6net/other-net", "X-Forwarded-For", "2001:db8:7:8::1"); resp.StatusCode != 201 {
		t.Errorf("the next /64 could not create: %d", resp.StatusCode)
	}

	// The same with the per-window limit the lower one: it too is per client, camo or not.
	ts = newCounterServer(t, counterOptions{createLimit: 3, createsPerDay: 100, counterLimit: 1000, trustedProxies: "127.0.0.1"})
	if made := created(camo...); made != 3 {
		t.Errorf("a client with camo's user agent created %d counters in one window, want the window's 3", made)
	}
	if made := created(realCamo...); made != 3 {
		t.Errorf("camo itself created %d counters in one window, want the window's 3", made)
	}
}

// Reads (get, info, badges that count nothing, /stats by its months, the page, GET /) have a
// per-client limit of their own, with the RateLimit headers on the refusal.
func TestReadLimits(t *testing.T) {
	ts := newCounterServer(t, counterOptions{readLimit: 20, trustedProxies: "127.0.0.1"})
	from := func(addr string) []string { return []string{"X-Forwarded-For", addr} }
	ts.run(t, []call{{"POST", "/create/site/page", from("198.51.100.1"), 201, `admin_key`}})
	for _, path := range []string{"/get/site/page", "/info/site/page", "/get/site/page/shield", "/c/site/page", "/"} {
		ts.run(t, []call{{"GET", path, from("198.51.100.2"), 200, ``}})
	}
	// 5 spent; /stats of 400 days costs 13: 18 spent, and the next one is refused.
	ts.run(t, []call{{"GET", "/stats/site/page?days=400", from("198.51.100.2"), 200, `"days"`}})
	resp, body := ts.do(t, "GET", "/stats/site/page?days=400", from("198.51.100.2")...)
	if resp.StatusCode != 429 || !strings.Contains(body, "rate_limited") || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Limit") != "20" {
		t.Fatalf("/stats past the read limit: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	for _, c := range []call{
		{"GET", "/get/site/page", from("198.51.100.2"), 200, `"value":0`},
		{"GET", "/get/site/page", from("198.51.100.2"), 200, `"value":0`},
		{"GET", "/get/site/page", from("198.51.100.2"), 429, `rate_limited`},
		{"GET", "/", from("198.51.100.2"), 429, `rate limit`},
		{"GET", "/get/site/page/shield", from("198.51.100.2"), 429, `<svg`},
		{"GET", "/c/site/page", from("198.51.100.2"), 429, `rate limit`},
		// Another client; hits have a limit of their own; a change is a request too.
		{"GET", "/get/site/page", from("198.51.100.3"), 200, `"value":0`},
		{"GET", "/hit/site/page", from("198.51.100.2"), 200, `"value":1`},
		{"POST", "/set/site/page?value=5", append(from("198.51.100.2"), bearerHeader("a-guessed-key")...), 429, `rate_limited`},
	} {
		ts.run(t, []call{c})
	}
	// GitHub's image proxy reads per counter, as it hits: one busy read-only badge does not
	// blank the others.
	camo := append(from("140.82.115.1"), "User-Agent", "github-camo (876de43e)")
	ts.run(t, []call{{"POST", "/create/site/other", from("198.51.100.1"), 201, `admin_key`}})
	for range 20 {
		ts.run(t, []call{{"GET", "/get/site/page/shield", camo, 200, `<svg`}})
	}
	ts.run(t, []call{
		{"GET", "/get/site/page/shield", camo, 429, `<svg`},
		{"GET", "/get/site/other/shield", camo, 200, `<svg`},
	})
	checkStatusesDocumented(t, ts.metrics)
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// 10,000 hits with distinct 15 KB user agents from 200 addresses: the service keeps nothing of
// a user agent but a bucket, so its heap ends where it started, give or take the clients'
// limiter entries (200) and the transport's buffers. Before issue #15 the pseudonyms' memo kept
// address and user agent for 16,384 clients: 6,000 such hits took one process to 152 MB.
func TestMemoryBoundedWithHostileHeaders(t *testing.T) {
	ts := newCounterServer(t, counterOptions{hitLimit: 1000, trustedProxies: "127.0.0.1"})
	ts.run(t, []call{{"POST", "/create/site/page", nil, 201, `admin_key`}})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	t.Cleanup(client.CloseIdleConnections)
	send := func(from, to int) {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := from + w; i < to; i += 16 {
					req, _ := http.NewRequest("GET", ts.url+"/hit/site/page", nil)
					req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.%d.%d", i%200/100, i%100))
					req.Header.Set("User-Agent", fmt.Sprintf("%06d", i)+strings.Repeat("a", 15000-6))
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("hit %d: %d", i, resp.StatusCode)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	send(0, 1000) // warm: connections, buffers, the 200 clients' limiter entries
	before := heapInUse()
	send(1000, 10_000)
	after := heapInUse()
	ts.run(t, []call{{"GET", "/get/site/page", nil, 200, `^\{"value":10000\}\n$`}})
	grew := int64(after) - int64(before)
	t.Logf("heap in use %.1f MB -> %.1f MB after 9,000 more hits with distinct 15 KB user agents", float64(before)/1e6, float64(after)/1e6)
	// 9,000 user agents of 15 KB are 135 MB: keeping any of them would show. 2 MB is slack for
	// what the runtime and the test's own client allocate.
	if grew > 2<<20 {
		t.Fatalf("the heap grew by %.1f MB over 9,000 hits with distinct user agents, want under 2 MB", float64(grew)/1e6)
	}
}

// FuzzClientHeaders sends any user agent, X-Forwarded-For lines and peer address through the
// hit, read and visit routes over a real Redis, with every limit on, and checks that what the
// service keeps stays bounded: each limiter holds at most ratelimit.MaxKeys clients, and the
// live heap, sampled every few hundred inputs, stays within a fixed distance of where it began
// (nothing of a header is kept: a client is a fixed-size value).
func FuzzClientHeaders(f *testing.F) {
	f.Add("Mozilla/5.0", "198.51.100.7", "", "127.0.0.1:1", uint8(0))
	f.Add("github-camo (abc)", "140.82.115.1", "", "127.0.0.1:1", uint8(0))
	f.Add(strings.Repeat("x", 15000), "2001:db8::1, 10.0.0.1", "garbage, ::ffff:1.2.3.4", "[::1]:9", uint8(1))
	f.Add("", strings.Repeat("1.2.3.4,", 2000), "fe80::1%eth0", "not an address", uint8(2))
	f.Add("\x00\xff", "::", "0.0.0.0", "127.0.0.1:1", uint8(3))

	rs := redistest.Start(f)
	store := redisstore.New(redisstore.Options{Addr: rs.Addr(), Timeout: 2 * time.Second})
	f.Cleanup(store.Close)
	trusted, _ := proxies.Parse("127.0.0.1, ::1, 10.0.0.0/8")
	pseudonyms, _ := visitor.New(testVisitorKey)
	namer := ratelimit.Namer(pseudonyms.Limit)
	hits := ratelimit.NewShared(store, "hits", 1_000_000, time.Hour, namer, nil)
	creates := ratelimit.NewShared(store, "creates", 1_000_000, time.Hour, namer, nil)
	reads := ratelimit.NewLocal("reads", 1_000_000, time.Hour, nil)
	limits := &counter.Limits{Hits: hits.Limiter(), Creates: creates.Limiter(), Reads: reads.Limiter()}
	h := NewHandler(Deps{
		Visits: counter.VisitCounter{Counter: counter.NewCoalescer(store, 4, 2*time.Second), Limits: limits},
		Pinger: store, Metrics: NewMetrics("fuzz"), Logger: slog.New(slog.DiscardHandler), Hostname: "fuzz",
		Named: CounterDeps{
			Counters: counter.NewCounters(counter.CountersConfig{
				Store: store.Named(0), MaxInFlight: 4, Timeout: 2 * time.Second, CounterLimit: 10, Limits: limits, Pseudonyms: pseudonyms,
			}),
			Clients: counter.ClientRules{Proxies: trusted, IPv6Prefix: 64, CamoNetworks: config.DefaultCamoNetworks},
		},
	})
	paths := []string{"/hit/fuzz/page", "/get/fuzz/page", "/", "/hit/fuzz/page/shield"}
	var runs int
	var baseline uint64

	f.Fuzz(func(t *testing.T, agent, forwarded1, forwarded2, remoteAddr string, route uint8) {
		req := &http.Request{
			Method: "GET", URL: &url.URL{Path: paths[int(route)%len(paths)]},
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"User-Agent": {agent}, "X-Forwarded-For": {forwarded1, forwarded2}},
			Host:   "fuzz", RemoteAddr: remoteAddr,
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(t.Context()))
		switch rec.Code {
		case 200, 404, 429, 507:
		default:
			t.Fatalf("%s with agent %q, forwarded %q %q, peer %q: %d %q", req.URL.Path, agent, forwarded1, forwarded2, remoteAddr, rec.Code, rec.Body.String())
		}
		for name, n := range map[string]int{"hits": hits.Len(), "creates": creates.Len(), "reads": reads.Len()} {
			if n > ratelimit.MaxKeys {
				t.Fatalf("the %s limiter holds %d clients, more than %d", name, n, ratelimit.MaxKeys)
			}
		}
		runs++
		switch {
		case runs == 200:
			baseline = heapInUse()
		case runs%500 == 0:
			// The limiters' entries (about 200 bytes each, at most MaxKeys per limiter) are
			// what may grow: 3 × 16,384 × 200 bytes is under 10 MB; the rest is slack for the
			// runtime and Redis client buffers.
			if now := heapInUse(); now > baseline+24<<20 {
				t.Fatalf("live heap %.1f MB after %d inputs, from %.1f MB: something keeps what clients send", float64(now)/1e6, runs, float64(baseline)/1e6)
			}
		}
	})
}
