package httpapi

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// An import line's history and keep (docs/import.md): the days are set, a second import changes
// nothing, keep leaves an existing counter's admin key, and a wrong day is refused with its line
// before anything of that line is written.
func TestImportDaysOverHTTP(t *testing.T) {
	ts := newCounterServer(t, counterOptions{})
	operator := bearerHeader(testOperatorToken)
	key := ts.adminKeyOf(t, "moved/owned")
	today := time.Now().UTC()
	date := func(daysAgo int) string { return today.AddDate(0, 0, -daysAgo).Format(time.DateOnly) }
	lines := fmt.Sprintf(`{"namespace":"moved","key":"page","value":40,"created":"2024-05-01T00:00:00Z","days":[{"date":%q,"hits":12},{"date":%q,"hits":28}]}
{"namespace":"moved","key":"owned","value":70,"keep":true,"days":[{"date":%q,"hits":5}]}
`, date(2), date(1), date(0))
	for _, want := range []string{
		`{"created":1,"updated":1,"unchanged":0,"days":3}`,
		`{"created":0,"updated":0,"unchanged":2,"days_unchanged":3}`,
	} {
		resp, body := ts.post(t, "/admin/import", lines, operator...)
		if resp.StatusCode != 200 || strings.TrimSpace(body) != want {
			t.Fatalf("import: %d %q, want %s", resp.StatusCode, body, want)
		}
	}
	ts.run(t, []call{
		{"GET", "/get/moved/page", nil, 200, `^\{"value":40\}\n$`},
		{"GET", "/get/moved/owned", nil, 200, `^\{"value":70\}\n$`},
		{"GET", "/stats/moved/owned", nil, 200, `"today":\{"date":"` + date(0) + `","hits":5,"uniques":0,"unidentified_hits":5[,}]`},
		{"POST", "/set/moved/owned?value=71", bearerHeader(key), 200, `^\{"value":71\}\n$`}, // keep kept the key
	})

	head := `{"namespace":"moved","key":"bad","value":1,"created":"2024-05-01T00:00:00Z",`
	for _, tt := range []struct{ line, want string }{
		{head + `"days":[{"date":"` + date(-2) + `","hits":1}]}`, `line 2: day ` + date(-2) + ` is in the future`},
		{head + `"days":[{"date":"May 1","hits":1}]}`, `line 2: days[0]: date must be YYYY-MM-DD`},
		{head + `"days":[{"date":"` + date(3) + `"}]}`, `line 2: days[0]: hits is missing`},
		{head + `"days":[{"date":"` + date(3) + `","hits":-4}]}`, `line 2: day ` + date(3) + `: hits must not be negative`},
		{head + `"days":[{"date":"` + date(3) + `","hits":1},{"date":"` + date(3) + `","hits":2}]}`, `appears twice`},
		{head + `"days":[` + strings.Repeat(`{"date":"2024-01-01","hits":1},`, 3660) + `{"date":"2024-01-01","hits":1}]}`, `3661 days: at most 3660`},
		{`{"namespace":"moved","key":"bad","value":1,"keep":true,"admin_key_sha256":"` + strings.Repeat("a", 64) + `"}`, `line 2: keep leaves the admin key`},
		{`{"namespace":"moved","key":"bad","value":1}`, `line 2: created must be`},
	} {
		resp, body := ts.post(t, "/admin/import", "\n"+tt.line+"\n", operator...)
		if resp.StatusCode != 400 || !strings.Contains(body, tt.want) {
			t.Errorf("import %.80q: %d %q, want 400 with %q", tt.line, resp.StatusCode, body, tt.want)
		}
	}
	ts.run(t, []call{{"GET", "/get/moved/bad", nil, 404, `not_found`}})
	checkStatusesDocumented(t, ts.metrics)
}
