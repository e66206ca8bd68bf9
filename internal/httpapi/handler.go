// Package httpapi serves the counter over HTTP: the visit page, health and readiness probes,
// and Prometheus metrics.
package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Deps are what the HTTP layer needs from the rest of the program.
type Deps struct {
	Counter counter.Counter
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
}

// NewHandler returns the complete HTTP handler: routes inside request-id, logging, metrics and
// panic recovery.
func NewHandler(d Deps) http.Handler {
	if d.Named.HistoryDays == 0 {
		d.Named.HistoryDays = 400
	}
	if d.Drain == nil {
		d.Drain = make(chan struct{}) // never closed
	}
	mux := http.NewServeMux()
	addRoutes(mux, d)
	return observe(d, mux)
}
