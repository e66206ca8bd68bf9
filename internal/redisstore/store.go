package redisstore

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// Key holds the visit count. The prefix is what the Redis ACL grants the application user.
const Key = "hitcounter:visits"

// Options says how to reach Redis.
type Options struct {
	// Addr is the server of a standalone Redis; Addrs, when set, the Sentinels (with
	// SentinelMaster) or the seeds of a Redis Cluster (Cluster).
	Addr     string
	Addrs    []string
	Username string
	Password string
	DB       int
	TLS      bool
	// Cluster: Addrs are nodes of a Redis Cluster, whose slots the client follows.
	Cluster bool
	// SentinelMaster is the name the Sentinels at Addrs monitor the primary by; the client asks
	// them for the primary and follows its failovers. SentinelUsername and SentinelPassword log
	// in to the Sentinels.
	SentinelMaster, SentinelUsername, SentinelPassword string
	// WaitReplicas is how many replicas must have a write of the counts in their append-only
	// files before the write is acknowledged (WAITAOF); 0 waits for none.
	WaitReplicas int
	// Timeout bounds every call, connection set-up included.
	Timeout time.Duration
}

// Store is the counter.Adder and counter.Pinger backed by Redis. It connects lazily: the
// server starts when Redis is down, and the first call after Redis comes back connects.
type Store struct {
	opt          rueidis.ClientOption
	timeout      time.Duration
	waitReplicas int
	// cluster: keys live on different servers by slot, so a script may touch one counter only.
	cluster bool

	client  atomic.Pointer[rueidis.Client]
	connect chan struct{} // a one-slot lock that a waiter can give up on when its context ends

	// connectFailure remembers a failed client set-up (refused, or a wrong password).
	connectFailure failureMemo

	// full: Redis was at maxmemory when last read (WatchMemory).
	full atomic.Bool

	mu     sync.Mutex
	closed bool
}

var (
	_ counter.Adder  = (*Store)(nil)
	_ counter.Pinger = (*Store)(nil)
)

// New returns a Store. It does not connect; see Store.
func New(o Options) *Store {
	addrs := o.Addrs
	if len(addrs) == 0 {
		addrs = []string{o.Addr}
	}
	opt := rueidis.ClientOption{
		InitAddress: addrs,
		Username:    o.Username,
		Password:    o.Password,
		SelectDB:    o.DB,
		// One server unless told otherwise: a cluster must be asked for its slots, which a
		// standalone server's ACL need not allow.
		ForceSingleClient: !o.Cluster && o.SentinelMaster == "",
		// No client-side caching: the Redis ACL allows only the commands the service uses.
		DisableCache:  true,
		ClientSetInfo: rueidis.DisableClientSetInfo,
		// Retries stay on for what rueidis retries: read-only commands (HMGET, SSCAN, PING),
		// which change nothing, on a connection that broke (the first call after a Redis restart
		// finds its connection closed). At most three times, 5, 20 and 50 ms later (the client
		// needs a moment to notice the broken connection and dial a new one), so that during an
		// outage a read fails within 75 ms, well inside REDIS_TIMEOUT. It never retries a write or a script unless told to: INCRBY or a hit's script
		// sent twice would count twice (TestReadsRetriedWritesNot).
		DisableRetry: false,
		RetryDelay:   retryReads,
		Dialer:       net.Dialer{Timeout: o.Timeout, KeepAlive: 15 * time.Second},
		// A Redis that stops answering is given up on after a few command timeouts, and the
		// connection is redialled; without this a frozen peer holds the pipe for ~10 s.
		ConnWriteTimeout: max(4*o.Timeout, time.Second),
	}
	if o.TLS {
		host, _, _ := net.SplitHostPort(o.Addr)
		opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if o.SentinelMaster != "" {
		opt.Sentinel = rueidis.SentinelOption{
			MasterSet: o.SentinelMaster, Username: o.SentinelUsername, Password: o.SentinelPassword,
			Dialer: opt.Dialer, TLSConfig: opt.TLSConfig,
		}
	}
	guard := &dialGuard{}
	opt.DialCtxFn = guard.dial
	return &Store{opt: opt, timeout: o.Timeout, waitReplicas: o.WaitReplicas, cluster: o.Cluster, connect: make(chan struct{}, 1)}
}

// retryReads is the client's retry policy for the read-only commands it may retry.
func retryReads(attempts int, _ rueidis.Completed, _ error) time.Duration {
	switch attempts {
	case 1:
		return 5 * time.Millisecond
	case 2:
		return 20 * time.Millisecond
	case 3:
		return 50 * time.Millisecond
	}
	return -1
}

// addScript is the visit counter's INCRBY, as a script only so that it may run past maxmemory
// (see allowOOM): the counter exists, and adding to it makes nothing new.
var addScript = newScript(allowOOM+"return redis.call('INCRBY', KEYS[1], ARGV[1])", true)

// Add increments the counter by n in one atomic step and returns the new total.
func (s *Store) Add(ctx context.Context, n int64) (int64, error) {
	return call(ctx, s, plain, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return s.run(ctx, c, addScript, []string{Key}, strconv.FormatInt(n, 10)).AsInt64()
	})
}

// Ping checks that Redis answers within the timeout.
func (s *Store) Ping(ctx context.Context) error {
	return do(ctx, s, plain, func(ctx context.Context, c rueidis.Client) error {
		return c.Do(ctx, c.B().Ping().Build()).Error()
	})
}

// Close closes the connections to Redis.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if c := s.client.Load(); c != nil {
		(*c).Close()
	}
}

var errClosed = counter.Errorf(counter.EUNAVAILABLE, nil, "storage is shutting down")

func (s *Store) get(ctx context.Context) (rueidis.Client, error) {
	if c := s.client.Load(); c != nil {
		return *c, nil
	}
	select {
	case s.connect <- struct{}{}:
		defer func() { <-s.connect }()
	case <-ctx.Done():
		return nil, classify(ctx, ctx.Err(), plain)
	}
	if c := s.client.Load(); c != nil { // connected while we waited
		return *c, nil
	}

	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if err := s.connectFailure.recent(); err != nil {
		return nil, err
	}

	// The client keeps its options for every later redial, so they hold the store's own
	// timeout, never this caller's remaining time.
	c, err := rueidis.NewClient(s.opt)
	if err != nil {
		err = classify(ctx, err, plain)
		s.connectFailure.remember(err)
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, errClosed
	}
	s.client.Store(&c)
	return c, nil
}
