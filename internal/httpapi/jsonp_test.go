package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/redisstore"
)

func TestCallbackOf(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		query   string
		want    string
		wantErr bool
	}{
		{"", "", false},
		{"callback=cb", "cb", false},
		{"callback=$", "$", false},
		{"callback=_cb1", "_cb1", false},
		{"callback=jQuery3510_1700000000000", "jQuery3510_1700000000000", false},
		{"callback=app.counters.on.value", "app.counters.on.value", false},
		{"callback=" + long, long, false},
		{"callback=" + long + "." + long + "." + long + "." + long, long + "." + long + "." + long + "." + long, false},
		{"callback=", "", true},
		{"callback=1cb", "", true},
		{"callback=cb()", "", true},
		{"callback=alert(1)//", "", true},
		{"callback=cb%3Balert", "", true},
		// A raw semicolon makes the pair invalid; net/url drops it, and the answer is JSON.
		{"callback=cb;alert", "", false},
		{"callback=a..b", "", true},
		{"callback=a.", "", true},
		{"callback=.a", "", true},
		{"callback=a.b.c.d.e", "", true},
		{"callback=a[0]", "", true},
		{"callback=a%20b", "", true},
		{"callback=a-b", "", true},
		{"callback=%3Cscript%3E", "", true},
		{"callback=caf%C3%A9", "", true},
		{"callback=cb%0A", "", true},
		{"callback=" + long + "a", "", true},
		{"callback=" + strings.Repeat("a", 100_000), "", true},
		{"callback=cb&callback=cb", "", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/get/site/one?"+tt.query, nil)
		got, err := callbackOf(r)
		if got != tt.want || (err != nil) != tt.wantErr {
			name := tt.query
			if len(name) > 80 {
				name = name[:80] + "..."
			}
			t.Errorf("callbackOf(%q) = %q, %v; want %q, error %v", name, got, err, tt.want, tt.wantErr)
		}
	}
}

// CountAPI's script, route by route: JSONP answers on hit, get, info and create (GET too),
// errors unwrapped, a bad callback refused before anything is counted.
func TestJSONPRoutes(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	const js = "application/javascript; charset=utf-8"
	tests := []struct {
		method, path string
		wantStatus   int
		wantType     string
		wantBody     string // a regular expression
	}{
		{"GET", "/create/site/one?initializer=41&callback=cb", 201, js,
			`^/\*\*/cb\(\{"namespace":"site","key":"one","value":41,"admin_key":"[A-Za-z0-9_-]{43}"\}\);\n$`},
		{"GET", "/create/site/one?callback=cb", 409, "application/json", `^\{"error":"counter site/one already exists","code":"conflict"\}\n$`},
		{"GET", "/hit/site/one?callback=cb", 200, js, `^/\*\*/cb\(\{"value":42\}\);\n$`},
		{"GET", "/hit/site/one?callback=window.app.show", 200, js, `^/\*\*/window\.app\.show\(\{"value":43\}\);\n$`},
		{"GET", "/get/site/one?callback=cb", 200, js, `^/\*\*/cb\(\{"value":43\}\);\n$`},
		{"GET", "/info/site/one?callback=cb", 200, js,
			`^/\*\*/cb\(\{"namespace":"site","key":"one","value":43,"created":"[0-9TZ:-]+","admin_key_set":true[,}].*\}\);\n$`},
		{"POST", "/create/site/two?callback=cb", 201, js, `^/\*\*/cb\(\{"namespace":"site","key":"two","value":0,`},
		// Errors keep their status and stay JSON: a <script> element fires "error" on them.
		{"GET", "/get/site/missing?callback=cb", 404, "application/json", `"code":"not_found"`},
		// A bad callback is refused before the hit: the count stays 43.
		{"GET", "/hit/site/one?callback=alert(document.cookie)//", 400, "application/json",
			`^\{"error":"query parameter \\"callback\\" must be a JavaScript function name`},
		{"GET", "/get/site/one?callback=a.b.c.d.e", 400, "application/json", `"code":"invalid"`},
		{"GET", "/info/site/one?callback=", 400, "application/json", `"code":"invalid"`},
		{"GET", "/create/site/three?callback=1x", 400, "application/json", `"code":"invalid"`},
		{"GET", "/get/site/one", 200, "application/json", `^\{"value":43\}\n$`},
	}
	for _, tt := range tests {
		resp, body := ts.do(t, tt.method, tt.path)
		if resp.StatusCode != tt.wantStatus || resp.Header.Get("Content-Type") != tt.wantType || !regexp.MustCompile(tt.wantBody).MatchString(body) {
			t.Errorf("%s %s: %d %s %q, want %d %s matching %q",
				tt.method, tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.wantStatus, tt.wantType, tt.wantBody)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options %q, want nosniff", tt.method, tt.path, got)
		}
	}
	checkStatusesDocumented(t, ts.metrics)
}

// Abacus' /create/ without a name: a fresh random name each time, usable like any other.
func TestCreateRandom(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	part := regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)
	seen := map[string]bool{}
	for _, req := range []struct{ method, path string }{
		{"GET", "/create"}, {"POST", "/create"}, {"GET", "/create/"}, {"POST", "/create/?initializer=5"},
	} {
		resp, body := ts.do(t, req.method, req.path)
		var got createdAnswer
		if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &got) != nil {
			t.Fatalf("%s %s: %d %q, want 201 and a created counter", req.method, req.path, resp.StatusCode, body)
		}
		if !part.MatchString(got.Namespace) || !part.MatchString(got.Key) || len(got.AdminKey) != 43 {
			t.Fatalf("%s %s: %+v, want a namespace and a key of 22 base64url characters and an admin key", req.method, req.path, got)
		}
		name := got.Namespace + "/" + got.Key
		if seen[name] {
			t.Fatalf("%s %s: %s again", req.method, req.path, name)
		}
		seen[name] = true
		// It is a counter like any other, and its admin key works.
		if resp, body := ts.do(t, "GET", "/hit/"+name); resp.StatusCode != 200 {
			t.Fatalf("hit of %s: %d %q", name, resp.StatusCode, body)
		}
		if resp, body := ts.do(t, "POST", "/reset/"+name, bearerHeader(got.AdminKey)...); resp.StatusCode != 200 || body != "{\"value\":0}\n" {
			t.Fatalf("reset of %s with its admin key: %d %q", name, resp.StatusCode, body)
		}
	}
	if resp, body := ts.do(t, "GET", "/create?callback=cb"); resp.StatusCode != 201 || !strings.HasPrefix(body, "/**/cb({\"namespace\":\"") {
		t.Fatalf("GET /create?callback=cb: %d %q", resp.StatusCode, body)
	}
	// HEAD, which every GET route answers, creates nothing.
	for _, path := range []string{"/create", "/create/", "/create/site/headed"} {
		if resp, _ := ts.do(t, "HEAD", path); resp.StatusCode != 200 {
			t.Fatalf("HEAD %s: %d, want 200", path, resp.StatusCode)
		}
	}
	if n := ts.redis.Int("SCARD", redisstore.IndexKey); n != int64(len(seen)+1) {
		t.Fatalf("%d counters after %d creates and the HEADs, want %d: a HEAD created one", n, len(seen)+1, len(seen)+1)
	}
	if resp, body := ts.do(t, "GET", "/create?initializer=x"); resp.StatusCode != 400 {
		t.Fatalf("GET /create?initializer=x: %d %q, want 400", resp.StatusCode, body)
	}
	checkStatusesDocumented(t, ts.metrics)
}
