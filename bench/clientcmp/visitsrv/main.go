// Command visitsrv is the benchmark's comparison server for GET /: a minimal handler that
// answers what the service answers to a plain GET / (the same line and headers, no access log,
// no metrics, no request id) over a chosen counter path:
//
//	-counter incr       one INCR per visit through the shipped store (rueidis)
//	-counter coalesced  the shipped path: counter.Coalescer over the shipped store
//	-counter go-redis   counter.Coalescer over the same INCRBY sent by go-redis
//
// The service has one counter path (coalescing); the others exist only here, to be measured
// against it. It listens on loopback only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/hitcounter/hitcounter/bench/clientcmp/adders"
	"github.com/hitcounter/hitcounter/internal/counter"
)

var (
	contentType = []string{"text/plain; charset=utf-8"}
	noStore     = []string{"no-store"}
	noSniff     = []string{"nosniff"}
	varyAccept  = []string{"Accept"}
)

func handler(c counter.Counter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Vary"] = varyAccept
		h["Content-Type"] = contentType
		h["Cache-Control"] = noStore
		h["X-Content-Type-Options"] = noSniff
		n, err := c.Visit(r.Context())
		if err != nil {
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		b := make([]byte, 0, 64)
		b = append(b, "Hello World! I have been seen "...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, " times.\n"...)
		_, _ = w.Write(b)
	})
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:5091", "listen address (loopback)")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "redis-server address (loopback)")
	mode := flag.String("counter", "coalesced", "incr, coalesced or go-redis")
	flag.Parse()
	for _, a := range []string{*addr, *redisAddr} {
		host, _, err := net.SplitHostPort(a)
		if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
			return fmt.Errorf("%q: only loopback addresses", a)
		}
	}

	store := adders.Store(*redisAddr)
	defer store.Close()
	var c counter.Counter
	switch *mode {
	case "incr":
		c = adders.PerVisit{A: store}
	case "coalesced":
		c = counter.NewCoalescer(store, adders.MaxWritesInFlight, adders.Timeout)
	case "go-redis":
		gr := adders.NewGoRedis(*redisAddr, 64)
		defer gr.Close()
		c = counter.NewCoalescer(gr, adders.MaxWritesInFlight, adders.Timeout)
	default:
		return fmt.Errorf("-counter %q: want incr, coalesced or go-redis", *mode)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{
		Addr:              *addr,
		Handler:           handler(c),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "visitsrv: %v\n", err)
		os.Exit(1)
	}
}
