package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// JSONP, as CountAPI's and Abacus' clients use it: ?callback=name on hit, get, info and create
// answers `/**/name({...});` as JavaScript. The name is a JavaScript identifier, or up to four
// of them joined by dots (a method of an object: jQuery's generated names, "app.onCount"),
// nothing else: no brackets, quotes, parentheses or spaces, so the answer is always one call of
// a function the page defined, whatever the query string held. The leading comment keeps the
// body from starting with the callback's bytes (what the "Rosetta Flash" attack needed), and
// nosniff keeps a browser from running it as anything but the script a page asked for.
var callbackPattern = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]{0,63}(\.[A-Za-z_$][A-Za-z0-9_$]{0,63}){0,3}$`)

// maxCallback bounds what the pattern is asked to read: four names of 64 and three dots.
const maxCallback = 4*64 + 3

// callbackOf returns the request's JSONP callback, "" when it asks for JSON.
func callbackOf(r *http.Request) (string, error) {
	vals, ok := r.URL.Query()["callback"]
	if !ok {
		return "", nil
	}
	if len(vals) != 1 {
		return "", counter.Errorf(counter.EINVALID, nil, "query parameter \"callback\" is given %d times: give it once", len(vals))
	}
	cb := vals[0]
	if len(cb) > maxCallback || !callbackPattern.MatchString(cb) {
		return "", counter.Errorf(counter.EINVALID, nil, "query parameter \"callback\" must be a JavaScript function name: "+
			"up to four identifiers of 1 to 64 characters of A-Z a-z 0-9 _ $ (not starting with a digit) joined by dots")
	}
	return cb, nil
}

// answer writes v as JSON, or wrapped in callback when there is one. Only successes are
// wrapped: an error keeps its status and its JSON (docs/api.md, "JSONP").
func answer(w http.ResponseWriter, status int, callback string, v any) error {
	if callback == "" {
		writeJSON(w, status, v)
		return nil
	}
	body, err := json.Marshal(v)
	if err != nil { // the answers are plain structs of strings and numbers
		return counter.Errorf(counter.EINTERNAL, err, "internal error")
	}
	setBodyHeaders(w.Header(), "application/javascript; charset=utf-8")
	w.WriteHeader(status)
	b := make([]byte, 0, len(callback)+len(body)+10)
	b = append(b, "/**/"...)
	b = append(b, callback...)
	b = append(b, '(')
	b = append(b, body...)
	_, _ = w.Write(append(b, ");\n"...))
	return nil
}
