package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// rateLimitPrefix + limiter name + pseudonym + window holds a client's count in one window.
const rateLimitPrefix = "hitcounter:rl:"

// leaseScript adds ARGV[1] to a shared rate-limit count (KEYS[1]) and sets its expiry (ARGV[2]
// seconds) when it is new; it returns the count. Run past maxmemory: a count is a few dozen
// bytes per client and window and goes by itself, and a full Redis must never make the limiter
// fail the hits it guards.
var leaseScript = newScript(allowOOM+`
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if total == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return total`, false)

// Lease implements ratelimit.Leaser: INCRBY n, then hand out what fitted under limit.
func (s *Store) Lease(ctx context.Context, key string, n, limit int64, ttl time.Duration) (granted, used int64, err error) {
	total, err := call(ctx, s, plain, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return s.run(ctx, c, leaseScript, []string{rateLimitPrefix + key}, strconv.FormatInt(n, 10), ttlSeconds(ttl)).AsInt64()
	})
	if err != nil {
		return 0, 0, err
	}
	before := total - n
	granted = min(max(limit-before, 0), n)
	return granted, min(total, limit), nil
}
