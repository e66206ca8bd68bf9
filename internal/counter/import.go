package counter

import (
	"context"
	"slices"
	"sync"
	"time"
)

// DayCount is one day of a counter's history as an import brings it: hits only, since no
// service hands over its visitors.
type DayCount struct {
	Date time.Time // the date, as midnight UTC; a day of the counter's time zone
	Hits int64
}

// DaysResult counts what RestoreDays did with a counter's days.
type DaysResult struct {
	Set       int // written
	Unchanged int // already so
	Skipped   int // older than the history the store keeps
}

// Record is one counter of an import: the counter as Restore makes it, and its days.
type Record struct {
	Info
	Days []DayCount
	// Keep: a counter that exists keeps its created time and admin key, and Info's are used
	// only for a new one. Another service's export knows neither, and importing it must not
	// take away the key of a counter its owner already made here.
	Keep bool
	// HasSettings: Info's Settings replace the counter's (an export of ours carries them when
	// not the defaults); without, a counter keeps its settings, a new one has the defaults.
	HasSettings bool
}

// importDayWorkers is how many counters' days an import writes at once.
const importDayWorkers = 16

// MaxImportDays bounds one counter's days in an import: the most history a store may keep
// (HISTORY_DAYS' upper bound), so that one line of an import stays bounded too.
const MaxImportDays = MaxHistoryDays

// LastImportDay is the latest date an import may bring at now: the date where the day begins
// first (UTC+14). A day is a date of the counter's time zone, and the old service's days may be
// of another (hits.sh's are Korean): a file is refused for a day no clock has reached yet.
func LastImportDay(now time.Time) time.Time {
	return now.UTC().Add(14 * time.Hour).Truncate(24 * time.Hour)
}

// CheckDays checks a counter's days as of now: each a date (a UTC midnight), none in the
// future (LastImportDay: a clock or a file that is wrong), none negative, none twice, at most
// MaxImportDays. The message names the day that is wrong.
func CheckDays(days []DayCount, now time.Time) error {
	if len(days) > MaxImportDays {
		return Errorf(EINVALID, nil, "%d days of history: at most %d", len(days), MaxImportDays)
	}
	last := LastImportDay(now)
	seen := make(map[time.Time]bool, len(days))
	for _, d := range days {
		date := d.Date.Format(time.DateOnly)
		switch {
		case !d.Date.Equal(d.Date.UTC().Truncate(24 * time.Hour)):
			return Errorf(EINVALID, nil, "day %s: not a UTC midnight", d.Date.Format(time.RFC3339))
		case d.Date.After(last):
			return Errorf(EINVALID, nil, "day %s is in the future (it is %s, UTC)", date, now.UTC().Format("2006-01-02 15:04"))
		case d.Hits < 0:
			return Errorf(EINVALID, nil, "day %s: hits must not be negative", date)
		case seen[d.Date]:
			return Errorf(EINVALID, nil, "day %s appears twice", date)
		}
		seen[d.Date] = true
	}
	return nil
}

// Import makes each record's counter as given, then its days: like Restore, importing the same
// records twice changes nothing (a day's hits are set, never added). Records that keep what
// exists read it first: an import is an operator's step, not raced by the counter's owner.
func (c *Counters) Import(ctx context.Context, records []Record) (ImportResult, error) {
	now := c.now()
	for _, r := range records {
		if err := CheckDays(r.Days, now); err != nil {
			return ImportResult{}, Errorf(EINVALID, err, "%s: %s", r.Name, ErrorMessage(err))
		}
	}
	infos := make([]Info, len(records))
	for i, r := range records {
		infos[i] = r.Info
		if !r.Keep {
			continue
		}
		cur, err := c.store.Get(ctx, r.Name)
		switch {
		case err == nil:
			infos[i].Created, infos[i].AdminKeyHash = cur.Created, cur.AdminKeyHash
		case ErrorCode(err) != ENOTFOUND:
			return ImportResult{}, err
		case infos[i].Created.IsZero():
			infos[i].Created = now
		}
	}
	res, err := c.store.Restore(ctx, infos, c.limit)
	if err != nil {
		return res, err
	}
	// Settings before days: the days are dates of the zone the settings say.
	for _, r := range records {
		if !r.HasSettings {
			continue
		}
		_, err := c.store.ChangeSettings(ctx, r.Name, r.Settings.All(), Auth{Operator: true})
		c.policies.forget(r.Name)
		if err != nil {
			return res, err
		}
	}
	// The days go several counters at a time: each is one round trip and one fsync, and an
	// import of thousands of counters one at a time would wait for each.
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
		slots    = make(chan struct{}, importDayWorkers)
	)
	for _, r := range records {
		if len(r.Days) == 0 {
			continue
		}
		slots <- struct{}{}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			<-slots
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			// The days are dates of the counter's time zone, and so is its history's end.
			pol, err := c.policy(ctx, r.Name)
			var days DaysResult
			if err == nil {
				days, err = c.store.RestoreDays(ctx, r.Name, slices.Clone(r.Days), now.In(pol.zone))
			}
			mu.Lock()
			defer mu.Unlock()
			res.Days += days.Set
			res.DaysUnchanged += days.Unchanged
			res.DaysSkipped += days.Skipped
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	return res, nil
}
