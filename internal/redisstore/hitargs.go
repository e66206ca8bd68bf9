package redisstore

import (
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

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
	dayTTL := day.Add(48 * time.Hour).Sub(at)
	marksTTL := at.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour).Sub(at) // to the UTC midnight
	run.keys = make([]string, 0, 3*len(items))
	run.args = make([]string, 0, 10+6*len(items))
	run.args = append(run.args, strconv.Itoa(len(items)), flag(create), strconv.FormatInt(at.Unix(), 10), strconv.Itoa(day.Day()),
		monthTTL(day, at, historyDays), ttlSeconds(dayTTL), strconv.FormatInt(at.UnixMilli(), 10), flag(sketch), ttlSeconds(marksTTL),
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
