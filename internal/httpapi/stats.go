package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// defaultStatsDays is how many days /stats answers without ?days, and what the page shows.
const defaultStatsDays = 30

type dayAnswer struct {
	Date             string `json:"date"`
	Hits             int64  `json:"hits"`
	Uniques          int64  `json:"uniques"`
	UnidentifiedHits int64  `json:"unidentified_hits"`
	Bots             int64  `json:"bots"`
}

type statsAnswer struct {
	Namespace string    `json:"namespace"`
	Key       string    `json:"key"`
	Value     int64     `json:"value"`
	Created   string    `json:"created"`
	Today     dayAnswer `json:"today"`
	Uniques   int64     `json:"uniques"`
	// Bots is the crawler hits over the days, counted apart from the hits.
	Bots     int64          `json:"bots"`
	Settings settingsAnswer `json:"settings"`
	Days     []dayAnswer    `json:"days"`
}

func dayOf(d counter.Day) dayAnswer {
	return dayAnswer{Date: d.Date.Format(time.DateOnly), Hits: d.Hits, Uniques: d.Uniques, UnidentifiedHits: d.Unidentified, Bots: d.Bots}
}

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
func handleStats(d CounterDeps, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allowCORS(w)
		name, err := nameFrom(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		days, err := d.statsDays(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		st, err := d.Counters.Stats(r.Context(), name, days, d.clientOf(r))
		if err != nil {
			m.limitedOrFailed("stats", err)
			writeAPIError(w, err)
			return
		}
		a := statsAnswer{
			Namespace: name.Namespace, Key: name.Key, Value: st.Value, Created: formatCreated(st.Created),
			Today: dayOf(st.Days[len(st.Days)-1]), Uniques: st.Uniques, Bots: st.BotsInDays,
			Settings: settingsAnswerOf(st.Settings), Days: make([]dayAnswer, len(st.Days)),
		}
		for i, day := range st.Days {
			a.Days[i] = dayOf(day)
		}
		writeJSON(w, http.StatusOK, a)
	})
}
