package redistest

import "testing"

// The proxy passes requests and answers both ways; armed, it lets the matching request reach the
// server and cuts the connection before the answer, once; the next connections pass again.
func TestProxyCutsBeforeTheAnswer(t *testing.T) {
	s := Start(t)
	p := NewProxy(t, s.Addr())

	tests := []struct {
		name    string
		arm     string // the proxy's pattern before the request; "" unarmed
		args    []string
		wantErr bool // the client got no answer
		cuts    int
	}{
		{"unarmed", "", []string{"SET", "k", "1"}, false, 0},
		{"armed, another request", "INCR", []string{"GET", "k"}, false, 0},
		{"armed, the request", "", []string{"INCR", "k"}, true, 1},
		{"disarmed by the cut", "", []string{"INCR", "k"}, false, 1},
	}
	for _, tt := range tests {
		if tt.arm != "" {
			p.CutAfter(tt.arm)
		}
		_, err := Do(p.Addr(), tt.args...)
		if got := err != nil; got != tt.wantErr {
			t.Fatalf("%s: %v through the proxy: error %v, want an error %v", tt.name, tt.args, err, tt.wantErr)
		}
		if got := p.Cuts(); got != tt.cuts {
			t.Fatalf("%s: %d cuts, want %d", tt.name, got, tt.cuts)
		}
	}
	// Both INCRs ran, the one whose answer was cut too: it reached the server exactly once.
	if got, want := s.Int("GET", "k"), int64(3); got != want {
		t.Fatalf("k = %d after SET 1 and two INCRs through the proxy, want %d", got, want)
	}
}
