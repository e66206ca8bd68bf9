package waitfor

import (
	"errors"
	"testing"
	"time"
)

func TestPollReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	err := Poll(10*time.Second, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Poll() = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestPollGivesUpWithTheLastError(t *testing.T) {
	calls := 0
	err := Poll(20*time.Millisecond, func() error {
		calls++
		return errors.New("never")
	})
	if err == nil || err.Error() != "never" || calls < 2 {
		t.Fatalf("Poll() = %v after %d calls, want the last error after at least 2 calls", err, calls)
	}
}

func TestPollStopsAtOnce(t *testing.T) {
	calls := 0
	gone := errors.New("gone")
	err := Poll(10*time.Second, func() error {
		calls++
		return Stop(gone)
	})
	// Identity, not errors.Is: Stop's wrapper unwraps to gone too, and Poll must return gone itself.
	if err != gone || calls != 1 { //nolint:errorlint // the identity is what is tested, see above
		t.Fatalf("Poll() = %v after %d calls, want %v after 1", err, calls, gone)
	}
}
