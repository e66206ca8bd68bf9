package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The importers in the Compose stack, as an operator runs them (docker compose exec, the file
// on stdin): a hits.sh answer and a seeyoufarm CSV are imported, twice (the second changing
// nothing), and then the old seeyoufarm badge URL shows the imported counts and the counter's
// page and /stats the imported days.
func TestImportIntoStack(t *testing.T) {
	s := newStack(t)
	s.up()

	today := time.Now().UTC()
	day := func(ago int) string { return today.AddDate(0, 0, -ago).Format(time.DateOnly) }
	hitssh := fmt.Sprintf(`{"total":1500,"monthly":60,"weekly":25,"items":[
  {"from":%[1]q,"to":%[3]q,"data":[
    {"value":11,"day":%[3]q},
    {"value":14,"day":%[2]q},
    {"value":35,"day":%[1]q}
  ]}
]}`, day(20), day(6), day(1))
	seeyoufarm := "url,total,today\nhttps://github.com/e2e-owner/old-repo,4321,7\nhttp://e2e.example.org/blog/,88\n"

	imports := []struct {
		name  string
		stdin string
		args  []string
		want  [2]string // the summary's counts, first and second time
	}{
		{"hits.sh", hitssh, []string{"--from", "hits.sh", "--page", "https://github.com/e2e-owner/e2e-repo", "-"},
			[2]string{
				"1 created, 0 updated, 0 unchanged; days: 3 set, 0 unchanged, 0 skipped",
				"0 created, 0 updated, 1 unchanged; days: 0 set, 3 unchanged, 0 skipped",
			}},
		{"seeyoufarm", seeyoufarm, []string{"--from", "seeyoufarm", "-"},
			[2]string{"2 created, 0 updated, 0 unchanged; days: 1 set", "0 created, 0 updated, 2 unchanged; days: 0 set, 1 unchanged"}},
	}
	for _, im := range imports {
		for i, want := range im.want {
			args := append([]string{"exec", "-T", "web", "/hitcounter", "import"}, im.args...)
			out, err := s.ComposeInput(2*time.Minute, []byte(im.stdin), args...)
			if err != nil || !strings.Contains(out, "imported: "+want) {
				t.Fatalf("import of the %s file (run %d): %v\n%s\nwant a summary with %q", im.name, i+1, err, out, want)
			}
		}
	}
	// A bad file applies nothing, and says which line.
	bad := "https://github.com/e2e-owner/never,5\nhttps://github.com/e2e-owner/bad,five\n"
	out, err := s.ComposeInput(time.Minute, []byte(bad), "exec", "-T", "web", "/hitcounter", "import", "--from", "seeyoufarm", "-")
	if err == nil || !strings.Contains(out, "line 2") || !strings.Contains(out, "nothing was imported") {
		t.Fatalf("import of a bad file: %v\n%s\nwant an error naming line 2", err, out)
	}
	s.mustCall(404, "GET", "/get/github.com/e2e-owner.never", nil, nil, nil)

	// The old badge URL, only its host changed: "today / total", as seeyoufarm drew it.
	a := s.call("GET", "/api/count/keep/badge.svg?url=https%3A%2F%2Fgithub.com%2Fe2e-owner%2Fold-repo", nil, nil)
	if a.err != nil || a.status != 200 || !strings.Contains(string(a.body), ">7 / 4321<") {
		t.Fatalf("the old seeyoufarm badge: %s, want an SVG showing 7 / 4321", a)
	}
	a = s.call("GET", "/api/count/keep/badge.svg?url=e2e.example.org/blog", nil, nil)
	if a.err != nil || a.status != 200 || !strings.Contains(string(a.body), ">0 / 88<") {
		t.Fatalf("the other seeyoufarm badge: %s, want an SVG showing 0 / 88", a)
	}

	// The history: /stats and the page's chart have the imported days.
	var st struct {
		Value int64
		Days  []counterDay
	}
	s.mustCall(200, "GET", "/stats/github.com/e2e-owner.e2e-repo?days=30", nil, nil, &st)
	got := map[string]int64{}
	for _, d := range st.Days {
		if d.Hits > 0 {
			got[d.Date] = d.Hits
		}
		if d.Hits != d.UnidentifiedHits {
			t.Errorf("day %s: %d hits, %d without a visitor; imported hits have none", d.Date, d.Hits, d.UnidentifiedHits)
		}
	}
	want := map[string]int64{day(1): 11, day(6): 14, day(20): 35}
	if st.Value != 1500 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("/stats = total %d, days %v; want 1500 and %v", st.Value, got, want)
	}
	a = s.call("GET", "/c/github.com/e2e-owner.e2e-repo", nil, nil)
	page := string(a.body)
	if a.err != nil || a.status != 200 || !regexp.MustCompile(`<dd id="total">1500</dd>`).MatchString(page) {
		t.Fatalf("the counter's page: %s, want the total 1500", a)
	}
	for date, n := range want {
		if !strings.Contains(page, fmt.Sprintf("<title>%s: %d hits</title>", date, n)) {
			t.Errorf("the page's chart has no bar of %d hits on %s", n, date)
		}
	}
}
