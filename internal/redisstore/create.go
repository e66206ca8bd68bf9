package redisstore

import (
	"context"
	"strconv"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// reserveScript adds the name to the index unless that would pass the limit (ARGV[2]; 0 none):
// 1 added, 0 already there, -1 full. One script, so concurrent creators never overshoot.
var reserveScript = newScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
local limit = tonumber(ARGV[2])
if limit > 0 and redis.call('SCARD', KEYS[1]) >= limit then return -1 end
return redis.call('SADD', KEYS[1], ARGV[1])`, true)

// createScript creates the counter unless it exists.
var createScript = newScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 3 end
if ARGV[3] == '' then
	redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2])
else
	redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2], 'a', ARGV[3])
end
redis.call('SPUBLISH', KEYS[1] .. ':live', ARGV[1])
return 0`, true)

// Reserve implements counter.Store.
func (s *Named) Reserve(ctx context.Context, name counter.Name, limit int64) error {
	v, err := s.reserve(ctx, IndexKey, name.String(), limit)
	if err != nil {
		return err
	}
	if v < 0 {
		return counter.Errorf(counter.EFULL, nil, "the counter limit (%d) is reached: no new counter can be created", limit)
	}
	return nil
}

// reserve runs reserveScript on the set at key (the index of counters or of namespaces).
func (s *Named) reserve(ctx context.Context, key, member string, limit int64) (int64, error) {
	return call(ctx, s.store, creates, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return s.store.run(ctx, c, reserveScript, []string{key}, member, strconv.FormatInt(limit, 10)).AsInt64()
	})
}

// Create implements counter.Store.
func (s *Named) Create(ctx context.Context, info counter.Info) error {
	code, err := call(ctx, s.store, creates, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return s.store.run(ctx, c, createScript, []string{CounterKey(info.Name)},
			strconv.FormatInt(info.Value, 10), strconv.FormatInt(info.Created.Unix(), 10), info.AdminKeyHash).AsInt64()
	})
	if err != nil {
		return err
	}
	if code == replyExists {
		return counter.Errorf(counter.ECONFLICT, nil, "counter %s already exists", info.Name)
	}
	return nil
}
