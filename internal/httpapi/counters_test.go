package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
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
	"github.com/hitcounter/hitcounter/internal/waitfor"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/rueidis"
)

const testOperatorToken = "operator-token-0123456789"

type counterOptions struct {
	hitLimit, createLimit, createsPerDay, readLimit, counterLimit int64
	trustedProxies                                                string
	camoNetworks                                                  []netip.Prefix
	now                                                           func() time.Time // nil: time.Now
	// live caps the streams (its Feed is the test's Redis); streams are GET /stream's settings.
	live    counter.LiveConfig
	streams StreamDeps
}

// testVisitorKey is the visitor key of the test servers: fixed, so that the HyperLogLog figures
// of a test are the same every run.
var testVisitorKey = []byte("test-visitor-key-0123456789abcdef")

// newCounterServer serves the real handlers, named counters included, over a real Redis.
func newCounterServer(t *testing.T, o counterOptions) *testServer {
	t.Helper()
	rs := redistest.Start(t)
	store := redisstore.New(redisstore.Options{Addr: rs.Addr(), Timeout: 2 * time.Second})
	t.Cleanup(store.Close)
	trusted, err := proxies.Parse(o.trustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	pseudonyms, err := visitor.New(testVisitorKey)
	if err != nil {
		t.Fatal(err)
	}
	camoNetworks := o.camoNetworks
	if camoNetworks == nil {
		camoNetworks = config.DefaultCamoNetworks
	}
	namer := ratelimit.Namer(pseudonyms.Limit)
	limits := &counter.Limits{
		Hits:          ratelimit.NewShared(store, "hits", o.hitLimit, time.Hour, namer, o.now).Limiter(),
		Creates:       ratelimit.NewShared(store, "creates", o.createLimit, time.Hour, namer, o.now).Limiter(),
		CreatesPerDay: ratelimit.NewShared(store, "creates_per_day", o.createsPerDay, 24*time.Hour, namer, o.now).Limiter(),
		Reads:         ratelimit.NewLocal("reads", o.readLimit, time.Hour, o.now).Limiter(),
	}
	ts := &testServer{redis: rs, metrics: NewMetrics("test-version"), drain: make(chan struct{}), logs: new(lockedBuffer)}
	o.live.Feed = store.Live(slog.New(slog.DiscardHandler))
	o.streams.Live = counter.NewLive(o.live)
	ts.serve(t, Deps{
		Visits:   counter.VisitCounter{Counter: counter.NewCoalescer(store, 4, 2*time.Second), Limits: limits},
		Pinger:   store,
		Metrics:  ts.metrics,
		Logger:   slog.New(slog.NewJSONHandler(ts.logs, nil)),
		Hostname: "web-1",
		Drain:    ts.drain,
		Named: CounterDeps{
			Counters: counter.NewCounters(counter.CountersConfig{
				Store: store.Named(0), MaxInFlight: 4, Timeout: 2 * time.Second, CounterLimit: o.counterLimit,
				Limits: limits, Pseudonyms: pseudonyms, Owners: pseudonyms, Now: o.now,
			}),
			Clients:       counter.ClientRules{Proxies: trusted, IPv6Prefix: 64, CamoNetworks: camoNetworks},
			OperatorToken: testOperatorToken,
		},
		Streams: o.streams,
	})
	return ts
}

// call is one request of a scripted conversation and what must come back.
type call struct {
	method, path string
	header       []string
	wantStatus   int
	wantBody     string // a regular expression
}

func (ts *testServer) run(t *testing.T, calls []call) {
	t.Helper()
	for _, c := range calls {
		resp, body := ts.do(t, c.method, c.path, c.header...)
		if resp.StatusCode != c.wantStatus || !regexp.MustCompile(c.wantBody).MatchString(body) {
			t.Fatalf("%s %s %v: %d %q, want %d matching %q", c.method, c.path, c.header, resp.StatusCode, body, c.wantStatus, c.wantBody)
		}
	}
}

// adminKeyOf creates ns/key and returns its admin key.
func (ts *testServer) adminKeyOf(t *testing.T, path string) string {
	t.Helper()
	resp, body := ts.do(t, "POST", "/create/"+path+"?initializer=10")
	var created createdAnswer
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &created) != nil || len(created.AdminKey) != 43 {
		t.Fatalf("POST /create/%s: %d %q", path, resp.StatusCode, body)
	}
	return created.AdminKey
}

func bearerHeader(token string) []string { return []string{"Authorization", "Bearer " + token} }

// Every route and every status it can answer, on a real Redis.
func TestCounterRoutes(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	key := ts.adminKeyOf(t, "site/two")
	owner, stranger, operator := bearerHeader(key), bearerHeader("not-the-key"), bearerHeader(testOperatorToken)
	const invalidNS, invalidKey = `"namespace \\"ab\\" is invalid`, `"key \\"o\\" is invalid`

	ts.run(t, []call{
		// Public: hit, get, info.
		{"GET", "/hit/site/one", nil, 200, `^\{"value":1\}\n$`},
		{"GET", "/hit/site/one", nil, 200, `^\{"value":2\}\n$`},
		{"HEAD", "/hit/site/one", nil, 200, `^$`},
		{"GET", "/get/site/one", nil, 200, `^\{"value":2\}\n$`},
		{"GET", "/get/site/none", nil, 404, `"code":"not_found"`},
		{"GET", "/info/site/one", nil, 200,
			`^\{"namespace":"site","key":"one","value":2,"created":"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ","admin_key_set":false,"bots":0,` +
				`"settings":\{"time_zone":"UTC","repeat_window":0,"count_bots":false\}\}\n$`},
		{"GET", "/info/site/none", nil, 404, `"code":"not_found"`},
		{"GET", "/hit/ab/one", nil, 400, invalidNS},
		{"GET", "/hit/site/o", nil, 400, invalidKey},
		{"GET", "/get/site/o", nil, 400, invalidKey},
		{"GET", "/hit/site/one%2Fx", nil, 400, `"code":"invalid"`},
		{"POST", "/hit/site/one", nil, 405, ``},
		{"GET", "/set/site/one?value=3", nil, 405, ``},

		// Create.
		{"POST", "/create/site/two", nil, 409, `"code":"conflict"`},
		{"POST", "/create/site/three?initializer=x", nil, 400, `"initializer\\" must be an integer`},
		{"POST", "/create/site/three?initializer=1&initializer=2", nil, 400, `given 2 times`},
		{"POST", "/create/ab/three", nil, 400, invalidNS},
		{"POST", "/create/site/neg?initializer=-5", nil, 201, `"value":-5`},

		// Owner's changes: refused without changing anything, then done.
		{"POST", "/set/site/two?value=5", nil, 401, `"code":"unauthorized"`},
		{"POST", "/set/site/two?value=5", []string{"Authorization", "Basic " + key}, 401, `"code":"unauthorized"`},
		{"POST", "/set/site/two?value=5", stranger, 403, `"code":"forbidden"`},
		{"POST", "/update/site/two?value=5", stranger, 403, `"code":"forbidden"`},
		{"POST", "/reset/site/two", stranger, 403, `"code":"forbidden"`},
		{"POST", "/delete/site/two", stranger, 403, `"code":"forbidden"`},
		{"POST", "/set/site/one?value=1", owner, 403, `"code":"forbidden"`}, // another counter's key
		{"POST", "/set/site/none?value=1", owner, 404, `"code":"not_found"`},
		{"POST", "/set/site/two", owner, 400, `"value\\" is required`},
		{"POST", "/update/site/two?value=1.5", owner, 400, `must be an integer`},
		{"GET", "/get/site/two", nil, 200, `^\{"value":10\}\n$`},
		{"POST", "/set/site/two?value=5", owner, 200, `^\{"value":5\}\n$`},
		{"POST", "/update/site/two?value=-7", owner, 200, `^\{"value":-2\}\n$`},
		{"POST", "/update/site/two?value=9223372036854775807", owner, 200, `^\{"value":9223372036854775805\}\n$`},
		{"POST", "/update/site/two?value=9", owner, 400, `overflow`},
		{"POST", "/reset/site/two", owner, 200, `^\{"value":0\}\n$`},
		{"POST", "/set/site/two?value=3", operator, 200, `^\{"value":3\}\n$`},

		// The operator assigns a key to a counter created by its first hit.
		{"POST", "/admin/key/site/one", owner, 403, `not the operator token`},
		{"POST", "/admin/key/site/one", nil, 401, `"code":"unauthorized"`},
		{"POST", "/admin/key/site/none", operator, 404, `"code":"not_found"`},

		{"POST", "/delete/site/two", owner, 200, `^\{"status":"ok","message":"counter site/two deleted"\}\n$`},
		{"GET", "/get/site/two", nil, 404, `"code":"not_found"`},
		{"POST", "/delete/site/two", owner, 404, `"code":"not_found"`},

		{"GET", "/admin/export", nil, 401, `"code":"unauthorized"`},
		{"GET", "/admin/export", owner, 403, `"code":"forbidden"`},
		{"POST", "/admin/import", owner, 403, `"code":"forbidden"`},
	})
	if got := ts.redis.Int("HGET", redisstore.CounterKey(counter.Name{Namespace: "site", Key: "one"}), "v"); got != 2 {
		t.Fatalf("site/one = %d after two hits and a HEAD, want 2", got)
	}

	resp, body := ts.do(t, "POST", "/admin/key/site/one", operator...)
	var assigned adminKeyAnswer
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &assigned) != nil || len(assigned.AdminKey) != 43 {
		t.Fatalf("POST /admin/key: %d %q", resp.StatusCode, body)
	}
	ts.run(t, []call{
		{"POST", "/set/site/one?value=50", bearerHeader(assigned.AdminKey), 200, `^\{"value":50\}\n$`},
		{"GET", "/info/site/one", nil, 200, `"admin_key_set":true`},
	})
	checkStatusesDocumented(t, ts.metrics)
}

// CORS is open on the public read and hit routes only; no answer carries the admin key's hash.
func TestCounterHeaders(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	// Successes and errors alike: the status says which each is.
	for _, tc := range []struct {
		path       string
		wantStatus int
	}{
		{"/hit/site/one", 200}, {"/get/site/one", 200}, {"/info/site/one", 200}, {"/get/site/none", 404}, {"/hit/ab/cd", 400},
	} {
		resp, _ := ts.do(t, "GET", tc.path)
		if resp.StatusCode != tc.wantStatus {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.wantStatus)
		}
		h := resp.Header
		if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: headers %v, want CORS *, JSON, no-store", tc.path, resp.Header)
		}
	}
	for _, tc := range []struct {
		path       string
		wantStatus int
	}{
		{"/create/site/two", 201},
		// No Authorization header: refused, with how to authenticate.
		{"/set/site/one?value=1", 401}, {"/delete/site/one", 401}, {"/admin/import", 401},
	} {
		resp, _ := ts.do(t, "POST", tc.path)
		if resp.StatusCode != tc.wantStatus {
			t.Errorf("POST %s: %d, want %d", tc.path, resp.StatusCode, tc.wantStatus)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("POST %s answers with CORS", tc.path)
		}
		if wantAuth := tc.wantStatus == 401; strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") != wantAuth {
			t.Errorf("POST %s: %d with WWW-Authenticate %q", tc.path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

func (ts *testServer) post(t *testing.T, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	base := ts.url
	if operatorPath(path) {
		base = ts.ops
	}
	return request(t, "POST", base+path, body, header...)
}

// An export imported into an empty service restores every counter; importing it again changes
// nothing; a bad line is refused with its line number.
func TestExportImportOverHTTP(t *testing.T) {
	from := newCounterServer(t, counterOptions{})
	key := from.adminKeyOf(t, "blog/first-post")
	for range 3 {
		from.do(t, "GET", "/hit/blog/second-post")
	}
	from.run(t, []call{{"POST", "/settings/blog/first-post?time_zone=Asia/Tokyo&repeat_window=20", bearerHeader(key), 200, `Tokyo`}})
	operator := bearerHeader(testOperatorToken)
	resp, export := from.do(t, "GET", "/admin/export", operator...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" || strings.Count(export, "\n") != 2 {
		t.Fatalf("export: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), export)
	}
	// Settings go with a counter that has them, not with one that has the defaults.
	if strings.Count(export, `"settings":`) != 1 || !strings.Contains(export, `"settings":{"time_zone":"Asia/Tokyo","repeat_window":20,"count_bots":false}`) {
		t.Fatalf("export %q: want the settings of blog/first-post only", export)
	}
	if !strings.Contains(export, `"admin_key_sha256":"`+counter.HashAdminKey(key)+`"`) || strings.Contains(export, key) {
		t.Fatalf("export %q: want the admin key's hash and never the key", export)
	}

	to := newCounterServer(t, counterOptions{counterLimit: 5})
	resp, body := to.post(t, "/admin/import", export, operator...)
	if resp.StatusCode != 200 || body != `{"created":2,"updated":0,"unchanged":0}`+"\n" {
		t.Fatalf("import: %d %q", resp.StatusCode, body)
	}
	resp, body = to.post(t, "/admin/import", export, operator...)
	if resp.StatusCode != 200 || body != `{"created":0,"updated":0,"unchanged":2}`+"\n" {
		t.Fatalf("second import: %d %q", resp.StatusCode, body)
	}
	if _, again := to.do(t, "GET", "/admin/export", operator...); !sameLines(again, export) {
		t.Fatalf("export after import:\n%s\nwant\n%s", again, export)
	}
	to.run(t, []call{
		{"GET", "/get/blog/second-post", nil, 200, `^\{"value":3\}\n$`},
		{"POST", "/set/blog/first-post?value=1", bearerHeader(key), 200, `^\{"value":1\}\n$`}, // the key still opens it
		{"GET", "/info/blog/first-post", nil, 200, `"settings":\{"time_zone":"Asia/Tokyo","repeat_window":20,"count_bots":false\}`},
		{"GET", "/info/blog/second-post", nil, 200, `"settings":\{"time_zone":"UTC","repeat_window":0,"count_bots":false\}`},
	})

	for _, tt := range []struct{ body, want string }{
		{`{"namespace":"ok-ns","key":"ok-key","value":1,"created":"2026-11-26T07:00:00Z"}` + "\n" +
			`{"namespace":"x","key":"ok-key","value":1,"created":"2026-11-26T07:00:00Z"}`, `line 2: namespace`},
		{`{"namespace":"ok-ns","key":"ok-key","created":"2026-11-26T07:00:00Z"}`, `line 1: value is missing`},
		{`{"namespace":"ok-ns","key":"ok-key","value":"7","created":"2026-11-26T07:00:00Z"}`, `line 1: not an export line`},
		{`{"namespace":"ok-ns","key":"ok-key","value":7,"created":"yesterday"}`, `line 1: created must be`},
		{`{"namespace":"ok-ns","key":"ok-key","value":7,"created":"2026-11-26T07:00:00Z","extra":1}`, `line 1: not an export line`},
		{`{"namespace":"ok-ns","key":"ok-key","value":7,"created":"2026-11-26T07:00:00Z","admin_key_sha256":"XYZ"}`, `line 1: admin_key_sha256`},
		{
			`{"namespace":"ok-ns","key":"ok-key","value":7,"created":"2026-11-26T07:00:00Z","settings":{"time_zone":"Mars/Base",` +
				`"repeat_window":0,"count_bots":false}}`,
			`line 1: time_zone`},
		{
			`{"namespace":"ok-ns","key":"ok-key","value":7,"created":"2026-11-26T07:00:00Z","settings":{"time_zone":"UTC",` +
				`"repeat_window":1441,"count_bots":false}}`,
			`line 1: settings.repeat_window`},
		{"\n\n" + strings.Repeat("x", maxImportLine+1), `line 3: a line is longer`},
	} {
		resp, body := to.post(t, "/admin/import", tt.body, operator...)
		if resp.StatusCode != 400 || !strings.Contains(body, tt.want) {
			t.Errorf("import %.60q: %d %q, want 400 with %q", tt.body, resp.StatusCode, body, tt.want)
		}
	}
	// The lines before a bad one are applied, none after it.
	to.run(t, []call{{"GET", "/get/ok-ns/ok-key", nil, 200, `^\{"value":1\}\n$`}})

	// The counter limit (5) stops an import that would pass it, and nothing is evicted.
	var lines []string
	for i := range 6 {
		lines = append(lines, `{"namespace":"bulk-ns","key":"key-`+string(rune('a'+i))+`xx","value":1,"created":"2026-11-26T07:00:00Z"}`)
	}
	resp, body = to.post(t, "/admin/import", strings.Join(lines, "\n"), operator...)
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(body, `"code":"full"`) || !strings.Contains(body, "lines 1-6") {
		t.Fatalf("import past the limit: %d %q", resp.StatusCode, body)
	}
	to.run(t, []call{{"GET", "/get/blog/second-post", nil, 200, `^\{"value":3\}\n$`}})
	checkStatusesDocumented(t, to.metrics)
	checkStatusesDocumented(t, from.metrics)
}

func sameLines(a, b string) bool {
	x, y := strings.Split(strings.TrimSpace(a), "\n"), strings.Split(strings.TrimSpace(b), "\n")
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// Rate limits: per client address (taken from X-Forwarded-For only from a trusted proxy), per
// counter for GitHub's camo; creation has its own limit; the counter limit answers 507. No
// address reaches Redis.
func TestRateLimitsAndCounterLimit(t *testing.T) {
	ts := newCounterServer(t, counterOptions{hitLimit: 5, createLimit: 3, counterLimit: 5, trustedProxies: "127.0.0.1"})
	from := func(addr string) []string { return []string{"X-Forwarded-For", addr} }
	for i := range 5 {
		resp, body := ts.do(t, "GET", "/hit/site/page", from("198.51.100.7")...)
		if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "5" {
			t.Fatalf("hit %d: %d %q %v", i+1, resp.StatusCode, body, resp.Header)
		}
	}
	resp, body := ts.do(t, "GET", "/hit/site/page", from("198.51.100.7")...)
	if resp.StatusCode != 429 || !strings.Contains(body, `"code":"rate_limited"`) || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("RateLimit-Remaining") != "0" || resp.Header.Get("RateLimit-Reset") != resp.Header.Get("Retry-After") {
		t.Fatalf("6th hit: %d %q %v; want 429 with Retry-After and RateLimit-*", resp.StatusCode, body, resp.Header)
	}
	// A spoofed address left of the proxy's entry does not make a new client.
	if resp, _ := ts.do(t, "GET", "/hit/site/page", "X-Forwarded-For", "203.0.113.1, 198.51.100.7"); resp.StatusCode != 429 {
		t.Fatalf("spoofed X-Forwarded-For escaped the limit: %d", resp.StatusCode)
	}
	// Another client is not affected.
	ts.run(t, []call{{"GET", "/hit/site/page", from("198.51.100.8"), 200, `"value":6`}})

	// Camo is counted per counter: one busy badge does not starve the others.
	camo := append(from("140.82.115.1"), "User-Agent", "github-camo (876de43e)")
	for range 5 {
		ts.run(t, []call{{"GET", "/hit/site/page", camo, 200, `value`}})
	}
	ts.run(t, []call{
		{"GET", "/hit/site/page", camo, 429, `rate_limited`},
		{"GET", "/hit/site/other", camo, 200, `^\{"value":1\}\n$`},
	})

	// Creation: client .9 may create 3 counters; the 4th new name is refused and not created.
	for _, k := range []string{"new-1", "new-2"} {
		ts.run(t, []call{{"GET", "/hit/site/" + k, from("198.51.100.9"), 200, `^\{"value":1\}\n$`}})
	}
	ts.run(t, []call{{"POST", "/create/site/new-3", from("198.51.100.9"), 201, `admin_key`}})
	ts.run(t, []call{
		{"GET", "/hit/site/new-4", from("198.51.100.9"), 429, `rate_limited`},
		{"GET", "/get/site/new-4", nil, 404, `not_found`},
	})
	// The counter limit (5: page, other, new-1, new-2, new-3) answers 507 and evicts nothing.
	ts.run(t, []call{
		{"POST", "/create/site/new-5", from("198.51.100.10"), 507, `"code":"full"`},
		{"GET", "/hit/site/new-6", from("198.51.100.10"), 507, `"code":"full"`},
		{"GET", "/get/site/page", nil, 200, `"value":11`},
	})
	if got := testutil.ToFloat64(ts.metrics.rateLimited.WithLabelValues("hits")); got < 3 {
		t.Errorf("rate_limited_total{limit=hits} = %v, want at least 3", got)
	}

	checkStatusesDocumented(t, ts.metrics)

	dump := dumpRedis(t, ts.redis.Addr())
	for _, addr := range []string{"198.51.100", "140.82.115", "127.0.0.1"} {
		if strings.Contains(dump, addr) {
			t.Fatalf("Redis holds %s:\n%s", addr, dump)
		}
	}
}

// dumpRedis returns every key and value in Redis as text.
func dumpRedis(t *testing.T, addr string) string {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Do(ctx, c.B().Keys().Pattern("*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + " =")
		typ, _ := c.Do(ctx, c.B().Type().Key(k).Build()).ToString()
		var vals []string
		switch typ {
		case "string":
			v, _ := c.Do(ctx, c.B().Get().Key(k).Build()).ToString()
			vals = []string{v}
		case "hash":
			m, _ := c.Do(ctx, c.B().Hgetall().Key(k).Build()).AsStrMap()
			for f, v := range m {
				vals = append(vals, f, v)
			}
		case "set":
			vals, _ = c.Do(ctx, c.B().Smembers().Key(k).Build()).AsStrSlice()
		default:
			t.Fatalf("key %s of type %s: teach dumpRedis to read it", k, typ)
		}
		b.WriteString(" " + strings.Join(vals, " ") + "\n")
	}
	return b.String()
}

// With Redis gone, every named-counter route answers 503 with Retry-After, JSON, and changes
// nothing (there is nothing to change); it comes back when Redis does.
func TestCounterRoutesWithoutRedis(t *testing.T) {
	ts := newCounterServer(t, counterOptions{hitLimit: 100, createLimit: 100, trustedProxies: "127.0.0.1"})
	key := ts.adminKeyOf(t, "site/page")
	ts.run(t, []call{{"GET", "/hit/site/page", nil, 200, `"value":11`}})
	ts.redis.Kill()
	for _, c := range []call{
		{"GET", "/hit/site/page", nil, 503, `"code":"unavailable"`},
		{"GET", "/hit/site/new-one", []string{"X-Forwarded-For", "198.51.100.1"}, 503, `"code":"unavailable"`}, // a new client: its lease needs Redis
		{"GET", "/get/site/page", nil, 503, `"code":"unavailable"`},
		{"GET", "/info/site/page", nil, 503, `"code":"unavailable"`},
		{"POST", "/create/site/other", nil, 503, `"code":"unavailable"`},
		{"POST", "/set/site/page?value=1", bearerHeader(key), 503, `"code":"unavailable"`},
		{"POST", "/delete/site/page", bearerHeader(key), 503, `"code":"unavailable"`},
		{"GET", "/admin/export", bearerHeader(testOperatorToken), 503, `"code":"unavailable"`},
	} {
		resp, body := ts.do(t, c.method, c.path, c.header...)
		if resp.StatusCode != c.wantStatus || !strings.Contains(body, `"code":"unavailable"`) || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("%s %s without Redis: %d %q %v, want 503 unavailable with Retry-After: 1", c.method, c.path, resp.StatusCode, body, resp.Header)
		}
	}
	checkStatusesDocumented(t, ts.metrics)
	ts.redis.Restart() // without persistence: an empty Redis
	waitfor.Until(t, 10*time.Second, func() error {
		if resp, body := ts.do(t, "GET", "/hit/site/page"); resp.StatusCode != 200 {
			return fmt.Errorf("GET /hit after Redis came back: %d %q", resp.StatusCode, body)
		}
		return nil
	})
}

// A burst of first hits on a new counter from one client creates it once: one token of the
// create limit, every hit counted with its own number.
func TestFirstHitsCreateOnce(t *testing.T) {
	ts := newCounterServer(t, counterOptions{createLimit: 1, trustedProxies: "127.0.0.1"})
	const hits = 40
	numbers := make(chan string, hits)
	var wg sync.WaitGroup
	for range hits {
		wg.Go(func() {
			resp, body := ts.do(t, "GET", "/hit/burst/new-counter", "X-Forwarded-For", "198.51.100.7")
			if resp.StatusCode != 200 {
				t.Errorf("first hits: %d %q", resp.StatusCode, body)
			}
			numbers <- body
		})
	}
	wg.Wait()
	close(numbers)
	seen := map[string]bool{}
	for n := range numbers {
		if seen[n] {
			t.Fatalf("number %s handed out twice", n)
		}
		seen[n] = true
	}
	ts.run(t, []call{
		{"GET", "/get/burst/new-counter", nil, 200, `^\{"value":40\}\n$`},
		{"GET", "/hit/burst/another", []string{"X-Forwarded-For", "198.51.100.7"}, 429, `rate_limited`}, // the one create was spent
	})
}

func TestValueAnswerAsEncodingJSON(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 42, math.MaxInt64, math.MinInt64} {
		rec := httptest.NewRecorder()
		writeJSON(rec, 200, valueAnswer{Value: v})
		want, _ := json.Marshal(valueAnswer{Value: v})
		if got := rec.Body.String(); got != string(want)+"\n" {
			t.Errorf("writeJSON(%d) = %q, want %q", v, got, want)
		}
	}
}
