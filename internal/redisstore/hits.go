package redisstore

import (
	"context"
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
	if s.store.cluster {
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
		return counter.Counts{}, notFound(name)
	}
	return r.counts, nil
}

// AddCreating implements counter.Store: alone, since it may create, which a full Redis refuses.
func (s *Named) AddCreating(ctx context.Context, name counter.Name, hits []counter.Hit, at time.Time, window time.Duration) (counter.Counts, error) {
	items := []hitItem{{name: name, hits: hits, at: at, window: window}}
	results, err := call(ctx, s.store, creates, func(ctx context.Context, c rueidis.Client) ([]hitResult, error) {
		return s.runHits(ctx, c, createHitsScript, items, true)
	})
	if err != nil {
		return counter.Counts{}, err
	}
	return results[0].counts, nil
}

// addMany is the batcher's write: one run for the items of counters that exist.
func (s *Named) addMany(ctx context.Context, _ struct{}, items []hitItem) ([]hitResult, error) {
	results, err := call(ctx, s.store, changesValue, func(ctx context.Context, c rueidis.Client) ([]hitResult, error) {
		results, err := s.runHits(ctx, c, hitsScript, items, false)
		for i := range results {
			results[i].err = classify(ctx, results[i].err, changesValue)
		}
		return results, err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// runHits sends items to sc and reads one result per item: one script run per day among the
// items (a run's counters share the day's fields), so one run but around midnight. If a run
// fails after an earlier day's run counted its batches, those keep their answers and the
// failed run's items get its error; if the first fails, so does the call.
func (s *Named) runHits(ctx context.Context, c rueidis.Client, sc *script, items []hitItem, create bool) ([]hitResult, error) {
	// At maxmemory the day's sketch is left alone: the hits count, the day's unique visitors
	// stay where they were until Redis has room again.
	sketch := !s.store.Full()
	results := make([]hitResult, 0, len(items))
	for len(items) > 0 {
		n := 1
		for n < len(items) && sameRunDay(items[0].at, items[n].at) {
			n++
		}
		r, err := s.runDay(ctx, c, sc, items[:n], create, sketch)
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
func (s *Named) runDay(ctx context.Context, c rueidis.Client, sc *script, items []hitItem, create, sketch bool) ([]hitResult, error) {
	args := hitArgs(items, create, sketch, s.historyDays, s.repeatMarks, s.sketched, time.Now())
	results, err := hitResults(s.store.run(ctx, c, sc, args.keys, args.args...), len(items))
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
