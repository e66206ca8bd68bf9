package counter

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// LimitKey is what one limit counts: a client, or for the hits of GitHub's image proxy a client
// and a counter. Fixed in size but for the counter's name, whose length the naming rule bounds.
type LimitKey struct {
	Client  netip.Prefix
	Counter Name
}

// Allowance is a limiter's answer, with what the RateLimit-* headers say about it.
type Allowance struct {
	Allowed bool
	// Limit is the events allowed per window; 0 when there is no limit.
	Limit     int64
	Remaining int64
	// Reset is the time left until the window ends.
	Reset  time.Duration
	Window time.Duration
}

// Limiter allows at most a number of events per window per key. A limiter either holds its
// counts in this process (the cheap limits, per replica) or shares them through the store (the
// limits that must hold across replicas).
type Limiter interface {
	// Allow spends cost of key's allowance for the current window.
	Allow(ctx context.Context, key LimitKey, cost int64) (Allowance, error)
}

// The limits' names: LimitError.Limit, and the limit label of the rate-limited metric.
const (
	LimitHits          = "hits"
	LimitCreates       = "creates"
	LimitCreatesPerDay = "creates_per_day"
	LimitReads         = "reads"
	LimitStreams       = "streams"
)

// LimitNames lists every limit that can refuse a request, so that a metric by limit can show
// each at 0 before it first refuses (a dashboard then draws a flat line, not "no data").
var LimitNames = []string{LimitHits, LimitCreates, LimitCreatesPerDay, LimitReads, LimitStreams}

// LimitError is the cause of an ERATELIMITED error: which limit refused (one of LimitNames),
// and when to retry.
type LimitError struct {
	Limit string
	Allowance
}

func (e *LimitError) Error() string { return "rate limited by the " + e.Limit + " limit" }

// RetryAfter is the Retry-After header's value: whole seconds, rounded up.
func (a Allowance) RetryAfter() string {
	return strconv.FormatInt(int64((a.Reset+time.Second-1)/time.Second), 10)
}

// Limits are the per-client limits of the service. A nil Limiter is no limit.
type Limits struct {
	// Hits limits hits per client per window across every replica. GitHub's image proxy is
	// limited per client and counter: it fetches the badges of every README from a few
	// addresses, and one busy README must not use up every other badge's allowance.
	Hits Limiter
	// Creates and CreatesPerDay limit the counters one client creates (by POST /create or a
	// first hit), per window and per day, across every replica. Camo gets no exception here: a
	// client sending its user agent from elsewhere gains nothing.
	Creates, CreatesPerDay Limiter
	// Reads limits everything else a client asks (reads, badges that count nothing, /stats, the
	// page, GET /, an owner's changes), weighted by what each costs, on this replica alone: cheap,
	// no store call. Camo's reads are per counter, like its hits.
	Reads Limiter
}

func check(ctx context.Context, l Limiter, name string, key LimitKey, cost int64) (Allowance, error) {
	if l == nil {
		return Allowance{Allowed: true}, nil
	}
	a, err := l.Allow(ctx, key, cost)
	if err != nil {
		return a, storeFailure(err)
	}
	if !a.Allowed {
		return a, Errorf(ERATELIMITED, &LimitError{Limit: name, Allowance: a},
			"rate limit: at most %d %s per %s per client; try again in %s s", a.Limit, limitUnit(name), a.Window, a.RetryAfter())
	}
	return a, nil
}

func limitUnit(name string) string {
	switch name {
	case LimitHits:
		return "hits"
	case LimitCreates, LimitCreatesPerDay:
		return "new counters"
	}
	return "requests"
}

// storeFailure makes a failure of a limiter's store a domain error.
func storeFailure(err error) error {
	if errors.Is(err, context.Canceled) {
		return Errorf(ECANCELED, err, "request cancelled")
	}
	if ErrorCode(err) == EINTERNAL {
		return Errorf(EUNAVAILABLE, err, "storage unavailable")
	}
	return err
}

func (l *Limits) hit(ctx context.Context, c Client, name Name) (Allowance, error) {
	if l == nil {
		return Allowance{Allowed: true}, nil
	}
	key := LimitKey{Client: c.Prefix}
	if c.Camo {
		key.Counter = name
	}
	return check(ctx, l.Hits, LimitHits, key, 1)
}

// create spends one creation of both create limits; the answer is the per-window limit's.
func (l *Limits) create(ctx context.Context, c Client) (Allowance, error) {
	if l == nil {
		return Allowance{Allowed: true}, nil
	}
	key := LimitKey{Client: c.Prefix}
	a, err := check(ctx, l.Creates, LimitCreates, key, 1)
	if err != nil {
		return a, err
	}
	if _, err := check(ctx, l.CreatesPerDay, LimitCreatesPerDay, key, 1); err != nil {
		return a, err
	}
	return a, nil
}

// Read spends cost of the client's read allowance, for a request about name (zero for the
// visit counter). GitHub's image proxy reads per counter, as it hits: it fetches every read-only
// badge of every README for every reader, and one busy badge must not blank the others.
func (l *Limits) Read(ctx context.Context, c Client, name Name, cost int64) error {
	if l == nil {
		return nil
	}
	key := LimitKey{Client: c.Prefix}
	if c.Camo {
		key.Counter = name
	}
	_, err := check(ctx, l.Reads, LimitReads, key, cost)
	return err
}

// StatsCost is what a read of days of history costs against the read limit: one, plus one for
// every further month, since each month is one more read of the store.
func StatsCost(days int) int64 { return 1 + int64(max(days-1, 0)/31) }

// String describes a key for logs and tests, never for the store.
func (k LimitKey) String() string {
	if k.Counter == (Name{}) {
		return k.Client.String()
	}
	return fmt.Sprintf("%s %s", k.Client, k.Counter)
}
