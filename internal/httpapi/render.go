package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// The writers of successful answers; failures go through the renderers in errors.go. Each sets
// its headers before WriteHeader.

// setBodyHeaders sets what every answer with a body carries: its type, never cached, and no
// sniffing of another type.
func setBodyHeaders(h http.Header, contentType string) {
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// writeText writes a one-line plain-text answer.
func writeText(w http.ResponseWriter, status int, msg string) {
	setBodyHeaders(w.Header(), formatText.contentType())
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// writeJSON answers v as JSON with status.
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

// writeHeadersOnly answers a HEAD request of a JSON route: the headers GET would send, no body,
// nothing counted or changed.
func writeHeadersOnly(w http.ResponseWriter, contentType string) {
	setBodyHeaders(w.Header(), contentType)
	w.WriteHeader(http.StatusOK)
}

// allowCORS lets any web page read the answer: only on the public read and hit routes, whose
// answers hold nothing a page could not get by embedding them.
func allowCORS(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
}
