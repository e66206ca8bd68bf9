package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/proxies"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
	"github.com/hitcounter/hitcounter/internal/redisstore"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/visitor"
)

// counterRoutes are the fuzzed routes: method, the path before the name and after it.
var counterRoutes = []struct{ method, path, suffix string }{
	{"GET", "hit", ""}, {"GET", "get", ""}, {"GET", "info", ""}, {"POST", "create", ""}, {"POST", "set", ""},
	{"POST", "update", ""}, {"POST", "reset", ""}, {"POST", "delete", ""}, {"POST", "admin/key", ""}, {"HEAD", "hit", ""},
	{"GET", "hit", "/shield"}, {"GET", "get", "/shield"}, {"HEAD", "hit", "/shield"}, {"GET", "stats", ""}, {"GET", "c", ""},
}

// FuzzCounterRoutes sends arbitrary names, query strings and headers to every named-counter route,
// over a real Redis. Nothing panics; no answer is a 5xx but 503 (Redis) and 507 (the counter
// limit); a refused request changes nothing; a read changes nothing; a hit moves its counter by
// exactly one.
func FuzzCounterRoutes(f *testing.F) {
	f.Add(uint8(0), "example", "home-page", "", "", "", "")
	f.Add(uint8(3), "example", "post.1", "initializer=-12", "", "198.51.100.7", "")
	f.Add(uint8(4), "example", "post.1", "value=99", "Bearer "+testOperatorToken, "", "")
	f.Add(uint8(5), "example", "home-page", "value=-9223372036854775808", "Bearer "+testOperatorToken, "", "github-camo (abc)")
	f.Add(uint8(7), "example", "home-page", "", "bearer  x", "1.2.3.4, ::1, garbage", "")
	f.Add(uint8(8), "example", "home-page", "", "Bearer "+testOperatorToken, "", "")
	f.Add(uint8(1), "ex%2Fample", "a/b", "value=1&value=2", "Basic abc", "", "")
	f.Add(uint8(0), "..", "\x00\xff", "=&&=", "Bearer", "\r\n", strings.Repeat("u", 300))
	f.Add(uint8(10), "example", "home-page", "label=%3Cscript%3E&color=red&style=plastic&view=uniques", "", "", "github-camo")
	f.Add(uint8(11), "example", "home-page", "labelColor=%23fff&view=today-total", "", "", "")
	f.Add(uint8(13), "example", "home-page", "days=400", "", "", "")

	rs := redistest.Start(f)
	store := redisstore.New(redisstore.Options{Addr: rs.Addr(), Timeout: 2 * time.Second})
	f.Cleanup(store.Close)
	trusted, _ := proxies.Parse("127.0.0.1")
	pseudonyms, _ := visitor.New(testVisitorKey)
	namer := ratelimit.Namer(pseudonyms.Limit)
	limits := &counter.Limits{
		Hits:          ratelimit.NewShared(store, "hits", 1_000_000, time.Hour, namer, nil).Limiter(),
		Creates:       ratelimit.NewShared(store, "creates", 1_000_000, time.Hour, namer, nil).Limiter(),
		CreatesPerDay: ratelimit.NewShared(store, "creates_per_day", 1_000_000, 24*time.Hour, namer, nil).Limiter(),
		Reads:         ratelimit.NewLocal("reads", 1_000_000, time.Hour, nil).Limiter(),
	}
	h := NewHandler(Deps{
		Visits: counter.VisitCounter{Counter: counter.NewCoalescer(store, 4, 2*time.Second), Limits: limits},
		Pinger: store, Metrics: NewMetrics("fuzz"),
		Logger: slog.New(slog.DiscardHandler), Hostname: "fuzz", AccessLog: true,
		Named: CounterDeps{
			Counters: counter.NewCounters(counter.CountersConfig{
				Store: store.Named(0), MaxInFlight: 4, Timeout: 2 * time.Second, CounterLimit: 200,
				Limits: limits, Pseudonyms: pseudonyms,
			}),
			Clients:       counter.ClientRules{Proxies: trusted, CamoNetworks: []netip.Prefix{netip.MustParsePrefix("140.82.112.0/20")}},
			OperatorToken: testOperatorToken,
		},
	})

	f.Fuzz(func(t *testing.T, route uint8, namespace, key, query, authorization, forwardedFor, userAgent string) {
		r := counterRoutes[int(route)%len(counterRoutes)]
		path := "/" + r.path + "/" + namespace + "/" + key + r.suffix
		if !utf8.ValidString(path) {
			return // net/http rejects these before any handler runs
		}
		req := &http.Request{
			Method: r.method, URL: &url.URL{Path: path, RawQuery: query},
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Authorization": {authorization}, "X-Forwarded-For": {forwardedFor}, "User-Agent": {userAgent}},
			Host:   "fuzz", RemoteAddr: "127.0.0.1:1",
		}
		req = req.WithContext(t.Context())
		name, nameErr := counter.ParseName(namespace, key)
		before, existed := counterValue(t, rs.Addr(), name, nameErr)
		indexBefore := indexSize(t, rs.Addr())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		after, exists := counterValue(t, rs.Addr(), name, nameErr)
		indexAfter := indexSize(t, rs.Addr())

		if r.suffix == "/shield" && rec.Header().Get("Content-Type") != "image/svg+xml" && rec.Code != 405 && rec.Code/100 != 3 && rec.Code != 404 {
			t.Fatalf("%s %q answered %d with %q: a badge must answer an image, errors included", r.method, path, rec.Code, rec.Header().Get("Content-Type"))
		}
		switch rec.Code {
		case 200, 201, 301, 307, 308, 400, 401, 403, 404, 405, 409, 429, 503, 507:
		default:
			t.Fatalf("%s %q ?%q: status %d: %q", r.method, path, query, rec.Code, rec.Body.String())
		}
		changed := before != after || existed != exists || indexBefore != indexAfter
		ok := rec.Code == 200 || rec.Code == 201
		switch {
		case !ok && changed:
			t.Fatalf("%s %q ?%q answered %d and changed the counter (%d→%d, existed %v→%v, index %s→%s)",
				r.method, path, query, rec.Code, before, after, existed, exists, indexBefore, indexAfter)
		case ok && r.method == "GET" && r.path == "hit":
			if ct := rec.Header().Get("Content-Type"); r.suffix == "/shield" && ct != "image/svg+xml" {
				t.Fatalf("a badge answered %q", ct)
			}
			if after != before+1 {
				t.Fatalf("a hit moved %s from %d to %d", name, before, after)
			}
		case ok && (r.method != "POST") && changed:
			t.Fatalf("%s %q changed the counter", r.method, path)
		}
	})
}

// counterValue reads a counter's value for the fuzz target (0, false when it does not exist or
// the name is invalid).
func counterValue(t *testing.T, addr string, name counter.Name, nameErr error) (int64, bool) {
	if nameErr != nil {
		return 0, false
	}
	v, err := redistest.Do(addr, "HGET", redisstore.CounterKey(name), "v")
	if err != nil {
		t.Fatalf("HGET: %v", err)
	}
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("counter %q is not a number", v)
	}
	return n, true
}

func indexSize(t *testing.T, addr string) string {
	v, err := redistest.Do(addr, "SCARD", redisstore.IndexKey)
	if err != nil {
		t.Fatalf("SCARD: %v", err)
	}
	return v
}
