package httpapi

import (
	"net/http"
	"strconv"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// The named counters' own routes: hit, get, info, create, set, update, reset, delete, and the
// operator's admin key (docs/api.md). Each answers JSON, or JSONP where CountAPI's clients ask
// for it; their errors are JSON (asJSON in routes.go).

func nameFrom(r *http.Request) (counter.Name, error) {
	return counter.ParseName(r.PathValue("namespace"), r.PathValue("key"))
}

// int64Param reads a required (or, with def, optional) integer query parameter.
func int64Param(r *http.Request, name string, def *int64) (int64, error) {
	raw, ok := r.URL.Query()[name]
	if !ok || len(raw) == 0 {
		if def != nil {
			return *def, nil
		}
		return 0, counter.Errorf(counter.EINVALID, nil, "query parameter %q is required: an integer", name)
	}
	if len(raw) > 1 {
		return 0, counter.Errorf(counter.EINVALID, nil, "query parameter %q is given %d times: give it once", name, len(raw))
	}
	v, err := strconv.ParseInt(raw[0], 10, 64)
	if err != nil {
		return 0, counter.Errorf(counter.EINVALID, nil, "query parameter %q must be an integer between -9223372036854775808 and 9223372036854775807", name)
	}
	return v, nil
}

// hit counts one hit of the request's client on name, with today's unique visitors in the
// counts when uniques; the answer carries the hit limit's headers. Shared by /hit and the
// counting badges.
func (d CounterDeps) hit(w http.ResponseWriter, r *http.Request, m *Metrics, name counter.Name, client counter.Client, uniques bool) (counter.Counts, error) {
	counted := d.Counters.Hit
	if uniques {
		counted = d.Counters.HitWithUniques
	}
	// A JSONP answer is a script any site can load and read, cookie included: there the owner's
	// mark would tell that site whether its visitor owns the counter. It counts like anyone's.
	if c, err := r.Cookie(ownerCookieName(name)); err == nil && !r.URL.Query().Has("callback") {
		client.Owner = d.Counters.IsOwner(name, c.Value)
	}
	res, err := counted(r.Context(), name, client)
	if err != nil {
		return counter.Counts{}, m.failed("hit", err)
	}
	setRateLimitHeaders(w.Header(), res.Limit)
	if res.Counted {
		m.hits.Inc()
	} else {
		m.uncounted.Inc()
	}
	return res.Counts, nil
}

// handleHit counts one hit, creating the counter on its first. HEAD answers the headers and
// counts nothing, like HEAD /.
func handleHit(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		allowCORS(w)
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		callback, err := callbackOf(r)
		if err != nil {
			return err
		}
		if r.Method == http.MethodHead {
			writeHeadersOnly(w, formatJSON.contentType())
			return nil
		}
		n, err := d.hit(w, r, m, name, d.clientOf(r), false)
		if err != nil {
			return err
		}
		return answer(w, http.StatusOK, callback, valueAnswer{Value: n.Total})
	}
}

// handleRead answers a counter read (get, info) with what render makes of it.
func handleRead(d CounterDeps, m *Metrics, render func(counter.Info) any) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		allowCORS(w)
		callback, err := callbackOf(r)
		if err != nil {
			return err
		}
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		info, err := d.Counters.Get(r.Context(), name, d.clientOf(r))
		if err != nil {
			return m.failed("get", err)
		}
		return answer(w, http.StatusOK, callback, render(info))
	}
}

// handleCreate creates the counter the path names; with random, one with a random name
// (counter.RandomName), as Abacus' /create/ does. GET does the same as POST, for CountAPI's and
// Abacus' clients, which create with GET (docs/api.md).
func handleCreate(d CounterDeps, m *Metrics, random bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var name counter.Name
		var err error
		if random {
			name = counter.RandomName()
		} else if name, err = nameFrom(r); err != nil {
			return err
		}
		callback, err := callbackOf(r)
		if err != nil {
			return err
		}
		if r.Method == http.MethodHead {
			// HEAD comes with GET and must change nothing: the headers only, like /hit's HEAD.
			writeHeadersOnly(w, formatJSON.contentType())
			return nil
		}
		zero := int64(0)
		initial, err := int64Param(r, "initializer", &zero)
		if err != nil {
			return err
		}
		// A key matters only in a namespace with an owner: its key, or the operator's token. A
		// malformed header is no key, as it was before namespaces had owners.
		auth, _ := d.optionalAuth(r)
		key, limit, err := d.Counters.CreateAs(r.Context(), name, initial, auth, d.clientOf(r))
		setRateLimitHeaders(w.Header(), limit)
		if err != nil {
			return m.failed("create", err)
		}
		return answer(w, http.StatusCreated, callback, createdAnswer{Namespace: name.Namespace, Key: name.Key, Value: initial, AdminKey: key})
	}
}

// handleChange serves set, update and reset: authorise, then one atomic change in the store.
func handleChange(d CounterDeps, m *Metrics, op string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		var value int64
		if op != "reset" {
			if value, err = int64Param(r, "value", nil); err != nil {
				return err
			}
		}
		auth, err := d.auth(r)
		if err != nil {
			return err
		}
		var v int64
		switch op {
		case "update":
			v, err = d.Counters.Update(r.Context(), name, value, auth, d.clientOf(r))
		default: // set, and reset as set 0
			v, err = d.Counters.Set(r.Context(), name, value, auth, d.clientOf(r))
		}
		if err != nil {
			return m.failed(op, err)
		}
		writeJSON(w, http.StatusOK, valueAnswer{Value: v})
		return nil
	}
}

func handleDelete(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		auth, err := d.auth(r)
		if err != nil {
			return err
		}
		if err := d.Counters.Delete(r.Context(), name, auth, d.clientOf(r)); err != nil {
			return m.failed("delete", err)
		}
		writeJSON(w, http.StatusOK, statusAnswer{Status: "ok", Message: "counter " + name.String() + " deleted"})
		return nil
	}
}

// handleAssignAdminKey gives a counter a new admin key, for the operator: how a counter created
// by its first hit gets an owner.
func handleAssignAdminKey(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		if err := d.operator(r); err != nil {
			return err
		}
		key, err := d.Counters.AssignAdminKey(r.Context(), name)
		if err != nil {
			return m.failed("admin_key", err)
		}
		writeJSON(w, http.StatusOK, adminKeyAnswer{Namespace: name.Namespace, Key: name.Key, AdminKey: key})
		return nil
	}
}
