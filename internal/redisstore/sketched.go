package redisstore

import (
	"hash/maphash"
	"sync"
	"time"
)

// sketched remembers what this process has seen Redis hold: which visitors it has already put
// into a counter's sketch of the day (its HyperLogLog), so that their later hits on that counter
// send no PFADD (adding a visitor the sketch holds changes nothing), and which counters exist, so
// that their hits need no EXISTS. Each is a command Redis runs for every counter of a script
// run, the largest part of a hit's Redis work after the two increments (docs/benchmarks.md). A
// badge's visitors come back (a reload, the next page of a site), so most hits are repeats.
//
// It only saves work, never decides a hit: a visitor not remembered is sent, as before, and a
// counter remembered but gone is found out by the script anyway (its missing created time).
// What it holds is bounded by sketchedMax entries of 8 bytes, whatever clients send (past the
// bound it starts again, empty), and in time by sketchedFor: it is emptied that often, and when
// a run fails or this process deletes a counter; a run that read Redis before the emptying
// does not fill it again (the generation). A sketch can also lose visitors where this process
// does not see it: a counter deleted and made again through another replica, Redis restored
// from a backup, or a failover to a replica that lacked the last writes (possible without
// REDIS_WAIT_REPLICAS). A visitor this process saw on it shortly before is then not added
// again until the memory is emptied, at most sketchedFor later: that day's unique visitors can
// come out short by such visitors, never over.
type sketched struct {
	seed       maphash.Seed
	mu         sync.Mutex
	seen       map[uint64]struct{}
	emptied    time.Time
	generation uint64 // counts the emptyings: what was learnt before one is not remembered
}

const (
	// sketchedMax bounds the entries: 65,536 × 8 bytes of keys, about 1 MB with the map's own.
	sketchedMax = 1 << 16
	// sketchedFor is how long anything is remembered.
	sketchedFor = 5 * time.Minute
)

func newSketched() *sketched {
	return &sketched{seed: maphash.MakeSeed(), seen: make(map[uint64]struct{})}
}

// id is what is remembered of visitor in the sketch (the day's HyperLogLog key), or with
// visitor "" of the counter whose hash the key is: a 64-bit hash with this process's random
// seed, so no client can aim two of them at one entry.
func (k *sketched) id(sketch, visitor string) uint64 {
	var h maphash.Hash
	h.SetSeed(k.seed)
	h.WriteString(sketch)
	h.WriteByte(0)
	h.WriteString(visitor)
	return h.Sum64()
}

// unknown reports, for each id, whether Redis may lack it (true: send the visitor, check that
// the counter exists), and the generation to pass to remember.
func (k *sketched) unknown(ids []uint64, now time.Time) (unknown []bool, generation uint64) {
	out := make([]bool, len(ids))
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.emptied) >= sketchedFor || now.Before(k.emptied) {
		k.emptyLocked(now)
	}
	for i, id := range ids {
		_, ok := k.seen[id]
		out[i] = !ok
	}
	return out, k.generation
}

// remember records ids Redis has acknowledged holding, learnt by a run that asked unknown in
// generation: if the memory was emptied since, they may be of what the emptying was for.
func (k *sketched) remember(ids []uint64, generation uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if generation != k.generation {
		return
	}
	if len(k.seen)+len(ids) > sketchedMax {
		clear(k.seen) // the bound, not a reason to doubt what is known: the generation stays
	}
	for _, id := range ids[:min(len(ids), sketchedMax)] {
		k.seen[id] = struct{}{}
	}
}

// forget empties the memory: a sketch may have lost what it held.
func (k *sketched) forget() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.emptyLocked(time.Now())
}

func (k *sketched) emptyLocked(now time.Time) {
	clear(k.seen)
	k.emptied = now
	k.generation++
}
