package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// StatusClientClosedRequest is nginx's status for a client that hung up before the answer. It
// goes to a connection nobody reads any more; what it is for is the log line and the metrics.
const StatusClientClosedRequest = 499

// statusFor is the one place where a domain error code becomes an HTTP status.
func statusFor(code string) int {
	switch code {
	case counter.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case counter.ECANCELED:
		return StatusClientClosedRequest
	case counter.EINVALID:
		return http.StatusBadRequest
	case counter.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case counter.EFORBIDDEN:
		return http.StatusForbidden
	case counter.ENOTFOUND:
		return http.StatusNotFound
	case counter.ECONFLICT:
		return http.StatusConflict
	case counter.ERATELIMITED:
		return http.StatusTooManyRequests
	case counter.EFULL:
		// 507: the server cannot store what the request would create; nothing is evicted.
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

// setBodyHeaders sets what every answer with a body carries: its type, never cached, and no
// sniffing of another type.
func setBodyHeaders(h http.Header, contentType string) {
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// writeText writes a one-line plain-text answer. Headers are set before WriteHeader.
func writeText(w http.ResponseWriter, status int, msg string) {
	setBodyHeaders(w.Header(), formatText.contentType())
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// errorAnswer is the JSON body of every error.
type errorAnswer struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// writeError is the one error writer: msg (safe to show a client) and the domain code, if any,
// as JSON for JSON clients, as one line of text for everyone else.
func writeError(w http.ResponseWriter, f format, status int, msg, code string, cause error) {
	setErrorHeaders(w.Header(), status, cause)
	if f != formatJSON {
		writeText(w, status, msg)
		return
	}
	setBodyHeaders(w.Header(), formatJSON.contentType())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorAnswer{Error: msg, Code: code})
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

// writeDomainError answers a failed domain call: the status from its code and its client-safe
// message; the full error is noted for the log line. (A client that hung up is answered 499
// like anyone else; nobody reads it, and the log line says what happened.)
func writeDomainError(w http.ResponseWriter, f format, err error) {
	noteError(w, err)
	code := counter.ErrorCode(err)
	writeError(w, f, statusFor(code), counter.ErrorMessage(err), code, err)
}
