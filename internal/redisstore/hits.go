package redisstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// Hits on different counters that reach the store together share a script run. The domain
// coalesces the hits of one counter into a batch (counter.Keyed); here the batches of different
// counters are joined the same way, one level up: a batch that finds a free place among the
// runs in flight runs alone, and batches that arrive while none is free go together in the
// next run. Under light load nothing waits; under load one EVALSHA carries the batches of many
// counters, so the script call's own cost (most of a lone hit's Redis time) is paid once for
// all of them.
//
// Each counter's part of a run is still one atomic step on its own keys, and each batch gets its
// own answer: exactness is the same as one run per batch.

// hitsInFlight is how many multi-counter runs may be in flight at once. With appendfsync
// always, Redis writes and fsyncs its log once per turn of its event loop, and answers nothing
// of that turn before: runs that trickle in while one is being fsynced fill the next turns
// thinly, each turn paying its fsync. Fewer runs in flight make each fuller: one gave /hit over
// 10,000 counters the most (docs/scaling.md), but cost one busy counter's batches, which share a
// turn when several are in flight, 9% at 64 connections; two keep most of the first and little
// of the second. When the store also waits for replicas (WAITAOF), a run waits for the
// replica's fsync and for its own rounds of asking, not for Redis: there runs in parallel
// overlap those waits, and four are allowed.
func hitsInFlight(waitReplicas int) int {
	if waitReplicas > 0 {
		return 4
	}
	return 2
}

// hitsBody records, for each of ARGV[1] counters, a batch of hits in one step: the total (in
// the counter's hash, its first key); the day's count, its hits without a visitor and its unique
// visitors (fields d<dd>, c<dd> and u<dd> of the month's hash, its second key); and the visitors
// themselves in the day's HyperLogLog (a third key, sent only with visitors), whose estimate is
// copied into u<dd>. The month's hash expires once its last day has left the history; the
// HyperLogLog the day after its own, since once the day is over only its estimate is needed (a
// visitor's pseudonym changes every day, so no later figure could use it). The TTLs are set when
// the keys are made, and the estimate copied only when PFADD changed the sketch. Every command
// and every byte counts: under load a run holds a step for each of dozens of counters, and
// Redis writes what each changes to its log and fsyncs it before any of them is answered.
//
// A counter with a repeat window has a fourth key, the sorted set of its visitors whose hits
// counted within the window (the first 12 characters of each pseudonym, 72 bits), scored by when
// (Unix seconds; repeatsKey). A visitor found there within the window does not count again; the
// others count once each, however many hits they sent in the batch, and are marked. Pseudonyms
// change at the UTC midnight, so the set holds one UTC day's marks and ends with it; about
// maxMarks of them (the oldest go first). A counted hit writes its mark; a repeat writes nothing.
// A new visitor, every visitor of a counter's first minutes and the costly case, takes a single
// command: ZADD NX both asks and marks. A visitor already marked is read (ZSCORE) and, when its
// mark is older than the window, marked again (ZADD XX). The bound and the end are kept on a
// sample of the runs that add marks: those adding a mark that starts with 'A', one in 64, since a
// pseudonym is base64url of an HMAC no client can steer (every run under a small bound, as in
// tests). So the set holds at most maxMarks plus the marks added since the last sampled one
// (about 64; more than 1,000 once in ten million), and a quiet counter's set can outlive its
// midnight by the few marks that came before its first sampled one: stale marks, which never
// match a later pseudonym, dropped at the next sample's midnight or by the bound.
//
// The run shares ARGV[1..10]: the number of counters; create (1: make a counter that is missing,
// else leave a missing one alone); created (Unix s); the day of the month; the month hash's TTL
// (s); the HyperLogLog's TTL (s); now (Unix ms); sketch (1: add the visitors to the day's
// HyperLogLog and the window's marks; 0 at maxmemory, where visitors still count once if marked
// before, but nothing new is kept); the seconds to the next UTC midnight, when the marks end; the
// most marks a counter keeps. Each counter then has six fields and its visitors: the hits n;
// hits without a visitor; whether to read today's unique visitors (1; else 0 is answered, a read
// saved); whether to check that the counter exists first (1: the process does not know it
// does); the repeat window (ms, 0: none); the number of visitors that follow. The reply is four
// values per counter (total, today, today's uniques, hits left out as repeats), nil for a
// counter that is missing and was not created (nothing of it changed). A run is of one day: its
// counters share the fields of the day.
const hitsBody = `
local out = {}
local create, created, dom, monthTTL, dayTTL = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now, sketch, marksTTL, maxMarks = tonumber(ARGV[7]), ARGV[8], ARGV[9], tonumber(ARGV[10])
local nowS = math.floor(now / 1000)
local sampleAll = maxMarks < 4096
local dayField, unidentifiedField, uniques = 'd' .. dom, 'c' .. dom, 'u' .. dom
local a, k = 11, 1
for c = 1, tonumber(ARGV[1]) do
	local ck, mk, vk, rk = KEYS[k], KEYS[k + 1], nil, nil
	local n, unidentified, wantUniques, check = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
	local window = tonumber(ARGV[a + 4])
	local first, last = a + 6, a + 5 + tonumber(ARGV[a + 5])
	a = last + 1
	k = k + 2
	if last >= first then
		vk = KEYS[k]
		k = k + 1
	end
	if window > 0 then
		rk = KEYS[k]
		k = k + 1
	end
	local hits = tonumber(n)
	local missing = false
	if check == '1' and create ~= '1' then
		-- A counter the process has not seen: a name made up by a client, say, must cost no write.
		missing = redis.call('EXISTS', ck) == 0
	end
	local counted, added, sampled, write = hits, 0, false, rk and sketch == '1'
	if rk and not missing and create ~= '1' then
		-- A mark is the pseudonym's first 12 characters (72 bits: no two visitors of a counter
		-- share them in practice) scored in seconds: every byte of it goes to the log. A new
		-- visitor, the case that costs, takes one command: ZADD NX both asks and marks.
		local cutoff = nowS - window / 1000
		local fresh = 0
		for i = first, last do
			local mark = string.sub(ARGV[i], 1, 12)
			if write and redis.call('ZADD', rk, 'NX', nowS, mark) == 1 then
				added = added + 1
				-- Marks are base64url of an HMAC the client cannot steer: one in 64 starts with 'A'.
				sampled = sampled or sampleAll or string.byte(mark, 1) == 65
			else
				local seen = redis.call('ZSCORE', rk, mark)
				if not seen or tonumber(seen) <= cutoff then
					fresh = fresh + 1
					if write then redis.call('ZADD', rk, 'XX', nowS, mark) end
				end
			end
		end
		counted = tonumber(unidentified) + added + fresh
	end
	local total
	if not missing and counted == 0 then
		total = redis.call('HGET', ck, 'v')
		missing = not total
	elseif not missing then
		-- A counter known to exist takes no EXISTS. Should it be gone after all (deleted through
		-- another replica), the increment tells: a counter's hash always holds its created time
		-- t, so a total equal to the batch without a t is a hash HINCRBY just made. That one is
		-- completed (create) or taken back (no create), all inside this one step.
		total = redis.call('HINCRBY', ck, 'v', counted)
		if total == counted and not redis.call('HGET', ck, 't') then
			if create == '1' then
				redis.call('HSET', ck, 't', created)
			else
				-- The window's marks written above go with it (DEL of a missing key writes nothing).
				if rk then redis.call('DEL', ck, rk) else redis.call('DEL', ck) end
				missing = true
			end
		end
	end
	if missing then
		out[#out + 1] = false
		out[#out + 1] = false
		out[#out + 1] = false
		out[#out + 1] = false
	else
		if sampled then
			-- The set's bound and its end are seen to on a sample of the runs that add a mark
			-- (every one for a small bound), not each: past the bound the oldest marks go; the
			-- set ends at the UTC midnight, when pseudonyms change and no mark can match again.
			local marks = redis.call('ZCARD', rk)
			if marks > maxMarks then redis.call('ZREMRANGEBYRANK', rk, 0, marks - maxMarks - 1) end
			redis.call('EXPIRE', rk, marksTTL, 'NX')
		end
		local today
		if counted > 0 then
			today = redis.call('HINCRBY', mk, dayField, counted)
			if today == counted then redis.call('EXPIRE', mk, monthTTL, 'NX') end
		else
			today = redis.call('HGET', mk, dayField) or 0
		end
		if unidentified ~= '0' then redis.call('HINCRBY', mk, unidentifiedField, unidentified) end
		local count = false
		if last >= first and sketch == '1' then
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
		if counted > 0 then redis.call('SPUBLISH', ck .. ':live', total) end
		out[#out + 1] = total
		out[#out + 1] = today
		out[#out + 1] = count
		out[#out + 1] = hits - counted
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

// maxRepeatMarks bounds a counter's repeat-window set: 100,000 visitors within a window, about
// 10 MB of Redis. Past it the oldest marks go, and those visitors may count again within the
// window: a counter that popular has bigger worries than a repeat.
const maxRepeatMarks = 100_000

// hitItem is one counter's batch of hits, as the store is asked to record it.
type hitItem struct {
	name   counter.Name
	hits   []counter.Hit
	at     time.Time // where the counter's days are: its time zone
	window time.Duration
}

// hitResult is what a run answered for one item: its counts, that the counter is missing, or
// (err) that its part of the run failed.
type hitResult struct {
	counts  counter.Counts
	missing bool
	err     error
}

// Add implements counter.Store: the batch joins whatever other counters' batches reach the store
// with it.
func (s *Named) Add(ctx context.Context, name counter.Name, hits []counter.Hit, at time.Time, window time.Duration) (counter.Counts, error) {
	item := hitItem{name: name, hits: hits, at: at, window: window}
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
	if r.err != nil {
		return counter.Counts{}, r.err
	}
	if r.missing {
		return counter.Counts{}, counter.Errorf(counter.ENOTFOUND, nil, "counter %s not found", name)
	}
	return r.counts, nil
}

// AddCreating implements counter.Store: alone, since it may create, which a full Redis refuses.
func (s *Named) AddCreating(ctx context.Context, name counter.Name, hits []counter.Hit, at time.Time, window time.Duration) (counter.Counts, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	results, err := s.runHits(ctx, createHitsScript, []hitItem{{name: name, hits: hits, at: at, window: window}}, true)
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
	for i := range results {
		if results[i].err != nil {
			results[i].err = classifyRun(ctx, results[i].err, classifyValue)
		}
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

// runHits sends items to sc and reads one result per item: one script run per day among the
// items (a run's counters share the day's fields), so one run but around midnight. If a run
// fails after an earlier day's run counted its batches, those keep their answers and the
// failed run's items get its error; if the first fails, so does the call.
func (s *Named) runHits(ctx context.Context, sc *script, items []hitItem, create bool) ([]hitResult, error) {
	// At maxmemory the day's sketch is left alone: the hits count, the day's unique visitors
	// stay where they were until Redis has room again.
	sketch := !s.Full()
	results := make([]hitResult, 0, len(items))
	for len(items) > 0 {
		n := 1
		for n < len(items) && sameRunDay(items[0].at, items[n].at) {
			n++
		}
		r, err := s.runDay(ctx, sc, items[:n], create, sketch)
		switch {
		case err != nil && len(results) == 0:
			return nil, err
		case err != nil:
			for range n {
				results = append(results, hitResult{err: err})
			}
		default:
			results = append(results, r...)
		}
		items = items[n:]
	}
	return results, nil
}

// sameRunDay reports whether hits at a and b may share a run: the same day in the same zone.
// Not only the same midnight: zones a day apart (UTC+14 and UTC-10) share their midnights, on
// different dates.
func sameRunDay(a, b time.Time) bool {
	return startOfDay(a).Equal(startOfDay(b)) && a.Location().String() == b.Location().String()
}

// runDay is one script run for items of one day.
func (s *Named) runDay(ctx context.Context, sc *script, items []hitItem, create, sketch bool) ([]hitResult, error) {
	args := hitArgs(items, create, sketch, s.historyDays, s.repeatMarks, s.sketched, time.Now())
	res, err := s.run(ctx, sc, args.keys, args.args...)
	if err != nil {
		s.sketched.forget()
		return nil, err
	}
	results, err := hitResults(res, len(items))
	if err != nil {
		// The run may or may not have happened, and Redis may have lost what it had.
		s.sketched.forget()
		return nil, err
	}
	var learnt []uint64
	for i, r := range results {
		if !r.missing {
			learnt = append(learnt, args.learnt[i]...)
		}
	}
	s.sketched.remember(learnt, args.generation)
	return results, nil
}

// hitRun is a script run's keys and arguments, and what it teaches the process's memory
// (sketched) when it succeeds: per item, the ids of the visitors it sends and of the counter.
type hitRun struct {
	keys, args []string
	learnt     [][]uint64
	generation uint64
}

// hitArgs is the run of hitsBody for items, all of the first one's day (its time stands for the
// run's). sketch says whether visitors go into the day's HyperLogLog; those known to be there
// already are left out, as are repeats within an item. A counter known to exist is not checked
// (EXISTS) first.
func hitArgs(items []hitItem, create, sketch bool, historyDays, repeatMarks int, known *sketched, now time.Time) hitRun {
	at := items[0].at
	day := startOfDay(at)
	run := hitRun{learnt: make([][]uint64, len(items))}
	visitors := make([][]string, len(items))
	cks, vks := make([]string, len(items)), make([]string, len(items))
	// First what may be new to Redis: each counter, and each item's distinct visitors; then one
	// look at what is known of all of them.
	var ids []uint64
	var seen map[uint64]struct{} // an item's visitors so far, for batches too big to scan
	for i, it := range items {
		cks[i] = CounterKey(it.name)
		run.learnt[i] = append(run.learnt[i], known.id(cks[i], ""))
		if !sketch && it.window == 0 {
			ids = append(ids, run.learnt[i]...)
			continue
		}
		vks[i] = visitorsKey(cks[i], day)
		if len(it.hits) > 16 {
			seen = make(map[uint64]struct{}, len(it.hits))
		}
		for _, h := range it.hits {
			if h.Visitor == "" {
				continue
			}
			id := known.id(vks[i], h.Visitor)
			if len(it.hits) > 16 {
				if _, dup := seen[id]; dup {
					continue
				}
				seen[id] = struct{}{}
			} else if slices.Contains(run.learnt[i][1:], id) {
				continue
			}
			run.learnt[i] = append(run.learnt[i], id)
			visitors[i] = append(visitors[i], h.Visitor)
		}
		ids = append(ids, run.learnt[i]...)
	}
	unknown, generation := known.unknown(ids, now)
	run.generation = generation
	check := make([]string, len(items))
	for i := range items {
		check[i] = "0"
		if unknown[0] {
			check[i] = "1"
		}
		// A creating run makes a new sketch: whatever was known of the name is of an old one.
		n := 1
		for j, id := range run.learnt[i][1:] {
			// A repeat window asks about each visitor, whatever the sketch holds.
			if create || unknown[1+j] || items[i].window > 0 {
				run.learnt[i][n], visitors[i][n-1] = id, visitors[i][j]
				n++
			}
		}
		unknown = unknown[len(run.learnt[i]):]
		run.learnt[i], visitors[i] = run.learnt[i][:n], visitors[i][:n-1]
		if !sketch {
			run.learnt[i] = run.learnt[i][:1] // sent for the window only, not put in the sketch
		}
	}

	// A month's hash lives until its last day has left the history; a day's HyperLogLog until
	// the end of the next day (hits of a batch that straddles midnight may still land in it).
	// The TTLs are set when the keys are made (EXPIRE NX).
	nextMonth := time.Date(day.Year(), day.Month()+1, 1, 0, 0, 0, 0, day.Location())
	monthTTL := nextMonth.Add(time.Duration(historyDays) * 24 * time.Hour).Sub(at)
	dayTTL := day.Add(48 * time.Hour).Sub(at)
	createFlag, sketchFlag := "0", "0"
	if create {
		createFlag = "1"
	}
	if sketch {
		sketchFlag = "1"
	}
	run.keys = make([]string, 0, 3*len(items))
	run.args = make([]string, 0, 10+6*len(items))
	run.args = append(run.args, strconv.Itoa(len(items)), createFlag, strconv.FormatInt(at.Unix(), 10), strconv.Itoa(day.Day()),
		strconv.FormatInt(int64(monthTTL/time.Second)+1, 10), strconv.FormatInt(int64(dayTTL/time.Second)+1, 10),
		strconv.FormatInt(at.UnixMilli(), 10), sketchFlag, strconv.FormatInt(int64(at.UTC().Truncate(24*time.Hour).Add(24*time.Hour).Sub(at)/time.Second)+1, 10),
		strconv.Itoa(repeatMarks))
	for i, it := range items {
		run.keys = append(run.keys, cks[i], monthKey(cks[i], day))
		if len(visitors[i]) > 0 {
			run.keys = append(run.keys, vks[i])
		}
		if it.window > 0 {
			run.keys = append(run.keys, repeatsKey(cks[i]))
		}
		unidentified, uniques := 0, "0"
		for _, h := range it.hits {
			if h.Visitor == "" {
				unidentified++
			}
			if h.Uniques {
				uniques = "1"
			}
		}
		run.args = append(run.args, strconv.Itoa(len(it.hits)), strconv.Itoa(unidentified), uniques, check[i],
			strconv.FormatInt(it.window.Milliseconds(), 10), strconv.Itoa(len(visitors[i])))
		run.args = append(run.args, visitors[i]...)
	}
	return run
}

// hitResults reads hitsBody's reply for n items.
func hitResults(res rueidis.RedisResult, n int) ([]hitResult, error) {
	reply, err := res.ToArray()
	if err != nil {
		return nil, err
	}
	if len(reply) != 4*n {
		return nil, errors.New("hit script: reply of the wrong shape")
	}
	results := make([]hitResult, n)
	for i := range n {
		v := reply[4*i : 4*i+4]
		if v[0].IsNil() {
			results[i].missing = true
			continue
		}
		var e1, e2, e3, e4 error
		results[i].counts.Total, e1 = v[0].AsInt64()
		results[i].counts.Today, e2 = v[1].AsInt64()
		results[i].counts.TodayUniques, e3 = v[2].AsInt64()
		results[i].counts.Repeats, e4 = v[3].AsInt64()
		if err := errors.Join(e1, e2, e3, e4); err != nil {
			return nil, err
		}
	}
	return results, nil
}
