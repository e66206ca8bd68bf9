package redisstore

import (
	"context"
	"time"
)

// CountCounters is the number of named counters: the size of the index (one SCARD), which
// holds every counter's name exactly once.
func (s *Store) CountCounters(ctx context.Context) (int64, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		return 0, err
	}
	n, err := c.Do(ctx, c.B().Scard().Key(IndexKey).Build()).AsInt64()
	if err != nil {
		return 0, classify(ctx, err)
	}
	return n, nil
}

// WatchCounters counts the named counters every interval until ctx ends, and gives each count
// to report. A failed count is skipped (report keeps the last one): the number is for
// monitoring, off the request path, and Redis being away has alerts of its own.
func (s *Store) WatchCounters(ctx context.Context, interval time.Duration, report func(int64)) {
	for {
		if n, err := s.CountCounters(ctx); err == nil {
			report(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
