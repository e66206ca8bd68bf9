// Command clientcmp measures Redis' two official Go clients side by side on the one thing
// hitcounter does: concurrent INCR of one key. It is its own module so that the service does
// not depend on the client it did not choose.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

type incr func(ctx context.Context) error

func measure(do incr, clients int, d time.Duration) float64 {
	ctx := context.Background()
	var ops atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := do(ctx); err != nil {
					log.Fatalf("INCR: %v", err)
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(ops.Load()) / d.Seconds()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "redis address (loopback)")
	duration := flag.Duration("duration", 5*time.Second, "per measurement")
	levels := flag.String("clients", "64,256", "concurrency levels")
	flag.Parse()

	gr := redis.NewClient(&redis.Options{Addr: *addr, PoolSize: 256})
	defer gr.Close()
	ru, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{*addr}, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		log.Fatal(err)
	}
	defer ru.Close()

	const key = "clientcmp:visits"
	goRedis := func(ctx context.Context) error { return gr.Incr(ctx, key).Err() }
	rueidisIncr := func(ctx context.Context) error { return ru.Do(ctx, ru.B().Incr().Key(key).Build()).Error() }

	for _, l := range strings.Split(*levels, ",") {
		clients, err := strconv.Atoi(l)
		if err != nil {
			log.Fatal(err)
		}
		// Interleaved, one after the other, so that both see the same machine state.
		g := measure(goRedis, clients, *duration)
		r := measure(rueidisIncr, clients, *duration)
		fmt.Printf("%d\t%.0f\t%.0f\t%.2f\n", clients, g, r, r/g)
	}
}
