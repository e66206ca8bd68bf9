package importers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// exportLine is one line of hitcounter's own export, and of /admin/import (docs/api.md): the
// server's parser is the authority, and this one refuses the same lines, so that a bad line is
// found before anything is sent.
type exportLine struct {
	Namespace      string    `json:"namespace"`
	Key            string    `json:"key"`
	Value          *int64    `json:"value"`
	Created        string    `json:"created,omitempty"`
	AdminKeySHA256 string    `json:"admin_key_sha256,omitempty"`
	Days           []dayLine `json:"days,omitempty"`
	Keep           bool      `json:"keep,omitempty"`
}

type dayLine struct {
	Date string `json:"date"`
	Hits *int64 `json:"hits"`
}

// maxLine is the server's bound on one line (httpapi's maxImportLine).
const maxLine = 192 << 10

// Hitcounter reads hitcounter's export (hitcounter export, GET /admin/export): one counter a
// line, restored exactly as it is, admin key and created time included.
func Hitcounter(in io.Reader, opt Options) (Parsed, error) {
	var p Parsed
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		rec, err := parseLine(sc.Bytes())
		if err != nil {
			return Parsed{}, &LineError{Line: line, Err: err}
		}
		rec.Line = line
		p.Records = append(p.Records, rec)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Parsed{}, lineErr(line+1, "a line is longer than %d bytes", maxLine)
		}
		return Parsed{}, err
	}
	if len(p.Records) == 0 {
		return Parsed{}, counter.Errorf(counter.EINVALID, errEmpty, "hitcounter: no lines")
	}
	return p, nil
}

func parseLine(b []byte) (Record, error) {
	var l exportLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return Record{}, counter.Errorf(counter.EINVALID, err, "not an export line: %s", jsonProblem(err))
	}
	if dec.More() {
		return Record{}, counter.Errorf(counter.EINVALID, nil, "more than one JSON value on the line")
	}
	name, err := counter.ParseName(l.Namespace, l.Key)
	if err != nil {
		return Record{}, err
	}
	if l.Value == nil {
		return Record{}, counter.Errorf(counter.EINVALID, nil, "value is missing")
	}
	rec := Record{Name: name, Total: *l.Value, AdminKeyHash: l.AdminKeySHA256, Exact: !l.Keep}
	if l.Created != "" || !l.Keep {
		if rec.Created, err = time.Parse(time.RFC3339, l.Created); err != nil {
			return Record{}, counter.Errorf(counter.EINVALID, nil, "created must be an RFC 3339 time (example: 2026-11-26T07:00:00Z)")
		}
	}
	if l.AdminKeySHA256 != "" && (!isLowerHex64(l.AdminKeySHA256) || l.Keep) {
		return Record{}, counter.Errorf(counter.EINVALID, nil, "admin_key_sha256 must be 64 lowercase hex digits, and not given with keep")
	}
	if len(l.Days) > counter.MaxImportDays {
		return Record{}, counter.Errorf(counter.EINVALID, nil, "%d days: at most %d", len(l.Days), counter.MaxImportDays)
	}
	for i, d := range l.Days {
		date, err := time.Parse(time.DateOnly, d.Date)
		if err != nil {
			return Record{}, counter.Errorf(counter.EINVALID, nil, "days[%d]: date must be YYYY-MM-DD", i)
		}
		if d.Hits == nil {
			return Record{}, counter.Errorf(counter.EINVALID, nil, "days[%d]: hits is missing", i)
		}
		rec.Days = append(rec.Days, counter.DayCount{Date: date, Hits: *d.Hits})
	}
	return rec, nil
}

func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// Line is rec as an /admin/import line: exactly as read for hitcounter's own export; for every
// other format with keep, so that an existing counter keeps its created time and admin key.
func Line(rec Record) ([]byte, error) {
	value := rec.Total
	l := exportLine{Namespace: rec.Name.Namespace, Key: rec.Name.Key, Value: &value, Keep: !rec.Exact}
	if !rec.Created.IsZero() {
		l.Created = rec.Created.UTC().Format(time.RFC3339)
	}
	if rec.Exact {
		l.AdminKeySHA256 = rec.AdminKeyHash
	}
	for _, d := range rec.Days {
		hits := d.Hits
		l.Days = append(l.Days, dayLine{Date: d.Date.Format(time.DateOnly), Hits: &hits})
	}
	return json.Marshal(l)
}
