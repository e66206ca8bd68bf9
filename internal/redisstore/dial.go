package redisstore

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// retryAfterFailure is how long a failed connection attempt is remembered. Requests in that
// window fail at once instead of each dialling a Redis that just refused, which keeps a Redis
// outage from turning into a storm of connection attempts (and DNS look-ups).
const retryAfterFailure = 200 * time.Millisecond

// failureMemo remembers the last failure for retryAfterFailure.
type failureMemo struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// recent returns the failure remembered, if it is recent enough to fail at once again.
func (m *failureMemo) recent() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.at) < retryAfterFailure {
		return m.err
	}
	return nil
}

func (m *failureMemo) remember(err error) {
	m.mu.Lock()
	m.at, m.err = time.Now(), err
	m.mu.Unlock()
}

// dialGuard makes a failed dial to an address wait retryAfterFailure before the next one to
// it. rueidis redials on every command while Redis is away; without the guard every request
// during an outage dials, and looks "redis" up in Docker's DNS, which then falls behind and
// keeps failing lookups after Redis is back. Per address: a dead node of a cluster, or a dead
// Sentinel, must not hold back dials to the others.
type dialGuard struct {
	mu       sync.Mutex
	failures map[string]*failureMemo
}

// maxGuardedAddrs bounds the guard's map. The addresses are the configured ones and those the
// cluster's or the Sentinels' own replies name, not a client's; the bound is only a backstop.
const maxGuardedAddrs = 1024

func (g *dialGuard) memo(addr string) *failureMemo {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.failures[addr]
	if !ok {
		if g.failures == nil || len(g.failures) >= maxGuardedAddrs {
			g.failures = map[string]*failureMemo{}
		}
		m = &failureMemo{}
		g.failures[addr] = m
	}
	return m
}

func (g *dialGuard) dial(ctx context.Context, addr string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
	failures := g.memo(addr)
	if err := failures.recent(); err != nil {
		return nil, err
	}

	var conn net.Conn
	var err error
	if cfg != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		failures.remember(err)
	}
	return conn, err
}
