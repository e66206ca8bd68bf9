package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redisstore"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/visitor"
	"golang.org/x/net/html"
)

// FuzzNegotiate checks negotiate against an independent reading of the same header: the
// standard library's media type parser (mime.ParseMediaType) and RFC 9110's rules written out
// plainly below. Where every range in the header is well formed, both must pick the same
// format, or both refuse; for any header, negotiate never panics and answers one of the offers.
func FuzzNegotiate(f *testing.F) {
	for _, seed := range []string{
		"", "*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"application/json;q=0.5, text/plain;q=0.4", "text/*;q=0", "a/b;q=1.0000", ";;,,/", "text/plain;q=0.-1",
		"\x00/\xff;q=\t1", strings.Repeat("text/plain;q=0.1,", 100), "TEXT/HTML;Q=0.9, application/json;q=0.9",
		"*/*;q=0, application/json", "text/plain;q=0, text/*;q=0.5", "application/*;q=0.3, text/html;q=0.2",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		got, ok := negotiate(accept)
		if got != formatText && got != formatJSON && got != formatHTML {
			t.Fatalf("negotiate(%q) = %d, not a format", accept, got)
		}
		want, wantOK, comparable := referenceNegotiate(accept)
		if !comparable {
			return
		}
		if ok != wantOK || (ok && got != want) {
			t.Fatalf("negotiate(%q) = %v, %v; the reference reading gives %v, %v", accept, got, ok, want, wantOK)
		}
	})
}

// qvalue is RFC 9110's grammar for a weight: 0 to 1 with up to three decimals.
var qvalue = regexp.MustCompile(`^(0(\.[0-9]{1,3})?|1(\.0{1,3})?)$`)

// referenceNegotiate reads Accept with mime.ParseMediaType. comparable is false when some range
// is malformed (negotiate skips those; the reference has no opinion on them).
func referenceNegotiate(accept string) (f format, ok, comparable bool) {
	if strings.TrimSpace(accept) == "" {
		return formatText, true, true
	}
	type mediaRange struct {
		typ, sub string
		q        float64
	}
	var ranges []mediaRange
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			return 0, false, false
		}
		typ, sub, found := strings.Cut(mt, "/")
		if !found || (typ == "*" && sub != "*") {
			return 0, false, false
		}
		q := 1.0
		if v, set := params["q"]; set {
			if !qvalue.MatchString(v) {
				return 0, false, false
			}
			q, _ = strconv.ParseFloat(v, 64)
		}
		ranges = append(ranges, mediaRange{typ, sub, q})
	}
	// Each offer takes the q of the most specific range that matches it (the first such range
	// when a header repeats one); the highest q wins, ties going to the server's order.
	bestQ := 0.0
	for _, o := range offers {
		specificity, q := 0, 0.0
		for _, r := range ranges {
			s := 0
			switch {
			case r.typ == o.typ && r.sub == o.sub:
				s = 3
			case r.typ == o.typ && r.sub == "*":
				s = 2
			case r.typ == "*":
				s = 1
			}
			if s > specificity {
				specificity, q = s, r.q
			}
		}
		if q > bestQ {
			f, bestQ = o.format, q
		}
	}
	return f, bestQ > 0, true
}

// validUTF8 replaces every byte that is not part of valid UTF-8 with U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// fixedCounter answers every visit with the same number, so the encoders can be fed any count.
type fixedCounter int64

func (c fixedCounter) Visit(context.Context) (int64, error) { return int64(c), nil }

// FuzzVisitEncoders sends any hostname and count through the visit handler's JSON and HTML
// answers and parses them back: encoding/json must read the same hostname and count, and an
// HTML parser must find the count and the hostname as text, with no element the page did not
// write (a hostname of "<script>" is text, never a tag).
func FuzzVisitEncoders(f *testing.F) {
	for _, host := range []string{
		"web-1", "<script>alert(1)</script>", `"quoted" & 'single'`, "tab\there\x7f\a", "ünïcödé", "\xff\xfe", "</code><p>", "", "nul\x00byte",
	} {
		f.Add(host, int64(42))
	}
	f.Add("web-1", int64(math.MaxInt64))
	f.Add("web-1", int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, host string, count int64) {
		h := serve(renderVisitError, handleVisit(counter.VisitCounter{Counter: fixedCounter(count)}, counter.ClientRules{}, NewMetrics("x"), host))

		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(t.Context(), "GET", "/", nil)
		req.Header.Set("Accept", "application/json")
		h.ServeHTTP(rec, req)
		var v visitAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("JSON answer %q does not parse: %v", rec.Body, err)
		}
		// encoding/json writes each invalid UTF-8 byte as U+FFFD.
		if wantHost := validUTF8(host); v.Count != count || v.ServedBy != wantHost {
			t.Fatalf("JSON answer reads back as %+v, want count %d host %q", v, count, wantHost)
		}

		rec = httptest.NewRecorder()
		req = httptest.NewRequestWithContext(t.Context(), "GET", "/", nil)
		req.Header.Set("Accept", "text/html")
		h.ServeHTTP(rec, req)
		doc, err := html.Parse(rec.Body)
		if err != nil {
			t.Fatalf("HTML answer does not parse: %v", err)
		}
		var tags []string
		texts := map[string]string{} // element -> its text, for the ones that show values
		for n := range doc.Descendants() {
			if n.Type != html.ElementNode {
				continue
			}
			tags = append(tags, n.Data)
			if n.Data == "code" || (n.Data == "p" && len(n.Attr) == 1 && n.Attr[0].Val == "count") {
				var b strings.Builder
				for c := range n.Descendants() {
					if c.Type == html.TextNode {
						b.WriteString(c.Data)
					}
				}
				texts[n.Data] = b.String()
			}
		}
		if want := "html head meta meta title style body main p p p p code"; strings.Join(tags, " ") != want {
			t.Fatalf("HTML elements %v, want exactly %s", tags, want)
		}
		if texts["p"] != strconv.FormatInt(count, 10) {
			t.Fatalf("HTML count reads %q, want %d", texts["p"], count)
		}
		// An HTML parser reads NUL as U+FFFD and a CR or CRLF as LF (HTML's input stream
		// preprocessing); invalid UTF-8 it passes through, as the page wrote it.
		wantHost := strings.NewReplacer("\x00", "\uFFFD", "\r\n", "\n", "\r", "\n").Replace(host)
		if texts["code"] != wantHost && texts["code"] != validUTF8(wantHost) {
			t.Fatalf("HTML hostname reads %q, want %q", texts["code"], wantHost)
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
	h := NewHandler(Deps{
		Visits: counter.VisitCounter{Counter: counter.NewCoalescer(store, 4, 2*time.Second)},
		Pinger: store, Metrics: NewMetrics("fuzz"),
		Logger: slog.New(slog.DiscardHandler), Hostname: "fuzz", AccessLog: true,
		Named: CounterDeps{
			Counters: counter.NewCounters(counter.CountersConfig{
				Store: store.Named(0), MaxInFlight: 4, Timeout: 2 * time.Second, CounterLimit: 100, Pseudonyms: visitor.NewRandom(),
			}),
		},
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
		case 200, 201, 301, 307, 308, 400, 401, 403, 404, 405, 406, 409, 507: // the named counters' are in FuzzCounterRoutes
		default:
			t.Fatalf("%s %q: status %d: %q", method, path, rec.Code, rec.Body.String())
		}
		id := rec.Header().Get("X-Request-Id")
		if !validRequestID(id) {
			t.Fatalf("answered with unsafe X-Request-Id %q", id)
		}
		counted := after - before
		servedVisit := counted == 1 && method == "GET" && rec.Code == 200 && req.URL.Path == "/"
		if counted != 0 && !servedVisit {
			t.Fatalf("%s %q (%d) moved the counter by %d", method, path, rec.Code, counted)
		}
	})
}
