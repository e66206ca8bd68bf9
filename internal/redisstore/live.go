package redisstore

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// Live values travel on a sharded Pub/Sub channel per counter, its key plus ":live": every
// script that changes a counter's value publishes the new value there (SPUBLISH), from inside
// the script, so the messages of one counter leave Redis in the order its changes were applied
// and no subscriber ever sees a value go back. The channel carries the counter's hash tag: in a
// cluster it lives on the counter's own slot, and SPUBLISH in a script must name a channel of the
// script's slot. Sharded Pub/Sub works the same on a standalone server and through Sentinel, so
// there is one code path.
//
// A message is the value in decimal, or liveDeleted.
const liveDeleted = "deleted"

// LiveChannel is the channel of name's values.
func LiveChannel(name counter.Name) string { return CounterKey(name) + ":live" }

// snapshotScript publishes the counter's value as it is now, or that it does not exist, on its
// channel: how a new subscription gets its first value in order with every change after it (a
// read on another path could arrive after a newer message and take the value back). It goes to
// every replica's subscribers, who see the same value again, which they skip.
var snapshotScript = newScript(`
redis.call('SPUBLISH', KEYS[1] .. ':live', redis.call('HGET', KEYS[1], 'v') or '`+liveDeleted+`')
return 1`, false)

// Live is the counter.Feed on Redis. Its subscriptions ride the client's own connection to each
// server (RESP3 carries pushed messages beside replies), so a process holds no connection more
// for them, however many counters it follows.
type Live struct {
	s   *Store
	log *slog.Logger
}

// Live returns the feed of the store's counters; log gets the subscriptions' failures.
func (s *Store) Live(log *slog.Logger) *Live { return &Live{s: s, log: log} }

var _ counter.Feed = (*Live)(nil)

// liveBackoff bounds how often a failing subscription is tried again.
const (
	liveBackoffMin = 100 * time.Millisecond
	liveBackoffMax = 2 * time.Second
)

// Follow implements counter.Feed: a goroutine holds the subscription, subscribing again after a
// broken connection (and publishing a snapshot each time, since changes may have been missed
// while it was away) until stop.
func (l *Live) Follow(name counter.Name, deliver func(counter.LiveValue)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.follow(ctx, name, deliver)
	}()
	return func() {
		cancel()
		<-done
	}
}

func (l *Live) follow(ctx context.Context, name counter.Name, deliver func(counter.LiveValue)) {
	channel, key := LiveChannel(name), CounterKey(name)
	backoff := liveBackoffMin
	for ctx.Err() == nil {
		err := l.receive(ctx, channel, key, deliver)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			l.log.Warn("live subscription failed; subscribing again", "backoff", backoff.String(), "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, liveBackoffMax)
	}
}

// receive holds one subscription until it breaks (an error), the server ends it (nil: a slot
// moved, say) or ctx ends.
func (l *Live) receive(ctx context.Context, channel, key string, deliver func(counter.LiveValue)) error {
	// Connected within the store's timeout; the subscription then lasts as long as ctx.
	c, err := call(ctx, l.s, plain, func(_ context.Context, c rueidis.Client) (rueidis.Client, error) { return c, nil })
	if err != nil {
		return err
	}
	sub := rueidis.WithOnSubscriptionHook(ctx, func(s rueidis.PubSubSubscription) {
		if s.Kind == "ssubscribe" && s.Channel == channel {
			// Not here: the hook runs in the connection's reading goroutine, which the
			// script's answer needs.
			go l.snapshot(ctx, key)
		}
	})
	// rueidis leaves the server subscribed when Receive returns; a stopped follow says so.
	sub = rueidis.WithOnReceiveReturnHook(sub, func(err error, cc rueidis.CommandClient) error {
		if ctx.Err() != nil {
			uctx, cancel := context.WithTimeout(context.Background(), l.s.timeout)
			defer cancel()
			_ = cc.Do(uctx, cc.B().Sunsubscribe().Channel(channel).Build()).Error()
		}
		return err
	})
	return c.Receive(sub, c.B().Ssubscribe().Channel(channel).Build(), func(m rueidis.PubSubMessage) {
		if v, ok := parseLive(m.Message); ok {
			deliver(v)
		}
	})
}

// snapshotTries bounds the attempts at a subscription's first value.
const snapshotTries = 3

func (l *Live) snapshot(ctx context.Context, key string) {
	for try := range snapshotTries {
		err := do(ctx, l.s, plain, func(ctx context.Context, c rueidis.Client) error {
			return l.s.run(ctx, c, snapshotScript, []string{key}).Error()
		})
		if err == nil || ctx.Err() != nil {
			return
		}
		if try == snapshotTries-1 {
			l.log.Warn("live subscription: reading the first value failed; the next change will be the first", "error", err.Error())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(liveBackoffMin):
		}
	}
}

func parseLive(msg string) (counter.LiveValue, bool) {
	if msg == liveDeleted {
		return counter.LiveValue{Deleted: true}, true
	}
	v, err := strconv.ParseInt(msg, 10, 64)
	return counter.LiveValue{Value: v}, err == nil
}
