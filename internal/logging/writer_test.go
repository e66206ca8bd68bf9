package logging

import (
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type lockedBuilder struct {
	mu     sync.Mutex
	b      strings.Builder
	writes int
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuilder) snapshot() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.writes
}

// The periodic flush runs on a synctest bubble's fake clock: the test moves time past one
// interval and reads what was written, with no polling and no real waiting.
func TestBufferedWriterBatchesAndFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuilder
		w := NewBufferedWriter(&out, 4096, 20*time.Millisecond)
		for i := range 100 {
			if _, err := w.Write([]byte("line " + string(rune('a'+i%26)) + "\n")); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := out.snapshot(); got != "" {
			t.Fatalf("%d lines written before the flush interval, want them held", strings.Count(got, "\n"))
		}
		time.Sleep(20 * time.Millisecond) // fake time: one flush interval
		synctest.Wait()
		got, writes := out.snapshot()
		if n := strings.Count(got, "\n"); n != 100 || writes > 5 {
			t.Fatalf("after one interval: %d of 100 lines in %d writes, want all of them batched", n, writes)
		}

		if _, err := w.Write([]byte("last\n")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got, _ := out.snapshot(); !strings.HasSuffix(got, "last\n") {
			t.Fatalf("Close did not flush the last line: %q", got[max(0, len(got)-20):])
		}
	})
}

func TestBufferedWriterLongLine(t *testing.T) {
	var out lockedBuilder
	w := NewBufferedWriter(&out, 16, time.Hour)
	long := strings.Repeat("x", 100) + "\n"
	if _, err := w.Write([]byte(long)); err != nil {
		t.Fatal(err)
	}
	if got, _ := out.snapshot(); got != long {
		t.Fatalf("a line longer than the buffer was not written through: %q", got)
	}
	w.Close()
}
