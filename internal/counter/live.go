package counter

import (
	"net/netip"
	"sync"
	"time"
)

// LiveValue is one state of a counter as the live feed reports it: its value, or that it was
// deleted.
type LiveValue struct {
	Value   int64
	Deleted bool
}

// Feed is the store's side of live values. Follow starts delivering name's values, in the order
// the store applied the changes, the first being the counter's state when the subscription
// started; stop ends it. Follow must not block, nor call deliver before it returns; deliver is
// called from one goroutine per name at a time. Live calls Follow at most once per name until
// its stop.
type Feed interface {
	Follow(name Name, deliver func(LiveValue)) (stop func())
}

// LiveConfig are the bounds of the live streams of one process.
type LiveConfig struct {
	Feed Feed
	// PerClient and Total cap the watches of one client (its Prefix: an IPv4 address or an IPv6
	// network) and of the whole process; 0 is no cap.
	PerClient, Total int
	// RetryAfter is what a client over a cap is told to wait.
	RetryAfter time.Duration
}

// Live fans each counter's values out to the watches of this process: one subscription per
// counter with at least one watch, whatever the number of watches. Every watch keeps only the
// latest value, so a slow reader never holds up the others, nor the feed; it skips to the
// newest value instead.
type Live struct {
	cfg LiveConfig

	mu      sync.Mutex
	topics  map[Name]*topic
	clients map[netip.Prefix]int
	total   int
	// stopping: the counters whose subscription is ending, closed when it has. A new watch of
	// one waits for it, so that the old subscription's end cannot end the new one.
	stopping map[Name]chan struct{}
}

// topic is one counter followed by the feed, and its watches.
type topic struct {
	stop func()

	mu      sync.Mutex
	watches map[*Watch]struct{}
	last    LiveValue
	known   bool
}

// NewLive returns the fan-out over cfg.Feed.
func NewLive(cfg LiveConfig) *Live {
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 10 * time.Second
	}
	return &Live{cfg: cfg, topics: map[Name]*topic{}, clients: map[netip.Prefix]int{}, stopping: map[Name]chan struct{}{}}
}

// Watch is one reader of a counter's values.
type Watch struct {
	live   *Live
	name   Name
	client netip.Prefix
	topic  *topic

	changed chan struct{} // one slot: "there is a value newer than the last one taken"
	mu      sync.Mutex
	latest  LiveValue
	pending bool
	closed  bool
}

// Watch starts watching name for client. Over a cap it fails with ERATELIMITED (a LimitError
// whose Limit is LimitStreams), before anything is subscribed.
func (l *Live) Watch(name Name, client Client) (*Watch, error) {
	l.mu.Lock()
	for {
		ended, ok := l.stopping[name]
		if !ok {
			break
		}
		// Bounded: a stop ends within the store's timeout.
		l.mu.Unlock()
		<-ended
		l.mu.Lock()
	}
	defer l.mu.Unlock()
	if l.cfg.Total > 0 && l.total >= l.cfg.Total {
		return nil, l.refuse(l.cfg.Total, "this server has as many live streams open as it allows")
	}
	if l.cfg.PerClient > 0 && l.clients[client.Prefix] >= l.cfg.PerClient {
		return nil, l.refuse(l.cfg.PerClient, "too many live streams open from your address")
	}
	w := &Watch{live: l, name: name, client: client.Prefix, changed: make(chan struct{}, 1)}
	t, ok := l.topics[name]
	if !ok {
		t = &topic{watches: map[*Watch]struct{}{}}
		l.topics[name] = t
		// Under l.mu, so that a last watch leaving cannot stop the topic before it has its stop;
		// Follow does not block, by its contract.
		t.stop = l.cfg.Feed.Follow(name, t.deliver)
	}
	w.topic = t
	t.mu.Lock()
	t.watches[w] = struct{}{}
	if t.known {
		w.latest, w.pending = t.last, true
		w.changed <- struct{}{}
	}
	t.mu.Unlock()
	l.total++
	l.clients[client.Prefix]++
	return w, nil
}

func (l *Live) refuse(limit int, msg string) error {
	le := &LimitError{Limit: LimitStreams, Allowance: Allowance{Limit: int64(limit), Reset: l.cfg.RetryAfter}}
	return Errorf(ERATELIMITED, le, "%s: close one, or try again later", msg)
}

// Open is how many watches the process holds.
func (l *Live) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Followed is how many counters the feed follows for this process.
func (l *Live) Followed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.topics)
}

// deliver hands v to every watch of the topic. It never blocks on a watch.
func (t *topic) deliver(v LiveValue) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last, t.known = v, true
	for w := range t.watches {
		w.offer(v)
	}
}

func (w *Watch) offer(v LiveValue) {
	w.mu.Lock()
	w.latest, w.pending = v, true
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default: // a signal is waiting already; the reader will find the newer value
	}
}

// Changed receives when a value newer than the last one taken is there.
func (w *Watch) Changed() <-chan struct{} { return w.changed }

// Take returns the newest value not yet taken, if there is one.
func (w *Watch) Take() (LiveValue, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.latest, w.pending
	w.pending = false
	return v, ok
}

// Close ends the watch; the counter's subscription ends with its last watch. Closing twice is
// harmless.
func (w *Watch) Close() {
	l := w.live
	l.mu.Lock()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		l.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	l.total--
	if l.clients[w.client]--; l.clients[w.client] <= 0 {
		delete(l.clients, w.client)
	}
	t := w.topic
	t.mu.Lock()
	delete(t.watches, w)
	last := len(t.watches) == 0
	t.mu.Unlock()
	var stop func()
	var ended chan struct{}
	if last {
		delete(l.topics, w.name)
		stop = t.stop
		ended = make(chan struct{})
		l.stopping[w.name] = ended
	}
	l.mu.Unlock()
	if stop != nil {
		stop()
		l.mu.Lock()
		delete(l.stopping, w.name)
		l.mu.Unlock()
		close(ended)
	}
}
