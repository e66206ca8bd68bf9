package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// restoreDaysScript sets days of a counter's history (KEYS[1] its hash, KEYS[2..] the month
// hashes): each day's hits d<dd> and, since an imported hit has no visitor, its hits without a
// visitor c<dd> to the same number, leaving the day's unique visitors u<dd> as they are. Set,
// not added, so that importing a file twice changes nothing; a day already so is not written
// (a field that is missing reads as 0). ARGV[1] is the number of months, ARGV[2..] each month's
// TTL (s), set as the hit script sets it, when the hash is made; then three values a day: its
// month (1 for KEYS[2]), its day of the month, its hits. The reply is {set, unchanged}, or -1
// when the counter does not exist (nothing written: a deleted counter's history would
// otherwise come back with its name).
var restoreDaysScript = newScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local months = tonumber(ARGV[1])
local set, same, touched = 0, 0, {}
for i = months + 2, #ARGV, 3 do
	local m, dd, hits = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2]
	local mk = KEYS[1 + m]
	local cur = redis.call('HMGET', mk, 'd' .. dd, 'c' .. dd)
	if (cur[1] or '0') == hits and (cur[2] or '0') == hits then
		same = same + 1
	else
		redis.call('HSET', mk, 'd' .. dd, hits, 'c' .. dd, hits)
		set = set + 1
		touched[m] = true
	end
end
for m in pairs(touched) do redis.call('EXPIRE', KEYS[1 + m], ARGV[1 + m], 'NX') end
return {set, same}`, true)

// RestoreDays implements counter.Store: one script run for all of a counter's days, so a
// counter's history is imported whole or not at all. A day's date is a date of at's location,
// the counter's time zone, as the hit script writes it.
func (s *Named) RestoreDays(ctx context.Context, name counter.Name, days []counter.DayCount, at time.Time) (counter.DaysResult, error) {
	var res counter.DaysResult
	oldest := startOfDay(at).AddDate(0, 0, -(s.historyDays - 1))
	last := counter.LastImportDay(at)
	ck := CounterKey(name)
	keys := []string{ck}
	var ttls, triples []string
	month := map[string]int{} // month key → its index in keys
	for _, d := range days {
		if d.Date.After(last) {
			return counter.DaysResult{}, counter.Errorf(counter.EINVALID, nil, "day %s is in the future", d.Date.Format(time.DateOnly))
		}
		day := time.Date(d.Date.Year(), d.Date.Month(), d.Date.Day(), 0, 0, 0, 0, at.Location())
		if day.Before(oldest) {
			res.Skipped++
			continue
		}
		mk := monthKey(ck, day)
		m, ok := month[mk]
		if !ok {
			keys = append(keys, mk)
			m = len(keys) - 1
			month[mk] = m
			// As the hit script does: the month's hash lives until its last day leaves the history.
			ttls = append(ttls, monthTTL(day, at, s.historyDays))
		}
		triples = append(triples, strconv.Itoa(m), strconv.Itoa(day.Day()), strconv.FormatInt(d.Hits, 10))
	}
	if len(triples) == 0 {
		return res, nil
	}
	args := append(append([]string{strconv.Itoa(len(ttls))}, ttls...), triples...)
	counts, err := call(ctx, s.store, creates, func(ctx context.Context, c rueidis.Client) ([]int64, error) {
		reply := s.store.run(ctx, c, restoreDaysScript, keys, args...)
		if n, err := reply.AsInt64(); err == nil && n == -1 {
			return nil, notFound(name)
		}
		counts, err := reply.AsIntSlice()
		if err == nil && len(counts) != 2 {
			err = counter.Errorf(counter.EINTERNAL, nil, "restoring days: unexpected reply")
		}
		return counts, err
	})
	if err != nil {
		return counter.DaysResult{}, err
	}
	res.Set, res.Unchanged = int(counts[0]), int(counts[1])
	return res, nil
}
