package httpapi

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/exportline"
)

// CounterDeps are what the named-counter routes need.
type CounterDeps struct {
	Counters *counter.Counters
	// Clients are the rules that say who sent a request (docs/security.md).
	Clients counter.ClientRules
	// OperatorToken opens the operator routes and every counter; "" disables them.
	OperatorToken string
	// HistoryDays is how many days of history the store keeps (the most /stats answers).
	HistoryDays int
}

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

// writeJSON answers v as JSON with status. Headers are set before WriteHeader.
func writeJSON(w http.ResponseWriter, status int, v any) {
	setBodyHeaders(w.Header(), formatJSON.contentType())
	w.WriteHeader(status)
	if va, ok := v.(valueAnswer); ok {
		// The answer of every hit, in one write of one small buffer; the same bytes
		// encoding/json writes (TestValueAnswerAsEncodingJSON).
		b := make([]byte, 0, 32)
		b = append(b, `{"value":`...)
		b = strconv.AppendInt(b, va.Value, 10)
		_, _ = w.Write(append(b, "}\n"...))
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// writeAPIError answers a failed named-counter call as JSON.
func writeAPIError(w http.ResponseWriter, err error) { writeDomainError(w, formatJSON, err) }

// allowCORS lets any web page read the answer: only on the public read and hit routes, whose
// answers hold nothing a page could not get by embedding them.
func allowCORS(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
}

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

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", counter.Errorf(counter.EUNAUTHORIZED, nil, "missing Authorization header: send Bearer and the key")
	}
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", counter.Errorf(counter.EUNAUTHORIZED, nil, "the Authorization header must be Bearer and the key")
	}
	return token, nil
}

// isOperator compares in constant time, through hashes so that the lengths match too.
func (d CounterDeps) isOperator(token string) bool {
	if d.OperatorToken == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(d.OperatorToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// auth says who is asking: the operator, or the holder of some admin key, checked by the store
// against the counter's.
func (d CounterDeps) auth(r *http.Request) (counter.Auth, error) {
	token, err := bearer(r)
	if err != nil {
		return counter.Auth{}, err
	}
	if d.isOperator(token) {
		return counter.Auth{Operator: true}, nil
	}
	return counter.Auth{AdminKeyHash: counter.HashAdminKey(token)}, nil
}

// operator lets the request through only with the operator token.
func (d CounterDeps) operator(r *http.Request) error {
	if d.OperatorToken == "" {
		return counter.Errorf(counter.EFORBIDDEN, nil, "operator routes are disabled: no operator token is configured (OPERATOR_TOKEN_FILE)")
	}
	token, err := bearer(r)
	if err != nil {
		return err
	}
	if !d.isOperator(token) {
		return counter.Errorf(counter.EFORBIDDEN, nil, "the token given is not the operator token")
	}
	return nil
}

// clientOf is who sent the request.
func (d CounterDeps) clientOf(r *http.Request) counter.Client { return identify(d.Clients, r) }

// identify is who sent the request, by the domain's rules: the connection's peer, the
// X-Forwarded-For lines (believed only from trusted proxies) and the user agent.
func identify(rules counter.ClientRules, r *http.Request) counter.Client {
	return rules.Identify(peerAddr(r.RemoteAddr), r.Header.Values("X-Forwarded-For"), r.UserAgent())
}

// peerAddr is the address of an http.Request's RemoteAddr ("ip:port"); invalid if it is not one.
func peerAddr(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// setRateLimitHeaders describes a limit in the RateLimit-* headers; nothing when there is none.
func setRateLimitHeaders(h http.Header, a counter.Allowance) {
	if a.Limit == 0 {
		return
	}
	h.Set("RateLimit-Limit", strconv.FormatInt(a.Limit, 10))
	h.Set("RateLimit-Remaining", strconv.FormatInt(a.Remaining, 10))
	h.Set("RateLimit-Reset", a.RetryAfter())
}

// hit counts one hit of client on name, with today's unique visitors in the counts when
// uniques; the answer carries the hit limit's headers.
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
		m.limitedOrFailed("hit", err)
		return counter.Counts{}, err
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
func handleHit(d CounterDeps, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allowCORS(w)
		name, err := nameFrom(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		callback, err := callbackOf(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		if r.Method == http.MethodHead {
			setBodyHeaders(w.Header(), formatJSON.contentType())
			w.WriteHeader(http.StatusOK)
			return
		}
		n, err := d.hit(w, r, m, name, d.clientOf(r), false)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		answer(w, http.StatusOK, callback, valueAnswer{Value: n.Total})
	})
}

// handleRead answers a counter read (get, info) with what render makes of it.
func handleRead(d CounterDeps, m *Metrics, render func(counter.Info) any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allowCORS(w)
		callback, err := callbackOf(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		info, err := d.get(r)
		if err != nil {
			m.limitedOrFailed("get", err)
			writeAPIError(w, err)
			return
		}
		answer(w, http.StatusOK, callback, render(info))
	})
}

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

func (d CounterDeps) get(r *http.Request) (counter.Info, error) {
	name, err := nameFrom(r)
	if err != nil {
		return counter.Info{}, err
	}
	return d.Counters.Get(r.Context(), name, d.clientOf(r))
}

// handleCreate creates the counter the path names; with random, one with a random name
// (counter.RandomName), as Abacus' /create/ does. GET does the same as POST, for CountAPI's and Abacus'
// clients, which create with GET (docs/api.md).
func handleCreate(d CounterDeps, m *Metrics, random bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var name counter.Name
		var err error
		if random {
			name = counter.RandomName()
		} else if name, err = nameFrom(r); err != nil {
			writeAPIError(w, err)
			return
		}
		callback, err := callbackOf(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		if r.Method == http.MethodHead {
			// HEAD comes with GET and must change nothing: the headers only, like /hit's HEAD.
			setBodyHeaders(w.Header(), formatJSON.contentType())
			w.WriteHeader(http.StatusOK)
			return
		}
		zero := int64(0)
		initial, err := int64Param(r, "initializer", &zero)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		// A key matters only in a namespace with an owner: its key, or the operator's token. A
		// malformed header is no key, as it was before namespaces had owners.
		auth, _ := d.optionalAuth(r)
		key, limit, err := d.Counters.CreateAs(r.Context(), name, initial, auth, d.clientOf(r))
		setRateLimitHeaders(w.Header(), limit)
		if err != nil {
			m.limitedOrFailed("create", err)
			writeAPIError(w, err)
			return
		}
		answer(w, http.StatusCreated, callback, createdAnswer{Namespace: name.Namespace, Key: name.Key, Value: initial, AdminKey: key})
	})
}

// handleChange serves set, update and reset: authorise, then one atomic change in the store.
func handleChange(d CounterDeps, m *Metrics, op string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := nameFrom(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		var value int64
		if op != "reset" {
			if value, err = int64Param(r, "value", nil); err != nil {
				writeAPIError(w, err)
				return
			}
		}
		auth, err := d.auth(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		var v int64
		switch op {
		case "update":
			v, err = d.Counters.Update(r.Context(), name, value, auth, d.clientOf(r))
		default: // set, and reset as set 0
			v, err = d.Counters.Set(r.Context(), name, value, auth, d.clientOf(r))
		}
		if err != nil {
			m.limitedOrFailed(op, err)
			writeAPIError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, valueAnswer{Value: v})
	})
}

func handleDelete(d CounterDeps, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := nameFrom(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		auth, err := d.auth(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		if err := d.Counters.Delete(r.Context(), name, auth, d.clientOf(r)); err != nil {
			m.limitedOrFailed("delete", err)
			writeAPIError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, statusAnswer{Status: "ok", Message: "counter " + name.String() + " deleted"})
	})
}

func handleAssignAdminKey(d CounterDeps, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := nameFrom(r)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		if err := d.operator(r); err != nil {
			writeAPIError(w, err)
			return
		}
		key, err := d.Counters.AssignAdminKey(r.Context(), name)
		if err != nil {
			m.redisError("admin_key", err)
			writeAPIError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, adminKeyAnswer{Namespace: name.Namespace, Key: name.Key, AdminKey: key})
	})
}

// transferTimeout replaces the server's read and write timeouts for an export or import, which
// move every counter and may take minutes.
const transferTimeout = 30 * time.Minute

func handleExport(d CounterDeps, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := d.operator(r); err != nil {
			writeAPIError(w, err)
			return
		}
		streamExport(w, r, m, "export", d.Counters.Export)
	})
}

// importBatch is how many lines go to the store together.
const importBatch = 1000

// maxImportLine bounds one line of an import: the format's own bound.
const maxImportLine = exportline.MaxLine

func handleImport(d CounterDeps, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := d.operator(r); err != nil {
			writeAPIError(w, err)
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(transferTimeout))
		_ = rc.SetWriteDeadline(time.Now().Add(transferTimeout))

		var total counter.ImportResult
		batch := make([]counter.Record, 0, importBatch)
		first, line := 0, 0 // the batch's first line, the line being read
		// flush writes the batch; on failure it answers, naming the batch's lines, since its
		// lines are written concurrently and any of them may have been applied.
		flush := func() bool {
			if len(batch) == 0 {
				return true
			}
			res, err := d.Counters.Import(r.Context(), batch)
			total.Created += res.Created
			total.Updated += res.Updated
			total.Unchanged += res.Unchanged
			total.Days += res.Days
			total.DaysUnchanged += res.DaysUnchanged
			total.DaysSkipped += res.DaysSkipped
			batch = batch[:0]
			if err != nil {
				writeImportError(w, m, fmt.Sprintf("lines %d-%d", first, line), err, total)
				return false
			}
			return true
		}
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(make([]byte, 0, maxImportLine), maxImportLine)
		for sc.Scan() {
			line++
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			info, err := exportline.Parse(sc.Bytes(), d.Counters.Now())
			if err != nil {
				// Everything before the bad line is applied, so that the answer is simple: all
				// lines before N, and none from N on.
				line--
				if flush() {
					writeImportError(w, m, fmt.Sprintf("line %d", line+1), err, total)
				}
				return
			}
			if len(batch) == 0 {
				first = line
			}
			batch = append(batch, info)
			if len(batch) == importBatch && !flush() {
				return
			}
		}
		if err := sc.Err(); err != nil {
			msg := "reading the body: " + err.Error()
			if errors.Is(err, bufio.ErrTooLong) {
				msg = fmt.Sprintf("a line is longer than %d bytes", maxImportLine)
			}
			if flush() {
				writeImportError(w, m, fmt.Sprintf("line %d", line+1), counter.Errorf(counter.EINVALID, err, "%s", msg), total)
			}
			return
		}
		if !flush() {
			return
		}
		writeJSON(w, http.StatusOK, total)
	})
}

// writeImportError answers a failed import: where (a line, or the lines of a batch the store
// refused), what, and what was applied. Re-running the whole import is safe, since each line
// sets its counter to a fixed state.
func writeImportError(w http.ResponseWriter, m *Metrics, where string, err error, done counter.ImportResult) {
	m.redisError("import", err)
	code := counter.ErrorCode(err)
	msg := fmt.Sprintf("%s: %s (applied: %d created, %d updated, %d unchanged; fix it and import again: lines already imported do not change)",
		where, counter.ErrorMessage(err), done.Created, done.Updated, done.Unchanged)
	noteError(w, err)
	writeError(w, formatJSON, statusFor(code), msg, code, err)
}
