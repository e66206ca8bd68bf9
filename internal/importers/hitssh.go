package importers

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// HitsSh reads the JSON hits.sh answers for one page (GET https://hits.sh/api/urns/{page}):
//
//	{"total":1234,"monthly":..,"weekly":..,"items":[{"from":"2024-01-02","to":"2024-12-31",
//	 "data":[{"day":"2024-01-02","value":3}, ...]}, ...]}
//
// total becomes the counter's total and each data point a day (hits.sh counts days in Korean
// time, and they are taken as they are). The page is not in the answer: opt.Name names the
// counter. The walk is token by token so that a bad day is refused with its line.
func HitsSh(b []byte, opt Options) (Parsed, error) {
	if opt.Name == (counter.Name{}) {
		return Parsed{}, counter.Errorf(counter.EINVALID, nil, "hits.sh: the answer does not name its page: give the counter (--name NS/KEY or --page URL)")
	}
	rec := Record{Name: opt.Name, Line: 1}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	bad := func(format string, args ...any) (Parsed, error) {
		return Parsed{}, lineErr(lineAt(b, dec.InputOffset()), "hits.sh: "+format, args...)
	}
	if !delim(dec, '{') {
		return bad("want a JSON object (the answer of /api/urns/{page})")
	}
	var haveTotal bool
	for dec.More() {
		tok, err := dec.Token()
		field, ok := tok.(string)
		if err != nil || !ok {
			return bad("want a field name")
		}
		switch field {
		case "total":
			if err := dec.Decode(&rec.Total); err != nil {
				return bad("total must be a whole number")
			}
			haveTotal = true
		case "items":
			if !delim(dec, '[') {
				return bad("items must be an array")
			}
			for dec.More() {
				var item struct {
					Data []json.RawMessage `json:"data"`
				}
				at := dec.InputOffset()
				if err := dec.Decode(&item); err != nil {
					return bad("items: %s", jsonProblem(err))
				}
				// Each data point's line: where it sits in the item, counted from the item's start.
				itemDec := json.NewDecoder(bytes.NewReader(b[at:]))
				var raw json.RawMessage
				_ = itemDec.Decode(&raw)
				for _, point := range item.Data {
					line := lineAt(b, at+int64(bytes.Index(raw, point)))
					var p struct {
						Day   string `json:"day"`
						Value *int64 `json:"value"`
					}
					if err := json.Unmarshal(point, &p); err != nil {
						return Parsed{}, lineErr(line, "hits.sh: a day: %s", jsonProblem(err))
					}
					day, err := time.Parse(time.DateOnly, p.Day)
					if err != nil || p.Value == nil {
						return Parsed{}, lineErr(line, "hits.sh: a day needs \"day\" (YYYY-MM-DD) and \"value\" (a whole number)")
					}
					rec.Days = append(rec.Days, counter.DayCount{Date: day, Hits: *p.Value})
				}
			}
			if !delim(dec, ']') {
				return bad("items: the array does not end")
			}
		default:
			var skip json.RawMessage // monthly, weekly: sums of the days
			if err := dec.Decode(&skip); err != nil {
				return bad("%s", jsonProblem(err))
			}
		}
	}
	if !delim(dec, '}') || dec.More() {
		return bad("more than one JSON value")
	}
	if !haveTotal {
		return Parsed{}, lineErr(1, "hits.sh: total is missing")
	}
	if len(rec.Days) > 0 {
		first := rec.Days[0].Date
		for _, d := range rec.Days {
			first = minTime(first, d.Date)
		}
		rec.Created = first
	}
	return Parsed{Records: []Record{rec}}, nil
}

// delim reads the next token and reports whether it is d.
func delim(dec *json.Decoder, d json.Delim) bool {
	t, err := dec.Token()
	return err == nil && t == d
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
