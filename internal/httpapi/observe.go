package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// recorder remembers the status a handler wrote, and the error behind a failed request, for
// the log line and the metrics.
type recorder struct {
	http.ResponseWriter
	status int
	err    error
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's own writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// noteError attaches err to the request's log line.
func noteError(w http.ResponseWriter, err error) {
	if rec, ok := w.(*recorder); ok {
		rec.err = err
	}
}

// observe wraps the router: it sets X-Served-By and X-Request-Id on every response, turns a
// panic into a 500, and records each request in the metrics and the log.
//
// While the server drains, every answer says Connection: close, so the load balancer drops each
// connection to this replica as it is used, with notice. The replica closes idle connections
// itself only at the end of the drain, once the balancer has stopped choosing it: a connection
// closed without notice while the balancer sends on it is a request that may have been counted
// and gets no answer (docs/reliability.md, "Exactly once through the load balancer").
func observe(d Deps, next http.Handler) http.Handler {
	ids := newIDGenerator()
	log := d.Logger
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = ids.next()
		}
		h := w.Header()
		h.Set("X-Served-By", d.Hostname)
		h.Set("X-Request-Id", id)
		if draining(d.Drain) {
			h.Set("Connection", "close")
		}

		rec := &recorder{ResponseWriter: w}
		d.Metrics.inFlight.Add(1)
		defer func() {
			d.Metrics.inFlight.Add(-1)
			if p := recover(); p != nil {
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(p) // net/http's own way to abort a response; let it do its job
				}
				log.LogAttrs(r.Context(), slog.LevelError, "panic",
					slog.String("request_id", id), slog.String("panic", fmt.Sprint(p)),
					slog.String("stack", string(debug.Stack())))
				if rec.status != 0 {
					// The status is out and part of the body may be: a 500 can no longer be
					// said, and ending normally would pass half an answer for a whole one.
					// Aborting makes the client see a cut-off transfer.
					d.Metrics.requests.WithLabelValues(routeLabel(r.Pattern), methodLabel(r.Method), "500").Inc()
					panic(http.ErrAbortHandler)
				}
				writeText(rec, http.StatusInternalServerError, "internal error")
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			route := routeLabel(r.Pattern)
			elapsed := time.Since(start)
			d.Metrics.requests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(status)).Inc()
			d.Metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
			if rec.err != nil || (d.AccessLog && !probeRoutes[route]) {
				logRequest(r.Context(), log, r.Method, route, status, elapsed, id, rec.err)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

func logRequest(ctx context.Context, log *slog.Logger, method, route string, status int, elapsed time.Duration, id string, err error) {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.String("request_id", id),
	}
	if err != nil {
		switch counter.ErrorCode(err) {
		case counter.ECANCELED: // the client's doing, not the service's
		case counter.EINTERNAL:
			level = slog.LevelError
		default:
			level = slog.LevelWarn
		}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	log.LogAttrs(ctx, level, "request", attrs...)
}
