package httpapi

import (
	"html"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Header values shared by every response; ServeMux and net/http never modify them in place.
var (
	headerNoStore     = []string{"no-store"}
	headerVaryAccept  = []string{"Accept"}
	headerNoSniff     = []string{"nosniff"}
	headerHTMLPolicy  = []string{"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}
	headerContentType = [...][]string{
		formatText: {formatText.contentType()},
		formatJSON: {formatJSON.contentType()},
		formatHTML: {formatHTML.contentType()},
	}
)

// bodyPool holds response buffers, so answering a visit allocates no body.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// handleVisit counts a visit with one atomic increment and answers with the new count. HEAD
// answers with the same headers and counts nothing.
func handleVisit(c counter.Counter, m *Metrics, hostname string) http.Handler {
	jsonHost := strconv.Quote(hostname) // hostnames are ASCII; Quote makes a valid JSON string of them
	htmlHost := html.EscapeString(hostname)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Vary"] = headerVaryAccept
		f, ok := negotiate(acceptHeader(r))
		if !ok {
			writeText(w, http.StatusNotAcceptable, "not acceptable: this page is text/plain, text/html or application/json")
			return
		}
		h["Content-Type"] = headerContentType[f]
		h["Cache-Control"] = headerNoStore
		h["X-Content-Type-Options"] = headerNoSniff
		if f == formatHTML {
			h["Content-Security-Policy"] = headerHTMLPolicy
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}

		n, err := c.Visit(r.Context())
		if err != nil {
			m.redisErrors.WithLabelValues("visit", counter.ErrorCode(err)).Inc()
			writeDomainError(w, f, err)
			return
		}
		m.visits.Inc()

		bp := bodyPool.Get().(*[]byte)
		b := renderVisit((*bp)[:0], f, n, jsonHost, htmlHost)
		// No Content-Length: net/http computes it for a body written in one piece.
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
		*bp = b
		bodyPool.Put(bp)
	})
}

func acceptHeader(r *http.Request) string {
	values := r.Header["Accept"]
	switch len(values) {
	case 0:
		return ""
	case 1:
		return values[0]
	}
	return strings.Join(values, ",")
}

func renderVisit(b []byte, f format, n int64, jsonHost, htmlHost string) []byte {
	switch f {
	case formatJSON:
		b = append(b, `{"count":`...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, `,"served_by":`...)
		b = append(b, jsonHost...)
		return append(b, "}\n"...)
	case formatHTML:
		b = append(b, pageHead...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, pageMiddle...)
		b = append(b, htmlHost...)
		return append(b, pageTail...)
	}
	b = append(b, "Hello World! I have been seen "...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, " times.\n"...)
}

// The page is self-contained: inline style, no scripts, fonts or images.
const (
	pageHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hitcounter</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;min-height:100vh;display:grid;place-items:center;background:#f6f7f9;color:#1d232b}
main{text-align:center;padding:2rem}
.count{font-size:clamp(3rem,12vw,7rem);font-weight:700;margin:.2em 0;font-variant-numeric:tabular-nums}
.by{color:#5b6675;font-size:.95rem}
code{background:#e8ebf0;padding:.1em .4em;border-radius:4px}
</style>
</head>
<body>
<main>
<p>Hello World! I have been seen</p>
<p class="count">`
	pageMiddle = `</p>
<p>times.</p>
<p class="by">served by <code>`
	pageTail = `</code></p>
</main>
</body>
</html>
`
)

// handleHealthz is liveness: the process serves HTTP. It never calls Redis, so a Redis outage
// does not make an orchestrator restart healthy replicas.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
}

// handleReadyz is readiness: 200 only while not shutting down and Redis answers PING in time.
func handleReadyz(p counter.Pinger, draining func() bool, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining() {
			writeText(w, http.StatusServiceUnavailable, "not ready: shutting down")
			return
		}
		if err := p.Ping(r.Context()); err != nil {
			m.redisErrors.WithLabelValues("ping", counter.ErrorCode(err)).Inc()
			noteError(w, err)
			writeText(w, http.StatusServiceUnavailable, "not ready: "+counter.ErrorMessage(err))
			return
		}
		writeText(w, http.StatusOK, "ok")
	})
}
