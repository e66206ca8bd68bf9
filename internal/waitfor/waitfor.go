// Package waitfor is the tests' one way to wait for something to happen: poll a condition until
// it holds or a deadline passes. Never a sleep in its place: on a busy machine a sleep is either
// too short (the test races what it waits for) or too long (every run pays for the worst case).
package waitfor

import (
	"errors"
	"testing"
	"time"
)

// Poll intervals: quick at first, for conditions that hold almost at once, then backing off so
// that a slow condition (a container becoming healthy) is not polled hundreds of times.
const (
	firstInterval = 5 * time.Millisecond
	maxInterval   = 250 * time.Millisecond
)

// Until calls check until it returns nil, and fails the test with check's last error when it
// still fails after within.
func Until(t testing.TB, within time.Duration, check func() error) {
	t.Helper()
	if err := Poll(within, check); err != nil {
		t.Fatalf("still not so after %s: %v", within, err)
	}
}

// Stop wraps an error that ends the wait at once: what is awaited can no longer happen (the
// process that should answer has exited).
func Stop(err error) error { return stopped{err} }

type stopped struct{ err error }

func (s stopped) Error() string { return s.err.Error() }
func (s stopped) Unwrap() error { return s.err }

// Poll calls check until it returns nil, or within has passed, or check returns Stop(err); it
// returns check's last error (unwrapped from Stop). For callers that are not a test (TestMain)
// or that report the failure themselves.
func Poll(within time.Duration, check func() error) error {
	deadline := time.Now().Add(within)
	interval := firstInterval
	for {
		err := check()
		if err == nil {
			return nil
		}
		var s stopped
		if errors.As(err, &s) {
			return s.err
		}
		if !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(min(interval, time.Until(deadline)))
		interval = min(2*interval, maxInterval)
	}
}
