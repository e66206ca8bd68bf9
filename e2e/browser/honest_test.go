package browser

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// checkHonestCounts is the honest counts of issue #17 in a real browser, on the stack of
// TestBadgesAndPageInBrowser: a counter in UTC+14 with crawler hits shows both on its page, and
// the owner's "don't count me" form gives the browser a cookie that keeps its hits from counting.
// The page with them is docs/screenshots/counter-honest.png.
func checkHonestCounts(t *testing.T, b *Browser, s *composeStack, shots string) {
	const counter, zone = "browser-e2e/honest", "Pacific/Kiritimati"
	key := s.create(counter, 41)
	s.post("/settings/"+counter+"?time_zone="+zone, key)
	for v := range 3 {
		s.mustGet("/hit/"+counter, fmt.Sprintf("hitcounter-browser-test honest-visitor-%d", v+1))
	}
	for range 2 {
		s.mustGet("/hit/"+counter, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
	}
	if v := s.value(counter); v != 44 {
		t.Fatalf("%s = %d after 3 visitors and 2 crawler hits on 41, want 44", counter, v)
	}

	page := s.base + "/c/" + counter
	p, err := b.Open(page, Desktop)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	type shown struct{ Total, Bots, Zone, Owner string }
	read := func() (shown, error) {
		var got shown
		err := p.Eval(`(() => {
			const text = sel => { const e = document.querySelector(sel); return e ? e.textContent.trim() : "(missing)"; };
			return {total: text("#total"), bots: text("#bots"), zone: text("#time-zone"), owner: text("#owner-status")};
		})()`, &got)
		return got, err
	}
	got, err := read()
	if err != nil {
		t.Fatal(err)
	}
	if want := (shown{"44", "2", zone, "This browser is counted like any visitor."}); got != want {
		t.Errorf("the page shows %+v, want %+v", got, want)
	}

	// The owner enters the admin key and asks not to be counted: the form posts, the answer
	// sends the browser back to the page, now with the cookie.
	seen := len(b.Events())
	if err := p.Eval(`(() => {
		document.querySelector("input[name=admin_key]").value = `+jsString(key)+`;
		document.querySelector("form").requestSubmit(document.querySelector("button[value='1']"));
		return true;
	})()`, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for got.Owner != "This browser is not counted." {
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the form was sent the page still shows %+v", got)
		}
		// While the browser moves to the new page an evaluation may fail; the next one asks it.
		if now, err := read(); err == nil {
			got = now
		}
	}
	path := filepath.Join(shots, "counter-honest.png")
	if err := p.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s: %+v", path, got)

	// The browser's own hit, with the cookie, counts nothing; another client's does.
	if err := p.Navigate(s.base + "/hit/" + counter); err != nil {
		t.Fatal(err)
	}
	if v := s.value(counter); v != 44 {
		t.Errorf("the owner's browser hit %s and it counted: %d, want 44", counter, v)
	}
	s.mustGet("/hit/"+counter, "hitcounter-browser-test honest-visitor-1")
	if v := s.value(counter); v != 45 {
		t.Errorf("another client's hit: %s = %d, want 45", counter, v)
	}
	for _, e := range b.Events()[seen:] {
		t.Errorf("the browser reported: %s", e)
	}
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// create makes counter with value initial (POST /create) and returns its admin key.
func (s *composeStack) create(counter string, initial int) string {
	s.t.Helper()
	body := s.post(fmt.Sprintf("/create/%s?initializer=%d", counter, initial), "")
	var created struct {
		AdminKey string `json:"admin_key"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.AdminKey == "" {
		s.t.Fatalf("POST /create/%s: %v: %.300s", counter, err, body)
	}
	return created.AdminKey
}

// post sends POST path to the balancer, with key as the bearer token when given; the answer
// must be 2xx.
func (s *composeStack) post(path, key string) []byte {
	s.t.Helper()
	req, err := http.NewRequest("POST", s.base+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		s.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("POST %s = %d: %.300s", path, resp.StatusCode, body)
	}
	return body
}

// checkOwnerListing is the owner's listing of issue #17 in a real browser: a claimed namespace's
// counters, through the key's form, sorted by value. The page is
// docs/screenshots/namespace-listing.png.
func checkOwnerListing(t *testing.T, b *Browser, s *composeStack, shots string) {
	const ns = "browser-owned"
	var claimed struct {
		AdminKey string `json:"admin_key"`
	}
	if err := json.Unmarshal(s.post("/namespace/"+ns, ""), &claimed); err != nil || claimed.AdminKey == "" {
		t.Fatalf("claiming %s: %v", ns, err)
	}
	values := map[string]int{"home": 1200, "docs": 310, "blog": 87, "changelog": 12}
	for key, v := range values {
		s.post(fmt.Sprintf("/create/%s/%s?initializer=%d", ns, key, v), claimed.AdminKey)
	}
	p, err := b.Open(s.base+"/n/"+ns, Desktop)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	seen := len(b.Events())
	if err := p.Eval(`(() => {
		document.querySelector("input[name=admin_key]").value = `+jsString(claimed.AdminKey)+`;
		document.querySelector("form").requestSubmit();
		return true;
	})()`, nil); err != nil {
		t.Fatal(err)
	}
	type row struct{ Key, Value string }
	var rows []row
	read := func() error {
		return p.Eval(`Array.from(document.querySelectorAll("#listing tbody tr"))
			.map(tr => ({key: tr.cells[0].textContent, value: tr.cells[1].textContent}))`, &rows)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(rows) < len(values) {
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the key was sent the listing shows %v", rows)
		}
		_ = read() // fails while the browser moves to the answer
	}
	// Sorted by name first; then the page's own button sorts by value.
	if got := fmt.Sprint(rows); got != "[{blog 87} {changelog 12} {docs 310} {home 1200}]" {
		t.Errorf("by name the listing shows %s", got)
	}
	if err := p.Eval(`(() => { document.querySelector("form").requestSubmit(); return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	want := "[{home 1200} {docs 310} {blog 87} {changelog 12}]"
	for deadline = time.Now().Add(15 * time.Second); fmt.Sprint(rows) != want; {
		if time.Now().After(deadline) {
			t.Fatalf("15 s after sorting by value the listing shows %v, want %s", rows, want)
		}
		_ = read()
	}
	path := filepath.Join(shots, "namespace-listing.png")
	if err := p.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s: %v", path, rows)
	for _, e := range b.Events()[seen:] {
		t.Errorf("the browser reported: %s", e)
	}
}
