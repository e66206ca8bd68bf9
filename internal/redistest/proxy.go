package redistest

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy in front of a server, for tests of what a client does when its
// connection breaks at a chosen moment. It forwards both ways until told (CutAfter); then it
// lets the next request that holds a pattern reach the server, takes the server's answer and
// closes the connection instead of passing the answer on. The server carried the request out;
// the client cannot know whether it did, which is the case a client must not resend a write in.
//
// A request is matched in what one read of the client's connection brings: a client that writes
// a command whole (every Redis client does) is matched whatever its size.
type Proxy struct {
	upstream string
	l        net.Listener
	wg       sync.WaitGroup // the accepting goroutine and each connection's

	mu      sync.Mutex
	pattern []byte // the request to cut; nil: none
	cuts    int
	conns   map[net.Conn]struct{}
	closed  bool
}

// NewProxy starts a proxy to upstream (host:port) on a free loopback port, closed, with every
// connection through it, when the test ends.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{upstream: upstream, l: l, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Addr is host:port of the proxy.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

// CutAfter arms the proxy: the next request that holds pattern goes to the server, and its
// connection is cut before the answer. Once.
func (p *Proxy) CutAfter(pattern string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pattern = []byte(pattern)
}

// Cuts is how many answers the proxy has held back, each closing its connection.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

func (p *Proxy) accept() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Go(func() { p.serve(client) })
	}
}

// serve forwards one connection, each way in a goroutine of its own, until either side ends it
// or a cut does.
func (p *Proxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	cut := make(chan struct{}) // closed once the request to cut is on its way to the server
	ended := make(chan struct{}, 2)
	var each sync.WaitGroup
	each.Go(func() {
		if !p.requests(client, server, cut) {
			ended <- struct{}{}
		}
	})
	each.Go(func() {
		p.answers(server, client, cut)
		ended <- struct{}{}
	})
	<-ended
	p.untrack(client, server)
	each.Wait()
}

// requests forwards what the client sends. It reports whether it stopped for a cut, which
// leaves the connection to answers: it ends when the server's answer has come.
func (p *Proxy) requests(client, server net.Conn, cut chan struct{}) bool {
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			// Armed before the request leaves: an answer to it must never slip through.
			last := p.take(buf[:n])
			if last {
				close(cut)
			}
			if _, err := server.Write(buf[:n]); err != nil || last {
				return last
			}
		}
		if err != nil {
			return false
		}
	}
}

// answers forwards what the server sends, until the connection ends or an answer comes after
// a request to cut, which goes no further.
func (p *Proxy) answers(server, client net.Conn, cut chan struct{}) {
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			select {
			case <-cut:
				p.mu.Lock()
				p.cuts++
				p.mu.Unlock()
				return
			default:
			}
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// take reports whether the proxy is armed with a pattern that req holds, and disarms it if so.
func (p *Proxy) take(req []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pattern == nil || !bytes.Contains(req, p.pattern) {
		return false
	}
	p.pattern = nil
	return true
}

// track registers a connection's two sides for close; false (both closed) once the proxy is.
func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// untrack closes a connection's two sides, which ends both of its goroutines.
func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	_ = p.l.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
