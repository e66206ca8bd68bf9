package httpapi

import (
	"errors"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the server's own Prometheus registry, never the global default, so tests and
// several servers in one process do not share counters.
type Metrics struct {
	Registry *prometheus.Registry

	requests    *prometheus.CounterVec
	inFlight    atomic.Int64 // one atomic add per request; a Gauge's Inc is a CAS loop
	duration    *prometheus.HistogramVec
	redisErrors *prometheus.CounterVec
	visits      prometheus.Counter
	hits        prometheus.Counter
	uncounted   prometheus.Counter
	rateLimited *prometheus.CounterVec
	streams     *prometheus.GaugeVec
}

// NewMetrics registers hitcounter's metrics, plus the Go runtime and process collectors.
func NewMetrics(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hitcounter_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hitcounter_http_request_duration_seconds",
			Help:    "Time from reading the request to writing the response, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hitcounter_redis_errors_total",
			Help: "Failed Redis calls by operation (visit, ping) and error code (unavailable, internal).",
		}, []string{"op", "code"}),
		visits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hitcounter_visits_total",
			Help: "Visits counted by this process (acknowledged by Redis).",
		}),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hitcounter_counter_hits_total",
			Help: "Hits on named counters counted by this process (acknowledged by Redis), all counters together.",
		}),
		uncounted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hitcounter_counter_hits_uncounted_total",
			Help: "Hits on named counters left out of their totals by this process: crawlers' (counted apart) and their owners' own.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hitcounter_rate_limited_total",
			Help: "Requests refused with 429 by the service, by limit (hits, creates, creates_per_day, reads, streams).",
		}, []string{"limit"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hitcounter_http_streams_open",
			Help: "Event streams open right now, by route pattern.",
		}, []string{"route"}),
	}
	// Every limit at 0 from the start: rate() of a series that appears with its first refusal
	// misses that refusal, and a panel by limit would have nothing to draw until then.
	for _, limit := range counter.LimitNames {
		m.rateLimited.WithLabelValues(limit)
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "hitcounter_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hitcounter_http_requests_in_flight",
		Help: "Requests being served right now; what a drain waits for.",
	}, func() float64 { return float64(m.inFlight.Load()) })
	reg.MustRegister(m.requests, inFlight, m.duration, m.redisErrors, m.visits, m.hits, m.uncounted, m.rateLimited, m.streams, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// ObserveProxies reports the trusted proxies' host look-ups, by outcome: a failing look-up
// keeps the last good addresses, and this is how an operator sees that it happens.
func (m *Metrics) ObserveProxies(l interface{ Lookups() (ok, failed int64) }) {
	for _, result := range []string{"ok", "error"} {
		m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "hitcounter_trusted_proxy_lookups_total",
			Help:        "Look-ups of the host names in TRUSTED_PROXIES, by result; a failed one keeps the last good addresses.",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 {
			ok, failed := l.Lookups()
			if result == "ok" {
				return float64(ok)
			}
			return float64(failed)
		}))
	}
}

// ObserveRedisFull reports whether Redis is at its maxmemory (creates answer 507, hits go on
// without feeding the visitor sketches).
func (m *Metrics) ObserveRedisFull(full func() bool) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hitcounter_redis_full",
		Help: "1 while Redis is at its maxmemory: new counters are refused, hits count without unique visitors.",
	}, func() float64 {
		if full() {
			return 1
		}
		return 0
	}))
}

// ObserveCounters reports COUNTER_LIMIT as hitcounter_counter_limit (0: no limit) and returns
// the function that sets hitcounter_counters, the number of named counters, counted in the
// background (redisstore.WatchCounters), never on a request. hitcounter_counters appears with
// the first count: until then a 0 would be a lie.
func (m *Metrics) ObserveCounters(limit int64) (setCount func(int64)) {
	limitGauge := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hitcounter_counter_limit",
		Help: "Most named counters that may exist (COUNTER_LIMIT); 0: no limit.",
	})
	limitGauge.Set(float64(limit))
	count := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hitcounter_counters",
		Help: "Named counters in Redis when last counted (every few seconds, by each replica).",
	})
	m.Registry.MustRegister(limitGauge)
	var register sync.Once
	return func(n int64) {
		count.Set(float64(n))
		register.Do(func() { m.Registry.MustRegister(count) })
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// redisError counts a failed Redis call by operation and error code. Only failures of the store
// count: a caller that went away (ECANCELED) or a request the store refused (not found, wrong
// key, full) is not a Redis failure.
func (m *Metrics) redisError(op string, err error) {
	if code := counter.ErrorCode(err); code == counter.EUNAVAILABLE || code == counter.EINTERNAL {
		m.redisErrors.WithLabelValues(op, code).Inc()
	}
}

// methodLabel keeps the method label to a fixed set, whatever clients send.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "OTHER"
}

// countFailure counts a refused or failed domain call: a 429 under the limit that refused it,
// a store failure under redis_errors (op).
func (m *Metrics) countFailure(op string, err error) {
	if le, ok := errors.AsType[*counter.LimitError](err); ok {
		m.rateLimited.WithLabelValues(le.Limit).Inc()
		return
	}
	m.redisError(op, err)
}

// failed is countFailure returning err, for a handler's `return m.failed(op, err)`.
func (m *Metrics) failed(op string, err error) error {
	m.countFailure(op, err)
	return err
}
