package httpapi

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The owner's listing as a page: the key's form, the table in either order with paging forms
// that carry the key, and the outsider's refusal as a page.
func TestNamespaceListingPage(t *testing.T) {
	ts := newNamespaceServer(t, counterOptions{})
	key := ts.claimKey(t, "owned.page")
	for i, name := range []string{"alpha", "bravo", "charlie"} {
		ts.run(t, []call{{"POST", "/create/owned.page/" + name + "?initializer=" + string(rune('3'-i)), bearerHeader(key), 201, `admin_key`}})
	}
	otherKey := ts.claimKey(t, "other.page")

	resp, body := ts.do(t, "GET", "/n/owned.page")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<form method="post" action="/n/owned.page">`) || strings.Contains(body, "alpha") {
		t.Fatalf("GET /n/owned.page: %d %q", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("policy %q", csp)
	}

	form := func(v url.Values) (*http.Response, string) {
		return ts.post(t, "/n/owned.page", v.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	}
	rows := regexp.MustCompile(`<tr><td><a href="/c/owned.page/(\w+)">\w+</a></td><td class="num">(\d+)</td>`)
	listed := func(body string) string {
		var got []string
		for _, m := range rows.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1]+"="+m[2])
		}
		return strings.Join(got, " ")
	}
	tests := []struct {
		form       url.Values
		wantStatus int
		want       string // the rows, or a piece of the error page
	}{
		{url.Values{"admin_key": {key}}, 200, "alpha=3 bravo=2 charlie=1"},
		{url.Values{"admin_key": {key}, "sort": {"value"}}, 200, "alpha=3 bravo=2 charlie=1"},
		{url.Values{"admin_key": {key}, "sort": {"name"}, "offset": {"1"}}, 200, "bravo=2 charlie=1"},
		{url.Values{"admin_key": {testOperatorToken}}, 200, "alpha=3 bravo=2 charlie=1"},
		{url.Values{"admin_key": {otherKey}}, 403, "namespace"},
		{url.Values{"admin_key": {"guess"}}, 403, "namespace"},
		{url.Values{}, 401, "enter the namespace"},
		{url.Values{"admin_key": {key}, "sort": {"size"}}, 400, "sort must be"},
		{url.Values{"admin_key": {key}, "offset": {"-"}}, 400, "offset"},
		{url.Values{"admin_key": {strings.Repeat("k", 2000)}}, 400, "form"},
	}
	for _, tt := range tests {
		resp, body := form(tt.form)
		got := body
		if tt.wantStatus == 200 {
			got = listed(body)
		}
		if resp.StatusCode != tt.wantStatus || (tt.wantStatus == 200 && got != tt.want) || (tt.wantStatus != 200 && !strings.Contains(got, tt.want)) {
			t.Errorf("POST /n/owned.page %v: %d %q, want %d %q", tt.form, resp.StatusCode, got, tt.wantStatus, tt.want)
		}
		if tt.wantStatus == 200 && resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("the listing may be stored: Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
	}
	// Paging: the page's own form asks for the next page with the key.
	_, body = form(url.Values{"admin_key": {key}, "sort": {"value"}})
	if !strings.Contains(body, `<input type="hidden" name="admin_key" value="`+key+`">`) || !strings.Contains(body, `3 counters, by value.`) {
		t.Errorf("the listing's forms do not carry the key or the summary is wrong: %q", body)
	}
}
