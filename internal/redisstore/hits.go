package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Hits on different counters that reach the store together share a script run. The domain
// coalesces the hits of one counter into a batch (counter.Keyed); here the batches of different
// counters are joined the same way, one level up: a batch that finds no script in flight runs
// alone, and batches that arrive while runs are in flight go together in the next run. Under
// light load nothing waits; under load one EVALSHA carries the batches of many counters, so the
// script call's own cost (most of a lone hit's Redis time) is paid once for all of them.
//
// Each counter's part of a run is still one atomic step on its own keys, and each batch gets its
// own answer: exactness is the same as one run per batch.

// hitsInFlight bounds the concurrent multi-counter runs: a few keep the connection busy while
// an answer travels back, as the visit counter's coalescer does.
const hitsInFlight = 4

// hitsBody records, for each of ARGV[1] counters, a batch of hits in one step: the total
// (KEYS[3i+1]); the day's count, its hits without a visitor and its unique visitors (fields d<dd>,
// c<dd> and u<dd> of the month's hash, KEYS[3i+2]); and the visitors themselves in the day's
// HyperLogLog (KEYS[3i+3]), whose estimate is copied into u<dd>. The month's hash expires once its
// last day has left the history; the HyperLogLog the day after its own, since once the day is
// over only its estimate is needed (a visitor's pseudonym changes every day, so no later figure
// could use it). The TTLs are set when the keys are made, and the estimate copied only when PFADD
// changed the sketch: on a quiet counter the script runs once per hit, so every command counts.
//
// After ARGV[1], each counter has nine fields and then its visitors: the hits n; create (1: make
// the counter if it is missing, else leave a missing one alone); created (Unix s); the day of the
// month; hits without a visitor; the month hash's TTL (s); the HyperLogLog's TTL (s); whether to
// read today's unique visitors (1; else 0 is answered, a read saved); the number of visitors
// that follow. The reply is three values per counter (total, today, today's uniques), nil for a
// counter that is missing and was not created (nothing of it changed).
const hitsBody = `
local out = {}
local a = 2
for c = 0, tonumber(ARGV[1]) - 1 do
	local ck, mk, vk = KEYS[3 * c + 1], KEYS[3 * c + 2], KEYS[3 * c + 3]
	local n, create, created, dom = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
	local unidentified, monthTTL, dayTTL, wantUniques = ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7]
	local first, last = a + 9, a + 8 + tonumber(ARGV[a + 8])
	a = last + 1
	local exists = redis.call('EXISTS', ck) == 1
	if not exists and create ~= '1' then
		out[#out + 1] = false
		out[#out + 1] = false
		out[#out + 1] = false
	else
		local total
		if exists then
			total = redis.call('HINCRBY', ck, 'v', n)
		else
			redis.call('HSET', ck, 'v', n, 't', created)
			total = n
		end
		local hits = tonumber(n)
		local today = redis.call('HINCRBY', mk, 'd' .. dom, hits)
		if today == hits then redis.call('EXPIRE', mk, monthTTL, 'NX') end
		if unidentified ~= '0' then redis.call('HINCRBY', mk, 'c' .. dom, unidentified) end
		local uniques, count = 'u' .. dom, false
		if last >= first then
			local changed = 0
			for i = first, last, 1000 do
				changed = changed + redis.call('PFADD', vk, unpack(ARGV, i, math.min(i + 999, last)))
			end
			if changed > 0 then
				redis.call('EXPIRE', vk, dayTTL, 'NX')
				count = redis.call('PFCOUNT', vk)
				redis.call('HSET', mk, uniques, count)
			end
		end
		if not count then
			count = 0
			if wantUniques == '1' then count = redis.call('HGET', mk, uniques) or 0 end
		end
		-- HINCRBY's answer is the total, as a Lua number: exact only to 2^53, so a total past
		-- that (a counter set there) is read back as the string HGET gives.
		if type(total) == 'number' and (total > 9007199254740991 or total < -9007199254740991) then
			total = redis.call('HGET', ck, 'v')
		end
		out[#out + 1] = total
		out[#out + 1] = today
		out[#out + 1] = count
	end
end
return out`

// hitsScript runs hit batches on counters that exist (it creates nothing) even when Redis is at
// maxmemory (allowOOM); createHitsScript is a first hit, which may create its counter and, like
// every creation, is refused when Redis is full.
var (
	hitsScript       = newScript(allowOOM+hitsBody, true)
	createHitsScript = newScript(hitsBody, true)
)

// hitItem is one counter's batch of hits, as the store is asked to record it.
type hitItem struct {
	name counter.Name
	hits []counter.Hit
	at   time.Time
}

// hitResult is what a run answered for one item: its counts, or that the counter is missing.
type hitResult struct {
	counts  counter.Counts
	missing bool
}

// Add implements counter.Store: the batch joins whatever other counters' batches reach the store
// with it.
func (s *Named) Add(ctx context.Context, name counter.Name, hits []counter.Hit, at time.Time) (counter.Counts, error) {
	item := hitItem{name: name, hits: hits, at: at}
	var results []hitResult
	var after int64
	var err error
	if s.cluster {
		// In a cluster each counter's keys are in a slot of their own, possibly on another
		// server: a script can hold one counter, and the client pipelines the runs per server.
		results, err = s.addMany(ctx, struct{}{}, []hitItem{item})
	} else {
		results, after, err = s.hits.Add1(ctx, struct{}{}, item)
	}
	if err != nil {
		return counter.Counts{}, err
	}
	// The run answered its items in order, and after says how many came after this one.
	r := results[len(results)-1-int(after)]
	if r.missing {
		return counter.Counts{}, counter.Errorf(counter.ENOTFOUND, nil, "counter %s not found", name)
	}
	return r.counts, nil
}

// AddCreating implements counter.Store: alone, since it may create, which a full Redis refuses.
func (s *Named) AddCreating(ctx context.Context, name counter.Name, hits []counter.Hit, at time.Time) (counter.Counts, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	results, err := s.runHits(ctx, createHitsScript, []hitItem{{name: name, hits: hits, at: at}}, true)
	if err != nil {
		return counter.Counts{}, classifyRun(ctx, err, classifyCreate)
	}
	return results[0].counts, nil
}

// addMany is the batcher's write: one run for the items of counters that exist.
func (s *Named) addMany(ctx context.Context, _ struct{}, items []hitItem) ([]hitResult, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	results, err := s.runHits(ctx, hitsScript, items, false)
	if err != nil {
		return nil, classifyRun(ctx, err, classifyValue)
	}
	return results, nil
}

// classifyRun is how for what Redis answered; an error that is the domain's already (no
// connection, say) stays as it is.
func classifyRun(ctx context.Context, err error, how func(context.Context, error) error) error {
	if _, ok := errors.AsType[*counter.Error](err); ok {
		return err
	}
	return how(ctx, err)
}

// runHits sends items to sc in one script run and reads one result per item.
func (s *Named) runHits(ctx context.Context, sc *script, items []hitItem, create bool) ([]hitResult, error) {
	// At maxmemory the day's sketch is left alone: the hits count, the day's unique visitors
	// stay where they were until Redis has room again.
	sketch := !s.Full()
	keys := make([]string, 0, 3*len(items))
	args := make([]string, 1, 1+10*len(items))
	args[0] = strconv.Itoa(len(items))
	createFlag := "0"
	if create {
		createFlag = "1"
	}
	history := time.Duration(s.historyDays) * 24 * time.Hour
	for _, it := range items {
		day := startOfDay(it.at)
		ck := CounterKey(it.name)
		keys = append(keys, ck, monthKey(ck, day), visitorsKey(ck, day))
		// A month's hash lives until its last day has left the history; a day's HyperLogLog
		// until the end of the next day (hits of a batch that straddles midnight may still land
		// in it). The TTLs are set when the keys are made (EXPIRE NX).
		nextMonth := time.Date(day.Year(), day.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		monthTTL := nextMonth.Add(history).Sub(it.at)
		dayTTL := day.Add(48 * time.Hour).Sub(it.at)
		unidentified, visitors, uniques := 0, 0, "0"
		for _, h := range it.hits {
			if h.Visitor == "" {
				unidentified++
			} else if sketch {
				visitors++
			}
			if h.Uniques {
				uniques = "1"
			}
		}
		args = append(args, strconv.Itoa(len(it.hits)), createFlag, strconv.FormatInt(it.at.Unix(), 10),
			strconv.Itoa(day.Day()), strconv.Itoa(unidentified),
			strconv.FormatInt(int64(monthTTL/time.Second)+1, 10), strconv.FormatInt(int64(dayTTL/time.Second)+1, 10),
			uniques, strconv.Itoa(visitors))
		if visitors > 0 {
			for _, h := range it.hits {
				if h.Visitor != "" {
					args = append(args, h.Visitor)
				}
			}
		}
	}
	res, err := s.run(ctx, sc, keys, args...)
	if err != nil {
		return nil, err
	}
	reply, err := res.ToArray()
	if err != nil {
		return nil, err
	}
	if len(reply) != 3*len(items) {
		return nil, errors.New("hit script: reply of the wrong shape")
	}
	results := make([]hitResult, len(items))
	for i := range items {
		v := reply[3*i : 3*i+3]
		if v[0].IsNil() {
			results[i].missing = true
			continue
		}
		var e1, e2, e3 error
		results[i].counts.Total, e1 = v[0].AsInt64()
		results[i].counts.Today, e2 = v[1].AsInt64()
		results[i].counts.TodayUniques, e3 = v[2].AsInt64()
		if err := errors.Join(e1, e2, e3); err != nil {
			return nil, err
		}
	}
	return results, nil
}
