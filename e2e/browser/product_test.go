package browser

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBadgesAndPageInBrowser is issue 10's browser test, end to end through the compose stack:
// a page embedding three counting badges counts each of them exactly once per load, in a real
// browser; a counter's page shows the right figures and chart on a desktop, a phone and in dark
// mode, with no console error or Content-Security-Policy violation, and counts nothing. It
// writes the screenshots to docs/screenshots/.
func TestBadgesAndPageInBrowser(t *testing.T) {
	requireDocker(t)
	b := Start(t)
	t.Logf("browser: %s", b.Version)
	began := time.Now()
	s := startStack(t, "RATE_LIMIT_HITS=0", "RATE_LIMIT_CREATES=0")
	t.Logf("stack ready at %s after %s", s.base, time.Since(began).Round(time.Millisecond))
	shots := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// The detector of console errors and CSP violations must see one: a local page whose
	// policy forbids its image.
	site := newBadgeSite(t)
	checkViolationsAreSeen(t, b, site.URL+"/csp-control")

	// --- 1. Three counting badges of three counters, on a page of another origin. ---
	const ns = "browser-e2e"
	repo := "https://github.com/hitcounter/hitcounter"
	badges := []struct {
		what    string
		counter string // ns/key, for GET /get and /stats
		src     string // what the page embeds
		height  int    // flat: 20 px, for-the-badge: 28 px
		keep    string // the same badge, read-only
		title   func(total, today int64) string
	}{
		{
			what: "shield, view=total", counter: ns + "/readme",
			src: "/hit/" + ns + "/readme/shield?view=total", height: 20,
			keep:  "/get/" + ns + "/readme/shield?view=total",
			title: func(total, today int64) string { return fmt.Sprintf("hits: %d", total) },
		},
		{
			what: "shield, for-the-badge, today-total", counter: ns + "/blog",
			src: "/hit/" + ns + "/blog/shield?style=for-the-badge&view=today-total&label=visits&color=orange", height: 28,
			keep:  "/get/" + ns + "/blog/shield?style=for-the-badge&view=today-total&label=visits&color=orange",
			title: func(total, today int64) string { return fmt.Sprintf("visits: %d / %d", today, total) },
		},
		{
			// seeyoufarmName: the host is the namespace, the path's segments joined by dots the key.
			what: "seeyoufarm", counter: "github.com/hitcounter.hitcounter",
			src: "/api/count/incr/badge.svg?url=" + url.QueryEscape(repo) + "&count_bg=%2379C83D&title_bg=%23555555&title=hits&edge_flat=false", height: 20,
			keep:  "/api/count/keep/badge.svg?url=" + url.QueryEscape(repo) + "&count_bg=%2379C83D&title_bg=%23555555&title=hits&edge_flat=false",
			title: func(total, today int64) string { return fmt.Sprintf("hits: %d / %d", today, total) },
		},
	}
	var srcs []string
	for _, bd := range badges {
		srcs = append(srcs, s.base+bd.src)
	}
	site.setBadges(srcs)

	start := make([]int64, len(badges))
	for i, bd := range badges {
		start[i] = s.value(bd.counter)
	}
	const loads = 3
	for n := 1; n <= loads; n++ {
		began := time.Now()
		p, err := b.Open(site.URL+"/", Desktop)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("badge page, load %d: opened and loaded in %s", n, time.Since(began).Round(time.Millisecond))
		if got := site.pageLoads(); got != n {
			t.Errorf("the badge page was served %d times after %d loads", got, n)
		}
		imgs, err := p.Images()
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != len(badges) {
			t.Fatalf("load %d: the page has %d images, want %d: %+v", n, len(imgs), len(badges), imgs)
		}
		for i, img := range imgs {
			if img.Src != srcs[i] || !img.Complete || img.NaturalWidth <= 0 || img.NaturalHeight != badges[i].height {
				t.Errorf("load %d, badge %q: %+v; want it loaded from %s, %d px high", n, badges[i].what, img, srcs[i], badges[i].height)
			}
		}
		for i, bd := range badges {
			if got, want := s.value(bd.counter), start[i]+int64(n); got != want {
				t.Errorf("after %d loads, counter %s (%s) = %d, want %d: each load counts exactly once", n, bd.counter, bd.what, got, want)
			}
		}
		if n == loads {
			path := filepath.Join(shots, "badges-page.png")
			if err := p.Screenshot(path); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot %s", path)
		}
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}
	// What the badges say now, read without counting.
	var firstDay string
	for i, bd := range badges {
		st := s.stats(bd.counter)
		if i == 0 {
			firstDay = st.Today.Date
		}
		if st.Value != start[i]+loads {
			t.Errorf("/stats/%s value = %d, want %d", bd.counter, st.Value, start[i]+loads)
		}
		got := s.badgeTitle(bd.keep)
		if want := bd.title(st.Value, st.Today.Hits); got != want {
			t.Errorf("read-only badge %s says %q, want %q", bd.keep, got, want)
		} else {
			t.Logf("%s: %s, read-only badge says %q", bd.what, bd.counter, got)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// --- 2. A little history: hits from several visitors (a visitor is address and user agent;
	// X-Forwarded-For is believed from the balancer only, so the user agents tell them apart). ---
	const visitors, hitsEach = 8, 3
	for v := range visitors {
		for range hitsEach {
			s.mustGet("/hit/"+badges[0].counter, fmt.Sprintf("hitcounter-browser-test visitor-%d", v+1))
		}
	}
	// The browser was one more visitor (its three loads, one user agent).
	wantUniques := int64(visitors + 1)

	// --- 3. The counter's page, on each screen. ---
	page := s.base + "/c/" + badges[0].counter
	before := s.stats(badges[0].counter)
	backgrounds := map[string]string{}
	for _, mode := range []Mode{Desktop, Phone, Dark} {
		seen := len(b.Events())
		began := time.Now()
		p, err := b.Open(page, mode)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s opened and loaded in %s", mode.Name, page, time.Since(began).Round(time.Millisecond))
		var got struct {
			Title, Total, Today, UniquesToday, Uniques30 string
			Bars, HitBars, UniqueBars                    int
			LastHitBar                                   string
			Markdown, HTML                               string
			ScrollWidth, InnerWidth                      int
			Background                                   string
			ClippedLabels                                []string
		}
		if err := p.Eval(`(() => {
			const text = sel => { const e = document.querySelector(sel); return e ? e.textContent.trim() : "(missing)"; };
			const hits = document.querySelectorAll("svg.chart rect.hits");
			return {
				title: document.title,
				total: text("#total"), today: text("#today"),
				uniquesToday: text("#uniques-today"), uniques30: text("#uniques-30"),
				bars: document.querySelectorAll("svg.chart rect").length,
				hitBars: hits.length,
				uniqueBars: document.querySelectorAll("svg.chart rect.uniques").length,
				lastHitBar: hits.length ? hits[hits.length - 1].textContent : "",
				markdown: text("code#markdown"), html: text("code#html"),
				scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
				background: getComputedStyle(document.body).backgroundColor,
				// Chart text that sticks out of the chart's viewBox, where the SVG cuts it off.
				clippedLabels: Array.from(document.querySelectorAll("svg.chart text")).filter(e => {
					const b = e.getBBox(), v = e.ownerSVGElement.viewBox.baseVal;
					return b.x < v.x || b.y < v.y || b.x + b.width > v.x + v.width || b.y + b.height > v.y + v.height;
				}).map(e => {
					const b = e.getBBox(), v = e.ownerSVGElement.viewBox.baseVal;
					return JSON.stringify(e.textContent) +
						" spans x " + b.x.toFixed(1) + " to " + (b.x + b.width).toFixed(1) +
						", y " + b.y.toFixed(1) + " to " + (b.y + b.height).toFixed(1) +
						" of a " + v.width + "x" + v.height + " viewBox";
				}),
			};
		})()`, &got); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %+v", mode.Name, got)
		st := before
		for _, f := range []struct {
			id, got string
			want    int64
		}{
			{"#total", got.Total, st.Value},
			{"#today", got.Today, st.Today.Hits},
			{"#uniques-today", got.UniquesToday, st.Today.Uniques},
			{"#uniques-30", got.Uniques30, st.Uniques},
		} {
			if f.got != fmt.Sprint(f.want) {
				t.Errorf("%s: %s shows %q, want %d (from /stats)", mode.Name, f.id, f.got, f.want)
			}
		}
		if got.Bars < 2 || got.HitBars < 1 || got.UniqueBars < 1 {
			t.Errorf("%s: the chart has %d bars (%d hits, %d uniques), want at least today's two", mode.Name, got.Bars, got.HitBars, got.UniqueBars)
		}
		if want := fmt.Sprintf("%s: %d hits", st.Today.Date, st.Today.Hits); got.LastHitBar != want {
			t.Errorf("%s: the chart's last hits bar says %q, want %q", mode.Name, got.LastHitBar, want)
		}
		if len(got.ClippedLabels) > 0 {
			t.Errorf("%s: the chart cuts off its labels: %s", mode.Name, strings.Join(got.ClippedLabels, "; "))
		}
		wantMD := fmt.Sprintf("[![hits](%[1]s/hit/%[2]s/shield)](%[1]s/c/%[2]s)", s.base, badges[0].counter)
		wantHTML := fmt.Sprintf(`<a href="%[1]s/c/%[2]s"><img src="%[1]s/hit/%[2]s/shield" alt="hits"></a>`, s.base, badges[0].counter)
		if got.Markdown != wantMD || got.HTML != wantHTML {
			t.Errorf("%s: snippets\n%s\n%s\nwant\n%s\n%s", mode.Name, got.Markdown, got.HTML, wantMD, wantHTML)
		}
		if got.ScrollWidth > got.InnerWidth {
			t.Errorf("%s: the page is %d px wide on a %d px screen: it scrolls sideways", mode.Name, got.ScrollWidth, got.InnerWidth)
		}
		if got.InnerWidth != mode.Width {
			t.Errorf("%s: innerWidth %d, want %d", mode.Name, got.InnerWidth, mode.Width)
		}
		backgrounds[mode.Name] = got.Background
		imgs, err := p.Images()
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != 1 || !imgs[0].Complete || imgs[0].NaturalWidth <= 0 {
			t.Errorf("%s: the page's badge did not load: %+v", mode.Name, imgs)
		}
		path := filepath.Join(shots, "counter-"+mode.Name+".png")
		if err := p.Screenshot(path); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: screenshot %s", mode.Name, path)
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		// The page has no script: anything it said (console, exception, blocked resource, CSP
		// violation) is a defect, the browser's own request for /favicon.ico included: the
		// product serves one, so that request must not fail either.
		if problems := b.Events()[seen:]; len(problems) > 0 {
			t.Errorf("%s: the page reported:\n%s", mode.Name, strings.Join(problems, "\n"))
		}
	}
	if backgrounds["desktop"] == backgrounds["dark"] {
		t.Errorf("dark mode does not change the background: %s in both", backgrounds["dark"])
	}
	after := s.stats(badges[0].counter)
	if after.Value != before.Value || after.Today.Hits != before.Today.Hits {
		t.Errorf("opening the page 3 times counted: value %d -> %d, today %d -> %d", before.Value, after.Value, before.Today.Hits, after.Today.Hits)
	}
	// The figures themselves: 3 browser loads and the visitors' hits, all today (unless the test
	// ran across midnight UTC, when the day's figures start again).
	want := start[0] + loads + visitors*hitsEach
	if after.Value != want {
		t.Errorf("%s: value %d, want %d", badges[0].counter, after.Value, want)
	}
	if after.Today.Date != firstDay {
		t.Logf("the day changed during the test (%s, then %s): today's figures not checked", firstDay, after.Today.Date)
	} else {
		if after.Today.Hits != want {
			t.Errorf("%s: %d hits today, want %d", badges[0].counter, after.Today.Hits, want)
		}
		// HyperLogLog is exact in practice at this size; one off would be a register collision.
		if d := after.Today.Uniques - wantUniques; d < -1 || d > 1 {
			t.Errorf("%s: %d unique visitors today, want %d (the browser and %d user agents)", badges[0].counter, after.Today.Uniques, wantUniques, visitors)
		}
	}

	// --- 4. Honest counts: crawlers apart, a time zone, the owner not counted. ---
	checkHonestCounts(t, b, s, shots)
	// --- 5. The owner's listing of a claimed namespace. ---
	checkOwnerListing(t, b, s, shots)
	t.Logf("whole test: %s", time.Since(began).Round(time.Millisecond))
}

// checkViolationsAreSeen opens a page whose Content-Security-Policy blocks its image and wants
// the browser's events to report it: otherwise "no CSP violation" below would prove nothing.
func checkViolationsAreSeen(t *testing.T, b *Browser, url string) {
	t.Helper()
	seen := len(b.Events())
	p, err := b.Open(url, Desktop)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ev := b.Events()[seen:]
	for _, e := range ev {
		if strings.Contains(e, "Content Security Policy") {
			return
		}
	}
	t.Fatalf("a page whose policy blocks its image reported no violation; events: %q", ev)
}

// badgeSite serves, on 127.0.0.1, the page that embeds the badges, and a control page whose
// policy blocks its image.
type badgeSite struct {
	URL    string
	mu     sync.Mutex
	badges []string
	loads  int
}

func (s *badgeSite) setBadges(srcs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.badges = srcs
}

func (s *badgeSite) pageLoads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads
}

func newBadgeSite(t *testing.T) *badgeSite {
	s := &badgeSite{}
	captions := []string{
		"A README badge: <code>/hit/{ns}/{key}/shield</code>, the total.",
		"Shields.io's look: <code>style=for-the-badge&amp;view=today-total</code>.",
		"An old hits.seeyoufarm.com badge with only the host changed: <code>/api/count/incr/badge.svg?url=…</code>",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			s.mu.Lock()
			s.loads++
			srcs := s.badges
			s.mu.Unlock()
			var rows strings.Builder
			for i, src := range srcs {
				fmt.Fprintf(&rows, "<li><img src=\"%s\" alt=\"badge %d\"><p>%s</p></li>\n", html.EscapeString(src), i+1, captions[i%len(captions)])
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = io.WriteString(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A page with three hit counter badges</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem; color: #1f2328; }
ul { list-style: none; padding: 0; }
li { margin: 0 0 1.5rem; }
li p { margin: .25rem 0 0; color: #59636e; font-size: .9rem; }
</style></head>
<body>
<h1>My project</h1>
<p>Three counting badges from the hit counter, each of its own counter. Every load of this page counts one hit on each.</p>
<ul>
`+rows.String()+`</ul>
</body></html>
`)
		case "/csp-control":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'none'")
			_, _ = io.WriteString(w, `<!doctype html><title>control</title><img src="/nothing.svg" alt="blocked">`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// --- The product's API, through the load balancer. ---

var apiClient = &http.Client{Timeout: 10 * time.Second}

// get sends GET path to the balancer with a user agent (the Go client's when empty).
func (s *composeStack) get(path, agent string) (int, []byte, error) {
	req, err := http.NewRequest("GET", s.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if agent != "" {
		req.Header.Set("User-Agent", agent)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (s *composeStack) mustGet(path, agent string) []byte {
	s.t.Helper()
	code, body, err := s.get(path, agent)
	if err != nil || code != http.StatusOK {
		s.t.Fatalf("GET %s = %d, %v: %.300s", path, code, err, body)
	}
	return body
}

// value reads a counter (GET /get/…): 0 when it does not exist yet.
func (s *composeStack) value(counter string) int64 {
	s.t.Helper()
	code, body, err := s.get("/get/"+counter, "")
	if err == nil && code == http.StatusNotFound {
		return 0
	}
	if err != nil || code != http.StatusOK {
		s.t.Fatalf("GET /get/%s = %d, %v: %.300s", counter, code, err, body)
	}
	var v struct {
		Value *int64 `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == nil {
		s.t.Fatalf("GET /get/%s: %q is not {\"value\":N}: %v", counter, body, err)
	}
	return *v.Value
}

type counterStats struct {
	Value int64 `json:"value"`
	Today struct {
		Date    string `json:"date"`
		Hits    int64  `json:"hits"`
		Uniques int64  `json:"uniques"`
	} `json:"today"`
	Uniques int64 `json:"uniques"`
	Days    []struct {
		Date string `json:"date"`
		Hits int64  `json:"hits"`
	} `json:"days"`
}

// stats reads the last 30 days of a counter (GET /stats/…?days=30), as its page shows them.
func (s *composeStack) stats(counter string) counterStats {
	s.t.Helper()
	body := s.mustGet("/stats/"+counter+"?days=30", "")
	var st counterStats
	if err := json.Unmarshal(body, &st); err != nil {
		s.t.Fatalf("GET /stats/%s: %v: %.300s", counter, err, body)
	}
	if len(st.Days) != 30 || st.Days[len(st.Days)-1].Date != st.Today.Date {
		s.t.Fatalf("GET /stats/%s?days=30: %d days, the last %+v, today %+v", counter, len(st.Days), st.Days[len(st.Days)-1:], st.Today)
	}
	return st
}

// badgeTitle fetches a badge, which must parse as SVG, and returns its <title>.
func (s *composeStack) badgeTitle(path string) string {
	s.t.Helper()
	body := s.mustGet(path, "")
	d := xml.NewDecoder(strings.NewReader(string(body)))
	var title strings.Builder
	inTitle, root := false, ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.t.Fatalf("GET %s: not XML: %v\n%.500s", path, err, body)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			inTitle = tok.Name.Local == "title"
		case xml.EndElement:
			inTitle = false
		case xml.CharData:
			if inTitle {
				title.Write(tok)
			}
		}
	}
	if root != "svg" {
		s.t.Fatalf("GET %s: the root element is %q, not svg", path, root)
	}
	return title.String()
}
