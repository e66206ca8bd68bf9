package redisstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// One-time clean-ups of what earlier versions stored, each done once per Redis by whichever
// replica comes first, and marked done in one hash.
const (
	// legacyMarkers is the hash that records the clean-ups done.
	legacyMarkers = "hitcounter:migrations"
	// legacySaltPrefix + day ("2006-01-02") is where versions before issue #15 kept each day's
	// visitor salt, for 48 hours: in Redis, so in its append-only file next to every pseudonym.
	legacySaltPrefix = "hitcounter:salt:"
	// namespacesIndexed is the field of legacyMarkers set once every counter created before
	// namespaces had lists is in its namespace's list (IndexNamespaces).
	namespacesIndexed = "namespaces-indexed"
)

// PurgeLegacySalts removes, once per Redis, the daily salts that versions before issue #15
// kept there, and has Redis rewrite its append-only file, so that no copy of the file made
// from then on holds a salt (the rewrite keeps what exists now, not its history). The first
// replica to ask does it (HSETNX of a marker); it reports whether it was this call.
func (s *Store) PurgeLegacySalts(ctx context.Context, now time.Time) (bool, error) {
	if s.cluster {
		return false, nil // no earlier version ran on a cluster
	}
	return call(ctx, s, plain, func(ctx context.Context, c rueidis.Client) (bool, error) {
		first, err := c.Do(ctx, c.B().Hsetnx().Key(legacyMarkers).Field("salts-purged").Value(strconv.FormatInt(now.Unix(), 10)).Build()).AsBool()
		if err != nil || !first {
			return false, err
		}
		var keys []string
		for d := -3; d <= 1; d++ {
			keys = append(keys, legacySaltPrefix+now.UTC().AddDate(0, 0, d).Format(time.DateOnly))
		}
		for _, res := range c.DoMulti(ctx, c.B().Del().Key(keys...).Build(), c.B().Bgrewriteaof().Build()) {
			if err := res.Error(); err != nil {
				return true, err
			}
		}
		return true, nil
	})
}

// NamespacesIndexed implements counter.NamespaceStore.
func (s *Named) NamespacesIndexed(ctx context.Context) (bool, error) {
	return s.store.namespacesIndexed(ctx)
}

func (s *Store) namespacesIndexed(ctx context.Context) (bool, error) {
	return call(ctx, s, plain, func(ctx context.Context, c rueidis.Client) (bool, error) {
		err := c.Do(ctx, c.B().Hget().Key(legacyMarkers).Field(namespacesIndexed).Build()).Error()
		if rueidis.IsRedisNil(err) {
			return false, nil
		}
		return err == nil, err
	})
}

// IndexNamespaces puts every counter in its namespace's list, once per Redis, for the counters
// that versions before namespaces had lists created, and then marks the lists complete
// (NamespacesIndexed); it reports whether this call did it. It walks the global index in steps,
// each a call of its own, and may run on several replicas at once: adding a name twice changes
// nothing. A counter deleted during the walk may leave its name in a list, which readers skip.
func (s *Store) IndexNamespaces(ctx context.Context, now time.Time) (bool, error) {
	if done, err := s.namespacesIndexed(ctx); err != nil || done {
		return false, err
	}
	var cursor uint64
	for {
		next, err := call(ctx, s, plain, func(ctx context.Context, c rueidis.Client) (uint64, error) {
			entry, err := c.Do(ctx, c.B().Sscan().Key(IndexKey).Cursor(cursor).Count(exportBatch).Build()).AsScanEntry()
			if err != nil {
				return 0, err
			}
			cmds := make(rueidis.Commands, 0, len(entry.Elements))
			for _, member := range entry.Elements {
				if ns, key, ok := strings.Cut(member, "/"); ok {
					cmds = append(cmds, c.B().Sadd().Key(NamespaceListKey(ns)).Member(key).Build())
				}
			}
			for _, res := range c.DoMulti(ctx, cmds...) {
				if err := res.Error(); err != nil {
					return 0, err
				}
			}
			return entry.Cursor, nil
		})
		if err != nil {
			return false, err
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	err := do(ctx, s, plain, func(ctx context.Context, c rueidis.Client) error {
		mark := c.B().Hset().Key(legacyMarkers).FieldValue().FieldValue(namespacesIndexed, strconv.FormatInt(now.Unix(), 10)).Build()
		return s.write(ctx, c, true, mark).Error()
	})
	return err == nil, err
}
