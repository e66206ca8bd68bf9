package httpapi

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/badge"
)

// svgLogos returns the fill and path data of each <path> of a badge: its logos.
func svgLogos(t *testing.T, body string) (fills, paths []string) {
	t.Helper()
	var doc struct {
		Paths []struct {
			Fill string `xml:"fill,attr"`
			D    string `xml:"d,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("badge is not XML: %v\n%s", err, body)
	}
	for _, p := range doc.Paths {
		fills, paths = append(fills, p.Fill), append(paths, p.D)
	}
	return fills, paths
}

// format=short and logo= on every badge route: the figures as the metric style cuts them, the
// logo drawn in the colour asked for; the hits.seeyoufarm.com routes take their own icon names.
func TestBadgeFormatAndLogo(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	ts.run(t, []call{{"POST", "/create/site/big?initializer=1234566", nil, 201, `admin_key`}})
	github, _ := badge.LookupLogo("github")

	tests := []struct {
		path      string
		title     string
		logoFills []string // nil: no logo
	}{
		{"/hit/site/big/shield?format=short", "hits: 1.2M", nil},
		{"/get/site/big/shield", "hits: 1234567", nil},
		{"/get/site/big/shield?format=full", "hits: 1234567", nil},
		{"/get/site/big/shield?format=", "hits: 1234567", nil},
		{"/get/site/big/shield?format=short&view=today-total", "hits: 1 / 1.2M", nil},
		{"/get/site/big/shield?format=short&view=today", "hits: 1", nil},
		{"/get/site/big/shield?logo=github", "hits: 1234567", []string{"#ffffff"}},
		{"/get/site/big/shield?logo=GitHub&logoColor=181717", "hits: 1234567", []string{"#181717"}},
		{"/get/site/big/shield?logo=github&labelColor=fff&label=", "1234567", []string{"#ffffff"}}, // the label's colour is unused without a label
		{"/get/site/big/shield?logo=github&logoColor=", "hits: 1234567", []string{"#ffffff"}},
		{"/get/site/big/shield?logo=&logoColor=red", "hits: 1234567", nil},
		{"/get/site/big/shield?logo=github&format=short&style=for-the-badge", "hits: 1.2M", []string{"#ffffff"}},
		{"/api/count/keep/badge.svg?url=site/big&format=short", "hits: 1 / 1.2M", nil},
	}
	ts.run(t, []call{{"POST", "/create/site.com/big?initializer=1234566", nil, 201, `admin_key`}})
	seeyoufarm := []struct {
		path      string
		title     string
		logoFills []string
	}{
		{"/api/count/incr/badge.svg?url=https%3A%2F%2Fsite.com%2Fbig&format=short&icon=github.svg&icon_color=%23E7E7E7", "hits: 1 / 1.2M", []string{"#e7e7e7"}},
		{"/api/count/keep/badge.svg?url=site.com/big&icon=github", "hits: 1 / 1234567", []string{"#ffffff"}},
		{"/api/count/keep/badge.svg?url=site.com/big&icon=rust.svg&icon_color=nonsense", "hits: 1 / 1234567", nil}, // a logo we lack: none, no error
		{"/api/count/keep/badge.svg?url=site.com/big&icon=&icon_color=%23E7E7E7", "hits: 1 / 1234567", nil},
		{"/api/count/keep/badge.svg?url=site.com/big&format=full", "hits: 1 / 1234567", nil},
	}
	for _, tt := range append(tests, seeyoufarm...) {
		resp, body := ts.badge(t, tt.path)
		if resp.StatusCode != 200 || svgText(t, body) != tt.title {
			t.Errorf("GET %s: %d %q, want 200 %q", tt.path, resp.StatusCode, svgText(t, body), tt.title)
			continue
		}
		fills, paths := svgLogos(t, body)
		if strings.Join(fills, ",") != strings.Join(tt.logoFills, ",") {
			t.Errorf("GET %s: logo fills %q, want %q", tt.path, fills, tt.logoFills)
		}
		for _, p := range paths {
			if p != github.Path {
				t.Errorf("GET %s: a logo that is not GitHub's: %.40q…", tt.path, p)
			}
		}
		if got, want := resp.Header.Get("Content-Security-Policy"), badgePolicy; got != want {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q", tt.path, got, want)
		}
	}
	checkStatusesDocumented(t, ts.metrics)
}

// A bad format, logo or logo colour is a 400 error badge, and a counting badge asked with one
// counts nothing; an unknown logo's badge says where the names are.
func TestBadgeFormatAndLogoErrors(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	const seeyoufarm = "/api/count/incr/badge.svg?url=https%3A%2F%2Fsite.com%2Ffresh"
	for _, tt := range []struct {
		query string
		text  string
	}{
		{"?format=long", "hits: bad request"},
		{"?format=SHORT", "hits: bad request"},
		{"?format=short%00", "hits: bad request"},
		{"?logo=nope", "hits: unknown logo, see /badges/logos"},
		{"?logo=rust", "hits: unknown logo, see /badges/logos"}, // not CC0: not shipped
		{"?logo=github.svg", "hits: unknown logo, see /badges/logos"},
		{"?logo=%3Cscript%3E", "hits: unknown logo, see /badges/logos"},
		{"?logo=%22%20onload%3D%22x", "hits: unknown logo, see /badges/logos"},
		{"?logo=" + strings.Repeat("g", 4000), "hits: unknown logo, see /badges/logos"},
		{"?logo=github&logoColor=url(%23x)", "hits: bad request"},
		{"?logoColor=nope", "hits: bad request"}, // wrong even without a logo
	} {
		for _, path := range []string{"/hit/site/fresh/shield" + tt.query, "/get/site/fresh/shield" + tt.query} {
			resp, body := ts.badge(t, path)
			if resp.StatusCode != 400 || svgText(t, body) != tt.text || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %.80s: %d %q, want 400 %q as an error badge", path, resp.StatusCode, svgText(t, body), tt.text)
			}
		}
	}
	for _, q := range []string{"&format=long", "&icon=github.svg&icon_color=nope"} {
		if resp, body := ts.badge(t, seeyoufarm+q); resp.StatusCode != 400 || svgText(t, body) != "hits: bad request" {
			t.Errorf("GET %s: %d %q, want 400 as an error badge", seeyoufarm+q, resp.StatusCode, svgText(t, body))
		}
	}
	ts.run(t, []call{
		{"GET", "/get/site/fresh", nil, 404, `not_found`}, // nothing was counted or created
		{"GET", "/get/site.com/fresh", nil, 404, `not_found`},
	})
	checkStatusesDocumented(t, ts.metrics)
}

// GET /badges/logos lists exactly the logos a badge takes, with where they come from.
func TestBadgeLogosList(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	resp, body := ts.do(t, "GET", "/badges/logos")
	var got struct {
		Source, License string
		Logos           []struct{ Name, Title, Hex string }
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("GET /badges/logos: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	set := badge.Logos()
	if got.Source != set.Source || got.License != "CC0-1.0" || len(got.Logos) != len(set.Logos) {
		t.Fatalf("source %q, licence %q, %d logos; want %q, CC0-1.0, %d", got.Source, got.License, len(got.Logos), set.Source, len(set.Logos))
	}
	for i, l := range got.Logos {
		if want := set.Logos[i]; l.Name != want.Name || l.Title != want.Title || l.Hex != want.Hex {
			t.Errorf("logo %d = %+v, want %s %s %s", i, l, want.Name, want.Title, want.Hex)
		}
	}
	if strings.Contains(body, `"path"`) || len(body) > 8000 {
		t.Errorf("the list carries the icons' paths or is %d bytes: it is a list of names", len(body))
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("Access-Control-Allow-Origin %q, want *", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	checkStatusesDocumented(t, ts.metrics)
}
