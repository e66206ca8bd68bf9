// Package adders builds the counter.Adder implementations the benchmarks compare: the shipped
// store (rueidis, internal/redisstore) and the same INCRBY over go-redis.
package adders

import (
	"context"
	"fmt"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redisstore"
	"github.com/redis/go-redis/v9"
)

// Timeout bounds every call, as REDIS_TIMEOUT does in the service.
const Timeout = 5 * time.Second

// MaxWritesInFlight is the service's coalescer setting (cmd/hitcounter).
const MaxWritesInFlight = 4

// Key is the key both clients increment: the service's own.
const Key = redisstore.Key

// GoRedis is a counter.Adder over go-redis, set up like the shipped store: no retries (an
// INCRBY must never be sent twice), no CLIENT SETINFO, a bounded timeout.
type GoRedis struct {
	c *redis.Client
}

var _ counter.Adder = (*GoRedis)(nil)

// NewGoRedis connects lazily to addr.
func NewGoRedis(addr string, poolSize int) *GoRedis {
	return &GoRedis{c: redis.NewClient(&redis.Options{
		Addr:                  addr,
		PoolSize:              poolSize,
		MaxRetries:            -1,
		DisableIdentity:       true,
		DialTimeout:           Timeout,
		ReadTimeout:           Timeout,
		WriteTimeout:          Timeout,
		ContextTimeoutEnabled: true,
	})}
}

// Add is INCRBY (INCR for n = 1, as the shipped store sends).
func (g *GoRedis) Add(ctx context.Context, n int64) (int64, error) {
	if n == 1 {
		return g.c.Incr(ctx, Key).Result()
	}
	return g.c.IncrBy(ctx, Key, n).Result()
}

// Close closes the client.
func (g *GoRedis) Close() error { return g.c.Close() }

// Store is the shipped store over rueidis.
func Store(addr string) *redisstore.Store {
	return redisstore.New(redisstore.Options{Addr: addr, Timeout: Timeout})
}

// PerVisit is a counter.Counter that sends one Add(1) per visit: the path the service no longer
// has, kept as a comparison.
type PerVisit struct{ A counter.Adder }

// Visit adds one.
func (p PerVisit) Visit(ctx context.Context) (int64, error) {
	n, err := p.A.Add(ctx, 1)
	if err != nil {
		return 0, fmt.Errorf("INCR: %w", err)
	}
	return n, nil
}
