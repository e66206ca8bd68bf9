package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// uncountedScript records ARGV[1] crawler hits apart from the total, in the counter's hash (b)
// and the day's figures (b<dd> of the month's hash, KEYS[2]), and answers the counter's total,
// the day's hits and the day's unique visitors as they are: {v, d<dd>, u<dd>}, or nil when the
// counter does not exist (nothing is written: a crawler creates nothing). With ARGV[1] 0 it is a
// read: the owner's own visit. Like a hit on a counter that exists, it runs past maxmemory.
var uncountedScript = newScript(allowOOM+`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return false end
local bots, dom = tonumber(ARGV[1]), ARGV[2]
if bots > 0 then
	redis.call('HINCRBY', KEYS[1], 'b', bots)
	if redis.call('HINCRBY', KEYS[2], 'b' .. dom, bots) == bots then redis.call('EXPIRE', KEYS[2], ARGV[3], 'NX') end
end
local f = redis.call('HMGET', KEYS[2], 'd' .. dom, 'u' .. dom)
return {v, f[1] or 0, f[2] or 0}`, true)

// AddUncounted implements counter.Store.
func (s *Named) AddUncounted(ctx context.Context, name counter.Name, bots int64, at time.Time) (counter.Counts, error) {
	ck, day := CounterKey(name), startOfDay(at)
	return call(ctx, s.store, changesValue, func(ctx context.Context, c rueidis.Client) (counter.Counts, error) {
		reply, err := s.store.run(ctx, c, uncountedScript, []string{ck, monthKey(ck, day)},
			strconv.FormatInt(bots, 10), strconv.Itoa(day.Day()), monthTTL(day, at, s.historyDays)).ToArray()
		if rueidis.IsRedisNil(err) {
			return counter.Counts{}, notFound(name)
		}
		if err != nil {
			return counter.Counts{}, err
		}
		if len(reply) != 3 {
			return counter.Counts{}, counter.Errorf(counter.EINTERNAL, nil, "storage error")
		}
		var n counter.Counts
		var e1, e2, e3 error
		n.Total, e1 = reply[0].AsInt64()
		n.Today, e2 = reply[1].AsInt64()
		n.TodayUniques, e3 = reply[2].AsInt64()
		if err := errors.Join(e1, e2, e3); err != nil {
			return counter.Counts{}, err
		}
		return n, nil
	})
}
