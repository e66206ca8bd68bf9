package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/logging"
	"github.com/hitcounter/hitcounter/internal/memlimit"
	"github.com/hitcounter/hitcounter/internal/proxies"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
	"github.com/hitcounter/hitcounter/internal/redisstore"
	"github.com/hitcounter/hitcounter/internal/visitor"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// maxHeaderBytes caps request headers. Browsers send under 2 KiB; 16 KiB leaves room for big
// cookies without letting a client make the server buffer megabytes.
const maxHeaderBytes = 16 << 10

// maxWritesInFlight bounds the concurrent INCRBYs of the coalescer; 4 measured best of 1, 2
// and 4 (docs/benchmarks.md, BenchmarkVisit).
const maxWritesInFlight = 4

// logFlushInterval bounds how late a log line appears, and how many are lost if the process
// is killed.
const logFlushInterval = 100 * time.Millisecond

// usageError is a bad command line or configuration: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if _, ok := errors.AsType[usageError](err); ok {
		return 2
	}
	return 1
}

// run is the whole program; main only wires it to the process. Tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := ""
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "", "serve":
		return serve(ctx, getenv, stdout)
	case "healthcheck":
		return healthcheck(ctx, args[2:], getenv, stdout, stderr)
	case "export":
		return exportCommand(ctx, args[2:], getenv, stdout)
	case "import":
		return importCommand(ctx, args[2:], getenv, stdin, stdout, stderr)
	case "admin-key":
		return adminKeyCommand(ctx, args[2:], getenv, stdout)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, "usage: hitcounter [serve | healthcheck [-live] | export | import [FILE] | import --from FORMAT FILE|URL | "+
			"admin-key NS/KEY | version]; configuration from environment variables, see README")
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q (want serve, healthcheck, export, import, admin-key or version)", cmd)}
}

func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv, nil)
	if err != nil {
		return usageError{err}
	}
	// Log lines are batched into few writes and flushed at least every 100 ms.
	logOut := logging.NewBufferedWriter(stdout, 64<<10, logFlushInterval)
	defer logOut.Close()
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel}))
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "unknown"
	}
	log.Info("starting", "version", version, "hostname", hostname, "memory_limit", memlimit.Apply(getenv), "config", cfg)

	store := redisstore.New(redisstore.Options{
		Addr:             cfg.Redis.Addr,
		Addrs:            cfg.Redis.Addrs,
		Username:         cfg.Redis.Username,
		Password:         cfg.Redis.Password.Reveal(),
		DB:               cfg.Redis.DB,
		TLS:              cfg.Redis.TLS,
		Cluster:          cfg.Redis.Mode == config.RedisCluster,
		SentinelMaster:   cfg.Redis.SentinelMaster,
		SentinelUsername: cfg.Redis.SentinelUsername,
		SentinelPassword: cfg.Redis.SentinelPassword.Reveal(),
		WaitReplicas:     cfg.Redis.WaitReplicas,
		Timeout:          cfg.RedisTimeout,
	})
	defer store.Close()

	trusted, err := proxies.Parse(cfg.TrustedProxies)
	if err != nil { // config.Load checked it already
		return usageError{fmt.Errorf("TRUSTED_PROXIES: %w", err)}
	}
	pseudonyms := visitor.NewRandom()
	if cfg.VisitorKey != "" {
		if pseudonyms, err = visitor.New([]byte(cfg.VisitorKey.Reveal())); err != nil {
			return usageError{fmt.Errorf("VISITOR_KEY_FILE: %w", err)}
		}
	} else {
		log.Warn("VISITOR_KEY_FILE is not set: visitor pseudonyms use a key of this process alone, so replicas name one client differently " +
			"(unique visitors overcounted, shared limits counted per replica); Compose and the Helm chart set it")
	}
	// Background work (proxy look-ups, the capacity check) ends with the server.
	bg, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	go trusted.Run(bg)
	go store.WatchMemory(bg, memoryPoll, cfg.CounterLimit, cfg.HistoryDays, logCapacity(log, cfg.CounterLimit, cfg.HistoryDays))
	go purgeLegacySalts(bg, log, store)
	go indexNamespaces(bg, log, store)

	namer := ratelimit.Namer(pseudonyms.Limit)
	limits := &counter.Limits{
		Hits:          ratelimit.NewShared(store, "hits", cfg.RateLimitHits, cfg.RateLimitWindow, namer, nil).Limiter(),
		Creates:       ratelimit.NewShared(store, "creates", cfg.RateLimitCreates, cfg.RateLimitWindow, namer, nil).Limiter(),
		CreatesPerDay: ratelimit.NewShared(store, "creates_per_day", cfg.RateLimitCreatesPerDay, 24*time.Hour, namer, nil).Limiter(),
		Reads:         ratelimit.NewLocal("reads", cfg.RateLimitReads, cfg.RateLimitWindow, nil).Limiter(),
	}
	metrics := httpapi.NewMetrics(version)
	metrics.ObserveProxies(trusted)
	metrics.ObserveRedisFull(store.Full)
	go store.WatchCounters(bg, counterCensus, metrics.ObserveCounters(cfg.CounterLimit))
	drain := make(chan struct{})
	deps := httpapi.Deps{
		Named: httpapi.CounterDeps{
			Counters: counter.NewCounters(counter.CountersConfig{
				Store: store.Named(cfg.HistoryDays), MaxInFlight: maxWritesInFlight, Timeout: cfg.RedisTimeout,
				CounterLimit: cfg.CounterLimit, Limits: limits, Pseudonyms: pseudonyms, Owners: pseudonyms,
			}),
			Clients: counter.ClientRules{
				Proxies: trusted, IPv6Prefix: cfg.ClientIPv6Prefix, CamoNetworks: cfg.CamoNetworks,
			},
			OperatorToken: cfg.OperatorToken.Reveal(),
			HistoryDays:   cfg.HistoryDays,
		},
		Visits:    counter.VisitCounter{Counter: counter.NewCoalescer(store, maxWritesInFlight, cfg.RedisTimeout), Limits: limits},
		Pinger:    store,
		Metrics:   metrics,
		Logger:    log,
		Hostname:  hostname,
		AccessLog: cfg.AccessLog,
		Drain:     drain,
		Streams: httpapi.StreamDeps{
			Live: counter.NewLive(counter.LiveConfig{
				Feed: store.Live(log), PerClient: cfg.StreamMaxPerClient, Total: cfg.StreamMax,
			}),
			Heartbeat: cfg.StreamHeartbeat, Lifetime: cfg.StreamLifetime, WriteTimeout: cfg.WriteTimeout,
		},
	}
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	srv, opsSrv := newServer(httpapi.NewHandler(deps)), newServer(httpapi.NewOperatorHandler(deps))

	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	opsLn, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.OperatorPort)))
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen on the operator port %d: %w", cfg.OperatorPort, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "operator_addr", opsLn.Addr().String())

	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	go func() { served <- opsSrv.Serve(opsLn) }()

	select {
	case err := <-served:
		_ = srv.Close()
		_ = opsSrv.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	// Shutdown gets a fresh context: ctx is already cancelled. The whole sequence, drain delay
	// included, fits in ShutdownTimeout.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// The drain: /readyz fails and every answer closes its connection, while the listener and
	// idle connections stay open for the drain delay, until load balancers have seen /readyz
	// fail and stopped choosing this replica. Only then does Shutdown close the listener and the
	// idle connections (none of which a balancer still sends on) and wait for requests in flight.
	close(drain)
	log.Info("shutting down", "drain_delay", cfg.ShutdownDrainDelay.String(), "timeout", cfg.ShutdownTimeout.String())
	if cfg.ShutdownDrainDelay > 0 {
		select {
		case <-time.After(cfg.ShutdownDrainDelay):
		case <-shutdownCtx.Done():
		}
	}
	// The operator port has no balancer to drain: it closes with the public one.
	go func() { _ = opsSrv.Shutdown(shutdownCtx) }()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		_ = opsSrv.Close()
		log.Error("shutdown incomplete: requests still running were cut off", "error", err)
		return fmt.Errorf("shutdown: in-flight requests did not finish within %s", cfg.ShutdownTimeout)
	}
	log.Info("stopped")
	return nil
}

// counterCensus is how often each replica counts the named counters for hitcounter_counters:
// one SCARD, often enough for an alert that the limit is near, which takes minutes to matter.
const counterCensus = 10 * time.Second

// memoryPoll is how often each replica reads Redis's memory figures: how soon hits stop feeding
// the visitor sketches once Redis is at maxmemory, for one INFO a second.
const memoryPoll = time.Second

// purgeLegacySalts has the daily salts of versions before issue #15 removed from Redis and its
// append-only file, once per Redis (redisstore.PurgeLegacySalts), trying again while Redis does
// not answer.
func purgeLegacySalts(ctx context.Context, log *slog.Logger, store *redisstore.Store) {
	for {
		purged, err := store.PurgeLegacySalts(ctx, time.Now())
		switch {
		case err == nil:
			if purged {
				log.Info("redis: removed the visitor salts that earlier versions kept in Redis, and asked Redis to rewrite its append-only file without them")
			}
			return
		case redisstore.Refused(err):
			log.Warn("redis: could not remove the visitor salts earlier versions kept (the Redis user needs HSETNX, DEL and BGREWRITEAOF); "+
				"copies of Redis's files may hold them", "error", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// indexNamespaces puts the counters of earlier versions in their namespaces' lists, once per
// Redis (redisstore.IndexNamespaces), trying again while Redis does not answer: until it is
// done, only the operator may claim a namespace.
func indexNamespaces(ctx context.Context, log *slog.Logger, store *redisstore.Store) {
	for {
		indexed, err := store.IndexNamespaces(ctx, time.Now())
		switch {
		case err == nil:
			if indexed {
				log.Info("redis: every counter is in its namespace's list; namespaces may be claimed")
			}
			return
		case redisstore.Refused(err):
			log.Warn("redis: could not list the counters of each namespace (the Redis user needs SSCAN, SADD and HSET); only the operator can claim namespaces",
				"error", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// logCapacity says in one log line, once Redis answers, whether its maxmemory holds the counter
// limit with its full history (redisstore.BytesNeeded): a warning when it does not, since hits
// on counters that exist are never refused but new counters are.
func logCapacity(log *slog.Logger, counterLimit int64, historyDays int) func(redisstore.Capacity, error) {
	return func(c redisstore.Capacity, err error) {
		if err != nil {
			log.Warn("redis capacity: cannot read Redis's memory figures, so maxmemory is not checked and a full Redis is seen only by its refusals",
				"error", err)
			return
		}
		attrs := []any{"counter_limit", counterLimit, "history_days", historyDays,
			"bytes_needed", c.Needed, "maxmemory", c.MaxMemory, "used_memory", c.UsedMemory, "fits", c.Fits}
		switch {
		case c.Fits:
			log.Info("redis capacity: maxmemory holds the counter limit with its full history", attrs...)
		case c.MaxMemory == 0:
			log.Warn("redis capacity: Redis has no maxmemory, so nothing but its host bounds it; set REDIS_MAXMEMORY (docs/api.md, Memory)", attrs...)
		case counterLimit == 0:
			log.Warn("redis capacity: no COUNTER_LIMIT, so new counters can fill maxmemory; creates then answer 507 (docs/api.md, Memory)", attrs...)
		default:
			log.Warn("redis capacity: maxmemory is smaller than the counter limit with its full history needs; "+
				"raise REDIS_MAXMEMORY or lower COUNTER_LIMIT or HISTORY_DAYS (docs/api.md, Memory)", attrs...)
		}
	}
}

// healthcheck probes the server on this machine, so that an image without a shell or curl can
// have a HEALTHCHECK. It probes readiness by default: in Compose nothing restarts an unhealthy
// container, the status only gates depends_on and `up --wait`, and there it should say whether
// the replica can count visits. -live probes liveness, for orchestrators that restart unhealthy
// containers, which must not restart every replica because Redis is down.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	live := fs.Bool("live", false, "probe /healthz (liveness) instead of /readyz (readiness)")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	port, err := config.Port(getenv)
	if err != nil {
		return usageError{err}
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	fmt.Fprintf(stdout, "%s %d %s", path, resp.StatusCode, body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: status %d", path, resp.StatusCode)
	}
	return nil
}
