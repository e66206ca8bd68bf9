package httpapi

import (
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/exportline"
)

// The JSON answers of the named-counter routes (docs/api.md, openapi.json's schemas), and how
// each is made from what the domain answered.

// valueAnswer is the answer of hit, get, set, update and reset: CountAPI's and Abacus' shape.
type valueAnswer struct {
	Value int64 `json:"value"`
}

type infoAnswer struct {
	Namespace   string         `json:"namespace"`
	Key         string         `json:"key"`
	Value       int64          `json:"value"`
	Created     string         `json:"created"`
	AdminKeySet bool           `json:"admin_key_set"`
	Bots        int64          `json:"bots"`
	Settings    settingsAnswer `json:"settings"`
}

type createdAnswer struct {
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	Value     int64  `json:"value"`
	AdminKey  string `json:"admin_key"`
}

type adminKeyAnswer struct {
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	AdminKey  string `json:"admin_key"`
}

type statusAnswer struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// settingsAnswer is how a counter counts, as /settings, /info, /stats and the export lines show
// it.
type settingsAnswer = exportline.Settings

func settingsAnswerOf(s counter.Settings) settingsAnswer { return exportline.SettingsOf(s) }

func getAnswer(info counter.Info) any { return valueAnswer{Value: info.Value} }

func infoAnswerOf(info counter.Info) any {
	return infoAnswer{
		Namespace: info.Name.Namespace, Key: info.Name.Key, Value: info.Value,
		Created: formatCreated(info.Created), AdminKeySet: info.AdminKeyHash != "",
		Bots: info.Bots, Settings: settingsAnswerOf(info.Settings),
	}
}

func formatCreated(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// claimedAnswer is the answer of a claim: the namespace's key, shown this once.
type claimedAnswer struct {
	Namespace string `json:"namespace"`
	AdminKey  string `json:"admin_key"`
}

// namespaceCounter is one counter of a listing: its namespace is the listing's.
type namespaceCounter struct {
	Key         string `json:"key"`
	Value       int64  `json:"value"`
	Created     string `json:"created"`
	AdminKeySet bool   `json:"admin_key_set"`
}

type namespaceAnswer struct {
	Namespace string             `json:"namespace"`
	Sort      string             `json:"sort"`
	Total     int                `json:"total"`
	Offset    int                `json:"offset"`
	Limit     int                `json:"limit"`
	Counters  []namespaceCounter `json:"counters"`
	// NextOffset is the offset of the next page; null on the last.
	NextOffset *int `json:"next_offset"`
}

// namespaceAnswerOf is one page of a listing asked for with o.
func namespaceAnswerOf(ns string, o counter.ListOptions, page counter.NamespacePage) namespaceAnswer {
	a := namespaceAnswer{
		Namespace: ns, Sort: o.Sort, Total: page.Total, Offset: o.Offset, Limit: o.Limit,
		Counters: make([]namespaceCounter, 0, len(page.Counters)),
	}
	if a.Sort == "" {
		a.Sort = counter.SortByName
	}
	if a.Limit == 0 {
		a.Limit = counter.DefaultNamespacePage
	}
	if page.Next > 0 {
		a.NextOffset = &page.Next
	}
	for _, info := range page.Counters {
		a.Counters = append(a.Counters, namespaceCounter{
			Key: info.Name.Key, Value: info.Value, Created: formatCreated(info.Created), AdminKeySet: info.AdminKeyHash != "",
		})
	}
	return a
}

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

func statsAnswerOf(name counter.Name, st counter.Stats) statsAnswer {
	a := statsAnswer{
		Namespace: name.Namespace, Key: name.Key, Value: st.Value, Created: formatCreated(st.Created),
		Today: dayOf(st.Days[len(st.Days)-1]), Uniques: st.Uniques, Bots: st.BotsInDays,
		Settings: settingsAnswerOf(st.Settings), Days: make([]dayAnswer, len(st.Days)),
	}
	for i, day := range st.Days {
		a.Days[i] = dayOf(day)
	}
	return a
}
