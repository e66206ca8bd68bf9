package importers

import (
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Seeyoufarm reads hits.seeyoufarm.com's counts as CSV, one page a row: url,total and
// optionally today's hits (url,total,today), with or without a header row naming the columns.
// hits.seeyoufarm.com gave out no export, so this is the shape its users wrote down from their
// badges ("today / total"). Each URL names its counter exactly as the seeyoufarm badge path
// does (counter.SeeyoufarmName), so that the old badge, with only its host changed, shows the
// old count; today's hits become the history of today.
func Seeyoufarm(in io.Reader, opt Options) (Parsed, error) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	var p Parsed
	today := opt.Now.UTC().Truncate(24 * time.Hour)
	for row := 0; ; row++ {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return Parsed{}, lineErr(pe.Line, "seeyoufarm: %s", pe.Err)
			}
			return Parsed{}, err
		}
		line, _ := r.FieldPos(0) // only after a row was read: FieldPos panics otherwise
		if row == 0 && len(fields) >= 2 && strings.EqualFold(fields[0], "url") {
			continue // the header
		}
		if len(fields) != 2 && len(fields) != 3 {
			return Parsed{}, lineErr(line, "seeyoufarm: %d fields: want url,total or url,total,today", len(fields))
		}
		name, err := counter.SeeyoufarmName(fields[0])
		if err != nil {
			return Parsed{}, &LineError{Line: line, Err: err}
		}
		total, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return Parsed{}, lineErr(line, "seeyoufarm: total %q is not a whole number", clip(fields[1]))
		}
		rec := Record{Name: name, Total: total, Line: line, Source: fields[0]}
		if len(fields) == 3 && fields[2] != "" {
			n, err := strconv.ParseInt(fields[2], 10, 64)
			if err != nil {
				return Parsed{}, lineErr(line, "seeyoufarm: today %q is not a whole number", clip(fields[2]))
			}
			rec.Days = []counter.DayCount{{Date: today, Hits: n}}
		}
		p.Records = append(p.Records, rec)
	}
	if len(p.Records) == 0 {
		return Parsed{}, counter.Errorf(counter.EINVALID, errEmpty, "seeyoufarm: no rows (want url,total[,today])")
	}
	return p, nil
}

// clip keeps a bad field short in a message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
