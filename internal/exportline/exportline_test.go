package exportline

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// What an export writes reads back as the same counter, settings and days included, and an
// import line of a record writes what it read.
func TestRoundTrip(t *testing.T) {
	name := counter.Name{Namespace: "my-site", Key: "visits"}
	info := counter.Info{
		Name: name, Value: 42, Created: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC),
		AdminKeyHash: strings.Repeat("ab", 32),
		Settings:     counter.Settings{TimeZone: "Europe/Berlin", RepeatWindow: 30 * time.Minute},
	}
	b, _ := json.Marshal(Of(info))
	want := `{"namespace":"my-site","key":"visits","value":42,"created":"2026-11-26T07:00:00Z","admin_key_sha256":"` + info.AdminKeyHash + `",` +
		`"settings":{"time_zone":"Europe/Berlin","repeat_window":30,"count_bots":false}}`
	if got := string(b); got != want {
		t.Errorf("export line\n%s\nwant\n%s", got, want)
	}
	rec, err := Parse(b, now)
	if err != nil || rec.Info != info || !rec.HasSettings || rec.Keep {
		t.Fatalf("read back: %+v, %v", rec, err)
	}
	// A counter with the default settings writes none, and a line without them changes none.
	info.Settings = counter.Settings{}
	b, _ = json.Marshal(Of(info))
	if strings.Contains(string(b), "settings") {
		t.Errorf("default settings written: %s", b)
	}
	if rec, err := Parse(b, now); err != nil || rec.HasSettings {
		t.Errorf("a line without settings: %+v, %v", rec, err)
	}

	rec = counter.Record{
		Info: counter.Info{Name: name, Value: 7}, Keep: true,
		Days: []counter.DayCount{{Date: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Hits: 3}},
	}
	b, _ = json.Marshal(OfRecord(rec))
	if got, want := string(b), `{"namespace":"my-site","key":"visits","value":7,"days":[{"date":"2026-12-01","hits":3}],"keep":true}`; got != want {
		t.Errorf("import line\n%s\nwant\n%s", got, want)
	}
	back, err := Parse(b, now)
	if err != nil || back.Value != 7 || !back.Keep || len(back.Days) != 1 || back.Days[0] != rec.Days[0] {
		t.Errorf("import line read back: %+v, %v", back, err)
	}
}

// A line is read strictly, and what is wrong is said.
func TestRefused(t *testing.T) {
	const ok = `"namespace":"my-site","key":"visits","value":1,"created":"2026-11-26T07:00:00Z"`
	tests := []struct{ line, want string }{
		{`{"namespace":"my-site","key":"visits","created":"2026-11-26T07:00:00Z"}`, "value is missing"},
		{`{` + ok + `,"extra":1}`, "not an export line"},
		{`{` + ok + `} {}`, "more than one JSON value"},
		{`{"namespace":"x","key":"visits","value":1,"created":"2026-11-26T07:00:00Z"}`, "namespace"},
		{`{"namespace":"my-site","key":"visits","value":"7","created":"2026-11-26T07:00:00Z"}`, `field "value" must be a int64`},
		{`{"namespace":"my-site","key":"visits","value":1,"created":"yesterday"}`, "created must be"},
		{`{` + ok + `,"admin_key_sha256":"XYZ"}`, "admin_key_sha256"},
		{`{"namespace":"my-site","key":"visits","value":1,"keep":true,"admin_key_sha256":"` + strings.Repeat("a", 64) + `"}`, "keep leaves the admin key"},
		{`{` + ok + `,"settings":{"time_zone":"Mars/Base","repeat_window":0,"count_bots":false}}`, "time_zone"},
		{`{` + ok + `,"settings":{"time_zone":"UTC","repeat_window":-1,"count_bots":false}}`, "settings.repeat_window"},
		{`{` + ok + `,"days":[{"date":"2026-12-40","hits":1}]}`, "days[0]: date"},
		{`{` + ok + `,"days":[{"date":"2026-12-01"}]}`, "days[0]: hits is missing"},
		{`{` + ok + `,"days":[{"date":"2027-01-01","hits":1}]}`, "in the future"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.line), now)
		if err == nil || counter.ErrorCode(err) != counter.EINVALID || !strings.Contains(counter.ErrorMessage(err), tt.want) {
			t.Errorf("Parse(%.70s) = %v, want an invalid-line error with %q", tt.line, err, tt.want)
		}
	}
}
