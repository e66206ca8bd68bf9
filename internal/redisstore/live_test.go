package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// seen collects what one watch takes, in order, as a stream's writer would.
type seen struct {
	mu     sync.Mutex
	values []counter.LiveValue
}

func collect(t *testing.T, w *counter.Watch) *seen {
	t.Helper()
	s := &seen{}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-w.Changed():
				if v, ok := w.Take(); ok {
					s.mu.Lock()
					s.values = append(s.values, v)
					s.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() { close(done); <-stopped; w.Close() })
	return s
}

func (s *seen) last() (counter.LiveValue, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.values) == 0 {
		return counter.LiveValue{}, 0
	}
	return s.values[len(s.values)-1], len(s.values)
}

// waitValue waits until the last value taken is want.
func (s *seen) waitValue(t *testing.T, want counter.LiveValue) {
	t.Helper()
	waitfor.Until(t, 5*time.Second, func() error {
		if got, n := s.last(); n == 0 || got != want {
			return fmt.Errorf("last value %+v after %d values, want %+v", got, n, want)
		}
		return nil
	})
}

func (s *seen) increasing(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 1; i < len(s.values); i++ {
		if s.values[i].Value < s.values[i-1].Value {
			t.Fatalf("value went back: %v then %v (of %d)", s.values[i-1], s.values[i], len(s.values))
		}
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Every kind of change reaches a watch, first the value as it is when the watch starts, and
// hits made concurrently arrive in order: the value never goes back.
func TestLiveSeesEveryChange(t *testing.T) {
	srv := aclServer(t)
	st := newNamed(t, srv)
	c := newCounters(st.Named(0), 0, func() time.Time { return testTime })
	ctx := context.Background()
	key, _, err := c.Create(ctx, testName, 5, counter.Client{})
	if err != nil {
		t.Fatal(err)
	}
	owner := counter.Auth{AdminKeyHash: counter.HashAdminKey(key)}
	live := counter.NewLive(counter.LiveConfig{Feed: st.Live(quietLog())})
	w, err := live.Watch(testName, counter.Client{})
	if err != nil {
		t.Fatal(err)
	}
	s := collect(t, w)
	s.waitValue(t, counter.LiveValue{Value: 5})

	const hits = 300
	var wg sync.WaitGroup
	for i := range hits {
		wg.Go(func() {
			if _, err := c.Hit(ctx, testName, visitorAt(fmt.Sprintf("10.0.%d.%d", i/250, i%250))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s.waitValue(t, counter.LiveValue{Value: 5 + hits})
	s.increasing(t)

	steps := []struct {
		what   string
		change func() error
		want   counter.LiveValue
	}{
		{"set", func() error { _, err := c.Set(ctx, testName, 1000, owner, counter.Client{}); return err }, counter.LiveValue{Value: 1000}},
		{"update", func() error { _, err := c.Update(ctx, testName, -7, owner, counter.Client{}); return err }, counter.LiveValue{Value: 993}},
		// The hit script publishes its total as the Lua number HINCRBY gave, which the server
		// must write out in full, not in exponent form; past 2^53 the total is the string HGET
		// reads back.
		{"set 10^15", func() error { _, err := c.Set(ctx, testName, 1e15, owner, counter.Client{}); return err }, counter.LiveValue{Value: 1e15}},
		{"hit past 10^15", func() error { _, err := c.Hit(ctx, testName, counter.Client{}); return err }, counter.LiveValue{Value: 1e15 + 1}},
		{"set past 2^53", func() error { _, err := c.Set(ctx, testName, 1<<53+1, owner, counter.Client{}); return err }, counter.LiveValue{Value: 1<<53 + 1}},
		{"hit past 2^53", func() error { _, err := c.Hit(ctx, testName, counter.Client{}); return err }, counter.LiveValue{Value: 1<<53 + 2}},
		{"restore", func() error {
			_, err := c.Restore(ctx, []counter.Info{{Name: testName, Value: 42, Created: testTime}})
			return err
		}, counter.LiveValue{Value: 42}},
		{"delete", func() error { return c.Delete(ctx, testName, counter.Auth{Operator: true}, counter.Client{}) }, counter.LiveValue{Deleted: true}},
		{"created again by a hit", func() error { _, err := c.Hit(ctx, testName, counter.Client{}); return err }, counter.LiveValue{Value: 1}},
	}
	for _, step := range steps {
		if err := step.change(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		s.waitValue(t, step.want)
	}
}

// Two processes on one Redis: a watch on one sees the hits made through the other, which has no
// watch of its own.
func TestLiveAcrossProcesses(t *testing.T) {
	srv := aclServer(t)
	a, b := newNamed(t, srv), newNamed(t, srv)
	ca := newCounters(a.Named(0), 0, func() time.Time { return testTime })
	ctx := context.Background()
	if _, err := ca.Hit(ctx, testName, counter.Client{}); err != nil {
		t.Fatal(err)
	}
	live := counter.NewLive(counter.LiveConfig{Feed: b.Live(quietLog())})
	w, err := live.Watch(testName, counter.Client{})
	if err != nil {
		t.Fatal(err)
	}
	s := collect(t, w)
	s.waitValue(t, counter.LiveValue{Value: 1})
	for range 50 {
		if _, err := ca.Hit(ctx, testName, counter.Client{}); err != nil {
			t.Fatal(err)
		}
	}
	s.waitValue(t, counter.LiveValue{Value: 51})
	s.increasing(t)
}

// One subscription per counter, however many watches; none once the last watch is closed.
// Through the application's ACL user: it may subscribe to its channels only.
func TestLiveSubscribesWhileWatched(t *testing.T) {
	srv := aclServer(t)
	st := newNamed(t, srv)
	c := newCounters(st.Named(0), 0, func() time.Time { return testTime })
	if _, err := c.Hit(context.Background(), testName, counter.Client{}); err != nil {
		t.Fatal(err)
	}
	live := counter.NewLive(counter.LiveConfig{Feed: st.Live(quietLog())})
	subscribers := func(want int64) {
		t.Helper()
		waitfor.Until(t, 5*time.Second, func() error {
			out, err := srv.Do("INFO", "stats")
			if err != nil {
				return err
			}
			if got := infoInt(out, "pubsubshard_channels"); got != want {
				return fmt.Errorf("pubsubshard_channels = %d, want %d", got, want)
			}
			return nil
		})
	}
	var watches []*counter.Watch
	for range 3 {
		w, err := live.Watch(testName, counter.Client{})
		if err != nil {
			t.Fatal(err)
		}
		watches = append(watches, w)
	}
	subscribers(1)
	if got := live.Followed(); got != 1 {
		t.Fatalf("Followed() = %d with 3 watches of one counter, want 1", got)
	}
	for _, w := range watches {
		w.Close()
	}
	subscribers(0)
	if got := live.Followed(); got != 0 {
		t.Fatalf("Followed() = %d with no watch, want 0", got)
	}
}

// infoInt reads a field of INFO's answer; -1 when it is not there.
func infoInt(info, field string) int64 {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// A restarted Redis loses its subscriptions: the feed subscribes again and sends the value as
// it is then, so a change made while it was away is not missed.
func TestLiveResubscribesAfterRestart(t *testing.T) {
	srv := aclServer(t, "--appendonly", "yes", "--appendfsync", "always")
	st := newNamed(t, srv)
	other := newNamed(t, srv)
	c := newCounters(st.Named(0), 0, func() time.Time { return testTime })
	co := newCounters(other.Named(0), 0, func() time.Time { return testTime })
	ctx := context.Background()
	if _, err := c.Hit(ctx, testName, counter.Client{}); err != nil {
		t.Fatal(err)
	}
	live := counter.NewLive(counter.LiveConfig{Feed: st.Live(quietLog())})
	w, err := live.Watch(testName, counter.Client{})
	if err != nil {
		t.Fatal(err)
	}
	s := collect(t, w)
	s.waitValue(t, counter.LiveValue{Value: 1})
	srv.Restart()
	// Through another process, so that this one's connection notices the restart by itself.
	waitfor.Until(t, 10*time.Second, func() error { _, err := co.Hit(ctx, testName, counter.Client{}); return err })
	s.waitValue(t, counter.LiveValue{Value: 2})
	for range 3 {
		if _, err := co.Hit(ctx, testName, counter.Client{}); err != nil {
			t.Fatal(err)
		}
	}
	s.waitValue(t, counter.LiveValue{Value: 5})
}

// In a cluster each counter's channel is on its own slot's primary, and the hit script publishes
// there (SPUBLISH from a script must name a channel of its slot).
func TestLiveOnCluster(t *testing.T) {
	cl := startCluster(t)
	st := newStore(t, Options{Addrs: cl.Addrs(), Cluster: true, Username: "hitcounter", Password: "test-password", Timeout: 2 * time.Second})
	c := newCounters(st.Named(0), 0, func() time.Time { return testTime })
	live := counter.NewLive(counter.LiveConfig{Feed: st.Live(quietLog())})
	ctx := context.Background()
	var names []counter.Name
	for i := range 6 {
		names = append(names, counter.Name{Namespace: "example.com", Key: fmt.Sprintf("page-%d", i)})
	}
	var all []*seen
	for _, n := range names {
		if _, err := c.Hit(ctx, n, counter.Client{}); err != nil {
			t.Fatal(err)
		}
		w, err := live.Watch(n, counter.Client{})
		if err != nil {
			t.Fatal(err)
		}
		s := collect(t, w)
		s.waitValue(t, counter.LiveValue{Value: 1})
		all = append(all, s)
	}
	var wg sync.WaitGroup
	for _, n := range names {
		for range 20 {
			wg.Go(func() {
				if _, err := c.Hit(ctx, n, counter.Client{}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for _, s := range all {
		s.waitValue(t, counter.LiveValue{Value: 21})
		s.increasing(t)
	}
}
