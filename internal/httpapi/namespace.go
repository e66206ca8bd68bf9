package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/exportline"
)

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

func namespaceFrom(r *http.Request) (string, error) {
	return counter.ParseNamespace(r.PathValue("namespace"))
}

// optionalAuth is auth for a route that anyone may call and that a token may widen: no
// Authorization header is nobody in particular; a malformed one is still refused.
func (d CounterDeps) optionalAuth(r *http.Request) (counter.Auth, error) {
	if r.Header.Get("Authorization") == "" {
		return counter.Auth{}, nil
	}
	return d.auth(r)
}

// handleClaimNamespace claims a namespace for whoever asks first (201 and its key), or for the
// operator when it holds counters already.
func handleClaimNamespace(d CounterDeps, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ns, err := namespaceFrom(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		auth, err := d.optionalAuth(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		// Only the operator's token means something here; any other key claims nothing more.
		auth = counter.Auth{Operator: auth.Operator}
		key, limit, err := d.Counters.ClaimNamespace(r.Context(), ns, auth, d.clientOf(r))
		setRateLimitHeaders(w.Header(), limit)
		if err != nil {
			m.limitedOrFailed("claim", err)
			writeAPIError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, claimedAnswer{Namespace: ns, AdminKey: key})
	})
}

// listOptions reads sort, limit and offset; the domain checks their values.
func listOptions(r *http.Request) (counter.ListOptions, error) {
	var o counter.ListOptions
	q := r.URL.Query()
	if sorts := q["sort"]; len(sorts) > 1 {
		return o, counter.Errorf(counter.EINVALID, nil, "query parameter \"sort\" is given %d times: give it once", len(sorts))
	} else if len(sorts) == 1 {
		o.Sort = sorts[0]
	}
	var zero int64
	limit, err := int64Param(r, "limit", &zero)
	if err != nil {
		return o, err
	}
	offset, err := int64Param(r, "offset", &zero)
	if err != nil {
		return o, err
	}
	// Clamped into int's range before the domain's checks, which then refuse them.
	o.Limit = int(max(min(limit, counter.MaxNamespacePage+1), -1))
	o.Offset = int(max(min(offset, counter.MaxNamespaceCounters+1), -1))
	return o, nil
}

// handleListNamespace answers one page of a namespace's counters, for its owner or the operator.
func handleListNamespace(d CounterDeps, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ns, err := namespaceFrom(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		o, err := listOptions(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		auth, err := d.auth(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		page, err := d.Counters.ListNamespace(r.Context(), ns, o, auth, d.clientOf(r))
		if err != nil {
			m.limitedOrFailed("namespace", err)
			writeAPIError(w, err)
			return
		}
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
		writeJSON(w, http.StatusOK, a)
	})
}

// handleExportNamespace exports a namespace's counters as the operator's export does, for its
// owner or the operator: `hitcounter import` restores the file.
func handleExportNamespace(d CounterDeps, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ns, err := namespaceFrom(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		auth, err := d.auth(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		client := d.clientOf(r)
		streamExport(w, r, m, "namespace_export", func(ctx context.Context, each func(counter.Info) error) error {
			return d.Counters.ExportNamespace(ctx, ns, auth, client, each)
		})
	})
}

// streamExport answers export's counters as JSON lines, the status once the first is read: an
// export refused before it starts is an error answer, one that fails half way breaks the
// connection.
func streamExport(w http.ResponseWriter, r *http.Request, m *Metrics, op string, export func(context.Context, func(counter.Info) error) error) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(transferTimeout))
	started := false
	start := func() {
		if !started {
			setBodyHeaders(w.Header(), "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			started = true
		}
	}
	enc := json.NewEncoder(w)
	err := export(r.Context(), func(info counter.Info) error {
		start()
		return enc.Encode(exportline.Of(info))
	})
	if err != nil {
		m.limitedOrFailed(op, err)
		if !started {
			writeAPIError(w, err)
			return
		}
		// Half an export must not pass for a whole one: break the connection, so the client
		// sees a truncated transfer rather than a clean end.
		noteError(w, err)
		panic(http.ErrAbortHandler)
	}
	start() // no counters: an empty export
}
