package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hitcounter/hitcounter/internal/redisstore"
	"github.com/hitcounter/hitcounter/internal/redistest"
)

// FuzzNegotiate: any Accept value picks one of the three formats or none, never panics, and
// q-values stay in range.
func FuzzNegotiate(f *testing.F) {
	for _, seed := range []string{
		"", "*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"application/json;q=0.5, text/plain;q=0.4", "text/*;q=0", "a/b;q=1.0000", ";;,,/", "text/plain;q=0.-1",
		"\x00/\xff;q=\t1", strings.Repeat("text/plain;q=0.1,", 100),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		got, ok := negotiate(accept)
		if got != formatText && got != formatJSON && got != formatHTML {
			t.Fatalf("negotiate(%q) = %d, not a format", accept, got)
		}
		again, ok2 := negotiate(accept)
		if again != got || ok2 != ok {
			t.Fatalf("negotiate(%q) is not deterministic", accept)
		}
		for _, o := range offers {
			if q := quality(accept, o.typ, o.sub); q < 0 || q > 1000 {
				t.Fatalf("quality(%q, %s/%s) = %d, outside 0..1000", accept, o.typ, o.sub, q)
			}
		}
	})
}

// FuzzRequestID: an id that passes is safe to put in a header and a log line.
func FuzzRequestID(f *testing.F) {
	for _, seed := range []string{"abc", "a\r\nb", "0f8fad5b-d9cb-469f-a165-70867728950e", "\x7f", "é", strings.Repeat("z", 200)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !validRequestID(id) {
			return
		}
		if len(id) == 0 || len(id) > maxRequestIDLen {
			t.Fatalf("accepted id of length %d", len(id))
		}
		for _, r := range id {
			if r < 0x21 || r > 0x7e || r == '"' || r == '\\' || r == '<' || r == '>' {
				t.Fatalf("accepted id %q with %q", id, r)
			}
		}
	})
}

// visits reads the counter with the fuzz target's own t (the server's helpers belong to f).
func visits(t *testing.T, addr string) int64 {
	v, err := redistest.Do(addr, "GET", redisstore.Key)
	if err != nil {
		t.Fatalf("GET %s: %v", redisstore.Key, err)
	}
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("counter %q is not a number", v)
	}
	return n
}

// FuzzHandler sends arbitrary methods, paths, queries and headers through the whole handler
// over a real Redis. Nothing panics, every answer is one of the documented statuses, echoed
// request ids are clean, and only a 200 to GET / moves the counter.
func FuzzHandler(f *testing.F) {
	f.Add("GET", "/", "", "text/html", "req-1")
	f.Add("HEAD", "/", "a=1", "*/*", "")
	f.Add("GET", "/readyz", "", "", "x\r\ny")
	f.Add("POST", "/metrics", "", "application/json", "")
	f.Add("GET", "/%2e%2e/etc/passwd", "q=%00", "image/png", strings.Repeat("i", 300))
	f.Add("BREW", "//healthz/", "", ";q=", "\x00")

	rs := redistest.Start(f)
	store := redisstore.New(redisstore.Options{Addr: rs.Addr(), Timeout: 2 * time.Second})
	f.Cleanup(store.Close)
	var draining atomic.Bool
	h := NewHandler(Deps{
		Counter: store, Pinger: store, Metrics: NewMetrics("fuzz"),
		Logger: slog.New(slog.DiscardHandler), Hostname: "fuzz", AccessLog: true, Draining: draining.Load,
	})

	f.Fuzz(func(t *testing.T, method, path, query, accept, requestID string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n") || !utf8.ValidString(path) {
			return // net/http rejects these before any handler runs
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req := &http.Request{
			Method:     method,
			URL:        &url.URL{Path: path, RawQuery: query},
			Proto:      "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1,
			Header:     http.Header{"Accept": {accept}, "X-Request-Id": {requestID}},
			Host:       "fuzz",
			RemoteAddr: "127.0.0.1:1",
		}
		req = req.WithContext(t.Context())
		before := visits(t, rs.Addr())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		after := visits(t, rs.Addr())

		switch rec.Code {
		case 200, 301, 307, 308, 404, 405, 406:
		default:
			t.Fatalf("%s %q: status %d: %q", method, path, rec.Code, rec.Body.String())
		}
		id := rec.Header().Get("X-Request-Id")
		if !validRequestID(id) {
			t.Fatalf("answered with unsafe X-Request-Id %q", id)
		}
		counted := after - before
		if counted != 0 && !(counted == 1 && method == "GET" && rec.Code == 200 && req.URL.Path == "/") {
			t.Fatalf("%s %q (%d) moved the counter by %d", method, path, rec.Code, counted)
		}
	})
}
