package httpapi

import (
	"context"
	"net/http"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Namespaces with an owner (docs/api.md): the claim, the owner's listing and export. The
// listing as a page is namespace_page.go.

func namespaceFrom(r *http.Request) (string, error) {
	return counter.ParseNamespace(r.PathValue("namespace"))
}

// handleClaimNamespace claims a namespace for whoever asks first (201 and its key), or for the
// operator when it holds counters already.
func handleClaimNamespace(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ns, err := namespaceFrom(r)
		if err != nil {
			return err
		}
		auth, err := d.optionalAuth(r)
		if err != nil {
			return err
		}
		// Only the operator's token means something here; any other key claims nothing more.
		auth = counter.Auth{Operator: auth.Operator}
		key, limit, err := d.Counters.ClaimNamespace(r.Context(), ns, auth, d.clientOf(r))
		setRateLimitHeaders(w.Header(), limit)
		if err != nil {
			return m.failed("claim", err)
		}
		writeJSON(w, http.StatusCreated, claimedAnswer{Namespace: ns, AdminKey: key})
		return nil
	}
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
func handleListNamespace(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ns, err := namespaceFrom(r)
		if err != nil {
			return err
		}
		o, err := listOptions(r)
		if err != nil {
			return err
		}
		auth, err := d.auth(r)
		if err != nil {
			return err
		}
		page, err := d.Counters.ListNamespace(r.Context(), ns, o, auth, d.clientOf(r))
		if err != nil {
			return m.failed("namespace", err)
		}
		writeJSON(w, http.StatusOK, namespaceAnswerOf(ns, o, page))
		return nil
	}
}

// handleExportNamespace exports a namespace's counters as the operator's export does, for its
// owner or the operator: `hitcounter import` restores the file.
func handleExportNamespace(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ns, err := namespaceFrom(r)
		if err != nil {
			return err
		}
		auth, err := d.auth(r)
		if err != nil {
			return err
		}
		client := d.clientOf(r)
		return streamExport(w, r, m, "namespace_export", func(ctx context.Context, each func(counter.Info) error) error {
			return d.Counters.ExportNamespace(ctx, ns, auth, client, each)
		})
	}
}
