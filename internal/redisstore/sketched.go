package redisstore

import (
	"hash/maphash"
	"sync"
	"time"
)

// sketched remembers which visitors this process has already put into a counter's sketch of
// the day (its HyperLogLog), so that their later hits on that counter send no PFADD: adding a
// visitor the sketch holds changes nothing, and each PFADD is a command Redis runs for every
// counter of a script run, the largest part of a hit's Redis work after the two increments
// (docs/benchmarks.md). A badge's visitors come back (a reload, the next page of a site), so
// most hits are repeats.
//
// Only the sketch depends on it, never a hit: a visitor not remembered is sent, as before.
// What it holds is bounded by sketchedMax entries of 8 bytes, whatever clients send (past the
// bound it starts again, empty), and in time by sketchedFor: it is emptied that often, and
// when a run fails or this process deletes a counter. A sketch can also lose its visitors
// where this process does not see it: a counter deleted and made again through another
// replica, or Redis restored from a backup without a failed hit here. A visitor this process
// saw on it shortly before is then not added again until the memory is emptied, at most
// sketchedFor later: that day's unique visitors can come out short by such visitors, never
// over.
type sketched struct {
	seed    maphash.Seed
	mu      sync.Mutex
	seen    map[uint64]struct{}
	emptied time.Time
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

// id is what is remembered of visitor in the sketch (the day's HyperLogLog key): a 64-bit
// hash with this process's random seed, so no client can aim two visitors at one entry.
func (k *sketched) id(sketch, visitor string) uint64 {
	var h maphash.Hash
	h.SetSeed(k.seed)
	h.WriteString(sketch)
	h.WriteByte(0)
	h.WriteString(visitor)
	return h.Sum64()
}

// unknown reports, for each id, whether the sketch may lack it (true: send the visitor).
func (k *sketched) unknown(ids []uint64, now time.Time) []bool {
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
	return out
}

// remember records ids whose PFADD Redis has acknowledged.
func (k *sketched) remember(ids []uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.seen)+len(ids) > sketchedMax {
		k.emptyLocked(k.emptied)
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
}
