package importers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Any input, in any format: no panic, and whatever is accepted is importable: valid names, no
// negative total, days the server takes, and lines the server's format reads back the same.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, file := range append(files, "testdata/komarev/octocat-views") {
		if b, err := os.ReadFile(file); err == nil {
			for i := range Formats {
				f.Add(uint8(i), string(b))
			}
		}
	}
	f.Add(uint8(2), "url,total\n\"unterminated,1\n")
	f.Add(uint8(1), `{"total":1,"items":[{"data":[{"day":"2026-12-01","value":1}]}`)
	f.Fuzz(func(t *testing.T, which uint8, input string) {
		format := Formats[int(which)%len(Formats)]
		if format == "abacus" {
			format = "komarev" // abacus reads an instance, not its input (TestAbacus)
		}
		opt := Options{Now: now, Namespace: "fuzz-ns", Name: name("fuzz-ns", "fuzz-key"), Site: "example.com", MaxInput: 1 << 20}
		p, err := Parse(format, strings.NewReader(input), opt)
		if err != nil {
			if counter.ErrorMessage(err) == "" {
				t.Fatalf("%s: an error without a message: %v", format, err)
			}
			return
		}
		for _, r := range p.Records {
			if _, err := counter.ParseName(r.Name.Namespace, r.Name.Key); err != nil || r.Total < 0 && !r.Exact {
				t.Fatalf("%s: accepted %+v", format, r)
			}
			if err := counter.CheckDays(r.Days, now); err != nil {
				t.Fatalf("%s: accepted days the server refuses: %v", format, err)
			}
			line, err := Line(r)
			if err != nil || len(line) > maxLine {
				t.Fatalf("%s: line %q, %v", format, line, err)
			}
			back, err := parseLine(line, now)
			if err != nil || back.Name != r.Name || back.Total != r.Total || len(back.Days) != len(r.Days) {
				t.Fatalf("%s: line %s reads back as %+v, %v", format, line, back, err)
			}
		}
	})
}
