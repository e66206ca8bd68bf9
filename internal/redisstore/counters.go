package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// Key layout of the named counters. Every key of one counter carries the counter's name as its
// hash tag ({namespace/key}), so they all live in one hash slot: a counter's script touches one
// slot, as Redis Cluster requires. The index is the one key outside any counter.
const (
	// counterPrefix + "{ns/key}" is a hash: v (value), t (created, Unix seconds), a (hex
	// SHA-256 of the admin key, absent when it has none), b (crawler hits, counted apart), and
	// the settings when not the defaults: z (time zone), w (repeat window, seconds), cb (1:
	// count crawlers). Short field names: a million counters carry them a million times.
	counterPrefix = "hitcounter:c:"
	// IndexKey is the set of every counter's name ("ns/key"): it caps the number of counters
	// and lists them for export without a SCAN over the whole keyspace.
	IndexKey = "hitcounter:index"
)

// CounterKey is the Redis key of the counter's hash.
func CounterKey(n counter.Name) string {
	return counterPrefix + "{" + n.Namespace + "/" + n.Key + "}"
}

// The scripts. Those that change a value publish it on the counter's live channel (live.go).
// Each runs atomically on one key (one slot); none is ever sent twice for one call
// (the client does not retry), so none is applied twice. Values go back as the strings HGET
// reads, never through a Lua number: those are doubles, exact only up to 2^53, and a counter
// may be set anywhere in 64 bits. Reply codes of the checking scripts:
const (
	replyOK        = 0
	replyNotFound  = 1
	replyForbidden = 2
	replyExists    = 3
)

// allowOOM is the shebang of the scripts that change what exists without making anything new:
// Redis runs them even past maxmemory. Memory is what new counters take, and a full Redis must
// refuse those (507), never a hit on a counter that exists (docs/design.md, "Redis memory").
// What such a script can still add is bounded per counter: a day's figures and a day's sketch,
// of at most AgentBuckets visitors per client.
const allowOOM = "#!lua flags=allow-oom\n"

// reserveScript adds the name to the index unless that would pass the limit (ARGV[2]; 0 none):
// 1 added, 0 already there, -1 full. One script, so concurrent creators never overshoot.
var reserveScript = newScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
local limit = tonumber(ARGV[2])
if limit > 0 and redis.call('SCARD', KEYS[1]) >= limit then return -1 end
return redis.call('SADD', KEYS[1], ARGV[1])`, true)

// createScript creates the counter unless it exists.
var createScript = newScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 3 end
if ARGV[3] == '' then
	redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2])
else
	redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2], 'a', ARGV[3])
end
redis.call('SPUBLISH', KEYS[1] .. ':live', ARGV[1])
return 0`, true)

// changeScript checks the caller against the admin key (ARGV[1]: its hash, or "" for the
// operator) and then sets (ARGV[2] "set") or adds (ARGV[2] "add") ARGV[3], replaces the admin
// key ("admin") or some of the settings ("settings": zone, window seconds, count bots; "-"
// leaves one as it is), or only checks
// ("check"). Replies {code, value}. The check and the change are one step: a key replaced
// in between cannot authorise a change. A change makes nothing new, so it runs past maxmemory.
var changeScript = newScript(allowOOM+`
if redis.call('EXISTS', KEYS[1]) == 0 then return {1, '0'} end
if ARGV[1] ~= '' then
	local a = redis.call('HGET', KEYS[1], 'a')
	if not a or a ~= ARGV[1] then return {2, '0'} end
end
if ARGV[2] == 'set' then
	redis.call('HSET', KEYS[1], 'v', ARGV[3])
elseif ARGV[2] == 'add' then
	redis.call('HINCRBY', KEYS[1], 'v', ARGV[3])
elseif ARGV[2] == 'admin' then
	redis.call('HSET', KEYS[1], 'a', ARGV[3])
elseif ARGV[2] == 'settings' then
	-- Each of zone, window and count-bots: '-' leaves it; the default ('', '0', '0') removes it.
	for i, field in ipairs({'z', 'w', 'cb'}) do
		local v = ARGV[2 + i]
		if v == '' or v == '0' then
			redis.call('HDEL', KEYS[1], field)
		elseif v ~= '-' then
			redis.call('HSET', KEYS[1], field, v)
		end
	end
end
local v = redis.call('HGET', KEYS[1], 'v')
if ARGV[2] == 'set' or ARGV[2] == 'add' then redis.call('SPUBLISH', KEYS[1] .. ':live', v) end
return {0, v}`, true)

// restoreBody makes the counter exactly {v, t, a}: 0 created, 1 updated, 2 unchanged; 3 when it
// does not exist and ARGV[4] is not 1 (nothing written). One write, except when an admin key is
// taken away (HDEL, then HSET). restoreScript changes a counter that exists and runs past
// maxmemory; restoreCreateScript may create one, and is refused at maxmemory like every creation.
const restoreBody = `
local cur = redis.call('HMGET', KEYS[1], 'v', 't', 'a')
if not cur[1] and ARGV[4] ~= '1' then return 3 end
if cur[1] == ARGV[1] and cur[2] == ARGV[2] and (cur[3] or '') == ARGV[3] then return 2 end
if ARGV[3] == '' then
	if cur[3] then redis.call('HDEL', KEYS[1], 'a') end
	redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2])
else
	redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2], 'a', ARGV[3])
end
redis.call('SPUBLISH', KEYS[1] .. ':live', ARGV[1])
if cur[1] then return 1 end
return 0`

var (
	restoreScript       = newScript(allowOOM+restoreBody, true)
	restoreCreateScript = newScript(restoreBody, true)
)

// restoreMissing is restoreBody's answer for a counter that does not exist.
const restoreMissing = 3

// Named is the counter.Store of named counters, on the Store's connection.
type Named struct {
	*Store
	historyDays int
	// hits joins the hit batches of different counters that reach the store together into one
	// script run (hits.go).
	hits *counter.Keyed[struct{}, hitItem, []hitResult]
	// sketched: the visitors already in a counter's sketch of the day (sketched.go).
	sketched *sketched
	// repeatMarks bounds each counter's repeat-window marks (maxRepeatMarks; tests lower it).
	repeatMarks int
}

// DefaultHistoryDays is how many days of history a counter keeps unless told otherwise.
const DefaultHistoryDays = 400

// Named returns the named-counter store over s's connection, keeping historyDays days of
// history (0: DefaultHistoryDays).
func (s *Store) Named(historyDays int) *Named {
	if historyDays <= 0 {
		historyDays = DefaultHistoryDays
	}
	n := &Named{Store: s, historyDays: historyDays, sketched: newSketched(), repeatMarks: maxRepeatMarks}
	n.hits = counter.NewKeyed(n.addMany, hitsInFlight(s.waitReplicas), s.timeout)
	return n
}

// withTimeout bounds one call by the store's timeout.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// dayStamp is how a day appears in keys: t's date where t is, the counter's time zone.
func dayStamp(t time.Time) string { return t.Format("20060102") }

// repeatsKey is the sorted set of a counter's visitors whose hits counted within its repeat
// window, scored by when (Unix ms), in the counter's hash slot.
func repeatsKey(counterKey string) string { return counterKey + ":r" }

// visitorsKey is the HyperLogLog of a counter's visitors on a day, in the counter's hash slot.
func visitorsKey(counterKey string, day time.Time) string { return counterKey + ":u:" + dayStamp(day) }

// monthKey is the hash of a counter's daily figures in a month (fields d<dd>, c<dd>, u<dd>), in the
// counter's hash slot. A hash per month, not per counter, so that whole months expire.
func monthKey(counterKey string, t time.Time) string {
	return counterKey + ":m:" + t.Format("200601")
}

// startOfDay is the midnight that began t's day where t is (the counter's time zone).
func startOfDay(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

// Stats implements counter.Store: the counter and each month's figures of the days asked for,
// in one round trip. The window's unique visitors are the sum of the days': pseudonyms change
// every day, so the union of the days' HyperLogLogs would count the same.
func (s *Named) Stats(ctx context.Context, name counter.Name, days int, at time.Time) (counter.Stats, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		return counter.Stats{}, err
	}
	days = min(days, s.historyDays)
	ck := CounterKey(name)
	first := startOfDay(at).AddDate(0, 0, -(days - 1))

	// Days grouped by month: one HMGET per month, in day order, four fields a day.
	type monthFields struct {
		key    string
		fields []string
	}
	var months []monthFields
	for i := range days {
		d := first.AddDate(0, 0, i)
		if len(months) == 0 || d.Day() == 1 {
			months = append(months, monthFields{key: monthKey(ck, d)})
		}
		m := &months[len(months)-1]
		dd := strconv.Itoa(d.Day())
		m.fields = append(m.fields, "d"+dd, "c"+dd, "u"+dd, "b"+dd)
	}
	cmds := make(rueidis.Commands, 0, 1+len(months))
	cmds = append(cmds, c.B().Hmget().Key(ck).Field(infoFields...).Build())
	for _, m := range months {
		cmds = append(cmds, c.B().Hmget().Key(m.key).Field(m.fields...).Build())
	}
	res := c.DoMulti(ctx, cmds...)

	fail := func(err error) (counter.Stats, error) { return counter.Stats{}, classify(ctx, err) }
	vals, err := res[0].ToArray()
	if err != nil {
		return fail(err)
	}
	info, ok, err := infoFrom(name, vals)
	if err != nil {
		return fail(err)
	}
	if !ok {
		return counter.Stats{}, counter.Errorf(counter.ENOTFOUND, nil, "counter %s not found", name)
	}
	st := counter.Stats{Info: info, Days: make([]counter.Day, 0, days)}
	for i := range months {
		figures, err := res[1+i].ToArray()
		if err != nil {
			return fail(err)
		}
		for j := 0; j+3 < len(figures); j += 4 {
			d := counter.Day{Date: first.AddDate(0, 0, len(st.Days))}
			var e1, e2, e3, e4 error
			d.Hits, e1 = optionalInt(figures[j])
			d.Unidentified, e2 = optionalInt(figures[j+1])
			d.Uniques, e3 = optionalInt(figures[j+2])
			d.Bots, e4 = optionalInt(figures[j+3])
			if err := errors.Join(e1, e2, e3, e4); err != nil {
				return fail(err)
			}
			st.Days = append(st.Days, d)
			st.Uniques += d.Uniques
			st.BotsInDays += d.Bots
		}
	}
	return st, nil
}

// optionalInt reads a hash field that may be missing (0).
func optionalInt(m rueidis.RedisMessage) (int64, error) {
	if m.IsNil() {
		return 0, nil
	}
	return m.AsInt64()
}

// Reserve implements counter.Store.
func (s *Named) Reserve(ctx context.Context, name counter.Name, limit int64) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.run(ctx, reserveScript, []string{IndexKey}, name.String(), strconv.FormatInt(limit, 10))
	if err != nil {
		return err
	}
	v, err := res.AsInt64()
	if err != nil {
		return classifyCreate(ctx, err)
	}
	if v < 0 {
		return counter.Errorf(counter.EFULL, nil, "the counter limit (%d) is reached: no new counter can be created", limit)
	}
	return nil
}

// Create implements counter.Store.
func (s *Named) Create(ctx context.Context, info counter.Info) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.run(ctx, createScript, []string{CounterKey(info.Name)},
		strconv.FormatInt(info.Value, 10), strconv.FormatInt(info.Created.Unix(), 10), info.AdminKeyHash)
	if err != nil {
		return err
	}
	code, err := res.AsInt64()
	if err != nil {
		return classifyCreate(ctx, err)
	}
	if code == replyExists {
		return counter.Errorf(counter.ECONFLICT, nil, "counter %s already exists", info.Name)
	}
	return nil
}

// Get implements counter.Store.
func (s *Named) Get(ctx context.Context, name counter.Name) (counter.Info, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		return counter.Info{}, err
	}
	vals, err := c.Do(ctx, c.B().Hmget().Key(CounterKey(name)).Field(infoFields...).Build()).ToArray()
	if err != nil {
		return counter.Info{}, classify(ctx, err)
	}
	info, ok, err := infoFrom(name, vals)
	if err != nil {
		return counter.Info{}, classify(ctx, err)
	}
	if !ok {
		return counter.Info{}, counter.Errorf(counter.ENOTFOUND, nil, "counter %s not found", name)
	}
	return info, nil
}

// infoFields are what a read of a counter asks its hash for (infoFrom reads them).
var infoFields = []string{"v", "t", "a", "b", "z", "w", "cb"}

// infoFrom reads an HMGET of infoFields; ok is false when the counter does not exist.
func infoFrom(name counter.Name, vals []rueidis.RedisMessage) (info counter.Info, ok bool, err error) {
	if len(vals) != len(infoFields) || vals[0].IsNil() {
		return counter.Info{}, false, nil
	}
	info.Name = name
	if info.Value, err = vals[0].AsInt64(); err != nil {
		return counter.Info{}, false, err
	}
	if !vals[1].IsNil() {
		created, err := vals[1].AsInt64()
		if err != nil {
			return counter.Info{}, false, err
		}
		info.Created = time.Unix(created, 0).UTC()
	}
	if !vals[2].IsNil() {
		info.AdminKeyHash, _ = vals[2].ToString()
	}
	if info.Bots, err = optionalInt(vals[3]); err != nil {
		return counter.Info{}, false, err
	}
	info.Settings, err = settingsFrom(vals[4:7])
	return info, err == nil, err
}

// settingsFrom reads the z, w and cb fields.
func settingsFrom(vals []rueidis.RedisMessage) (counter.Settings, error) {
	var st counter.Settings
	if !vals[0].IsNil() {
		st.TimeZone, _ = vals[0].ToString()
	}
	window, err := optionalInt(vals[1])
	if err != nil {
		return counter.Settings{}, err
	}
	st.RepeatWindow = time.Duration(window) * time.Second
	st.CountBots = !vals[2].IsNil()
	return st, nil
}

// Settings implements counter.Store.
func (s *Named) Settings(ctx context.Context, name counter.Name) (counter.Settings, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		return counter.Settings{}, err
	}
	vals, err := c.Do(ctx, c.B().Hmget().Key(CounterKey(name)).Field("v", "z", "w", "cb").Build()).ToArray()
	if err != nil {
		return counter.Settings{}, classify(ctx, err)
	}
	if len(vals) != 4 || vals[0].IsNil() {
		return counter.Settings{}, counter.Errorf(counter.ENOTFOUND, nil, "counter %s not found", name)
	}
	st, err := settingsFrom(vals[1:])
	if err != nil {
		return counter.Settings{}, classify(ctx, err)
	}
	return st, nil
}

// ChangeSettings implements counter.Store: the fields given replace the counter's, in the
// change script's one step; a field not given is sent as "-", which it leaves alone.
func (s *Named) ChangeSettings(ctx context.Context, name counter.Name, ch counter.SettingsChange, auth counter.Auth) (counter.Settings, error) {
	zone, window, countBots := "-", "-", "-"
	if ch.TimeZone != nil {
		zone = *ch.TimeZone
		if zone == "UTC" {
			zone = ""
		}
	}
	if ch.RepeatWindow != nil {
		window = strconv.FormatInt(int64(*ch.RepeatWindow/time.Second), 10)
	}
	if ch.CountBots != nil {
		countBots = "0"
		if *ch.CountBots {
			countBots = "1"
		}
	}
	if _, err := s.change(ctx, name, auth, "settings", zone, window, countBots); err != nil {
		return counter.Settings{}, err
	}
	return s.Settings(ctx, name)
}

// Authorize implements counter.Store.
func (s *Named) Authorize(ctx context.Context, name counter.Name, auth counter.Auth) error {
	_, err := s.change(ctx, name, auth, "check")
	return err
}

// change runs changeScript and maps its reply code.
func (s *Named) change(ctx context.Context, name counter.Name, auth counter.Auth, op string, args ...string) (int64, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	presented := auth.AdminKeyHash
	if auth.Operator || auth.NamespaceOwner {
		presented = ""
	} else if presented == "" {
		return 0, counter.Errorf(counter.EUNAUTHORIZED, nil, "this needs the counter's admin key")
	}
	res, err := s.run(ctx, changeScript, []string{CounterKey(name)}, append([]string{presented, op}, args...)...)
	if err != nil {
		return 0, err
	}
	reply, err := res.ToArray()
	if err != nil {
		return 0, classifyValue(ctx, err)
	}
	if len(reply) != 2 {
		return 0, counter.Errorf(counter.EINTERNAL, nil, "storage error")
	}
	code, err1 := reply[0].AsInt64()
	value, err2 := reply[1].AsInt64()
	if err1 != nil || err2 != nil {
		return 0, counter.Errorf(counter.EINTERNAL, nil, "storage error")
	}
	switch code {
	case replyNotFound:
		return 0, counter.Errorf(counter.ENOTFOUND, nil, "counter %s not found", name)
	case replyForbidden:
		return 0, counter.Errorf(counter.EFORBIDDEN, nil, "the key given is not this counter's admin key")
	}
	return value, nil
}

// Set implements counter.Store.
func (s *Named) Set(ctx context.Context, name counter.Name, value int64, auth counter.Auth) (int64, error) {
	return s.change(ctx, name, auth, "set", strconv.FormatInt(value, 10))
}

// Update implements counter.Store.
func (s *Named) Update(ctx context.Context, name counter.Name, delta int64, auth counter.Auth) (int64, error) {
	return s.change(ctx, name, auth, "add", strconv.FormatInt(delta, 10))
}

// SetAdminKey implements counter.Store.
func (s *Named) SetAdminKey(ctx context.Context, name counter.Name, hash string) error {
	_, err := s.change(ctx, name, counter.Auth{Operator: true}, "admin", hash)
	return err
}

// Delete implements counter.Store. The name leaves the index before the counter goes: a
// creation racing with the delete can leave a name in the index without a counter (it takes
// one place of the limit until the name is used again), never a counter missing from the
// index (and so from an export).
func (s *Named) Delete(ctx context.Context, name counter.Name, auth counter.Auth) error {
	if _, err := s.change(ctx, name, auth, "check"); err != nil {
		return err
	}
	// The counter's sketches go with it, and the memory of what they hold once the deletion is
	// done or may be (an error): runs that looked before then will not fill it again.
	defer s.sketched.forget()
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		return err
	}
	// The counter, its months of daily figures and the last days' visitors (which would
	// otherwise expire on their own, and come back if the name is used again).
	keys := []string{CounterKey(name), repeatsKey(CounterKey(name))}
	today := startOfDay(time.Now().UTC())
	for i := range s.historyDays + 2 {
		d := today.AddDate(0, 0, 1-i)
		if i < 4 {
			keys = append(keys, visitorsKey(keys[0], d))
		}
		if i == 0 || d.Day() == 1 {
			keys = append(keys, monthKey(keys[0], d))
		}
	}
	// Three writes, in this order; in a cluster the indexes and the counter may be on three
	// servers.
	for _, cmd := range []rueidis.Completed{
		c.B().Srem().Key(IndexKey).Member(name.String()).Build(),
		c.B().Srem().Key(NamespaceListKey(name.Namespace)).Member(name.Key).Build(),
		c.B().Del().Key(keys...).Build(),
	} {
		if err := s.write(ctx, c, true, cmd).Error(); err != nil {
			return classify(ctx, err)
		}
	}
	// Live streams of the counter end (live.go). After the DEL, on another command: a hit
	// between the two publishes a value that the deletion then follows, never the reverse.
	// The deletion stands whether or not this reaches them: a failure here fails nothing.
	_ = c.Do(ctx, c.B().Spublish().Channel(LiveChannel(name)).Message(liveDeleted).Build()).Error()
	return nil
}

// exportBatch is how many names one SSCAN step asks for, and how many HMGETs go in one pipeline.
const exportBatch = 500

// Export implements counter.Store: the index, walked with SSCAN, each counter read with HMGET
// (scanCounters). A name in the index without a counter (see Delete) is skipped.
func (s *Named) Export(ctx context.Context, each func(counter.Info) error) error {
	return s.scanCounters(ctx, IndexKey, func(member string) (counter.Name, bool) {
		ns, key, ok := strings.Cut(member, "/")
		return counter.Name{Namespace: ns, Key: key}, ok
	}, each)
}

// restoreWorkers is how many counters an import writes at once: the client pipelines them, so
// one fsync covers many (an import of a million lines one at a time would wait for a million).
const restoreWorkers = 64

// Restore implements counter.Store.
func (s *Named) Restore(ctx context.Context, infos []counter.Info, limit int64) (counter.ImportResult, error) {
	var (
		mu       sync.Mutex
		result   counter.ImportResult
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan counter.Info)
	for range min(restoreWorkers, len(infos)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for info := range next {
				outcome, err := s.restoreOne(ctx, info, limit)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				switch outcome {
				case 0:
					result.Created++
				case 1:
					result.Updated++
				case 2:
					result.Unchanged++
				}
				mu.Unlock()
			}
		}()
	}
	for _, info := range infos {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- info
	}
	close(next)
	wg.Wait()
	return result, firstErr
}

// restoreOne writes the counter: over one that exists even when Redis is full; a missing one
// after a place in the index, as a creation. It returns restoreBody's code, or -1.
func (s *Named) restoreOne(ctx context.Context, info counter.Info, limit int64) (int64, error) {
	code, err := s.restore(ctx, restoreScript, info, "0")
	if err != nil || code != restoreMissing {
		return code, err
	}
	// An import is the operator's: it may create in an owned namespace, past its cap.
	if err := s.Admit(ctx, info.Name, counter.Auth{Operator: true}, 0); err != nil {
		return -1, err
	}
	if err := s.Reserve(ctx, info.Name, limit); err != nil {
		return -1, err
	}
	return s.restore(ctx, restoreCreateScript, info, "1")
}

func (s *Named) restore(ctx context.Context, sc *script, info counter.Info, create string) (int64, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.run(ctx, sc, []string{CounterKey(info.Name)},
		strconv.FormatInt(info.Value, 10), strconv.FormatInt(info.Created.Unix(), 10), info.AdminKeyHash, create)
	if err != nil {
		return -1, err
	}
	code, err := res.AsInt64()
	if err != nil {
		return -1, classifyCreate(ctx, err)
	}
	return code, nil
}

// classifyCreate is classify for a call that creates a counter: Redis at maxmemory refusing it
// is the storage being full (507), not unavailable, and retrying soon will not help.
func classifyCreate(ctx context.Context, err error) error {
	if re, ok := rueidis.IsRedisErr(err); ok && strings.HasPrefix(re.Error(), "OOM") {
		return counter.Errorf(counter.EFULL, err, "storage is full: no new counter can be created (counters that exist keep counting)")
	}
	return classify(ctx, err)
}

// classifyValue is classify, except that Redis refusing the arithmetic (an increment that would
// overflow 64 bits) is the caller's mistake, not a storage error.
func classifyValue(ctx context.Context, err error) error {
	if re, ok := rueidis.IsRedisErr(err); ok && strings.Contains(re.Error(), "overflow") {
		return counter.Errorf(counter.EINVALID, err, "the value would overflow a 64-bit integer")
	}
	return classify(ctx, err)
}

// rateLimitPrefix + limiter name + pseudonym + window holds a client's count in one window.
const rateLimitPrefix = "hitcounter:rl:"

// leaseScript adds ARGV[1] to a shared rate-limit count (KEYS[1]) and sets its expiry (ARGV[2]
// seconds) when it is new; it returns the count. Run past maxmemory: a count is a few dozen
// bytes per client and window and goes by itself, and a full Redis must never make the limiter
// fail the hits it guards.
var leaseScript = newScript(allowOOM+`
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if total == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return total`, false)

// Lease implements ratelimit.Leaser: INCRBY n, then hand out what fitted under limit.
func (s *Store) Lease(ctx context.Context, key string, n, limit int64, ttl time.Duration) (granted, used int64, err error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.run(ctx, leaseScript, []string{rateLimitPrefix + key},
		strconv.FormatInt(n, 10), strconv.FormatInt(int64(ttl/time.Second)+1, 10))
	if err != nil {
		return 0, 0, err
	}
	total, err := res.AsInt64()
	if err != nil {
		return 0, 0, classify(ctx, err)
	}
	before := total - n
	granted = min(max(limit-before, 0), n)
	return granted, min(total, limit), nil
}
