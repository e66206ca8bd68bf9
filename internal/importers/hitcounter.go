package importers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/exportline"
)

// maxLine is the server's bound on one line.
const maxLine = exportline.MaxLine

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
		rec, err := parseLine(sc.Bytes(), opt.Now)
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

// parseLine reads a line as the server will (exportline.Parse), so that a line it would refuse
// is refused here, before anything is sent.
func parseLine(b []byte, now time.Time) (Record, error) {
	rec, err := exportline.Parse(b, now)
	if err != nil {
		return Record{}, err
	}
	r := Record{
		Name: rec.Name, Total: rec.Value, Created: rec.Created, Days: rec.Days,
		Exact: !rec.Keep, AdminKeyHash: rec.AdminKeyHash,
	}
	if rec.HasSettings {
		r.Settings = &rec.Settings
	}
	return r, nil
}

// Line is rec as an /admin/import line: exactly as read for hitcounter's own export; for every
// other format with keep, so that an existing counter keeps its created time and admin key.
func Line(rec Record) ([]byte, error) {
	r := counter.Record{
		Info: counter.Info{Name: rec.Name, Value: rec.Total, Created: rec.Created, AdminKeyHash: rec.AdminKeyHash},
		Days: rec.Days, Keep: !rec.Exact,
	}
	if rec.Settings != nil {
		r.Settings, r.HasSettings = *rec.Settings, true
	}
	return json.Marshal(exportline.OfRecord(r))
}
