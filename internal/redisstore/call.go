package redisstore

import (
	"context"
	"errors"
	"strings"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// callKind is what a call does, which decides what some of Redis's refusals mean (classify).
type callKind int

const (
	// plain: any call. Every Redis refusal is the storage's, never the caller's.
	plain callKind = iota
	// creates: a call that may make something new (a counter, a place in an index, a claim).
	// Redis at maxmemory refusing it is the storage being full (507), not unavailable: retrying
	// soon will not help, and counters that exist keep counting.
	creates
	// changesValue: a call that adds to a value. Redis refusing the arithmetic (an increment that
	// would overflow 64 bits) is the caller's mistake, not a storage error.
	changesValue
)

// call runs fn on the store's client within the store's timeout, connecting first if need be,
// and turns what fn fails with into the domain's error (classify). It is the prologue of every
// store call: each is bounded by REDIS_TIMEOUT, each fails with a code. fn's value is returned
// with its error, so that a call may say something even when it fails.
func call[T any](ctx context.Context, s *Store, kind callKind, fn func(context.Context, rueidis.Client) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	// Cancelled only once classify has read ctx: cancelled before, it would read as the caller
	// having left.
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := fn(ctx, c)
	return v, classify(ctx, err, kind)
}

// do is call for a call that answers nothing but whether it worked.
func do(ctx context.Context, s *Store, kind callKind, fn func(context.Context, rueidis.Client) error) error {
	_, err := call(ctx, s, kind, func(ctx context.Context, c rueidis.Client) (struct{}, error) {
		return struct{}{}, fn(ctx, c)
	})
	return err
}

// Redis error replies that mean "not now" rather than "this request is wrong": the server is
// loading, busy, refusing writes, or the credentials or ACL do not fit. They are 503s.
var unavailablePrefixes = []string{
	"NOAUTH", "WRONGPASS", "NOPERM", "LOADING", "BUSY", "MASTERDOWN",
	"READONLY", "TRYAGAIN", "CLUSTERDOWN", "MISCONF", "OOM",
}

// classify turns what a call of kind failed with into a counter.Error: nil stays nil, and an
// error that is the domain's already (a counter not found, no connection) stays as it is. The
// messages are for clients; the cause (which may name addresses, never credentials) is kept for
// the logs.
func classify(ctx context.Context, err error, kind callKind) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*counter.Error](err); ok {
		return err
	}
	// The caller went away (an HTTP client hung up): whatever the client library says, that
	// is the story. rueidis notices only its deadline, not a cancellation, so it may report a
	// timeout for a call whose caller left long before.
	if errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled) {
		return counter.Errorf(counter.ECANCELED, err, "request cancelled")
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return counter.Errorf(counter.EUNAVAILABLE, err, "storage did not answer in time")
	}
	re, ok := rueidis.IsRedisErr(err)
	if !ok {
		return counter.Errorf(counter.EUNAVAILABLE, err, "storage unavailable")
	}
	msg := re.Error()
	switch {
	case kind == creates && strings.HasPrefix(msg, "OOM"):
		return counter.Errorf(counter.EFULL, err, "storage is full: no new counter can be created (counters that exist keep counting)")
	case kind == changesValue && strings.Contains(msg, "overflow"):
		return counter.Errorf(counter.EINVALID, err, "the value would overflow a 64-bit integer")
	}
	for _, p := range unavailablePrefixes {
		if strings.HasPrefix(msg, p) {
			return counter.Errorf(counter.EUNAVAILABLE, err, "storage unavailable")
		}
	}
	return counter.Errorf(counter.EINTERNAL, err, "storage error")
}
