package redisstore

import (
	"context"
	"time"

	"github.com/redis/rueidis"
)

// CountCounters is the number of named counters: the size of the index (one SCARD), which
// holds every counter's name exactly once.
func (s *Store) CountCounters(ctx context.Context) (int64, error) {
	return call(ctx, s, plain, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return c.Do(ctx, c.B().Scard().Key(IndexKey).Build()).AsInt64()
	})
}

// WatchCounters counts the named counters every interval until ctx ends, and gives each count
// to report. A failed count is skipped (report keeps the last one): the number is for
// monitoring, off the request path, and Redis being away has alerts of its own.
func (s *Store) WatchCounters(ctx context.Context, interval time.Duration, report func(int64)) {
	poll(ctx, interval, func() bool {
		if n, err := s.CountCounters(ctx); err == nil {
			report(n)
		}
		return true
	})
}

// poll calls once at once and then every interval after it returns, until ctx ends or once
// returns false: the loop of the store's watchers (WatchCounters, WatchMemory), which read
// Redis off the request path.
func poll(ctx context.Context, interval time.Duration, once func() bool) {
	for once() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
