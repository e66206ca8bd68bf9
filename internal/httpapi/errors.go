package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/hitcounter/hitcounter/internal/badge"
	"github.com/hitcounter/hitcounter/internal/counter"
)

// A failed request is answered in one place per answer format. A handler parses the request,
// asks the domain and renders the answer; when something fails it returns the error, and the
// adapter (serve) hands it to the renderer of the route's format: JSON (the API), an error
// badge (an <img> cannot show JSON), an HTML page (a browser's form), or one line of text (the
// visit counter's plain answer).

// handlerFunc is a handler that returns its failure instead of answering it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// errorRenderer answers a failed request in one format.
type errorRenderer func(w http.ResponseWriter, r *http.Request, err error)

// serve adapts h to http.Handler: an error it returns is answered by render, or by the
// renderer it names (inPage). h must not have written its answer when it returns an error.
func serve(render errorRenderer, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		if f, ok := errors.AsType[*inFormat](err); ok {
			f.render(w, r, f.err)
			return
		}
		render(w, r, err)
	})
}

// inFormat is an error to answer in a format other than the route's: a route whose answers
// come in two formats (POST /c/{namespace}/{key}/me answers its page's form with pages) says
// which one its error takes.
type inFormat struct {
	render errorRenderer
	err    error
}

func (f *inFormat) Error() string { return f.err.Error() }
func (f *inFormat) Unwrap() error { return f.err }

// inPage answers err as an HTML page, whatever the route's format.
func inPage(err error) error { return &inFormat{render: renderPageError, err: err} }

// The adapters of the route list, one per format of the route's answers.
func asJSON(h handlerFunc) http.Handler  { return serve(renderJSONError, h) }
func asBadge(h handlerFunc) http.Handler { return serve(renderBadgeError, h) }
func asPage(h handlerFunc) http.Handler  { return serve(renderPageError, h) }

// StatusClientClosedRequest is nginx's status for a client that hung up before the answer. It
// goes to a connection nobody reads any more; what it is for is the log line and the metrics.
const StatusClientClosedRequest = 499

// statuses is the one place where a domain error code becomes an HTTP status; any other code
// (EINTERNAL, or one this table lacks) is a 500.
var statuses = map[string]int{
	counter.EUNAVAILABLE:  http.StatusServiceUnavailable,
	counter.ECANCELED:     StatusClientClosedRequest,
	counter.EINVALID:      http.StatusBadRequest,
	counter.EUNAUTHORIZED: http.StatusUnauthorized,
	counter.EFORBIDDEN:    http.StatusForbidden,
	counter.ENOTFOUND:     http.StatusNotFound,
	counter.ECONFLICT:     http.StatusConflict,
	counter.ERATELIMITED:  http.StatusTooManyRequests,
	// 507: the server cannot store what the request would create; nothing is evicted.
	counter.EFULL: http.StatusInsufficientStorage,
}

// statusFor is the status of a domain error code, by statuses.
func statusFor(code string) int {
	if status, ok := statuses[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// protocolError is a refusal of HTTP's own, with no domain code: the status says it all (406
// for an Accept the visit page cannot meet). The request is not the service's failure, so
// nothing is noted for the log line.
type protocolError struct {
	status int
	msg    string
}

func (e *protocolError) Error() string { return e.msg }

// failure is what a client is told of err: the status, the domain code ("" for none) and the
// message, which is safe to show. The full error is noted for the request's log line.
func failure(w http.ResponseWriter, err error) (status int, code, msg string) {
	if pe, ok := errors.AsType[*protocolError](err); ok {
		return pe.status, "", pe.msg
	}
	noteError(w, err)
	code = counter.ErrorCode(err)
	return statusFor(code), code, counter.ErrorMessage(err)
}

// setErrorHeaders sets what an error status needs whatever the body's type: when to retry a 503
// or a 429 (and the limit that refused it, in the RateLimit-* headers), how to authenticate
// after a 401. cause is the domain error, if there is one.
func setErrorHeaders(h http.Header, status int, cause error) {
	switch status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="hitcounter"`)
	case http.StatusTooManyRequests:
		if le, ok := errors.AsType[*counter.LimitError](cause); ok {
			setRateLimitHeaders(h, le.Allowance)
			h.Set("Retry-After", le.RetryAfter())
		}
	}
}

// errorAnswer is the JSON body of every error.
type errorAnswer struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// renderJSONError answers an API request as JSON: the message and the domain code. JSONP
// requests too: an error keeps its status and its JSON (docs/api.md, "JSONP").
func renderJSONError(w http.ResponseWriter, _ *http.Request, err error) {
	status, code, msg := failure(w, err)
	setErrorHeaders(w.Header(), status, err)
	setBodyHeaders(w.Header(), formatJSON.contentType())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorAnswer{Error: msg, Code: code})
}

// renderTextError answers with the message as one line of text.
func renderTextError(w http.ResponseWriter, _ *http.Request, err error) {
	status, _, msg := failure(w, err)
	setErrorHeaders(w.Header(), status, err)
	writeText(w, status, msg)
}

// renderVisitError answers a failed visit in the format the client asked for: JSON for JSON
// clients, one line of text for everyone else (a browser's HTML page included).
func renderVisitError(w http.ResponseWriter, r *http.Request, err error) {
	if f, ok := negotiate(acceptHeader(r)); ok && f == formatJSON {
		renderJSONError(w, r, err)
		return
	}
	renderTextError(w, r, err)
}

// renderBadgeError answers a failed badge request with an error badge and the error's status.
func renderBadgeError(w http.ResponseWriter, _ *http.Request, err error) {
	status, code, _ := failure(w, err)
	h := w.Header()
	setBadgeHeaders(h)
	setErrorHeaders(h, status, err)
	w.WriteHeader(status)
	text := badgeErrorText(code)
	if errors.Is(err, errUnknownLogo) {
		text = "unknown logo, see /badges/logos"
	}
	_, _ = w.Write(badge.ErrorBadge("hits", text))
}

// badgeErrorText is what an error badge says: short, since it is drawn.
func badgeErrorText(code string) string {
	switch code {
	case counter.EINVALID:
		return "bad request"
	case counter.ENOTFOUND:
		return "no such counter"
	case counter.ERATELIMITED:
		return "rate limited"
	case counter.EFULL:
		return "counter limit reached"
	case counter.EUNAVAILABLE:
		return "unavailable"
	}
	return "error"
}

// renderPageError answers a failed page request (a page, or a form posted from one) as a short
// HTML page.
func renderPageError(w http.ResponseWriter, _ *http.Request, err error) {
	status, _, msg := failure(w, err)
	h := w.Header()
	setBodyHeaders(h, formatHTML.contentType())
	h.Set("Content-Security-Policy", pagePolicy)
	setErrorHeaders(h, status, err)
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"+
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>%d</title><p>%s</p></html>\n",
		status, escapeText.Replace(msg))
}
