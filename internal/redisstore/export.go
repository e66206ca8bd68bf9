package redisstore

import (
	"context"
	"strings"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// exportBatch is how many names one SSCAN step asks for, and how many HMGETs go in one pipeline.
const exportBatch = 500

// Export implements counter.Store: the index, walked with SSCAN, each counter read with HMGET
// (scanCounters). A name in the index without a counter (see Delete) is skipped.
func (s *Named) Export(ctx context.Context, each func(counter.Info) error) error {
	return s.scanCounters(ctx, IndexKey, func(member string) (counter.Name, bool) {
		ns, key, ok := strings.Cut(member, "/")
		return counter.Name{Namespace: ns, Key: key}, ok
	}, each)
}

// scanStep is one step of scanCounters: the counters read, and where the walk goes on.
type scanStep struct {
	infos  []counter.Info
	cursor uint64
}

// scanCounters walks the set at key with SSCAN, reads each member's counter (named by name)
// with HMGET, and calls each for the counters that exist. Each counter is read atomically;
// counters changing during the walk are read at some moment of it. Each step is a call of its
// own, with the store's timeout, and the walk ends with the set: SSCAN's cursor comes back to 0.
// each runs between the steps, never within one's time.
func (s *Named) scanCounters(ctx context.Context, key string, name func(member string) (counter.Name, bool), each func(counter.Info) error) error {
	var cursor uint64
	for {
		step, err := call(ctx, s.store, plain, func(ctx context.Context, c rueidis.Client) (scanStep, error) {
			entry, err := c.Do(ctx, c.B().Sscan().Key(key).Cursor(cursor).Count(exportBatch).Build()).AsScanEntry()
			if err != nil {
				return scanStep{}, err
			}
			names := make([]counter.Name, 0, len(entry.Elements))
			cmds := make(rueidis.Commands, 0, len(entry.Elements))
			for _, member := range entry.Elements {
				n, ok := name(member)
				if !ok {
					continue
				}
				names = append(names, n)
				cmds = append(cmds, c.B().Hmget().Key(CounterKey(n)).Field(infoFields...).Build())
			}
			step := scanStep{cursor: entry.Cursor}
			if len(cmds) == 0 {
				return step, nil
			}
			for i, res := range c.DoMulti(ctx, cmds...) {
				vals, err := res.ToArray()
				if err != nil {
					return scanStep{}, err
				}
				info, ok, err := infoFrom(names[i], vals)
				if err != nil {
					return scanStep{}, err
				}
				if ok {
					step.infos = append(step.infos, info)
				}
			}
			return step, nil
		})
		if err != nil {
			return err
		}
		for _, info := range step.infos {
			if err := each(info); err != nil {
				return err
			}
		}
		if cursor = step.cursor; cursor == 0 {
			return nil
		}
	}
}
