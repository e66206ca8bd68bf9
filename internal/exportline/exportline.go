// Package exportline is the one format of a counter moved out and back in: a line of
// GET /admin/export and GET /namespace/{ns}/export, and what POST /admin/import and
// `hitcounter import` read (docs/api.md, docs/import.md). The server and the importer parse it
// here alike, so that a line the server would refuse is found before anything is sent.
package exportline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Line is one counter: its value, created time and admin key's hash as an export writes them;
// for an import also its days, keep (an existing counter keeps its created time and admin key)
// and its settings (an export writes them when they are not the defaults).
type Line struct {
	Namespace      string    `json:"namespace"`
	Key            string    `json:"key"`
	Value          *int64    `json:"value"`
	Created        string    `json:"created,omitempty"`
	AdminKeySHA256 string    `json:"admin_key_sha256,omitempty"`
	Days           []Day     `json:"days,omitempty"`
	Keep           bool      `json:"keep,omitempty"`
	Settings       *Settings `json:"settings,omitempty"`
}

// Day is one day of a counter's history in an import.
type Day struct {
	Date string `json:"date"`
	Hits *int64 `json:"hits"`
}

// Settings are how a counter counts, as lines and the API's answers write them.
type Settings struct {
	TimeZone string `json:"time_zone"`
	// RepeatWindow is in minutes; 0 is off.
	RepeatWindow int  `json:"repeat_window"`
	CountBots    bool `json:"count_bots"`
}

// MaxLine bounds one line: a line is under 300 bytes, plus under 40 a day of history, of which
// a line has at most counter.MaxImportDays.
const MaxLine = 192 << 10

// SettingsOf is s as written.
func SettingsOf(s counter.Settings) Settings {
	zone := s.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	return Settings{TimeZone: zone, RepeatWindow: int(s.RepeatWindow / time.Minute), CountBots: s.CountBots}
}

// Domain checks the settings read and returns them.
func (s Settings) Domain() (counter.Settings, error) {
	if _, err := counter.ParseTimeZone(s.TimeZone); err != nil {
		return counter.Settings{}, err
	}
	if s.RepeatWindow < 0 || time.Duration(s.RepeatWindow)*time.Minute > counter.MaxRepeatWindow {
		return counter.Settings{}, counter.Errorf(counter.EINVALID, nil,
			"settings.repeat_window must be a whole number of minutes from 0 to %d", int(counter.MaxRepeatWindow/time.Minute))
	}
	d := counter.Settings{TimeZone: s.TimeZone, RepeatWindow: time.Duration(s.RepeatWindow) * time.Minute, CountBots: s.CountBots}
	if d.TimeZone == "UTC" {
		d.TimeZone = ""
	}
	return d, nil
}

// Of is the export line of a counter.
func Of(info counter.Info) Line {
	value := info.Value
	l := Line{Namespace: info.Name.Namespace, Key: info.Name.Key, Value: &value, AdminKeySHA256: info.AdminKeyHash}
	if !info.Created.IsZero() {
		l.Created = info.Created.UTC().Format(time.RFC3339)
	}
	if info.Settings != (counter.Settings{}) {
		s := SettingsOf(info.Settings)
		l.Settings = &s
	}
	return l
}

// OfRecord is the import line of a record: with its days, keep and (when it has them) settings.
func OfRecord(rec counter.Record) Line {
	l := Of(rec.Info)
	l.Keep = rec.Keep
	if rec.Keep {
		l.AdminKeySHA256 = ""
	}
	l.Settings = nil
	if rec.HasSettings {
		s := SettingsOf(rec.Settings)
		l.Settings = &s
	}
	for _, d := range rec.Days {
		hits := d.Hits
		l.Days = append(l.Days, Day{Date: d.Date.Format(time.DateOnly), Hits: &hits})
	}
	return l
}

// Parse reads one line, strictly: unknown fields are refused, so that a file in another shape
// is not half understood. Its days are checked as of now.
func Parse(b []byte, now time.Time) (counter.Record, error) {
	var l Line
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return counter.Record{}, counter.Errorf(counter.EINVALID, err, "not an export line: %s", Problem(err))
	}
	if dec.More() {
		return counter.Record{}, counter.Errorf(counter.EINVALID, nil, "more than one JSON value on the line")
	}
	name, err := counter.ParseName(l.Namespace, l.Key)
	if err != nil {
		return counter.Record{}, err
	}
	if l.Value == nil {
		return counter.Record{}, counter.Errorf(counter.EINVALID, nil, "value is missing")
	}
	var created time.Time
	if l.Created != "" || !l.Keep {
		if created, err = time.Parse(time.RFC3339, l.Created); err != nil {
			return counter.Record{}, counter.Errorf(counter.EINVALID, nil, "created must be an RFC 3339 time (example: 2026-11-26T07:00:00Z)")
		}
	}
	if l.AdminKeySHA256 != "" && !isLowerHex64(l.AdminKeySHA256) {
		return counter.Record{}, counter.Errorf(counter.EINVALID, nil, "admin_key_sha256 must be 64 lowercase hex digits")
	}
	if l.Keep && l.AdminKeySHA256 != "" {
		return counter.Record{}, counter.Errorf(counter.EINVALID, nil, "keep leaves the admin key as it is: admin_key_sha256 must not be given with it")
	}
	if len(l.Days) > counter.MaxImportDays {
		return counter.Record{}, counter.Errorf(counter.EINVALID, nil, "%d days: at most %d", len(l.Days), counter.MaxImportDays)
	}
	rec := counter.Record{
		Info: counter.Info{Name: name, Value: *l.Value, Created: created, AdminKeyHash: l.AdminKeySHA256},
		Keep: l.Keep,
	}
	if l.Settings != nil {
		if rec.Settings, err = l.Settings.Domain(); err != nil {
			return counter.Record{}, err
		}
		rec.HasSettings = true
	}
	for i, d := range l.Days {
		date, err := time.Parse(time.DateOnly, d.Date)
		if err != nil {
			return counter.Record{}, counter.Errorf(counter.EINVALID, nil, "days[%d]: date must be YYYY-MM-DD", i)
		}
		if d.Hits == nil {
			return counter.Record{}, counter.Errorf(counter.EINVALID, nil, "days[%d]: hits is missing", i)
		}
		rec.Days = append(rec.Days, counter.DayCount{Date: date, Hits: *d.Hits})
	}
	if err := counter.CheckDays(rec.Days, now); err != nil {
		return counter.Record{}, err
	}
	return rec, nil
}

// Problem says what is wrong with a JSON value without echoing the input back at length.
func Problem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field %q must be a %s", typeErr.Field, typeErr.Type)
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}
