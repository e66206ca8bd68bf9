package redistest

import "testing"

func TestServerLifecycle(t *testing.T) {
	s := Start(t, "--appendonly", "yes", "--appendfsync", "always")
	if got := s.Int("INCR", "k"); got != 1 {
		t.Fatalf("INCR = %d, want 1", got)
	}
	s.Kill()
	if _, err := s.Do("PING"); err == nil {
		t.Fatal("PING succeeded after Kill, want a connection error")
	}
	s.Restart()
	if got, want := s.Int("GET", "k"), int64(1); got != want {
		t.Fatalf("GET after restart = %d, want %d (appendfsync always must keep it)", got, want)
	}
	if _, err := s.Do("NOSUCHCOMMAND"); err == nil {
		t.Fatal("unknown command succeeded, want an error reply")
	}
}
