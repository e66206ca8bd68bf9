package httpapi

import (
	_ "embed"
	"net/http"
	"strings"
)

type route struct {
	pattern string
	handler http.Handler
}

// publicRoutes and operatorRoutes are the one place that lists every route: the public port's
// and the operator port's (never published: metrics and the operator's /admin/ routes), each
// with the format its errors are answered in (asJSON, asBadge, asPage; errors.go). GET
// patterns also answer HEAD; any other method gets 405 with an Allow header, and any other path
// 404, both from ServeMux. Every route is in openapi.json, the operator's with the operator
// port as their server, and nothing else is (TestOpenAPIMatchesRoutes).
func publicRoutes(d Deps) []route {
	c, m := d.Named, d.Metrics
	return []route{
		{"GET /{$}", serve(renderVisitError, handleVisit(d.Visits, c.Clients, m, d.Hostname))},
		{"GET /healthz", handleHealthz()},
		{"GET /readyz", handleReadyz(d.Pinger, d.Drain, m)},
		{"GET /openapi.json", handleOpenAPI()},
		{"GET /favicon.ico", handleFavicon()},

		// Named counters, on CountAPI's and Abacus' paths (docs/api.md).
		{"GET /hit/{namespace}/{key}", asJSON(handleHit(c, m))},
		{"GET /get/{namespace}/{key}", asJSON(handleRead(c, m, getAnswer))},
		{"GET /info/{namespace}/{key}", asJSON(handleRead(c, m, infoAnswerOf))},
		{"POST /create/{namespace}/{key}", asJSON(handleCreate(c, m, false))},
		// CountAPI's and Abacus' clients create with GET; without a name, a random one.
		{"GET /create/{namespace}/{key}", asJSON(handleCreate(c, m, false))},
		{"POST /create", asJSON(handleCreate(c, m, true))},
		{"GET /create", asJSON(handleCreate(c, m, true))},
		{"POST /create/{$}", asJSON(handleCreate(c, m, true))},
		{"GET /create/{$}", asJSON(handleCreate(c, m, true))},
		{"GET /stream/{namespace}/{key}", asJSON(handleStream(c, d.Streams, d.Drain, m))},
		{"POST /set/{namespace}/{key}", asJSON(handleChange(c, m, "set"))},
		{"POST /update/{namespace}/{key}", asJSON(handleChange(c, m, "update"))},
		{"POST /reset/{namespace}/{key}", asJSON(handleChange(c, m, "reset"))},
		{"POST /delete/{namespace}/{key}", asJSON(handleDelete(c, m))},
		{"POST /settings/{namespace}/{key}", asJSON(handleSettings(c, m))},

		// Badges, history and the page (docs/badges.md).
		{"GET /hit/{namespace}/{key}/shield", asBadge(handleShield(c, m, true))},
		{"GET /get/{namespace}/{key}/shield", asBadge(handleShield(c, m, false))},
		{"GET /api/count/incr/badge.svg", asBadge(handleSeeyoufarm(c, m, true))},
		{"GET /api/count/keep/badge.svg", asBadge(handleSeeyoufarm(c, m, false))},
		{"GET /badges/logos", handleLogos()},
		{"GET /stats/{namespace}/{key}", asJSON(handleStats(c, m))},
		{"GET /c/{namespace}/{key}", asPage(handlePage(c, m))},
		// JSON for a client with a bearer token; the page's own form gets pages (inPage).
		{"POST /c/{namespace}/{key}/me", asJSON(handleOwnerMark(c, m))},

		// Namespaces with an owner (docs/api.md).
		{"POST /namespace/{namespace}", asJSON(handleClaimNamespace(c, m))},
		{"GET /namespace/{namespace}", asJSON(handleListNamespace(c, m))},
		{"GET /namespace/{namespace}/export", asJSON(handleExportNamespace(c, m))},
		{"GET /n/{namespace}", asPage(handleNamespacePageForm())},
		{"POST /n/{namespace}", asPage(handleNamespacePage(c, m))},
	}
}

func operatorRoutes(d Deps) []route {
	c, m := d.Named, d.Metrics
	return []route{
		{"GET /metrics", m.Handler()},
		{"POST /admin/key/{namespace}/{key}", asJSON(handleAssignAdminKey(c, m))},
		{"GET /admin/export", asJSON(handleExport(c, m))},
		{"POST /admin/import", asJSON(handleImport(c, m))},
	}
}

//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves the API's OpenAPI 3.1 document.
func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setBodyHeaders(w.Header(), "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(openAPIDocument)
	})
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
			// "/create/{$}" is the path "/create/", as openapi.json names it.
			return strings.TrimSuffix(pattern[i+1:], "{$}")
		}
	}
	return pattern
}
