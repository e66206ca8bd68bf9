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
	// AccessLog logs one line per request; failed requests are logged either way.
	AccessLog bool
	// Draining reports that the server is shutting down; /readyz then answers 503.
	Draining func() bool
}

// NewHandler returns the complete HTTP handler: routes inside request-id, logging, metrics and
// panic recovery.
func NewHandler(d Deps) http.Handler {
	if d.Draining == nil {
		d.Draining = func() bool { return false }
	}
	mux := http.NewServeMux()
	addRoutes(mux, d)
	return observe(d, mux)
}
