package redisstore

import (
	"context"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// Delete implements counter.Store. The name leaves the index before the counter goes: a
// creation racing with the delete can leave a name in the index without a counter (it takes
// one place of the limit until the name is used again), never a counter missing from the
// index (and so from an export).
func (s *Named) Delete(ctx context.Context, name counter.Name, auth counter.Auth) error {
	if _, err := s.change(ctx, name, auth, "check"); err != nil {
		return err
	}
	// The counter's sketches go with it, and the memory of what they hold once the deletion is
	// done or may be (an error): runs that looked before then will not fill it again.
	defer s.sketched.forget()
	// The counter, its months of daily figures and the last days' visitors (which would
	// otherwise expire on their own, and come back if the name is used again).
	keys := []string{CounterKey(name), repeatsKey(CounterKey(name))}
	today := startOfDay(time.Now().UTC())
	for i := range s.historyDays + 2 {
		d := today.AddDate(0, 0, 1-i)
		if i < 4 {
			keys = append(keys, visitorsKey(keys[0], d))
		}
		if i == 0 || d.Day() == 1 {
			keys = append(keys, monthKey(keys[0], d))
		}
	}
	return do(ctx, s.store, plain, func(ctx context.Context, c rueidis.Client) error {
		// Three writes, in this order; in a cluster the indexes and the counter may be on three
		// servers.
		for _, cmd := range []rueidis.Completed{
			c.B().Srem().Key(IndexKey).Member(name.String()).Build(),
			c.B().Srem().Key(NamespaceListKey(name.Namespace)).Member(name.Key).Build(),
			c.B().Del().Key(keys...).Build(),
		} {
			if err := s.store.write(ctx, c, true, cmd).Error(); err != nil {
				return err
			}
		}
		// Live streams of the counter end (live.go). After the DEL, on another command: a hit
		// between the two publishes a value that the deletion then follows, never the reverse.
		// The deletion stands whether or not this reaches them: a failure here fails nothing.
		_ = c.Do(ctx, c.B().Spublish().Channel(LiveChannel(name)).Message(liveDeleted).Build()).Error()
		return nil
	})
}
