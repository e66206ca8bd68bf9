package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/redistest"
)

// fixtureDay is the "today" the importers' fixtures were written for.
var fixtureDay = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)

// shifted is an importers fixture with every date moved by as many days as today is after
// fixtureDay, so that against the real clock its days are neither in the future nor older than
// the history, whenever the test runs.
func shifted(t *testing.T, fixture string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../internal/importers/testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	days := int(time.Now().UTC().Truncate(24*time.Hour).Sub(fixtureDay) / (24 * time.Hour))
	out := regexp.MustCompile(`\d{4}-\d{2}-\d{2}`).ReplaceAllStringFunc(string(b), func(s string) string {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return s
		}
		return d.AddDate(0, 0, days).Format(time.DateOnly)
	})
	path := filepath.Join(t.TempDir(), filepath.Base(fixture))
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// importer runs the import subcommand beside a running server, as docker compose exec does.
type importer struct {
	in    *instance
	token string
}

func (im importer) run(stdin string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	env := envFunc(map[string]string{"OPERATOR_PORT": strconv.Itoa(im.in.port), "OPERATOR_TOKEN_FILE": im.token})
	err := run(context.Background(), append([]string{"hitcounter", "import"}, args...), env, strings.NewReader(stdin), &out, &errOut)
	if errOut.Len() > 0 {
		return out.String(), fmt.Errorf("wrote to stderr (not a terminal): %q; %v", errOut.String(), err)
	}
	return out.String(), err
}

func startForImport(t *testing.T) importer {
	t.Helper()
	token := filepath.Join(t.TempDir(), "operator_token")
	if err := os.WriteFile(token, []byte("an-operator-token-for-tests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return importer{in: start(t, redisEnv(redistest.Start(t), "OPERATOR_TOKEN_FILE", token, "HISTORY_DAYS", "400")), token: token}
}

// Every format through the real program and a real Redis: imported, then imported again with
// nothing changed; the counters and their days as the fixtures say.
func TestImportFromEachFormat(t *testing.T) {
	im := startForImport(t)
	abacus := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := map[string]string{"/get/my-site/visits": `{"value":812}`, "/get/my-site/downloads": `{"value":3}`}[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, v)
	}))
	defer abacus.Close()
	komarevDir := filepath.Dir(shifted(t, "komarev/octocat-views"))
	if err := os.WriteFile(filepath.Join(komarevDir, "octocat-views-count"), []byte("5"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args        []string
		first, same string // the summaries of the first import and of the second
	}{
		{[]string{"--from", "hits.sh", "--page", "https://github.com/silentsoft/hits", shifted(t, "hitssh.json")},
			"1 created, 0 updated, 0 unchanged; days: 3 set, 0 unchanged, 2 skipped", "0 created, 0 updated, 1 unchanged; days: 0 set, 3 unchanged, 2 skipped"},
		{[]string{"--from", "seeyoufarm", shifted(t, "seeyoufarm.csv")},
			"3 created, 0 updated, 0 unchanged; days: 1 set, 0 unchanged, 0 skipped", "0 created, 0 updated, 3 unchanged; days: 0 set, 1 unchanged, 0 skipped"},
		{[]string{"--from", "moe-counter", shifted(t, "moe-counter.json")},
			"3 created, 0 updated, 0 unchanged; days: 0 set", "0 created, 0 updated, 3 unchanged; days: 0 set"},
		{[]string{"--from", "moe-counter", shifted(t, "moe-counter.mongoexport.jsonl")}, // the same counts again
			"0 created, 0 updated, 2 unchanged", "0 created, 0 updated, 2 unchanged"},
		{[]string{"--from", "komarev", komarevDir},
			"1 created, 0 updated, 0 unchanged; days: 3 set", "0 created, 0 updated, 1 unchanged; days: 0 set, 3 unchanged"},
		{[]string{"--from", "goatcounter", "--site", "example.com", shifted(t, "goatcounter.csv")},
			"2 created, 0 updated, 0 unchanged; days: 3 set, 0 unchanged, 0 skipped; 1 bot row and 1 event dropped",
			"0 created, 0 updated, 2 unchanged; days: 0 set, 3 unchanged"},
		{[]string{"--from", "hitcounter", shifted(t, "hitcounter.jsonl")},
			"2 created, 0 updated, 0 unchanged; days: 1 set", "0 created, 0 updated, 2 unchanged; days: 0 set, 1 unchanged"},
		{[]string{"--from", "abacus", "--base-url", abacus.URL, shifted(t, "abacus.txt")},
			"0 created, 2 updated, 0 unchanged", "0 created, 0 updated, 2 unchanged"},
	} {
		for i, want := range []string{tt.first, tt.same} {
			out, err := im.run("", tt.args...)
			if err != nil || !strings.HasPrefix(out, "imported: ") || !strings.Contains(out, want) {
				t.Fatalf("import %v (run %d) = %q, %v; want a summary with %q", tt.args, i+1, out, err, want)
			}
		}
	}

	base := im.in.base
	for _, tt := range []struct{ path, want string }{
		{"/get/github.com/silentsoft.hits", `{"value":61}`},
		{"/get/github.com/gjbae1212.hit-counter", `{"value":48213}`},
		{"/get/moe/demo", `{"value":1234}`},
		{"/get/ghpvc/octocat", `{"value":5}`},
		{"/get/example.com/blog.first", `{"value":2}`},
		{"/get/my-site/visits", `{"value":812}`}, // abacus, after the export's 42
	} {
		if status, body, _ := get(t, base+tt.path); status != 200 || strings.TrimSpace(body) != tt.want {
			t.Errorf("GET %s = %d %q, want %s", tt.path, status, body, tt.want)
		}
	}
	// The history: hits.sh's days, all of them hits without a visitor.
	status, body, _ := get(t, base+"/stats/github.com/silentsoft.hits?days=30")
	var st struct {
		Days []struct {
			Date             string
			Hits             int64
			UnidentifiedHits int64 `json:"unidentified_hits"`
		}
	}
	if status != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("GET /stats: %d %q", status, body)
	}
	got := map[string]int64{}
	for _, d := range st.Days {
		if d.Hits != d.UnidentifiedHits {
			t.Errorf("day %s: %d hits, %d without a visitor; want all without", d.Date, d.Hits, d.UnidentifiedHits)
		}
		if d.Hits > 0 {
			got[d.Date] = d.Hits
		}
	}
	today := time.Now().UTC()
	want := map[string]int64{today.AddDate(0, 0, -1).Format(time.DateOnly): 9, today.AddDate(0, 0, -13).Format(time.DateOnly): 14}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hits.sh's days in /stats = %v, want %v", got, want)
	}
}
