package httpapi

import (
	_ "embed"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// htmlPolicy: the page is self-contained (inline style, no scripts, fonts or images).
const htmlPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed visit.html
var visitPageSource string

// The page around its two values. Not html/template: it would double the binary (its reflection
// keeps every exported method alive) for two substitutions. The count is digits; the hostname
// goes through escapeText. FuzzVisitEncoders parses the result back with an HTML parser for any
// hostname and count.
var visitPageHead, visitPageMiddle, visitPageTail = splitPage(visitPageSource)

// escapeText makes any string HTML text: html.EscapeString's five characters, plus NUL, which an
// HTML parser would drop, written as U+FFFD (as html/template does).
var escapeText = strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "\x00", "\uFFFD")

func splitPage(page string) (head, middle, tail string) {
	head, rest, ok1 := strings.Cut(page, "{{count}}")
	middle, tail, ok2 := strings.Cut(rest, "{{served_by}}")
	if !ok1 || !ok2 {
		panic("visit.html lacks {{count}} or {{served_by}}") // caught by every test at init
	}
	return head, middle, tail
}

// visitAnswer is the JSON answer to a visit.
type visitAnswer struct {
	Count    int64  `json:"count"`
	ServedBy string `json:"served_by"`
}

// handleVisit counts a visit and answers with its number. HEAD answers with the same headers
// and counts nothing. Its errors are in the format asked for (renderVisitError).
func handleVisit(v counter.VisitCounter, clients counter.ClientRules, m *Metrics, hostname string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		h := w.Header()
		h.Set("Vary", "Accept")
		f, ok := negotiate(acceptHeader(r))
		if !ok {
			return &protocolError{http.StatusNotAcceptable, "not acceptable: this page is text/plain, text/html or application/json"}
		}
		setBodyHeaders(h, f.contentType())
		if f == formatHTML {
			h.Set("Content-Security-Policy", htmlPolicy)
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return nil
		}

		n, err := v.Visit(r.Context(), identify(clients, r))
		if err != nil {
			return m.failed("visit", err)
		}
		m.visits.Inc()

		w.WriteHeader(http.StatusOK)
		switch f {
		case formatJSON:
			_ = json.NewEncoder(w).Encode(visitAnswer{Count: n, ServedBy: hostname})
		case formatHTML:
			_, _ = io.WriteString(w, visitPageHead+strconv.FormatInt(n, 10)+visitPageMiddle+escapeText.Replace(hostname)+visitPageTail)
		default:
			// One write of one small buffer: this is the line every benchmark and curl asks for.
			b := make([]byte, 0, 64)
			b = append(b, "Hello World! I have been seen "...)
			b = strconv.AppendInt(b, n, 10)
			_, _ = w.Write(append(b, " times.\n"...))
		}
		return nil
	}
}

func acceptHeader(r *http.Request) string {
	return strings.Join(r.Header.Values("Accept"), ",")
}
