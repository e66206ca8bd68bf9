package counter

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeFeed records what Live asks of the store, and lets the test deliver values.
type fakeFeed struct {
	mu        sync.Mutex
	deliver   map[Name]func(LiveValue)
	follows   map[Name]int
	stops     map[Name]int
	following map[Name]bool
	double    bool // Follow was called for a name already followed
	// stopping, when set, is told of each stop as it begins, and the stop then waits for gate:
	// a stop that takes a round trip to Redis.
	stopping chan Name
	gate     chan struct{}
}

func newFakeFeed() *fakeFeed {
	return &fakeFeed{deliver: map[Name]func(LiveValue){}, follows: map[Name]int{}, stops: map[Name]int{}, following: map[Name]bool{}}
}

func (f *fakeFeed) Follow(name Name, deliver func(LiveValue)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.following[name] {
		f.double = true
	}
	f.following[name] = true
	f.deliver[name] = deliver
	f.follows[name]++
	return func() {
		if f.stopping != nil {
			f.stopping <- name
			<-f.gate
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.following[name] = false
		f.stops[name]++
	}
}

func (f *fakeFeed) send(name Name, v LiveValue) {
	f.mu.Lock()
	d := f.deliver[name]
	f.mu.Unlock()
	d(v)
}

var (
	liveName  = Name{Namespace: "example.com", Key: "home"}
	otherLive = Name{Namespace: "example.com", Key: "about"}
)

func liveClient(addr string) Client {
	a := netip.MustParseAddr(addr)
	return Client{Addr: a, Prefix: netip.PrefixFrom(a, a.BitLen())}
}

// next waits (boundedly) for the watch's signal and takes the value.
func next(t *testing.T, w *Watch) LiveValue {
	t.Helper()
	select {
	case <-w.Changed():
	case <-time.After(2 * time.Second):
		t.Fatal("no value within 2s")
	}
	v, ok := w.Take()
	if !ok {
		t.Fatal("signalled, but nothing to take")
	}
	return v
}

func TestLiveFansOutOneSubscription(t *testing.T) {
	feed := newFakeFeed()
	live := NewLive(LiveConfig{Feed: feed})
	var watches []*Watch
	for i := range 3 {
		w, err := live.Watch(liveName, liveClient("192.0.2.1"))
		if err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
		watches = append(watches, w)
	}
	if got := feed.follows[liveName]; got != 1 {
		t.Fatalf("Follow called %d times for 3 watches of one counter, want 1", got)
	}
	feed.send(liveName, LiveValue{Value: 7})
	for i, w := range watches {
		if got := next(t, w); got != (LiveValue{Value: 7}) {
			t.Errorf("watch %d got %+v, want 7", i, got)
		}
	}
	// A watch that joins later starts with the last value, without waiting for a change.
	late, err := live.Watch(liveName, liveClient("192.0.2.2"))
	if err != nil {
		t.Fatal(err)
	}
	if got := next(t, late); got != (LiveValue{Value: 7}) {
		t.Errorf("late watch got %+v, want the last value 7", got)
	}
	for _, w := range append(watches, late) {
		w.Close()
		w.Close() // twice: harmless
	}
	if got := feed.stops[liveName]; got != 1 {
		t.Fatalf("stop called %d times after the last watch closed, want 1", got)
	}
	if live.Open() != 0 || live.Followed() != 0 {
		t.Fatalf("after closing everything: %d watches, %d followed, want 0 and 0", live.Open(), live.Followed())
	}
	// Followed again from scratch: a new subscription, never two at once.
	w, err := live.Watch(liveName, liveClient("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if feed.follows[liveName] != 2 || feed.double {
		t.Fatalf("Follow called %d times (double %v), want 2, one after the other", feed.follows[liveName], feed.double)
	}
}

// A reader that never reads holds up nobody: deliveries return at once, and when it reads it
// gets the newest value only.
func TestLiveSlowReaderSkipsToTheNewest(t *testing.T) {
	feed := newFakeFeed()
	live := NewLive(LiveConfig{Feed: feed})
	slow, _ := live.Watch(liveName, liveClient("192.0.2.1"))
	fast, _ := live.Watch(liveName, liveClient("192.0.2.2"))
	defer slow.Close()
	defer fast.Close()
	const n = 100_000
	done := make(chan struct{})
	var fastSeen []int64
	go func() {
		defer close(done)
		for {
			select {
			case <-fast.Changed():
				if v, ok := fast.Take(); ok {
					fastSeen = append(fastSeen, v.Value)
					if v.Value == n {
						return
					}
				}
			case <-time.After(5 * time.Second):
				return
			}
		}
	}()
	start := time.Now()
	for i := range int64(n) {
		feed.send(liveName, LiveValue{Value: i + 1})
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("%d deliveries took %s with a reader that never reads", n, took)
	}
	<-done
	if len(fastSeen) == 0 || fastSeen[len(fastSeen)-1] != n {
		t.Fatalf("the reading watch ended on %v, want %d", fastSeen[max(0, len(fastSeen)-1):], n)
	}
	for i := 1; i < len(fastSeen); i++ {
		if fastSeen[i] <= fastSeen[i-1] {
			t.Fatalf("the reading watch saw %d after %d", fastSeen[i], fastSeen[i-1])
		}
	}
	if got := next(t, slow); got.Value != n {
		t.Errorf("the slow watch took %d, want the newest, %d", got.Value, n)
	}
	if _, ok := slow.Take(); ok {
		t.Error("the slow watch had a second value after taking the newest")
	}
}

func TestLiveCaps(t *testing.T) {
	a, b, c := liveClient("192.0.2.1"), liveClient("192.0.2.2"), liveClient("2001:db8::1")
	tests := []struct {
		name           string
		perClient, max int
		opens          []Client
		want           []bool // each open accepted?
	}{
		{"per client", 2, 0, []Client{a, a, a, b, b, b}, []bool{true, true, false, true, true, false}},
		{"total", 0, 3, []Client{a, b, c, a}, []bool{true, true, true, false}},
		{"both", 1, 2, []Client{a, a, b, c}, []bool{true, false, true, false}},
		{"no caps", 0, 0, []Client{a, a, a, a, a}, []bool{true, true, true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := NewLive(LiveConfig{Feed: newFakeFeed(), PerClient: tt.perClient, Total: tt.max, RetryAfter: 3 * time.Second})
			var got []bool
			for _, cl := range tt.opens {
				w, err := live.Watch(liveName, cl)
				got = append(got, err == nil)
				if err != nil {
					le, ok := errors.AsType[*LimitError](err)
					if ErrorCode(err) != ERATELIMITED || !ok || le.Limit != "streams" || le.RetryAfter() != "3" {
						t.Fatalf("refusal %v: want code %s, a LimitError of streams, Retry-After 3", err, ERATELIMITED)
					}
					continue
				}
				t.Cleanup(w.Close)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("accepted = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// A closed watch gives its place back, to its client and to the total.
func TestLiveCapsFreeOnClose(t *testing.T) {
	live := NewLive(LiveConfig{Feed: newFakeFeed(), PerClient: 1, Total: 1})
	a := liveClient("192.0.2.1")
	w, err := live.Watch(liveName, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := live.Watch(otherLive, a); err == nil {
		t.Fatal("a second watch over the caps was accepted")
	}
	w.Close()
	w2, err := live.Watch(otherLive, a)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	w2.Close()
}

// A watch that comes while the counter's last watch is still ending its subscription waits for
// that end before it subscribes again: the old subscription's end must not end the new one.
func TestLiveWatchWaitsForTheLastStop(t *testing.T) {
	feed := newFakeFeed()
	feed.stopping, feed.gate = make(chan Name, 1), make(chan struct{})
	live := NewLive(LiveConfig{Feed: feed})
	first, err := live.Watch(liveName, liveClient("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	go first.Close()
	select {
	case <-feed.stopping:
	case <-time.After(2 * time.Second):
		t.Fatal("the last watch's close did not stop the subscription")
	}
	watched := make(chan *Watch)
	go func() {
		w, err := live.Watch(liveName, liveClient("192.0.2.2"))
		if err != nil {
			t.Error(err)
		}
		watched <- w
	}()
	select {
	case <-watched:
		t.Fatal("a new watch subscribed while the old subscription was still ending")
	case <-time.After(50 * time.Millisecond): // the new watch must still be waiting: nothing else can end it here
	}
	close(feed.gate)
	var second *Watch
	select {
	case second = <-watched:
	case <-time.After(2 * time.Second):
		t.Fatal("the new watch did not start once the old subscription had ended")
	}
	defer second.Close()
	feed.mu.Lock()
	defer feed.mu.Unlock()
	if feed.double || feed.follows[liveName] != 2 || feed.stops[liveName] != 1 || !feed.following[liveName] {
		t.Errorf("double %v, follows %d, stops %d, following %v; want one follow after one stop, still following",
			feed.double, feed.follows[liveName], feed.stops[liveName], feed.following[liveName])
	}
}
