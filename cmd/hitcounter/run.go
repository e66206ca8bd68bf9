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
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := ""
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "", "serve":
		return serve(ctx, getenv, stdout)
	case "healthcheck":
		return healthcheck(ctx, args[2:], getenv, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, "usage: hitcounter [serve | healthcheck [-live] | version]; configuration from environment variables, see README")
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q (want serve, healthcheck or version)", cmd)}
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
		Addr:     cfg.Redis.Addr,
		Username: cfg.Redis.Username,
		Password: cfg.Redis.Password.Reveal(),
		DB:       cfg.Redis.DB,
		TLS:      cfg.Redis.TLS,
		Timeout:  cfg.RedisTimeout,
	})
	defer store.Close()

	proxies, err := visitor.ParseProxies(cfg.TrustedProxies)
	if err != nil { // config.Load checked it already
		return usageError{fmt.Errorf("TRUSTED_PROXIES: %w", err)}
	}
	named := store.Named(cfg.HistoryDays)
	drain := make(chan struct{})
	handler := httpapi.NewHandler(httpapi.Deps{
		Named: httpapi.CounterDeps{
			Counters:      counter.NewCounters(named, maxWritesInFlight, cfg.RedisTimeout, cfg.CounterLimit, nil),
			HitLimit:      ratelimit.New(store, "hits", cfg.RateLimitHits, cfg.RateLimitWindow, nil),
			CreateLimit:   ratelimit.New(store, "creates", cfg.RateLimitCreates, cfg.RateLimitWindow, nil),
			Proxies:       proxies,
			Pseudonyms:    visitor.NewPseudonyms(store),
			OperatorToken: cfg.OperatorToken.Reveal(),
			HistoryDays:   cfg.HistoryDays,
		},
		Counter:   counter.NewCoalescer(store, maxWritesInFlight, cfg.RedisTimeout),
		Pinger:    store,
		Metrics:   httpapi.NewMetrics(version),
		Logger:    log,
		Hostname:  hostname,
		AccessLog: cfg.AccessLog,
		Drain:     drain,
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	log.Info("listening", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
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
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		log.Error("shutdown incomplete: requests still running were cut off", "error", err)
		return fmt.Errorf("shutdown: in-flight requests did not finish within %s", cfg.ShutdownTimeout)
	}
	log.Info("stopped")
	return nil
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
