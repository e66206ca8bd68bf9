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

func TestCluster(t *testing.T) {
	c := StartCluster(t, 3, 1)
	if len(c.Nodes) != 6 || len(c.Addrs()) != 6 {
		t.Fatalf("%d nodes, want 6", len(c.Nodes))
	}
	p := c.PrimaryOf("hitcounter:c:{a/b}")
	p.MustDo("SET", "hitcounter:c:{a/b}", "1")
	if got := p.MustDo("GET", "hitcounter:c:{a/b}"); got != "1" {
		t.Fatalf("GET on the key's primary = %q", got)
	}
	// Replication is asynchronous: a primary killed right after SET may die before its replica
	// has the key. WAIT holds until the replica acknowledged it (or 10 s pass).
	if got := p.Int("WAIT", "1", "10000"); got != 1 {
		t.Fatalf("WAIT 1 = %d replicas acknowledged the SET, want 1", got)
	}
	// The primary dies: its replica takes over within the cluster's node timeout, with the key.
	p.Kill()
	c.WaitOK()
	if got := c.PrimaryOf("hitcounter:c:{a/b}").MustDo("GET", "hitcounter:c:{a/b}"); got != "1" {
		t.Fatalf("after the failover GET = %q, want 1", got)
	}
}
