package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// The probes of load balancers and orchestrators: liveness and readiness. Their answers are
// one line of text, "ok" or why not; a probe that fails is still an answer, not an error.

// handleHealthz is liveness: the process serves HTTP. It never calls Redis, so a Redis outage
// does not make an orchestrator restart healthy replicas.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
}

var errDraining = errors.New("shutting down")

// handleReadyz is readiness: 200 only while not shutting down and Redis answers PING in time.
// A probe that is waiting for Redis when the drain begins answers 503 at once: the drain must
// show in the next probe's answer, whatever Redis is doing.
func handleReadyz(p counter.Pinger, drain <-chan struct{}, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		go func() {
			select {
			case <-drain:
				cancel(errDraining)
			case <-ctx.Done():
			}
		}()
		if draining(drain) {
			writeText(w, http.StatusServiceUnavailable, "not ready: shutting down")
			return
		}
		err := p.Ping(ctx)
		switch {
		case errors.Is(context.Cause(ctx), errDraining):
			writeText(w, http.StatusServiceUnavailable, "not ready: shutting down")
		case err != nil:
			m.redisError("ping", err)
			noteError(w, err)
			writeText(w, http.StatusServiceUnavailable, "not ready: "+counter.ErrorMessage(err))
		default:
			writeText(w, http.StatusOK, "ok")
		}
	})
}

// draining reports whether the drain channel is closed.
func draining(drain <-chan struct{}) bool {
	select {
	case <-drain:
		return true
	default:
		return false
	}
}
