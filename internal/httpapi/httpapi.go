// Package httpapi serves hitcounter over HTTP, on two listeners: the public one (the visit
// counter, the named counters in CountAPI's and Abacus' shape, JSONP and live streams, SVG
// badges, history, the counter's and the namespace owner's pages, the favicon, health and
// readiness probes, the OpenAPI document) and the operator's (Prometheus metrics and the
// /admin/ routes: admin keys, export, import), which is never published.
//
// routes.go lists every route, with the format its errors are answered in. A handler parses
// the request, asks the domain (internal/counter) and renders the answer; it returns a failure
// instead of answering it, and the one renderer of the route's format answers it (errors.go:
// JSON, an SVG error badge, an HTML page, or a line of text), with the status statusFor gives
// the domain's error code. observe wraps every route: request ids, the access log, metrics,
// panics, and Connection: close while draining.
package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Deps are what the HTTP layer needs from the rest of the program.
type Deps struct {
	// Visits is the visit counter of GET /.
	Visits  counter.VisitCounter
	Pinger  counter.Pinger
	Metrics *Metrics
	Logger  *slog.Logger
	// Hostname is sent as X-Served-By and shown on the page, so load balancing is visible.
	Hostname string
	// AccessLog logs one line per request, health probes excepted; failed requests are logged
	// either way.
	AccessLog bool
	// Drain is closed when the server starts shutting down: /readyz answers 503 from then on,
	// and every answer says Connection: close (see observe).
	Drain <-chan struct{}
	// Named serves the named counters (docs/api.md).
	Named CounterDeps
	// Streams serves GET /stream, the counters' live values.
	Streams StreamDeps
}

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

// NewHandler returns the public HTTP handler: its routes inside request-id, logging, metrics
// and panic recovery.
func NewHandler(d Deps) http.Handler { return newHandler(d, publicRoutes(withDefaults(d))) }

// NewOperatorHandler returns the operator's handler (metrics and /admin/), for a listener of
// its own that is never published.
func NewOperatorHandler(d Deps) http.Handler { return newHandler(d, operatorRoutes(withDefaults(d))) }

func withDefaults(d Deps) Deps {
	if d.Named.HistoryDays == 0 {
		d.Named.HistoryDays = counter.DefaultHistoryDays
	}
	if d.Drain == nil {
		d.Drain = make(chan struct{}) // never closed
	}
	return d
}

func newHandler(d Deps, routes []route) http.Handler {
	d = withDefaults(d)
	mux := http.NewServeMux()
	for _, r := range routes {
		mux.Handle(r.pattern, r.handler)
	}
	return observe(d, mux)
}
