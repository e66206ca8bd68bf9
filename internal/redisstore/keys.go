package redisstore

import (
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
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

// monthTTL is how long, from at, the hash of day's month lives, in seconds as EXPIRE takes them:
// until its last day has left a history of historyDays days.
func monthTTL(day, at time.Time, historyDays int) string {
	nextMonth := time.Date(day.Year(), day.Month()+1, 1, 0, 0, 0, 0, day.Location())
	return ttlSeconds(nextMonth.Add(time.Duration(historyDays) * 24 * time.Hour).Sub(at))
}

// ttlSeconds is d in whole seconds, one more than it holds: a key never expires early.
func ttlSeconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second)+1, 10) }
