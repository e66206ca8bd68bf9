package testkit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Sample is one request of a load: when it was sent, how long its answer took, and what the
// answer was. Send functions fill in what they read; the loader fills in At, and Took when the
// send function left it zero.
type Sample struct {
	At       time.Time // when it was sent
	Took     time.Duration
	Status   int // 0: no HTTP answer
	Count    int64
	ServedBy string // the X-Served-By of the answer
	Body     string // of a failed answer, its start, for the failure report
	Attempts int    // times the client sent it; more than 1 is a retry by Go's client
	Err      error
}

// OK reports a 2xx answer read without error.
func (s Sample) OK() bool { return s.Err == nil && s.Status >= 200 && s.Status < 300 }

// Loader sends requests at a fixed rate whatever the answers (open loop: a slow answer does not
// slow the sending, as it would with a fixed number of clients), at most rate × bound requests,
// and stops by itself after bound.
type Loader struct {
	mu      sync.Mutex
	samples []Sample
	stop    context.CancelFunc
	done    chan struct{}
}

// StartLoad starts sending: send is called once per request, each in its own goroutine, rate
// times a second, until Finish or bound.
func StartLoad(rate int, bound time.Duration, send func() Sample) *Loader {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	l := &Loader{stop: cancel, done: make(chan struct{})}
	limit := int(int64(rate) * int64(bound) / int64(time.Second))
	go func() {
		defer close(l.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for range limit {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Go(func() {
				at := time.Now()
				s := send()
				s.At = at
				if s.Took == 0 {
					s.Took = time.Since(at)
				}
				l.mu.Lock()
				l.samples = append(l.samples, s)
				l.mu.Unlock()
			})
		}
	}()
	return l
}

// Done is closed once the loader has stopped sending and has every answer: after bound, or
// Finish.
func (l *Loader) Done() <-chan struct{} { return l.done }

// Samples returns the answers so far, in the order they came, while the load goes on.
func (l *Loader) Samples() []Sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.samples)
}

// Finish stops sending, waits for every answer, and returns them in order of sending. Calling
// it again returns the same.
func (l *Loader) Finish() []Sample {
	l.stop()
	<-l.done
	out := l.Samples()
	slices.SortFunc(out, func(a, b Sample) int { return a.At.Compare(b.At) })
	return out
}

// Tally sums up a load's samples.
type Tally struct {
	Sent, OK, Failed int
	Duplicates       []int64 // counts handed out to two 2xx answers
	Highest          int64   // the highest count of a 2xx answer
	FirstFail        time.Time
	LastFail         time.Time
	Examples         []string // the first five failures, described
}

// Count tallies samples: which answered 2xx, which counts came twice, when failures were.
func Count(samples []Sample) Tally {
	var c Tally
	seen := map[int64]bool{}
	for _, s := range samples {
		c.Sent++
		if !s.OK() {
			c.Failed++
			if c.FirstFail.IsZero() {
				c.FirstFail = s.At
			}
			c.LastFail = s.At
			if len(c.Examples) < 5 {
				c.Examples = append(c.Examples, fmt.Sprintf("%s (took %s): status %d from %q %q, %v",
					s.At.Format("15:04:05.000"), s.Took.Round(time.Millisecond), s.Status, s.ServedBy, s.Body, s.Err))
			}
			continue
		}
		c.OK++
		if seen[s.Count] {
			c.Duplicates = append(c.Duplicates, s.Count)
		}
		seen[s.Count] = true
		c.Highest = max(c.Highest, s.Count)
	}
	return c
}

func (c Tally) String() string {
	return fmt.Sprintf("sent %d, 2xx %d, failed %d %v", c.Sent, c.OK, c.Failed, c.Examples)
}
