package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
		return out.String(), errors.Join(fmt.Errorf("wrote to stderr (not a terminal): %q", errOut.String()), err)
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

// A dry run reads and checks everything and sends nothing; a bad record stops the import with
// its line before anything is sent, so the good records before it are not applied either.
func TestImportDryRunAndBadRecord(t *testing.T) {
	im := startForImport(t)
	csv := "url,total,today\nhttps://github.com/a/first-repo,120,4\nhttps://github.com/a/second-repo,80\n"
	out, err := im.run(csv, "--from", "seeyoufarm", "--dry-run", "-")
	today := time.Now().UTC().Format(time.DateOnly)
	wantOut := "github.com/a.first-repo total=120 days=1 (" + today + " to " + today + ") from \"https://github.com/a/first-repo\"\n" +
		"github.com/a.second-repo total=80 from \"https://github.com/a/second-repo\"\n" +
		"dry run: 2 counters, 1 days of history; nothing was sent\n"
	if err != nil || out != wantOut {
		t.Fatalf("dry run = %q, %v; want %q", out, err, wantOut)
	}
	if status, _, _ := get(t, im.in.base+"/get/github.com/a.first-repo"); status != 404 {
		t.Fatalf("after a dry run the counter answers %d, want 404 (nothing sent)", status)
	}

	bad := csv + "https://github.com/a/third-repo,many\n"
	out, err = im.run(bad, "--from", "seeyoufarm", "-")
	if err == nil || out != "" ||
		!strings.Contains(err.Error(), "line 4: seeyoufarm: total \"many\"") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("import with a bad line 4 = %q, %v; want an error naming line 4 and nothing imported", out, err)
	}
	if status, _, _ := get(t, im.in.base+"/get/github.com/a.first-repo"); status != 404 {
		t.Fatalf("a refused import applied line 2: %d", status)
	}
}

// A URL source: downloaded within its timeout and size bound; hits.sh's answer URL names the
// counter.
func TestImportFromURL(t *testing.T) {
	im := startForImport(t)
	page := fmt.Sprintf(`{"total":12,"items":[{"data":[{"day":%q,"value":5}]}]}`, time.Now().UTC().Format(time.DateOnly))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/urns/github.com/owner/some-repo":
			fmt.Fprint(w, page)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	out, err := im.run("", "--from", "hits.sh", srv.URL+"/api/urns/github.com/owner/some-repo")
	if err != nil || !strings.Contains(out, "1 created, 0 updated, 0 unchanged; days: 1 set") {
		t.Fatalf("import of a hits.sh URL = %q, %v", out, err)
	}
	if status, body, _ := get(t, im.in.base+"/get/github.com/owner.some-repo"); status != 200 || strings.TrimSpace(body) != `{"value":12}` {
		t.Fatalf("the counter named by the URL: %d %q", status, body)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "hits.sh", "--name", "a-site/a-page", srv.URL + "/missing"}, "404 Not Found"},
		{[]string{"--from", "hits.sh", "--name", "a-site/a-page", "--timeout", "200ms", srv.URL + "/slow"}, "context deadline exceeded"},
	} {
		start := time.Now()
		if _, err := im.run("", tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("import %v: %v, want an error with %q", tt.args, err, tt.want)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("import %v took %v", tt.args, time.Since(start))
		}
	}
}

// A wrong command line is a usage error (exit status 2) with what to do.
func TestImportUsage(t *testing.T) {
	im := importer{in: &instance{port: 1}, token: "/nonexistent"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--dry-run", "file"}, "need --from FORMAT"},
		{[]string{"--from", "abacus", "list.txt"}, "--base-url is required"},
		{[]string{"--from", "seeyoufarm", "a", "b"}, "one source at most"},
		{[]string{"--from", "seeyoufarm", "--timeout", "-1s", "a"}, "--timeout"},
		{[]string{"--from", "hits.sh", "--name", "x/y", "a"}, "--name: namespace \"x\" is invalid"},
		{[]string{"--from", "seeyoufarm", "/nonexistent/file.csv"}, "no such file"},
		{[]string{"--bogus"}, "flag provided but not defined"},
		{[]string{"--from", "nonsense", "-"}, `unknown format "nonsense"`},
	} {
		_, err := im.run("", tt.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("import %v: %v (exit %d), want a usage error with %q", tt.args, err, exitCode(err), tt.want)
		}
	}
}

// The progress bar redraws in place, at most every progressEvery, and ends its line.
func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	bar := newBar(&out, "sending", 4, func() time.Time { return clock })
	bar.add(1)
	bar.add(1) // within progressEvery: not drawn
	clock = clock.Add(progressEvery)
	bar.add(1)
	bar.add(1) // the last: drawn however soon
	bar.done()
	want := "\rsending [#######.......................]  25% 1/4" +
		"\rsending [######################........]  75% 3/4" +
		"\rsending [##############################] 100% 4/4" +
		"\rsending [##############################] 100% 4/4\n"
	if out.String() != want {
		t.Errorf("bar drew %q, want %q", out.String(), want)
	}
	var nilBar *progress // stderr not a terminal
	nilBar.add(1)
	nilBar.set(1, 2)
	nilBar.done()
	if newProgress(&out, "x", 1) != nil {
		t.Error("a bar on a buffer, which is not a terminal")
	}
}
