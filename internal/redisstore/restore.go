package redisstore

import (
	"context"
	"strconv"
	"sync"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// restoreBody makes the counter exactly {v, t, a}: 0 created, 1 updated, 2 unchanged; 3 when it
// does not exist and ARGV[4] is not 1 (nothing written). One write, except when an admin key is
// taken away (HDEL, then HSET). restoreScript changes a counter that exists and runs past
// maxmemory; restoreCreateScript may create one, and is refused at maxmemory like every creation.
const restoreBody = `
local cur = redis.call('HMGET', KEYS[1], 'v', 't', 'a')
if not cur[1] and ARGV[4] ~= '1' then return 3 end
if cur[1] == ARGV[1] and cur[2] == ARGV[2] and (cur[3] or '') == ARGV[3] then return 2 end
if ARGV[3] == '' then
	if cur[3] then redis.call('HDEL', KEYS[1], 'a') end
	redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2])
else
	redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2], 'a', ARGV[3])
end
redis.call('SPUBLISH', KEYS[1] .. ':live', ARGV[1])
if cur[1] then return 1 end
return 0`

var (
	restoreScript       = newScript(allowOOM+restoreBody, true)
	restoreCreateScript = newScript(restoreBody, true)
)

// restoreBody's answers.
const (
	restoreCreated   = 0
	restoreUpdated   = 1
	restoreUnchanged = 2
	restoreMissing   = 3
)

// restoreWorkers is how many counters an import writes at once: the client pipelines them, so
// one fsync covers many (an import of a million lines one at a time would wait for a million).
const restoreWorkers = 64

// Restore implements counter.Store.
func (s *Named) Restore(ctx context.Context, infos []counter.Info, limit int64) (counter.ImportResult, error) {
	var (
		mu       sync.Mutex
		result   counter.ImportResult
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan counter.Info)
	for range min(restoreWorkers, len(infos)) {
		wg.Go(func() {
			for info := range next {
				outcome, err := s.restoreOne(ctx, info, limit)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				switch {
				case err != nil:
				case outcome == restoreCreated:
					result.Created++
				case outcome == restoreUpdated:
					result.Updated++
				case outcome == restoreUnchanged:
					result.Unchanged++
				}
				mu.Unlock()
			}
		})
	}
	for _, info := range infos {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- info
	}
	close(next)
	wg.Wait()
	return result, firstErr
}

// restoreOne writes the counter: over one that exists even when Redis is full; a missing one
// after a place in the index, as a creation. It returns restoreBody's answer.
func (s *Named) restoreOne(ctx context.Context, info counter.Info, limit int64) (int64, error) {
	code, err := s.restore(ctx, restoreScript, info, "0")
	if err != nil || code != restoreMissing {
		return code, err
	}
	// An import is the operator's: it may create in an owned namespace, past its cap.
	if err := s.Admit(ctx, info.Name, counter.Auth{Operator: true}, 0); err != nil {
		return 0, err
	}
	if err := s.Reserve(ctx, info.Name, limit); err != nil {
		return 0, err
	}
	return s.restore(ctx, restoreCreateScript, info, "1")
}

func (s *Named) restore(ctx context.Context, sc *script, info counter.Info, create string) (int64, error) {
	return call(ctx, s.store, creates, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return s.store.run(ctx, c, sc, []string{CounterKey(info.Name)},
			strconv.FormatInt(info.Value, 10), strconv.FormatInt(info.Created.Unix(), 10), info.AdminKeyHash, create).AsInt64()
	})
}
