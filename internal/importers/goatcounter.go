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

// GoatCounter reads GoatCounter's CSV export of pageviews (format version 2, and 1): a header
// row whose first field is the version and "Path" ("2Path"), then one row per pageview, of
// which Path, Event, Bot and Date are read, found by their names in the header. Rows of bots
// (Bot other than 0) and events (Event true) are dropped: they are not pageviews. The rest are
// counted per path and UTC day: each path is a counter with its total, days and first view. The
// export has no host, so the paths are named as the seeyoufarm badge names the page
// https://SITE/PATH (counter.SeeyoufarmName, SITE from opt.Site): the namespace is the site.
func GoatCounter(in io.Reader, opt Options) (Parsed, error) {
	if opt.Site == "" {
		return Parsed{}, counter.Errorf(counter.EINVALID, nil, "goatcounter: the export has paths, not a site: give the site's host (--site example.com)")
	}
	r := csv.NewReader(in)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return Parsed{}, lineErr(1, "goatcounter: no header row")
	}
	if len(header) == 0 || (header[0] != "2Path" && header[0] != "1Path") {
		return Parsed{}, lineErr(1, "goatcounter: the header starts with %q: want 2Path (export format 2) or 1Path", clip(header[0]))
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimLeft(h, "0123456789")] = i
	}
	for _, need := range []string{"Path", "Event", "Bot", "Date"} {
		if _, ok := col[need]; !ok {
			return Parsed{}, lineErr(1, "goatcounter: the header has no %s column", need)
		}
	}
	type page struct {
		rec  *Record
		days map[time.Time]int64
	}
	pages := map[counter.Name]*page{}
	var order []counter.Name
	var bots, events int
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return Parsed{}, lineErr(pe.Line, "goatcounter: %s", pe.Err)
		}
		if err != nil {
			return Parsed{}, err
		}
		line, _ := r.FieldPos(0)
		switch {
		case row[col["Bot"]] != "0" && row[col["Bot"]] != "":
			bots++
			continue
		case row[col["Event"]] == "true":
			events++
			continue
		}
		t, err := time.Parse(time.RFC3339, row[col["Date"]])
		if err != nil {
			return Parsed{}, lineErr(line, "goatcounter: Date %q is not an RFC 3339 time", clip(row[col["Date"]]))
		}
		path := row[col["Path"]]
		if !strings.HasPrefix(path, "/") {
			return Parsed{}, lineErr(line, "goatcounter: Path %q does not start with /", clip(path))
		}
		name, err := counter.SeeyoufarmName("https://" + opt.Site + path)
		if err != nil {
			return Parsed{}, &LineError{Line: line, Err: err}
		}
		pg := pages[name]
		if pg == nil {
			pg = &page{rec: &Record{Name: name, Line: line, Source: path, Created: t.UTC()}, days: map[time.Time]int64{}}
			pages[name] = pg
			order = append(order, name)
		}
		pg.rec.Total++
		pg.rec.Created = minTime(pg.rec.Created, t.UTC())
		pg.days[t.UTC().Truncate(24*time.Hour)]++
	}
	var p Parsed
	for _, name := range order {
		pg := pages[name]
		for d, n := range pg.days {
			pg.rec.Days = append(pg.rec.Days, counter.DayCount{Date: d, Hits: n})
		}
		p.Records = append(p.Records, *pg.rec)
	}
	if bots+events > 0 {
		p.Dropped = plural(bots, "bot row") + " and " + plural(events, "event") + " dropped"
	}
	if len(p.Records) == 0 {
		return Parsed{}, counter.Errorf(counter.EINVALID, errEmpty, "goatcounter: no pageviews (%s)", p.Dropped)
	}
	return p, nil
}

func plural(n int, what string) string {
	s := strconv.Itoa(n) + " " + what
	if n != 1 {
		s += "s"
	}
	return s
}
