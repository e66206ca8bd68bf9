// Package config reads hitcounter's settings from environment variables. Every value is
// validated at start; a malformed one is an error naming the variable, never a silent default.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/proxies"
	"github.com/redis/rueidis"
)

// Config is the effective configuration of one hitcounter process.
type Config struct {
	Port int
	// OperatorPort serves metrics and the operator's routes; never published.
	OperatorPort int

	Redis Redis
	// RedisTimeout bounds every Redis command, connection set-up included.
	RedisTimeout time.Duration

	// ShutdownDrainDelay is how long the server keeps serving, with /readyz answering 503,
	// after SIGTERM and before it closes its listener, so load balancers stop sending first.
	ShutdownDrainDelay time.Duration
	// ShutdownTimeout bounds the whole shutdown, from the signal to exit, drain delay included.
	ShutdownTimeout time.Duration

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	LogLevel  slog.Level
	AccessLog bool

	// CounterLimit caps the number of named counters; 0: no cap.
	CounterLimit int64
	// HistoryDays is how many days of daily counts and unique visitors a counter keeps.
	HistoryDays int
	// RateLimitWindow is the window of the rate limits; RateLimitHits, RateLimitCreates and
	// RateLimitReads are what one client may do in it (0: no limit), RateLimitCreatesPerDay
	// what it may create in a day.
	RateLimitWindow        time.Duration
	RateLimitHits          int64
	RateLimitCreates       int64
	RateLimitCreatesPerDay int64
	RateLimitReads         int64
	// TrustedProxies is the TRUSTED_PROXIES list, checked by proxies.Parse.
	TrustedProxies string
	// ClientIPv6Prefix is the length of the IPv6 network that counts as one client.
	ClientIPv6Prefix int
	// CamoNetworks are where GitHub's image proxy fetches from.
	CamoNetworks []netip.Prefix
	// OperatorToken opens the operator routes; "" disables them.
	OperatorToken Secret
	// VisitorKey is the secret the visitor pseudonyms are derived from; "" when
	// VISITOR_KEY_FILE is not set (each process then makes its own).
	VisitorKey Secret

	// StreamMax and StreamMaxPerClient cap the live streams (GET /stream) of this process and
	// of one client on it (0: no cap); StreamHeartbeat is how often a quiet stream says it is
	// alive, StreamLifetime how long one stream may last.
	StreamMax, StreamMaxPerClient   int
	StreamHeartbeat, StreamLifetime time.Duration
}

// Redis says where and how to reach Redis.
type Redis struct {
	// Mode is how the servers are reached: standalone (one server, Addr), sentinel (Addrs are
	// Sentinels, which name the primary of SentinelMaster and follow its failovers) or cluster
	// (Addrs are seeds of a Redis Cluster).
	Mode     string
	Addr     string   // host:port, the first of Addrs
	Addrs    []string // every address given
	Username string
	Password Secret
	DB       int
	TLS      bool // rediss://
	// SentinelMaster is the name the Sentinels know the primary by; SentinelUsername and
	// SentinelPassword log in to the Sentinels (Redis's own user logs in to the servers).
	SentinelMaster   string
	SentinelUsername string
	SentinelPassword Secret
	// WaitReplicas is how many replicas must have a write in their append-only file before the
	// write is acknowledged (WAITAOF): 0 for a Redis without replicas.
	WaitReplicas int
}

// The Redis modes.
const (
	RedisStandalone = "standalone"
	RedisSentinel   = "sentinel"
	RedisCluster    = "cluster"
)

// Secret is a string that never prints: not through fmt, slog, JSON or a panic's %v.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string               { return redactedUnlessEmpty(s) }
func (s Secret) GoString() string             { return redactedUnlessEmpty(s) }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redactedUnlessEmpty(s)) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redactedUnlessEmpty(s)), nil }

// Reveal returns the secret itself; call it only where the value is handed to Redis.
func (s Secret) Reveal() string { return string(s) }

func redactedUnlessEmpty(s Secret) string {
	if s == "" {
		return ""
	}
	return redacted
}

// LogValue lists the effective configuration for the start log line, secrets redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("port", c.Port),
		slog.Int("operator_port", c.OperatorPort),
		slog.Group("redis",
			slog.String("mode", c.Redis.Mode),
			slog.String("addr", strings.Join(c.Redis.Addrs, ",")),
			slog.String("sentinel_master", c.Redis.SentinelMaster),
			slog.Bool("sentinel_password_set", c.Redis.SentinelPassword != ""),
			slog.Int("wait_replicas", c.Redis.WaitReplicas),
			slog.String("username", c.Redis.Username),
			slog.Bool("password_set", c.Redis.Password != ""),
			slog.Int("db", c.Redis.DB),
			slog.Bool("tls", c.Redis.TLS),
			slog.String("timeout", c.RedisTimeout.String()),
		),
		slog.String("shutdown_drain_delay", c.ShutdownDrainDelay.String()),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.String("read_header_timeout", c.ReadHeaderTimeout.String()),
		slog.String("read_timeout", c.ReadTimeout.String()),
		slog.String("write_timeout", c.WriteTimeout.String()),
		slog.String("idle_timeout", c.IdleTimeout.String()),
		slog.String("log_level", c.LogLevel.String()),
		slog.Bool("access_log", c.AccessLog),
		slog.Int64("counter_limit", c.CounterLimit),
		slog.Int("history_days", c.HistoryDays),
		slog.String("rate_limit_window", c.RateLimitWindow.String()),
		slog.Int64("rate_limit_hits", c.RateLimitHits),
		slog.Int64("rate_limit_creates", c.RateLimitCreates),
		slog.Int64("rate_limit_creates_per_day", c.RateLimitCreatesPerDay),
		slog.Int64("rate_limit_reads", c.RateLimitReads),
		slog.String("trusted_proxies", c.TrustedProxies),
		slog.Int("client_ipv6_prefix", c.ClientIPv6Prefix),
		slog.Int("camo_networks", len(c.CamoNetworks)),
		slog.Bool("operator_token_set", c.OperatorToken != ""),
		slog.Bool("visitor_key_set", c.VisitorKey != ""),
		slog.Int("stream_max", c.StreamMax),
		slog.Int("stream_max_per_client", c.StreamMaxPerClient),
		slog.String("stream_heartbeat", c.StreamHeartbeat.String()),
		slog.String("stream_lifetime", c.StreamLifetime.String()),
	)
}

// Error is a configuration error. Its text is one line that names the variable; it never
// contains a secret.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return e.Var + ": " + e.Msg }

// Defaults, also listed in the README's configuration table.
const (
	DefaultPort               = 5000
	DefaultOperatorPort       = 5001
	DefaultRedisHost          = "redis"
	DefaultRedisPort          = 6379
	DefaultSentinelPort       = 26379
	DefaultRedisTimeout       = 250 * time.Millisecond
	DefaultShutdownDrainDelay = 0
	DefaultShutdownTimeout    = 10 * time.Second
	DefaultReadHeaderTimeout  = 5 * time.Second
	DefaultReadTimeout        = 10 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
	DefaultCounterLimit       = 100_000
	DefaultHistoryDays        = counter.DefaultHistoryDays
	DefaultRateLimitWindow    = time.Minute
	DefaultRateLimitHits      = 600
	DefaultRateLimitCreates   = 10
	DefaultRateLimitReads     = 1200
	DefaultClientIPv6Prefix   = 64
	// A stream holds one of the balancer's 512 connections to its replica (lb/haproxy.cfg) for
	// as long as it lasts: half of them at most, so that streams never crowd out hits. A
	// page follows a counter or two; four per client leave room for a few tabs.
	DefaultStreamMax          = 256
	DefaultStreamMaxPerClient = 4
	DefaultStreamHeartbeat    = 15 * time.Second
	DefaultStreamLifetime     = time.Hour
	// A client may create at most this share of COUNTER_LIMIT a day (unless
	// RATE_LIMIT_CREATES_PER_DAY says otherwise), so that filling the limit takes a hundred
	// clients, not one.
	DefaultCreatesPerDayPercent = 1
)

// DefaultCamoNetworks are GitHub's published address ranges (api.github.com/meta: the web, api
// and hooks lists), where its image proxy fetches from. GitHub changes them now and then;
// CAMO_NETWORKS replaces them.
var DefaultCamoNetworks = []netip.Prefix{
	netip.MustParsePrefix("192.30.252.0/22"),
	netip.MustParsePrefix("185.199.108.0/22"),
	netip.MustParsePrefix("140.82.112.0/20"),
	netip.MustParsePrefix("143.55.64.0/20"),
	netip.MustParsePrefix("2a0a:a440::/29"),
	netip.MustParsePrefix("2606:50c0::/32"),
}

// minVisitorKeyBytes is the shortest visitor key accepted (128 bits; the secrets service makes
// 256).
const minVisitorKeyBytes = 16

// Load reads the configuration through getenv (os.Getenv in production). readFile reads
// REDIS_PASSWORD_FILE; nil means os.ReadFile.
func Load(getenv func(string) string, readFile func(string) ([]byte, error)) (Config, error) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	p := parser{getenv: getenv}
	duration := func(name string, def time.Duration) time.Duration {
		return value(&p, name, def, durationFrom(time.Millisecond), "a duration of at least 1ms (examples: 250ms, 5s, 1m)")
	}
	cfg := Config{
		Port:               value(&p, "PORT", DefaultPort, intIn(0, 65535), "a port number (0-65535)"),
		OperatorPort:       value(&p, "OPERATOR_PORT", DefaultOperatorPort, intIn(0, 65535), "a port number (0-65535)"),
		RedisTimeout:       duration("REDIS_TIMEOUT", DefaultRedisTimeout),
		ShutdownDrainDelay: value(&p, "SHUTDOWN_DRAIN_DELAY", DefaultShutdownDrainDelay, durationFrom(0), "a duration of 0 or more (examples: 0, 500ms, 2s)"),
		ShutdownTimeout:    duration("SHUTDOWN_TIMEOUT", DefaultShutdownTimeout),
		ReadHeaderTimeout:  duration("HTTP_READ_HEADER_TIMEOUT", DefaultReadHeaderTimeout),
		ReadTimeout:        duration("HTTP_READ_TIMEOUT", DefaultReadTimeout),
		WriteTimeout:       duration("HTTP_WRITE_TIMEOUT", DefaultWriteTimeout),
		IdleTimeout:        duration("HTTP_IDLE_TIMEOUT", DefaultIdleTimeout),
		LogLevel:           value(&p, "LOG_LEVEL", slog.LevelInfo, logLevel, "a log level (debug, info, warn, error)"),
		AccessLog:          value(&p, "ACCESS_LOG", true, boolean, "a boolean (true or false)"),
	}
	cfg.CounterLimit = value(&p, "COUNTER_LIMIT", int64(DefaultCounterLimit), int64From(0), "a whole number of 0 (no limit) or more")
	cfg.HistoryDays = value(&p, "HISTORY_DAYS", DefaultHistoryDays, intIn(1, counter.MaxHistoryDays),
		fmt.Sprintf("a number of days from 1 to %d", counter.MaxHistoryDays))
	cfg.RateLimitWindow = value(&p, "RATE_LIMIT_WINDOW", DefaultRateLimitWindow, durationFrom(time.Second), "a duration of at least 1s (examples: 10s, 1m, 1h)")
	cfg.RateLimitHits = value(&p, "RATE_LIMIT_HITS", int64(DefaultRateLimitHits), int64From(0), "a whole number of 0 (no limit) or more")
	cfg.RateLimitCreates = value(&p, "RATE_LIMIT_CREATES", int64(DefaultRateLimitCreates), int64From(0), "a whole number of 0 (no limit) or more")
	cfg.RateLimitCreatesPerDay = value(&p, "RATE_LIMIT_CREATES_PER_DAY", defaultCreatesPerDay(cfg.CounterLimit), int64From(0),
		"a whole number of 0 (no limit) or more")
	cfg.RateLimitReads = value(&p, "RATE_LIMIT_READS", int64(DefaultRateLimitReads), int64From(0), "a whole number of 0 (no limit) or more")
	if list, ok := p.lookup("TRUSTED_PROXIES"); ok {
		if _, err := proxies.Parse(list); err != nil {
			p.fail("TRUSTED_PROXIES", "%s", err)
		}
		cfg.TrustedProxies = list
	}
	cfg.StreamMax = value(&p, "STREAM_MAX", DefaultStreamMax, intIn(0, 1_000_000), "a whole number from 0 (no limit) to 1000000")
	cfg.StreamMaxPerClient = value(&p, "STREAM_MAX_PER_CLIENT", DefaultStreamMaxPerClient, intIn(0, 1_000_000), "a whole number from 0 (no limit) to 1000000")
	cfg.StreamHeartbeat = value(&p, "STREAM_HEARTBEAT", DefaultStreamHeartbeat, durationFrom(100*time.Millisecond),
		"a duration of at least 100ms (examples: 15s, 1m)")
	cfg.StreamLifetime = value(&p, "STREAM_LIFETIME", DefaultStreamLifetime, durationFrom(time.Second), "a duration of at least 1s (examples: 10m, 1h)")
	cfg.ClientIPv6Prefix = value(&p, "CLIENT_IPV6_PREFIX", DefaultClientIPv6Prefix, intIn(1, 128), "a prefix length from 1 to 128 (example: 64)")
	cfg.CamoNetworks = value(&p, "CAMO_NETWORKS", DefaultCamoNetworks, networks,
		"none, or comma-separated networks in CIDR form (example: 140.82.112.0/20,2606:50c0::/32)")
	if path, ok := p.lookup("VISITOR_KEY_FILE"); ok {
		cfg.VisitorKey = p.secretFile("VISITOR_KEY_FILE", path, readFile)
		if p.err == nil && len(cfg.VisitorKey) < minVisitorKeyBytes {
			p.fail("VISITOR_KEY_FILE", "%q holds fewer than %d characters: too short for a key", path, minVisitorKeyBytes)
		}
	}
	if path, ok := p.lookup("OPERATOR_TOKEN_FILE"); ok {
		cfg.OperatorToken = p.secretFile("OPERATOR_TOKEN_FILE", path, readFile)
		if p.err == nil && len(cfg.OperatorToken) < 16 {
			p.fail("OPERATOR_TOKEN_FILE", "%q holds fewer than 16 characters: too short for a token", path)
		}
	}
	cfg.Redis = p.redis(readFile)
	if p.err == nil && cfg.OperatorPort != 0 && cfg.OperatorPort == cfg.Port {
		p.fail("OPERATOR_PORT", "%d is PORT as well: the operator port must be another one, never published", cfg.OperatorPort)
	}
	if p.err == nil && cfg.ShutdownDrainDelay >= cfg.ShutdownTimeout {
		p.fail("SHUTDOWN_DRAIN_DELAY", "%s must be shorter than SHUTDOWN_TIMEOUT (%s), which includes it", cfg.ShutdownDrainDelay, cfg.ShutdownTimeout)
	}
	if p.err != nil {
		return Config{}, p.err
	}
	return cfg, nil
}

// Port reads PORT alone, for the healthcheck sub-command, which must not fail on the rest of
// the configuration.
func Port(getenv func(string) string) (int, error) {
	p := parser{getenv: getenv}
	port := value(&p, "PORT", DefaultPort, intIn(0, 65535), "a port number (0-65535)")
	return port, p.err
}

// Operator reads what the operator subcommands (export, import, admin-key) need to reach the
// local server's operator port: OPERATOR_PORT and the token of OPERATOR_TOKEN_FILE. readFile
// nil means os.ReadFile.
func Operator(getenv func(string) string, readFile func(string) ([]byte, error)) (port int, token Secret, err error) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	p := parser{getenv: getenv}
	port = value(&p, "OPERATOR_PORT", DefaultOperatorPort, intIn(1, 65535), "a port number (1-65535)")
	path, ok := p.lookup("OPERATOR_TOKEN_FILE")
	if !ok {
		p.fail("OPERATOR_TOKEN_FILE", "is not set: the operator routes are disabled without a token")
	} else {
		token = p.secretFile("OPERATOR_TOKEN_FILE", path, readFile)
	}
	return port, token, p.err
}

// parser keeps the first error, so Load reads as a list of variables.
type parser struct {
	getenv func(string) string
	err    error
}

func (p *parser) fail(name, format string, args ...any) {
	if p.err == nil {
		p.err = &Error{Var: name, Msg: fmt.Sprintf(format, args...)}
	}
}

// lookup returns the variable's value with surrounding blanks removed; set is false when
// the variable is unset or blank.
func (p *parser) lookup(name string) (value string, set bool) {
	v := strings.TrimSpace(p.getenv(name))
	return v, v != ""
}

// value is every variable's parser: unset or blank gives def; otherwise conv's result, or a
// one-line error naming the variable, with what it should have been.
func value[T any](p *parser, name string, def T, conv func(string) (T, bool), want string) T {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	got, ok := conv(v)
	if !ok {
		p.fail(name, "%q is not %s", v, want)
		return def
	}
	return got
}

// intIn converts a whole number within lo..hi.
func intIn(lo, hi int) func(string) (int, bool) {
	return func(v string) (int, bool) {
		n, err := strconv.Atoi(v)
		return n, err == nil && n >= lo && n <= hi
	}
}

// int64From converts a whole number of at least lo.
func int64From(lo int64) func(string) (int64, bool) {
	return func(v string) (int64, bool) {
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil && n >= lo
	}
}

// durationFrom converts a Go duration ("250ms", "5s") of at least lo; "0" is a duration too.
func durationFrom(lo time.Duration) func(string) (time.Duration, bool) {
	return func(v string) (time.Duration, bool) {
		d, err := time.ParseDuration(v)
		return d, err == nil && d >= lo
	}
}

// defaultCreatesPerDay is DefaultCreatesPerDayPercent of the counter limit, at least 1; no
// daily limit when there is no counter limit.
func defaultCreatesPerDay(counterLimit int64) int64 {
	if counterLimit == 0 {
		return 0
	}
	return max(counterLimit*DefaultCreatesPerDayPercent/100, 1)
}

// networks converts "none" or a comma-separated list of CIDR networks.
func networks(v string) ([]netip.Prefix, bool) {
	if strings.EqualFold(v, "none") {
		return []netip.Prefix{}, true
	}
	var out []netip.Prefix
	for item := range strings.SplitSeq(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(item))
		if err != nil {
			return nil, false
		}
		out = append(out, p.Masked())
	}
	return out, len(out) > 0
}

func validPort(v string) bool {
	_, ok := intIn(1, 65535)(v)
	return ok
}

func boolean(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, true
	case "0", "false", "no", "off":
		return false, true
	}
	return false, false
}

func logLevel(v string) (slog.Level, bool) {
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

func (p *parser) redis(readFile func(string) ([]byte, error)) Redis {
	mode := value(p, "REDIS_MODE", RedisStandalone, oneOf(RedisStandalone, RedisSentinel, RedisCluster), "one of standalone, sentinel, cluster")
	var r Redis
	if mode != RedisStandalone {
		r = p.redisServers(mode, readFile)
	} else if rawURL, ok := p.lookup("REDIS_URL"); ok {
		for _, conflicting := range []string{"REDIS_HOST", "REDIS_PORT", "REDIS_DB"} {
			if _, set := p.lookup(conflicting); set {
				p.fail(conflicting, "cannot be combined with REDIS_URL; put it in the URL instead")
				return r
			}
		}
		r = p.redisURL(rawURL)
	} else {
		host, ok := p.lookup("REDIS_HOST")
		if !ok {
			host = DefaultRedisHost
		}
		if strings.ContainsAny(host, "/:@ ") && net.ParseIP(host) == nil {
			p.fail("REDIS_HOST", "%q is not a host name or IP address", host)
		}
		port := value(p, "REDIS_PORT", DefaultRedisPort, intIn(1, 65535), "a port number (1-65535)")
		r.Addr = net.JoinHostPort(host, strconv.Itoa(port))
		r.DB = value(p, "REDIS_DB", 0, intIn(0, math.MaxInt32), "a whole number of 0 or more")
	}
	r.Mode = mode
	if r.Addrs == nil && r.Addr != "" {
		r.Addrs = []string{r.Addr}
	}
	r.WaitReplicas = value(p, "REDIS_WAIT_REPLICAS", 0, intIn(0, 16), "a number of replicas from 0 to 16")

	if user, ok := p.lookup("REDIS_USERNAME"); ok {
		if r.Username != "" {
			p.fail("REDIS_USERNAME", "REDIS_URL already names a user; set it in one place only")
		}
		r.Username = user
	}
	if password, ok := p.password(readFile); ok {
		if r.Password != "" {
			p.fail("REDIS_URL", "holds a password and REDIS_PASSWORD or REDIS_PASSWORD_FILE is set too; set it in one place only")
		}
		r.Password = password
	}
	return r
}

// redisServers reads the servers of a Sentinel or Cluster deployment: REDIS_HOST as a
// comma-separated list of host[:port] (REDIS_PORT the default port), and for Sentinel the
// primary's name and the Sentinels' own credentials.
func (p *parser) redisServers(mode string, readFile func(string) ([]byte, error)) Redis {
	var r Redis
	if _, set := p.lookup("REDIS_URL"); set {
		p.fail("REDIS_URL", "names one server; with REDIS_MODE=%s list the servers in REDIS_HOST (host:port,host:port,...)", mode)
		return r
	}
	defaultPort := DefaultRedisPort
	if mode == RedisSentinel {
		defaultPort = DefaultSentinelPort
	}
	port := value(p, "REDIS_PORT", defaultPort, intIn(1, 65535), "a port number (1-65535)")
	list, ok := p.lookup("REDIS_HOST")
	if !ok {
		p.fail("REDIS_HOST", "is required with REDIS_MODE=%s: the servers, as host:port,host:port,...", mode)
		return r
	}
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		host, itemPort, err := net.SplitHostPort(item)
		if err != nil { // no port
			host, itemPort = item, strconv.Itoa(port)
		}
		if host == "" || strings.ContainsAny(host, "/@ ") || !validPort(itemPort) {
			p.fail("REDIS_HOST", "%q is not host or host:port", item)
			return r
		}
		r.Addrs = append(r.Addrs, net.JoinHostPort(host, itemPort))
	}
	r.Addr = r.Addrs[0]
	if _, set := p.lookup("REDIS_DB"); set && mode == RedisCluster {
		p.fail("REDIS_DB", "a Redis Cluster has only database 0")
	}
	r.DB = value(p, "REDIS_DB", 0, intIn(0, math.MaxInt32), "a whole number of 0 or more")
	if mode == RedisSentinel {
		master, ok := p.lookup("REDIS_SENTINEL_MASTER")
		if !ok {
			p.fail("REDIS_SENTINEL_MASTER", "is required with REDIS_MODE=sentinel: the name the Sentinels monitor the primary by")
		}
		r.SentinelMaster = master
		r.SentinelUsername, _ = p.lookup("REDIS_SENTINEL_USERNAME")
		if path, ok := p.lookup("REDIS_SENTINEL_PASSWORD_FILE"); ok {
			r.SentinelPassword = p.secretFile("REDIS_SENTINEL_PASSWORD_FILE", path, readFile)
		}
	}
	return r
}

// oneOf converts one of the given words.
func oneOf(words ...string) func(string) (string, bool) {
	return func(v string) (string, bool) {
		for _, w := range words {
			if strings.EqualFold(v, w) {
				return w, true
			}
		}
		return "", false
	}
}

// password reads REDIS_PASSWORD_FILE (which wins, as Docker secrets should) or REDIS_PASSWORD.
// The password's own text is never part of an error.
func (p *parser) password(readFile func(string) ([]byte, error)) (Secret, bool) {
	if path, ok := p.lookup("REDIS_PASSWORD_FILE"); ok {
		pw := p.secretFile("REDIS_PASSWORD_FILE", path, readFile)
		return pw, pw != ""
	}
	// Not trimmed: blanks may be part of a password. Only an empty value counts as unset.
	if pw := p.getenv("REDIS_PASSWORD"); pw != "" {
		return Secret(pw), true
	}
	return "", false
}

// secretFile reads a one-line secret from the file named by variable name. The secret's own text
// is never part of an error.
func (p *parser) secretFile(name, path string, readFile func(string) ([]byte, error)) Secret {
	data, err := readFile(path)
	if err != nil {
		reason := "cannot be read"
		switch {
		case errors.Is(err, os.ErrNotExist):
			reason = "does not exist"
		case errors.Is(err, os.ErrPermission):
			reason = "permission denied"
		}
		p.fail(name, "%q: %s", path, reason)
		return ""
	}
	// Secret files usually end in a newline that is not part of the secret.
	secret := strings.TrimRight(string(data), "\r\n")
	if secret == "" {
		p.fail(name, "%q is empty", path)
		return ""
	}
	if strings.ContainsAny(secret, "\r\n") {
		p.fail(name, "%q holds more than one line", path)
		return ""
	}
	return Secret(secret)
}

// redisURL reads redis://[user[:password]@]host[:port][/db] (rediss:// for TLS) with the
// client's own parser, so the service accepts exactly what rueidis does. The URL may hold a
// password, so no error quotes it, nor the parser's error, which may.
func (p *parser) redisURL(raw string) Redis {
	const name = "REDIS_URL"
	var r Redis
	opt, err := rueidis.ParseURL(raw)
	switch {
	case err != nil:
		p.fail(name, "not a valid Redis URL (expected redis://[user[:password]@]host[:port][/db] or rediss://)")
		return r
	case opt.DialCtxFn != nil: // unix://: the containers talk TCP
		p.fail(name, "scheme must be redis:// or rediss://")
		return r
	case len(opt.InitAddress) != 1:
		p.fail(name, "must name exactly one server")
		return r
	case strings.ContainsAny(raw, "?#"):
		// The client would take some (dial_timeout, skip_verify) and ignore the rest; the
		// service's own settings are environment variables, so none is silently dropped.
		p.fail(name, "query parameters and fragments are not supported")
		return r
	}
	if _, port, _ := net.SplitHostPort(opt.InitAddress[0]); !validPort(port) {
		p.fail(name, "has an invalid port")
		return r
	}
	r.Addr = opt.InitAddress[0]
	r.Username, r.Password = opt.Username, Secret(opt.Password)
	r.DB = opt.SelectDB
	r.TLS = opt.TLSConfig != nil
	return r
}
