package httpapi

import (
	"net/http"
	"strconv"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// defaultStatsDays is how many days /stats answers without ?days, and what the page shows.
const defaultStatsDays = 30

// statsDays reads ?days: 1 to the history's length, defaultStatsDays when absent.
func (d CounterDeps) statsDays(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("days")
	if raw == "" {
		return min(defaultStatsDays, d.HistoryDays), nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > d.HistoryDays {
		return 0, counter.Errorf(counter.EINVALID, nil, "days must be a whole number from 1 to %d (the history kept)", d.HistoryDays)
	}
	return n, nil
}

// handleStats answers a counter's daily history as JSON.
func handleStats(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		allowCORS(w)
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		days, err := d.statsDays(r)
		if err != nil {
			return err
		}
		st, err := d.Counters.Stats(r.Context(), name, days, d.clientOf(r))
		if err != nil {
			return m.failed("stats", err)
		}
		writeJSON(w, http.StatusOK, statsAnswerOf(name, st))
		return nil
	}
}
