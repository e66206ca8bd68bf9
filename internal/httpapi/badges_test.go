package httpapi

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// svgText parses an SVG answer as XML and returns its <title> (what the badge says).
func svgText(t *testing.T, body string) string {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(body))
	var title string
	inTitle := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("badge is not XML: %v\n%s", err, body)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inTitle = tok.Name.Local == "title"
			if tok.Name.Local == "script" {
				t.Fatalf("badge holds a script element: %s", body)
			}
			for _, a := range tok.Attr {
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
					t.Fatalf("badge holds an event attribute %s: %s", a.Name.Local, body)
				}
			}
		case xml.CharData:
			if inTitle && title == "" {
				title = string(tok)
			}
		case xml.EndElement:
			inTitle = false
		}
	}
	return title
}

func (ts *testServer) badge(t *testing.T, path string, header ...string) (*http.Response, string) {
	t.Helper()
	resp, body := ts.do(t, "GET", path, header...)
	if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" {
		t.Fatalf("GET %s: Content-Type %q, want image/svg+xml (an <img> cannot show anything else)", path, ct)
	}
	return resp, body
}

// Every view shows the right number; counting badges are never cached; read-only ones answer
// 304 to their ETag; the answers parse as XML.
func TestBadgeViews(t *testing.T) {
	ts := newCounterServer(t, counterOptions{trustedProxies: "127.0.0.1"})
	visitor := func(i int) []string { return []string{"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i)} }
	for i := range 5 { // 5 hits from 3 visitors
		resp, body := ts.badge(t, "/hit/site/page/shield", visitor(i%3)...)
		if resp.StatusCode != 200 || svgText(t, body) != fmt.Sprintf("hits: %d", i+1) {
			t.Fatalf("hit %d: %d %q", i+1, resp.StatusCode, svgText(t, body))
		}
		for name, want := range map[string]string{
			"Cache-Control": "no-cache, no-store, must-revalidate, max-age=0", "Expires": "Thu, 01 Jan 1970 00:00:00 GMT", "ETag": "",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Fatalf("counting badge %s = %q, want %q", name, got, want)
			}
		}
	}
	for _, tt := range []struct{ query, want string }{
		{"", "hits: 5"},
		{"?view=total&label=views", "views: 5"},
		{"?view=today", "hits: 5"},
		{"?view=uniques", "hits: 3"},
		{"?view=today-total", "hits: 5 / 5"},
		{"?style=for-the-badge&color=4c1&labelColor=%23555", "hits: 5"},
		{"?style=flat-square&color=brightgreen", "hits: 5"},
		{"?style=plastic", "hits: 5"},
		{"?label=%3Cscript%3Ealert(1)%3C/script%3E", "<script>alert(1)</script>: 5"},
		{"?label=%22%3E%3Csvg%20onload%3Dalert(1)%3E", `"><svg onload=alert(1)>: 5`},
	} {
		resp, body := ts.badge(t, "/get/site/page/shield"+tt.query)
		if resp.StatusCode != 200 || svgText(t, body) != tt.want {
			t.Errorf("GET /get/site/page/shield%s: %d %q, want %q", tt.query, resp.StatusCode, svgText(t, body), tt.want)
		}
	}
	// Camo's readers cannot be told apart; camo's user agent from elsewhere is a visitor.
	camo := []string{"User-Agent", "github-camo (8a5eb9b5)", "X-Forwarded-For", "140.82.115.1"}
	if _, body := ts.badge(t, "/get/site/page/shield?view=uniques", camo...); svgText(t, body) != "hits: unknown" {
		t.Errorf("uniques for camo: %q, want unknown", svgText(t, body))
	}
	if _, body := ts.badge(t, "/get/site/page/shield?view=uniques", "User-Agent", "github-camo (forged)"); svgText(t, body) != "hits: 3" {
		t.Errorf("uniques for camo's user agent from outside GitHub: %q, want 3", svgText(t, body))
	}
	// A HEAD of a counting badge counts nothing.
	if resp, _ := ts.do(t, "HEAD", "/hit/site/page/shield"); resp.StatusCode != 200 {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}

	resp, body := ts.badge(t, "/get/site/page/shield")
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" || svgText(t, body) != "hits: 5" {
		t.Fatalf("read-only badge: ETag %q, Cache-Control %q, %q", etag, resp.Header.Get("Cache-Control"), svgText(t, body))
	}
	if resp, body := ts.do(t, "GET", "/get/site/page/shield", "If-None-Match", etag); resp.StatusCode != 304 || body != "" {
		t.Fatalf("If-None-Match with the ETag: %d %q, want 304 and no body", resp.StatusCode, body)
	}
	if resp, _ := ts.do(t, "GET", "/get/site/page/shield?style=plastic", "If-None-Match", etag); resp.StatusCode != 200 {
		t.Fatalf("If-None-Match of another badge: %d, want 200", resp.StatusCode)
	}
	ts.badge(t, "/hit/site/page/shield")
	if resp, _ := ts.do(t, "GET", "/get/site/page/shield", "If-None-Match", etag); resp.StatusCode != 200 {
		t.Fatalf("If-None-Match after the count moved: %d, want 200", resp.StatusCode)
	}
	checkStatusesDocumented(t, ts.metrics)
}

// Bad parameters are refused with 400, as a badge; nothing is counted.
func TestBadgeErrors(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/hit/site/page/shield?color=%3Cscript%3E", 400},
		{"/hit/site/page/shield?labelColor=url(javascript:x)", 400},
		{"/hit/site/page/shield?color=%22%20onload%3D%22x", 400},
		{"/hit/site/page/shield?style=round", 400},
		{"/hit/site/page/shield?view=forever", 400},
		{"/hit/ab/page/shield", 400},
		{"/get/site/none/shield", 404},
		{"/api/count/incr/badge.svg", 400},
		{"/api/count/incr/badge.svg?url=https%3A%2F%2Fexample.com&title_bg=nope", 400},
		{"/api/count/incr/badge.svg?url=https%3A%2F%2Fexample.com&edge_flat=maybe", 400},
		{"/api/count/keep/badge.svg?url=https%3A%2F%2Fexample.com%2Fnever-hit", 404},
	} {
		resp, body := ts.badge(t, tt.path)
		if resp.StatusCode != tt.status || !strings.HasPrefix(svgText(t, body), "hits: ") || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d %q, want %d as an error badge", tt.path, resp.StatusCode, svgText(t, body), tt.status)
		}
	}
	ts.run(t, []call{{"GET", "/get/site/page", nil, 404, `not_found`}}) // nothing was counted or created
	checkStatusesDocumented(t, ts.metrics)
}

func TestSeeyoufarmBadge(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	const u = "/api/count/incr/badge.svg?url=https%3A%2F%2Fgithub.com%2Fowner%2Frepo&title=visitors&title_bg=%23555555&count_bg=%2379C83D&edge_flat=true"
	for i := 1; i <= 3; i++ {
		if _, body := ts.badge(t, u); svgText(t, body) != fmt.Sprintf("visitors: %d / %d", i, i) {
			t.Fatalf("hit %d: %q", i, svgText(t, body))
		}
	}
	if _, body := ts.badge(t, "/api/count/keep/badge.svg?url=github.com/owner/repo/"); svgText(t, body) != "hits: 3 / 3" {
		t.Fatalf("keep: %q", svgText(t, body))
	}
	ts.run(t, []call{{"GET", "/get/github.com/owner.repo", nil, 200, `^\{"value":3\}\n$`}})
	checkStatusesDocumented(t, ts.metrics)
}

// 10,000 hits from 1,000 client addresses, through a trusted proxy's header: today's unique
// visitors within HyperLogLog's error (1%) of 1,000, and no address anywhere in Redis.
func TestUniquesWithinOnePercent(t *testing.T) {
	ts := newCounterServer(t, counterOptions{trustedProxies: "127.0.0.1"})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	for w := range 32 {
		wg.Go(func() {
			for i := w; i < 10_000; i += 32 {
				req, _ := http.NewRequest("GET", ts.url+"/hit/site/uniques", nil)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.7", i%1000/250, i%250))
				req.Header.Set("User-Agent", "Mozilla/5.0 (test)")
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("hit: %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	resp, body := ts.do(t, "GET", "/stats/site/uniques?days=1")
	var st statsAnswer
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("stats: %d %q", resp.StatusCode, body)
	}
	t.Logf("10000 hits from 1000 addresses: %d uniques", st.Today.Uniques)
	if st.Today.Hits != 10_000 || st.Today.Uniques < 990 || st.Today.Uniques > 1010 || st.Value != 10_000 {
		t.Fatalf("today %+v (value %d), want 10000 hits and 1000±1%% uniques", st.Today, st.Value)
	}
	dump := dumpRedis(t, ts.redis.Addr())
	for _, addr := range []string{"10.0.", "10.1.", "10.2.", "10.3.", "Mozilla"} {
		if strings.Contains(dump, addr) {
			t.Fatalf("Redis holds %q", addr)
		}
	}
}

// A day boundary (injected clock) starts a new day's count and unique visitors; /stats says so.
func TestStatsAcrossMidnight(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 11, 26, 23, 59, 30, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	ts := newCounterServer(t, counterOptions{trustedProxies: "127.0.0.1", now: now})
	from := func(a string) []string { return []string{"X-Forwarded-For", a} }
	for _, a := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.1"} {
		ts.run(t, []call{{"GET", "/hit/site/page", from(a), 200, `value`}})
	}
	mu.Lock()
	clock = clock.Add(time.Minute)
	mu.Unlock()
	ts.run(t, []call{{"GET", "/hit/site/page", from("198.51.100.1"), 200, `^\{"value":4\}\n$`}})

	_, body := ts.do(t, "GET", "/stats/site/page?days=2")
	var st statsAnswer
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	want := []dayAnswer{{Date: "2026-11-26", Hits: 3, Uniques: 2}, {Date: "2026-11-27", Hits: 1, Uniques: 1}}
	if len(st.Days) != 2 || st.Days[0] != want[0] || st.Days[1] != want[1] || st.Today != want[1] || st.Value != 4 {
		t.Fatalf("stats across midnight: %s\nwant days %+v", body, want)
	}
	ts.run(t, []call{
		{"GET", "/stats/site/page?days=0", nil, 400, `days must be`},
		{"GET", "/stats/site/page?days=401", nil, 400, `days must be`},
		{"GET", "/stats/site/none", nil, 404, `not_found`},
	})
	checkStatusesDocumented(t, ts.metrics)
}

// The page: figures, a chart, snippets for the host asked for; no script anywhere.
func TestCounterPage(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	for range 3 {
		ts.do(t, "GET", "/hit/site/page")
	}
	req, _ := http.NewRequest("GET", ts.url+"/c/site/page", nil)
	req.Host = "hits.example:8000"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("page: %d %v", resp.StatusCode, resp.Header)
	}
	doc, err := html.Parse(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	var rects int
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Data == "script" {
				t.Fatalf("the page has a script element:\n%s", raw)
			}
			if n.Data == "rect" {
				rects++
			}
			for _, a := range n.Attr {
				if a.Key == "id" && n.FirstChild != nil {
					ids[a.Val] = n.FirstChild.Data
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if ids["total"] != "3" || ids["today"] != "3" || rects < 2 {
		t.Fatalf("page figures %v, %d bars", ids, rects)
	}
	if want := "[![hits](http://hits.example:8000/hit/site/page/shield)](http://hits.example:8000/c/site/page)"; ids["markdown"] != want {
		t.Fatalf("markdown snippet %q, want %q", ids["markdown"], want)
	}
	ts.run(t, []call{{"GET", "/c/site/none", nil, 404, `not found`}, {"GET", "/c/ab/page", nil, 400, `invalid`}})
	checkStatusesDocumented(t, ts.metrics)
}
