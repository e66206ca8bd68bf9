// Command clientcmp measures, without HTTP, what a visit costs on the counter path against a
// real redis-server: Redis' two official Go clients side by side, on bare concurrent INCR and
// through counter.Coalescer (what the service ships), and the shipped store with one INCR per
// visit against coalescing with 1, 2 and 4 writes in flight. It is its own module so that the
// service does not depend on the client it did not choose.
//
// Every measurement runs for -duration; measurements are interleaved, -rounds times, so that
// all of them see the same machine. It prints one JSON object per measurement.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hitcounter/hitcounter/bench/clientcmp/adders"
	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

type result struct {
	Group   string  `json:"group"`
	Name    string  `json:"name"`
	Clients int     `json:"clients"`
	Round   int     `json:"round"`
	Ops     float64 `json:"ops_per_s"`
}

// measure calls visit from clients goroutines for d and returns calls per second. The first
// error stops it.
func measure(visit func(context.Context) error, clients int, d time.Duration) (float64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ops atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	begin := time.Now()
	deadline := begin.Add(d)
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := visit(ctx); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(ops.Load()) / time.Since(begin).Seconds(), nil
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:6379", "redis-server address (loopback only)")
	duration := flag.Duration("duration", 3*time.Second, "per measurement")
	levels := flag.String("clients", "64,256", "concurrency levels")
	rounds := flag.Int("rounds", 2, "interleaved rounds")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		return fmt.Errorf("-addr %q: only loopback addresses", *addr)
	}
	if *duration <= 0 || *duration > time.Minute || *rounds < 1 || *rounds > 10 {
		return errors.New("-duration must be in (0, 1m] and -rounds in [1, 10]")
	}
	var clients []int
	for _, l := range strings.Split(*levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil || c < 1 || c > 10000 {
			return fmt.Errorf("-clients: %q is not a concurrency level", l)
		}
		clients = append(clients, c)
	}

	gr := adders.NewGoRedis(*addr, 256)
	defer gr.Close()
	store := adders.Store(*addr)
	defer store.Close()
	ru, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{*addr}, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		return fmt.Errorf("rueidis: %w", err)
	}
	defer ru.Close()

	visitOf := func(c counter.Counter) func(context.Context) error {
		return func(ctx context.Context) error { _, err := c.Visit(ctx); return err }
	}
	// Fresh coalescers per measurement would change nothing: a coalescer holds no state between
	// batches. One each is enough.
	cases := []struct {
		group, name string
		visit       func(context.Context) error
	}{
		{"incr", "go-redis", func(ctx context.Context) error { _, err := gr.Add(ctx, 1); return err }},
		{"incr", "rueidis", func(ctx context.Context) error {
			return ru.Do(ctx, ru.B().Incr().Key(adders.Key).Build()).Error()
		}},
		{"coalesced", "go-redis", visitOf(counter.NewCoalescer(gr, adders.MaxWritesInFlight, adders.Timeout))},
		{"coalesced", "rueidis", visitOf(counter.NewCoalescer(store, adders.MaxWritesInFlight, adders.Timeout))},
		{"store", "INCR per visit", visitOf(adders.PerVisit{A: store})},
		{"store", "coalesce-1", visitOf(counter.NewCoalescer(store, 1, adders.Timeout))},
		{"store", "coalesce-2", visitOf(counter.NewCoalescer(store, 2, adders.Timeout))},
	}
	enc := json.NewEncoder(os.Stdout)
	for round := 1; round <= *rounds; round++ {
		for _, c := range clients {
			for _, tc := range cases {
				ops, err := measure(tc.visit, c, *duration)
				if err != nil {
					return fmt.Errorf("%s %s, %d clients: %w", tc.group, tc.name, c, err)
				}
				if err := enc.Encode(result{tc.group, tc.name, c, round, ops}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "clientcmp: %v\n", err)
		os.Exit(1)
	}
}
