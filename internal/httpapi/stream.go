package httpapi

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// StreamDeps are what GET /stream needs.
type StreamDeps struct {
	// Live fans the counters' values out to the streams; nil turns the route off (503).
	Live *counter.Live
	// Heartbeat is how often a quiet stream sends a comment, so that proxies and the client
	// see it alive (default 15s).
	Heartbeat time.Duration
	// Lifetime bounds one stream; the client then reconnects, possibly to another replica
	// (default 1h; each stream ends up to a tenth earlier, so reconnections spread out).
	Lifetime time.Duration
	// Retry is the reconnection delay the stream asks of the client (default 2s).
	Retry time.Duration
	// WriteTimeout bounds each write of a stream (default 10s), in place of the server's
	// write timeout, which would cut every stream at that age.
	WriteTimeout time.Duration
}

func (s StreamDeps) withDefaults() StreamDeps {
	if s.Heartbeat <= 0 {
		s.Heartbeat = 15 * time.Second
	}
	if s.Lifetime <= 0 {
		s.Lifetime = time.Hour
	}
	if s.Retry <= 0 {
		s.Retry = 2 * time.Second
	}
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = 10 * time.Second
	}
	return s
}

// handleStream serves a counter's value as Server-Sent Events: first its value now, then each
// new value, as `data: {"value":N}` (Abacus' event); `event: deleted` and the end of the stream
// when the counter is deleted. A slow reader skips to the newest value (counter.Live). Every
// refusal (a bad name, no such counter, over a limit) is an ordinary JSON error, before the
// stream starts. A draining server ends its streams at once, with a retry delay that brings
// the client back through the balancer to another replica.
func handleStream(c CounterDeps, s StreamDeps, drain <-chan struct{}, m *Metrics) handlerFunc {
	s = s.withDefaults()
	retry := []byte("retry: " + strconv.FormatInt(s.Retry.Milliseconds(), 10) + "\n\n")
	return func(w http.ResponseWriter, r *http.Request) error {
		allowCORS(w)
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		if s.Live == nil {
			return counter.Errorf(counter.EUNAVAILABLE, nil, "live streams are turned off on this server")
		}
		if r.Method == http.MethodHead {
			setStreamHeaders(w.Header())
			w.WriteHeader(http.StatusOK)
			return nil
		}
		if draining(drain) {
			setStreamHeaders(w.Header())
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(retry)
			return nil
		}
		client := c.clientOf(r)
		// The counter must exist: a stream of a made-up name would hold a subscription for
		// nothing. Costs a read of the client's read limit, like a /get.
		if _, err := c.Counters.Get(r.Context(), name, client); err != nil {
			return m.failed("get", err)
		}
		watch, err := s.Live.Watch(name, client)
		if err != nil {
			return m.failed("stream", err)
		}
		defer watch.Close()
		open := m.streams.WithLabelValues(routeLabel(r.Pattern))
		open.Inc()
		defer open.Dec()
		s.pump(w, r, watch, drain, retry)
		return nil
	}
}

// pump writes a stream's events until the client goes, the server drains, the stream's
// lifetime ends, the counter is deleted or a write fails.
func (s StreamDeps) pump(w http.ResponseWriter, r *http.Request, watch *counter.Watch, drain <-chan struct{}, retry []byte) {
	lifetime := s.Lifetime - rand.N(s.Lifetime/10+1)
	rc := http.NewResponseController(w)
	// The server's read timeout would end the request, and with it the stream: a stream
	// reads nothing after its headers, and the connection is watched only for its end.
	_ = rc.SetReadDeadline(time.Now().Add(lifetime + s.WriteTimeout))
	send := func(b []byte) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(s.WriteTimeout)); err != nil {
			return false
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	setStreamHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	if !send(retry) {
		return
	}
	heartbeat := time.NewTicker(s.Heartbeat)
	defer heartbeat.Stop()
	end := time.NewTimer(lifetime)
	defer end.Stop()
	var last int64
	sent := false
	buf := make([]byte, 0, 64)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-drain:
			return
		case <-end.C:
			return
		case <-heartbeat.C:
			if !send([]byte(": heartbeat\n\n")) {
				return
			}
		case <-watch.Changed():
			v, ok := watch.Take()
			switch {
			case !ok:
			case v.Deleted:
				_ = send([]byte("event: deleted\ndata: {}\n\n"))
				return
			case sent && v.Value == last:
				// The same value again: a new subscription's first value, somewhere.
			default:
				buf = append(buf[:0], `data: {"value":`...)
				buf = strconv.AppendInt(buf, v.Value, 10)
				if !send(append(buf, "}\n\n"...)) {
					return
				}
				last, sent = v.Value, true
			}
		}
	}
}

// setStreamHeaders: an event stream, never cached or buffered (X-Accel-Buffering is nginx's
// word for it, for a proxy in front that buffers by default).
func setStreamHeaders(h http.Header) {
	setBodyHeaders(h, "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
}
