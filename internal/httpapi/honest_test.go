package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testClock is an injected clock that a test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

func (ts *testServer) stats(t *testing.T, path string) statsAnswer {
	t.Helper()
	resp, body := ts.do(t, "GET", "/stats/"+path)
	var st statsAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("GET /stats/%s: %d %q", path, resp.StatusCode, body)
	}
	return st
}

// Crawlers and link previewers count apart, on every hit route, and create no counter; their
// owner can count them after all.
func TestCrawlersCountApart(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	bot := []string{"User-Agent", googlebot}
	key := ts.adminKeyOf(t, "site/bots") // value 10
	ts.run(t, []call{
		{"GET", "/hit/site/bots", bot, 200, `^\{"value":10\}\n$`},
		{"GET", "/hit/site/bots/shield", bot, 200, `>10<`},
		{"GET", "/hit/site/bots", []string{"User-Agent", "Mozilla/5.0 Firefox/121.0"}, 200, `^\{"value":11\}\n$`},
		// A crawler's hit on a counter that does not exist makes none.
		{"GET", "/hit/site/crawled-only", bot, 404, `not found`},
		{"GET", "/get/site/crawled-only", nil, 404, `not found`},
	})
	st := ts.stats(t, "site/bots?days=1")
	if got, want := [3]int64{st.Value, st.Bots, st.Today.Bots}, [3]int64{11, 2, 2}; got != want {
		t.Errorf("value, bots, today's bots = %v, want %v", got, want)
	}
	if got := ts.info(t, "site/bots").Bots; got != 2 {
		t.Errorf("info bots = %d, want 2", got)
	}
	if got := testutil.ToFloat64(ts.metrics.uncounted); got != 2 { // not the one on crawled-only, which failed
		t.Errorf("uncounted hits metric = %v, want 2", got)
	}

	ts.run(t, []call{
		{"POST", "/settings/site/bots?count_bots=true", bearerHeader(key), 200, `"count_bots":true`},
		{"GET", "/hit/site/bots", bot, 200, `^\{"value":12\}\n$`},
	})
}

// The same visitor within the repeat window counts once; after it, again. Other visitors and
// hits without one count as usual, and the window is the counter's, not the process's.
func TestRepeatWindow(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	ts := newCounterServer(t, counterOptions{trustedProxies: "127.0.0.1", now: clock.now})
	key := ts.adminKeyOf(t, "site/window") // value 10
	from := func(a string) []string { return []string{"X-Forwarded-For", a} }
	ts.run(t, []call{
		{"POST", "/settings/site/window?repeat_window=30", bearerHeader(key), 200, `^\{"time_zone":"UTC","repeat_window":30,"count_bots":false\}\n$`},
		{"GET", "/hit/site/window", from("198.51.100.1"), 200, `^\{"value":11\}\n$`},
		{"GET", "/hit/site/window", from("198.51.100.1"), 200, `^\{"value":11\}\n$`},
		{"GET", "/hit/site/window", from("198.51.100.2"), 200, `^\{"value":12\}\n$`},
		{"GET", "/hit/site/window/shield", from("198.51.100.1"), 200, `>12<`},
	})
	clock.add(29 * time.Minute)
	ts.run(t, []call{{"GET", "/hit/site/window", from("198.51.100.1"), 200, `^\{"value":12\}\n$`}})
	clock.add(time.Minute + time.Second) // 30 min 1 s after the hit that counted
	ts.run(t, []call{
		{"GET", "/hit/site/window", from("198.51.100.1"), 200, `^\{"value":13\}\n$`},
		{"GET", "/hit/site/window", from("198.51.100.1"), 200, `^\{"value":13\}\n$`},
	})
	// Concurrent repeats of one visitor (batched together) still count once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { ts.do(t, "GET", "/hit/site/window", from("198.51.100.3")...) })
	}
	wg.Wait()
	if st := ts.stats(t, "site/window?days=1"); st.Value != 14 || st.Today.Hits != 4 {
		t.Errorf("value %d, today's hits %d; want 14 and 4", st.Value, st.Today.Hits)
	}
	// Turned off, every hit counts again.
	ts.run(t, []call{
		{"POST", "/settings/site/window?repeat_window=0", bearerHeader(key), 200, `"repeat_window":0`},
		{"GET", "/hit/site/window", from("198.51.100.1"), 200, `^\{"value":15\}\n$`},
		{"GET", "/hit/site/window", from("198.51.100.1"), 200, `^\{"value":16\}\n$`},
	})
}

// The owner's browser, with the mark the page gives for the admin key, does not count; a wrong
// or another counter's mark does nothing.
func TestDontCountMe(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	key := ts.adminKeyOf(t, "site/mine") // value 10
	other := ts.adminKeyOf(t, "site/other")

	form := func(body string) *http.Response {
		req, _ := http.NewRequest("POST", ts.url+"/c/site/mine/me", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := form("admin_key=" + other + "&exclude=1")
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Fatalf("the mark for another counter's key: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp := form(strings.Repeat("x", 2000)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an oversized form: %d, want 400", resp.StatusCode)
	}
	resp = form("admin_key=" + key + "&exclude=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/c/site/mine" {
		t.Fatalf("the page's form: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "hc_owner~site~mine" || !cookies[0].HttpOnly || cookies[0].Value == "" {
		t.Fatalf("cookies %+v", cookies)
	}
	mark := cookies[0].Name + "=" + cookies[0].Value
	ts.run(t, []call{
		{"GET", "/hit/site/mine", []string{"Cookie", mark}, 200, `^\{"value":10\}\n$`},
		{"GET", "/hit/site/mine/shield", []string{"Cookie", mark}, 200, `>10<`},
		{"GET", "/hit/site/mine", []string{"Cookie", cookies[0].Name + "=forged"}, 200, `^\{"value":11\}\n$`},
		{"GET", "/hit/site/other", []string{"Cookie", "hc_owner~site~other=" + cookies[0].Value}, 200, `^\{"value":11\}\n$`},
		{"GET", "/hit/site/mine", nil, 200, `^\{"value":12\}\n$`},
		// A JSONP hit is a script any site can read: the mark must not show there, so it counts.
		{"GET", "/hit/site/mine?callback=probe", []string{"Cookie", mark}, 200, `^/\*\*/probe\(\{"value":13\}\);`},
		{"GET", "/c/site/mine", []string{"Cookie", mark}, 200, `This browser is not counted`},
		{"GET", "/c/site/mine", nil, 200, `This browser is counted like any visitor`},
		// With the header instead of the form, and taken back.
		{"POST", "/c/site/mine/me?exclude=0", bearerHeader(key), 200, `count again`},
		{"POST", "/c/site/mine/me", nil, 401, `Authorization`},
	})
}

// A counter's days follow its time zone: midnight in UTC-10 and in UTC+14 both fall at 10:00
// UTC, on either side of the UTC date.
func TestTimeZoneDays(t *testing.T) {
	clock := &testClock{}
	ts := newCounterServer(t, counterOptions{now: clock.now})
	tests := []struct {
		zone              string
		before, after     string // the local dates of the hits at 09:59 and 10:01 UTC
		wantTodayAfterHit string
	}{
		{"Pacific/Honolulu", "2026-12-02", "2026-12-03", "2026-12-03"},
		{"Pacific/Kiritimati", "2026-12-03", "2026-12-04", "2026-12-04"},
		{"UTC", "2026-12-03", "2026-12-03", "2026-12-03"},
	}
	for i, tt := range tests {
		path := "zones/c" + string(rune('a'+i)) + "x"
		clock.set(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		key := ts.adminKeyOf(t, path)
		ts.run(t, []call{{"POST", "/settings/" + path + "?time_zone=" + tt.zone, bearerHeader(key), 200, `"time_zone":"` + tt.zone + `"`}})
		clock.set(time.Date(2026, 12, 3, 9, 59, 0, 0, time.UTC))
		ts.run(t, []call{{"GET", "/hit/" + path, nil, 200, `value`}})
		clock.set(time.Date(2026, 12, 3, 10, 1, 0, 0, time.UTC))
		ts.run(t, []call{{"GET", "/hit/" + path, nil, 200, `value`}})

		st := ts.stats(t, path+"?days=3")
		got := map[string]int64{}
		for _, d := range st.Days {
			if d.Hits > 0 {
				got[d.Date] += d.Hits
			}
		}
		want := map[string]int64{tt.before: 1}
		want[tt.after]++
		if len(got) != len(want) || got[tt.before] != want[tt.before] || got[tt.after] != want[tt.after] {
			t.Errorf("%s: hits by day %v, want %v", tt.zone, got, want)
		}
		if st.Today.Date != tt.wantTodayAfterHit || st.Settings.TimeZone != tt.zone {
			t.Errorf("%s: today is %s in %s, want %s", tt.zone, st.Today.Date, st.Settings.TimeZone, tt.wantTodayAfterHit)
		}
		if resp, body := ts.do(t, "GET", "/c/"+path); !strings.Contains(body, `<span id="time-zone">`+tt.zone+`</span>`) {
			t.Errorf("%s: the page (%d) does not name the zone", tt.zone, resp.StatusCode)
		}
	}
}

// Settings are the owner's, checked strictly.
func TestSettingsAreTheOwners(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	key := ts.adminKeyOf(t, "site/set")
	ts.run(t, []call{
		{"POST", "/settings/site/set?time_zone=Europe/Berlin", nil, 401, `Authorization`},
		{"POST", "/settings/site/set?time_zone=Europe/Berlin", bearerHeader("not-the-key"), 403, `admin key`},
		{"POST", "/settings/site/set?time_zone=Mars/Olympus", bearerHeader(key), 400, `time zone`},
		{"POST", "/settings/site/set?time_zone=../../etc/passwd", bearerHeader(key), 400, `time zone`},
		{"POST", "/settings/site/set?time_zone=Local", bearerHeader(key), 400, `time zone`},
		{"POST", "/settings/site/set?time_zone=" + strings.Repeat("A", 100), bearerHeader(key), 400, `time zone`},
		{"POST", "/settings/site/set?repeat_window=1441", bearerHeader(key), 400, `repeat_window`},
		{"POST", "/settings/site/set?repeat_window=-1", bearerHeader(key), 400, `repeat_window`},
		{"POST", "/settings/site/set?count_bots=maybe", bearerHeader(key), 400, `count_bots`},
		{"POST", "/settings/site/set?colour=red", bearerHeader(key), 400, `unknown query parameter`},
		{"POST", "/settings/site/set?repeat_window=5&repeat_window=6", bearerHeader(key), 400, `once`},
		{"POST", "/settings/site/missing?repeat_window=5", bearerHeader(key), 404, `not found`},
		{"POST", "/settings/site/set?time_zone=Asia/Tokyo&repeat_window=15", bearerHeader(key), 200,
			`^\{"time_zone":"Asia/Tokyo","repeat_window":15,"count_bots":false\}\n$`},
		{"POST", "/settings/site/set?count_bots=true", bearerHeader(testOperatorToken), 200,
			`^\{"time_zone":"Asia/Tokyo","repeat_window":15,"count_bots":true\}\n$`},
		{"GET", "/info/site/set", nil, 200, `"settings":\{"time_zone":"Asia/Tokyo","repeat_window":15,"count_bots":true\}`},
		{"POST", "/settings/site/set?time_zone=UTC&repeat_window=0&count_bots=false", bearerHeader(key), 200,
			`^\{"time_zone":"UTC","repeat_window":0,"count_bots":false\}\n$`},
	})
}

func (ts *testServer) info(t *testing.T, path string) infoAnswer {
	t.Helper()
	resp, body := ts.do(t, "GET", "/info/"+path)
	var info infoAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &info) != nil {
		t.Fatalf("GET /info/%s: %d %q", path, resp.StatusCode, body)
	}
	return info
}

// Changes of different settings at once all hold: each changes only its own, in one step.
func TestSettingsChangesDoNotLoseEachOther(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	key := ts.adminKeyOf(t, "site/both")
	var wg sync.WaitGroup
	for i := range 20 {
		change := "time_zone=Asia/Tokyo"
		if i%2 == 1 {
			change = "repeat_window=15"
		}
		wg.Go(func() {
			if resp, body := ts.post(t, "/settings/site/both?"+change, "", bearerHeader(key)...); resp.StatusCode != http.StatusOK {
				t.Errorf("POST /settings/site/both?%s: %d %q", change, resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	if got := ts.info(t, "site/both").Settings; got != (settingsAnswer{TimeZone: "Asia/Tokyo", RepeatWindow: 15}) {
		t.Errorf("settings after both changes: %+v", got)
	}
}
