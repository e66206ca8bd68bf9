package httpapi

import "net/http"

// addRoutes is the one place that lists every route. GET patterns also answer HEAD; any other
// method gets 405 with an Allow header, and any other path 404, both from ServeMux.
func addRoutes(mux *http.ServeMux, d Deps) {
	mux.Handle("GET /{$}", handleVisit(d.Counter, d.Metrics, d.Hostname))
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.Pinger, d.Drain, d.Metrics))
	mux.Handle("GET /metrics", d.Metrics.Handler())
}

// probeRoutes are asked every few seconds by every load balancer and orchestrator: they are
// counted in the metrics like every route, but not written to the access log, which they would
// otherwise fill (a failed probe is still logged).
var probeRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// routeLabel turns a ServeMux pattern into the metrics and log label: the path pattern without
// the method, "unmatched" for 404s and 405s. Never the raw path, whose values are unbounded.
func routeLabel(pattern string) string {
	switch pattern {
	case "":
		return "unmatched"
	case "GET /{$}":
		return "/"
	}
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == ' ' {
			return pattern[i+1:]
		}
	}
	return pattern
}
