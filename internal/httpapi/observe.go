package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
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

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

// noteError attaches err to the request's log line.
func noteError(w http.ResponseWriter, err error) {
	if rec, ok := w.(*recorder); ok {
		rec.err = err
	}
}

// observe wraps the router: it sets X-Served-By and X-Request-Id on every response, turns a
// panic into a 500, and records each request in the metrics and the log.
func observe(d Deps, next http.Handler) http.Handler {
	servedBy := []string{d.Hostname}
	ids := newIDGenerator()
	log := d.Logger
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = ids.next()
		}
		h := w.Header()
		h["X-Served-By"] = servedBy
		h["X-Request-Id"] = []string{id}

		rec := recorderPool.Get().(*recorder)
		*rec = recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p) // net/http's own way to abort a response; let it do its job
				}
				log.LogAttrs(r.Context(), slog.LevelError, "panic",
					slog.String("request_id", id), slog.String("panic", fmt.Sprint(p)),
					slog.String("stack", string(debug.Stack())))
				if rec.status == 0 {
					writeText(rec, http.StatusInternalServerError, "internal error")
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			route := routeLabel(r.Pattern)
			elapsed := time.Since(start)
			d.Metrics.requests.WithLabelValues(route, methodLabel(r.Method), statusText(status)).Inc()
			d.Metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
			if d.AccessLog || rec.err != nil {
				logRequest(r.Context(), log, r.Method, route, status, elapsed, id, rec.err)
			}
			*rec = recorder{}
			recorderPool.Put(rec)
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
		level = slog.LevelWarn
		if counter.ErrorCode(err) == counter.EINTERNAL {
			level = slog.LevelError
		}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	log.LogAttrs(ctx, level, "request", attrs...)
}

// statusText avoids formatting the common codes on every request.
func statusText(status int) string {
	switch status {
	case 200:
		return "200"
	case 404:
		return "404"
	case 405:
		return "405"
	case 503:
		return "503"
	}
	return fmt.Sprint(status)
}
