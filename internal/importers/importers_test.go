package importers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func name(ns, key string) counter.Name { return counter.Name{Namespace: ns, Key: key} }

// summary is a record as the tests compare it: name, total, created, days (date=hits).
func summary(r Record) string {
	var days []string
	for _, d := range r.Days {
		days = append(days, fmt.Sprintf("%s=%d", d.Date.Format(time.DateOnly), d.Hits))
	}
	created := "-"
	if !r.Created.IsZero() {
		created = r.Created.Format(time.RFC3339)
	}
	return fmt.Sprintf("%s total=%d created=%s line=%d days=[%s]", r.Name, r.Total, created, r.Line, strings.Join(days, " "))
}

func parseFile(t *testing.T, format, file string, opt Options) (Parsed, error) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(format, f, opt)
}

// Each format's fixture, written from the format's documented shape, read into the records an
// import sends.
func TestFixtures(t *testing.T) {
	for _, tt := range []struct {
		format, file string
		opt          Options
		want         []string
		dropped      string
	}{
		{"hits.sh", "testdata/hitssh.json", Options{Name: name("github.com", "silentsoft.hits")}, []string{
			"github.com/silentsoft.hits total=61 created=2024-12-30T00:00:00Z line=1 days=[2024-12-30=2 2024-12-31=4 2026-01-01=32 2026-11-20=14 2026-12-02=9]",
		}, ""},
		{"seeyoufarm", "testdata/seeyoufarm.csv", Options{}, []string{
			"github.com/gjbae1212.hit-counter total=48213 created=- line=3 days=[2026-12-03=17]",
			"example.com/blog total=930 created=- line=4 days=[]",
			"github.com/h-0ac423a1006b72706e625346 total=12 created=- line=5 days=[]",
		}, ""},
		{"moe-counter", "testdata/moe-counter.json", Options{Namespace: "moe"}, []string{
			"moe/demo total=1234 created=- line=2 days=[]",
			"moe/my-blog total=56 created=- line=3 days=[]",
			"moe/h-37f6276fa87c768f552b56ba total=7 created=- line=4 days=[]",
		}, ""},
		{"moe-counter", "testdata/moe-counter.mongoexport.jsonl", Options{Namespace: "moe"}, []string{
			"moe/demo total=1234 created=- line=1 days=[]",
			"moe/my-blog total=56 created=- line=2 days=[]",
		}, ""},
		{"komarev", "testdata/komarev/octocat-views", Options{Name: name("ghpvc", "octocat")}, []string{
			"ghpvc/octocat total=4 created=2026-11-30T23:59:59Z line=1 days=[2026-11-30=1 2026-12-01=2 2026-12-02=1]",
		}, ""},
		{"komarev", "testdata/komarev/octocat-views-count", Options{Name: name("ghpvc", "octocat")}, []string{
			"ghpvc/octocat total=5 created=- line=1 days=[]",
		}, ""},
		{"goatcounter", "testdata/goatcounter.csv", Options{Site: "www.example.com"}, []string{
			"example.com/root total=2 created=2026-11-30T10:00:00Z line=2 days=[2026-11-30=2]",
			"example.com/blog.first total=2 created=2026-12-01T00:00:01Z line=4 days=[2026-12-01=1 2026-12-02=1]",
		}, "1 bot row and 1 event dropped"},
		{"hitcounter", "testdata/hitcounter.jsonl", Options{}, []string{
			"my-site/visits total=42 created=2026-11-26T07:00:00Z line=1 days=[]",
			"my-site/downloads total=7 created=2026-11-26T07:05:12Z line=3 days=[2026-11-30=3]",
		}, ""},
	} {
		t.Run(tt.format+" "+tt.file, func(t *testing.T) {
			tt.opt.Now = now
			p, err := parseFile(t, tt.format, tt.file, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range p.Records {
				got = append(got, summary(r))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if p.Dropped != tt.dropped {
				t.Errorf("dropped = %q, want %q", p.Dropped, tt.dropped)
			}
		})
	}
}

// A bad record is refused with its line, and the whole input with it.
func TestBadRecords(t *testing.T) {
	gcHeader := "2Path,Title,Event,UserAgent,Browser,System,Session,Bot,Referrer,Referrer scheme,Screen size,Location,FirstVisit,Date\n"
	gcRow := "/,Home,false,,,,s,0,,,,,true,"
	for _, tt := range []struct {
		format, input string
		opt           Options
		want          string
	}{
		{"hits.sh", "{\n\"total\": 3,\n\"items\": [{\"data\": [\n{\"day\": \"2026-12-01\", \"value\": 1},\n{\"day\": \"yesterday\", \"value\": 2}]}]}",
			Options{Name: name("a.com", "page")}, "line 5: hits.sh: a day needs"},
		{"hits.sh", "{\"total\": 1,\n\"items\": [{\"data\": [{\"day\": \"2026-12-01\", \"value\": 5}]}]}",
			Options{Name: name("a.com", "page")}, "line 1: a.com/page: its days add up to 5, more than its total 1"},
		{"hits.sh", "{\"total\": 9,\n\"items\": [{\"data\": [\n{\"day\": \"2026-12-05\", \"value\": 5}]}]}",
			Options{Name: name("a.com", "page")}, "line 1: day 2026-12-05 is in the future"},
		{"hits.sh", "{\"total\": 9223372036854775807,\n\"items\": [{\"data\": [\n" +
			"{\"day\": \"2026-11-30\", \"value\": 9223372036854775807},\n{\"day\": \"2026-12-01\", \"value\": 2}]}]}",
			Options{Name: name("a.com", "page")}, "line 1: a.com/page: its days add up to more than 9223372036854775807"},
		{"hits.sh", `{"total": 1}`, Options{}, "give the counter (--name NS/KEY or --page URL)"},
		{"hits.sh", "{\"total\": \"many\"}", Options{Name: name("a.com", "page")}, "line 1: hits.sh: total must be a whole number"},
		{"seeyoufarm", "url,total\nhttps://a.com/x,1\nhttps://a.com/y,lots\n", Options{}, "line 3: seeyoufarm: total \"lots\" is not a whole number"},
		{"seeyoufarm", "https://a.com/xyz,1\nhttp://a.com/xyz/,2\n", Options{}, "line 2: counter a.com/xyz is also on line 1"},
		{"seeyoufarm", "https://a.com/xyz,-5\n", Options{}, "line 1: a.com/xyz: a total of -5"},
		{"seeyoufarm", "https://a.com/xyz,5,9\n", Options{}, "line 1: a.com/xyz: its days add up to 9, more than its total 5"},
		{"seeyoufarm", "https://a.com/x\n", Options{}, "line 1: seeyoufarm: 1 fields"},
		{"seeyoufarm", "https://,1\n", Options{}, "line 1: url: not a page address"},
		{"moe-counter", "[\n{\"name\":\"ok-name\",\"num\":1},\n{\"name\":\"x\",\"num\":\"many\"}\n]",
			Options{Namespace: "moe"}, "line 3: moe-counter: num \"many\" is not a whole number"},
		{"moe-counter", "{\"name\":\"ok-name\",\"num\":1}\n{\"num\":1}\n",
			Options{Namespace: "moe"}, "line 2: moe-counter: a record needs \"name\" and \"num\""},
		{"moe-counter", "{\"name\":\"ok-name\",\"num\":1}\n", Options{Namespace: "x"}, "namespace \"x\" is invalid"},
		{"komarev", "2026-12-01T00:00:00.000+00:00\n12 May\n", Options{Name: name("ghpvc", "octocat")}, "line 2: komarev: \"12 May\" is neither"},
		{"goatcounter", gcHeader + gcRow + "2026-12-01T00:00:00Z\n" + gcRow + "last week\n", Options{Site: "a.com"}, "line 3: goatcounter: Date \"last week\""},
		{"goatcounter", gcHeader + gcRow + "2026-12-01T00:00:00Z\n/,short,row\n", Options{Site: "a.com"}, "line 3: goatcounter: wrong number of fields"},
		{"goatcounter", "3Path,Date\n/,2026-12-01T00:00:00Z\n", Options{Site: "a.com"}, "line 1: goatcounter: the header starts with \"3Path\""},
		{"goatcounter", gcHeader, Options{}, "--site"},
		{"hitcounter", "{\"namespace\":\"my-site\",\"key\":\"visits\",\"value\":1,\"created\":\"2026-11-26T07:00:00Z\"}\n" +
			"{\"namespace\":\"my-site\",\"key\":\"v\",\"value\":1,\"created\":\"2026-11-26T07:00:00Z\"}\n",
			Options{}, "line 2: key \"v\" is invalid"},
		{"hitcounter", "{\"namespace\":\"my-site\",\"key\":\"visits\",\"value\":1,\"created\":\"2026-11-26T07:00:00Z\",\"extra\":1}\n",
			Options{}, "line 1: not an export line"},
		{"hitcounter", "\n\n" + strings.Repeat("x", maxLine+1), Options{}, "line 3: a line is longer"},
		{"hitcounter", "", Options{}, "hitcounter: no lines"},
		{"nonsense", "", Options{}, "unknown format \"nonsense\""},
	} {
		tt.opt.Now = now
		_, err := Parse(tt.format, strings.NewReader(tt.input), tt.opt)
		if err == nil || !strings.Contains(counter.ErrorMessage(err)+err.Error(), tt.want) {
			t.Errorf("%s %.50q: error %v, want one with %q", tt.format, tt.input, err, tt.want)
		}
	}
}

// Everything an importer reads is bounded: a larger input is refused, never read in part.
func TestInputBound(t *testing.T) {
	for _, tt := range []struct{ format, row string }{
		{"moe-counter", " "}, {"hits.sh", " "},
		{"seeyoufarm", "https://a.com/page,1\n"},
		{"goatcounter", "/,Home,false,,,,s,0,,,,,true,2026-12-01T00:00:00Z\n"},
		{"komarev", "2026-12-01T00:00:00.000+00:00\n"},
		{"hitcounter", `{"namespace":"my-site","key":"visits","value":1,"created":"2026-11-26T07:00:00Z"}` + "\n"},
	} {
		input := strings.Repeat(tt.row, 2000/len(tt.row)+1)
		if tt.format == "goatcounter" {
			input = "2Path,Title,Event,UserAgent,Browser,System,Session,Bot,Referrer,Referrer scheme,Screen size,Location,FirstVisit,Date\n" + input
		}
		opt := Options{Namespace: "moe", Name: name("a.com", "page"), Site: "a.com", Now: now, MaxInput: 1000}
		if _, err := Parse(tt.format, strings.NewReader(input), opt); err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
			t.Errorf("%s: an input over the bound: %v", tt.format, err)
		}
		opt.MaxInput = len(input)
		if _, err := Parse(tt.format, strings.NewReader(input), opt); err != nil && strings.Contains(err.Error(), "larger than") {
			t.Errorf("%s: an input of exactly the bound: %v", tt.format, err)
		}
	}
}

// A storage directory of komarev's: per user the total of the count file and the days of the
// views file; a user name too short for a key is hashed.
func TestKomarevDir(t *testing.T) {
	p, err := KomarevDir(os.DirFS("testdata/komarev"), Options{Namespace: "ghpvc", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Records {
		got = append(got, summary(r)+" source="+r.Source)
	}
	want := []string{
		"ghpvc/h-fb8e20fc2e4c3f248c60c39b total=42 created=- line=1 days=[] source=ab",
		"ghpvc/octocat total=5 created=2026-11-30T23:59:59Z line=1 days=[2026-11-30=1 2026-12-01=2 2026-12-02=1] source=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	bad := fstest.MapFS{"zed-views": {Data: []byte("2026-12-01T00:00:00Z\nnot a time\n")}}
	if _, err := KomarevDir(bad, Options{Namespace: "ghpvc", Now: now}); err == nil || !strings.Contains(err.Error(), "zed-views: line 2") {
		t.Fatalf("a bad views file: %v, want its name and line", err)
	}
	if _, err := KomarevDir(fstest.MapFS{"notes.txt": {}}, Options{Namespace: "ghpvc", Now: now}); err == nil {
		t.Fatal("a directory without komarev's files was read as empty")
	}
}

// An Abacus/CountAPI instance, as a small server that answers like one: the values are read with
// bounded concurrency, and one counter that cannot be read fails the whole import with its line.
func TestAbacus(t *testing.T) {
	values := map[string]string{"/get/my-site/visits": `{"value":812}`, "/get/my-site/downloads": `{"value":3}`}
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		switch r.URL.Path {
		case "/get/slow-ns/slow-key":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		case "/get/err-ns/err-key":
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		case "/get/big-ns/big-key":
			fmt.Fprintf(w, `{"value":1,"pad":"%s"}`, strings.Repeat("x", 8<<10))
			return
		case "/get/neg-ns/neg-key":
			fmt.Fprint(w, `{"value":-3}`)
			return
		}
		v, ok := values[r.URL.Path]
		if !ok {
			http.Error(w, `{"error":"Key not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, v)
	}))
	defer srv.Close()
	list, err := os.ReadFile("testdata/abacus.txt")
	if err != nil {
		t.Fatal(err)
	}
	var progress atomic.Int64
	in := Instance{Base: srv.URL + "/", Concurrency: 2, Timeout: 2 * time.Second, Progress: func(done, total int) { progress.Store(int64(done*100 + total)) }}
	p, err := Abacus(context.Background(), list, in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Records {
		got = append(got, summary(r))
	}
	want := "my-site/visits total=812 created=- line=2 days=[]\nmy-site/downloads total=3 created=- line=3 days=[]"
	if strings.Join(got, "\n") != want {
		t.Errorf("records:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	if progress.Load() != 202 {
		t.Errorf("progress ended at %d, want 2 of 2 (202)", progress.Load())
	}

	many := strings.Repeat("my-site/visits\n", 1)
	for i := range 40 {
		many += fmt.Sprintf("many-ns/key-%02d\n", i)
		values[fmt.Sprintf("/get/many-ns/key-%02d", i)] = `{"value":1}`
	}
	most.Store(0)
	if _, err := Abacus(context.Background(), []byte(many), Instance{Base: srv.URL, Concurrency: 3, Timeout: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if m := most.Load(); m > 3 {
		t.Errorf("%d requests in flight at once, want at most 3", m)
	}

	for _, tt := range []struct {
		list string
		in   Instance
		want string
	}{
		{"my-site/visits\nmy-site/gone\n", in, "line 2: my-site/gone: not found at"},
		{"my-site/visits\n\nerr-ns/err-key\n", in, "line 3: err-ns/err-key: GET " + srv.URL + "/get/err-ns/err-key: 500"},
		{"slow-ns/slow-key\n", Instance{Base: srv.URL, Concurrency: 1, Timeout: 100 * time.Millisecond}, "line 1: slow-ns/slow-key: GET"},
		{"big-ns/big-key\n", in, "an answer over 4096 bytes"},
		{"neg-ns/neg-key\n", in, "line 1: neg-ns/neg-key: a total of -3"},
		{"my-site/visits\nx/y\n", in, "line 2: namespace \"x\" is invalid"},
		{"my-site/visits\nmy-site/visits\n", in, "line 2: counter my-site/visits is also on line 1"},
		{"my-site/visits\n", Instance{Base: "ftp://abacus", Concurrency: 1, Timeout: time.Second}, "--base-url must be an http or https URL"},
		{"my-site/visits\n", Instance{Base: srv.URL, Concurrency: 33, Timeout: time.Second}, "concurrency 33: want 1 to 32"},
		{"# nothing\n", in, "no namespace/key lines"},
	} {
		start := time.Now()
		_, err := Abacus(context.Background(), []byte(tt.list), tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Abacus(%q) error %v, want one with %q", tt.list, err, tt.want)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("Abacus(%q) took %v: the timeout did not bound it", tt.list, time.Since(start))
		}
		var le *LineError
		if strings.HasPrefix(tt.want, "line") && !errors.As(err, &le) {
			t.Errorf("Abacus(%q) error %T is not a LineError", tt.list, err)
		}
	}
}

// hitcounter's own export carries a counter's settings when they are not the defaults; the
// import sends them on, and a line without them sends none.
func TestOwnExportKeepsSettings(t *testing.T) {
	in := `{"namespace":"my-site","key":"visits","value":5,"created":"2026-11-26T07:00:00Z",` +
		`"settings":{"time_zone":"Asia/Tokyo","repeat_window":20,"count_bots":true}}` + "\n" +
		`{"namespace":"my-site","key":"other","value":1,"created":"2026-11-26T07:00:00Z"}` + "\n"
	p, err := Parse("hitcounter", strings.NewReader(in), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Records {
		line, err := Line(r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
	}
	if want := strings.TrimSpace(in); strings.Join(got, "\n") != want {
		t.Errorf("lines sent:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}
