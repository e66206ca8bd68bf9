package logging

import (
	"strings"
	"sync"
	"testing"
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

func TestBufferedWriterBatchesAndFlushes(t *testing.T) {
	var out lockedBuilder
	w := NewBufferedWriter(&out, 4096, 20*time.Millisecond)
	for i := range 100 {
		if _, err := w.Write([]byte("line " + string(rune('a'+i%26)) + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, writes := out.snapshot()
		if strings.Count(got, "\n") == 100 {
			if writes > 5 {
				t.Errorf("100 lines took %d writes, want them batched", writes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lines not flushed within 2s: %d of 100", strings.Count(got, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
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
