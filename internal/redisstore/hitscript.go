package redisstore

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
