package httpapi

import (
	"net/http"
	"strconv"

	"github.com/hitcounter/hitcounter/internal/counter"
)

var (
	headerTextPlain = []string{"text/plain; charset=utf-8"}
	headerJSON      = []string{"application/json"}
	headerRetry     = []string{"1"}
)

// statusFor is the one place where a domain error code becomes an HTTP status.
func statusFor(code string) int {
	switch code {
	case counter.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeText writes a one-line plain-text answer; for errors, msg must be safe to show a
// client. Headers are set before WriteHeader.
func writeText(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h["Content-Type"] = headerTextPlain
	h["Cache-Control"] = headerNoStore
	h["X-Content-Type-Options"] = headerNoSniff
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// writeDomainError answers a failed domain call: the status from its code, its client-safe
// message (JSON for JSON clients), and the full error noted for the log line.
func writeDomainError(w http.ResponseWriter, f format, err error) {
	noteError(w, err)
	code := counter.ErrorCode(err)
	status := statusFor(code)
	if status == http.StatusServiceUnavailable {
		w.Header()["Retry-After"] = headerRetry
	}
	msg := counter.ErrorMessage(err)
	if f != formatJSON {
		writeText(w, status, msg)
		return
	}
	body := `{"error":` + strconv.Quote(msg) + `,"code":` + strconv.Quote(code) + "}\n"
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Cache-Control"] = headerNoStore
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
