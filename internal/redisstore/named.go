package redisstore

import (
	"github.com/hitcounter/hitcounter/internal/counter"
)

// Named is the counter.Store of named counters (and the counter.NamespaceStore of their
// namespaces), on a Store's connection. It holds the Store by name, not embedded: the visit
// counter's methods (Store.Add) are not the named counters' (Named.Add).
type Named struct {
	store       *Store
	historyDays int
	// hits joins the hit batches of different counters that reach the store together into one
	// script run (hits.go).
	hits *counter.Keyed[struct{}, hitItem, []hitResult]
	// sketched: the visitors already in a counter's sketch of the day (sketched.go).
	sketched *sketched
	// repeatMarks bounds each counter's repeat-window marks (maxRepeatMarks; tests lower it).
	repeatMarks int
}

var (
	_ counter.Store          = (*Named)(nil)
	_ counter.NamespaceStore = (*Named)(nil)
)

// Named returns the named-counter store over s's connection, keeping historyDays days of
// history (0: counter.DefaultHistoryDays).
func (s *Store) Named(historyDays int) *Named {
	if historyDays <= 0 {
		historyDays = counter.DefaultHistoryDays
	}
	n := &Named{store: s, historyDays: historyDays, sketched: newSketched(), repeatMarks: maxRepeatMarks}
	n.hits = counter.NewKeyed(n.addMany, hitsInFlight(s.waitReplicas), s.timeout)
	return n
}
