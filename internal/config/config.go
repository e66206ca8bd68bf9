// Package config reads hitcounter's settings from environment variables. Every value is
// validated at start; a malformed one is an error naming the variable, never a silent default.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration of one hitcounter process.
type Config struct {
	Port int

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

	// CoalesceVisits sends the visits that arrive while a write is in flight as one INCRBY.
	CoalesceVisits bool

	LogLevel  slog.Level
	AccessLog bool
}

// Redis says where and how to reach Redis.
type Redis struct {
	Addr     string // host:port
	Username string
	Password Secret
	DB       int
	TLS      bool // rediss://
}

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
		slog.Group("redis",
			slog.String("addr", c.Redis.Addr),
			slog.String("username", c.Redis.Username),
			slog.Bool("password_set", c.Redis.Password != ""),
			slog.Int("db", c.Redis.DB),
			slog.Bool("tls", c.Redis.TLS),
			slog.String("timeout", c.RedisTimeout.String()),
			slog.Bool("coalesce_visits", c.CoalesceVisits),
		),
		slog.String("shutdown_drain_delay", c.ShutdownDrainDelay.String()),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.String("read_header_timeout", c.ReadHeaderTimeout.String()),
		slog.String("read_timeout", c.ReadTimeout.String()),
		slog.String("write_timeout", c.WriteTimeout.String()),
		slog.String("idle_timeout", c.IdleTimeout.String()),
		slog.String("log_level", c.LogLevel.String()),
		slog.Bool("access_log", c.AccessLog),
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
	DefaultRedisHost          = "redis"
	DefaultRedisPort          = 6379
	DefaultRedisTimeout       = 250 * time.Millisecond
	DefaultShutdownDrainDelay = 0
	DefaultShutdownTimeout    = 10 * time.Second
	DefaultReadHeaderTimeout  = 5 * time.Second
	DefaultReadTimeout        = 10 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
)

// Load reads the configuration through getenv (os.Getenv in production). readFile reads
// REDIS_PASSWORD_FILE; nil means os.ReadFile.
func Load(getenv func(string) string, readFile func(string) ([]byte, error)) (Config, error) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	p := parser{getenv: getenv}
	cfg := Config{
		Port:               p.port("PORT", DefaultPort),
		RedisTimeout:       p.duration("REDIS_TIMEOUT", DefaultRedisTimeout, time.Millisecond),
		ShutdownDrainDelay: p.durationOrZero("SHUTDOWN_DRAIN_DELAY", DefaultShutdownDrainDelay),
		ShutdownTimeout:    p.duration("SHUTDOWN_TIMEOUT", DefaultShutdownTimeout, time.Millisecond),
		ReadHeaderTimeout:  p.duration("HTTP_READ_HEADER_TIMEOUT", DefaultReadHeaderTimeout, time.Millisecond),
		ReadTimeout:        p.duration("HTTP_READ_TIMEOUT", DefaultReadTimeout, time.Millisecond),
		WriteTimeout:       p.duration("HTTP_WRITE_TIMEOUT", DefaultWriteTimeout, time.Millisecond),
		IdleTimeout:        p.duration("HTTP_IDLE_TIMEOUT", DefaultIdleTimeout, time.Millisecond),
		CoalesceVisits:     p.boolean("COALESCE_VISITS", true),
		LogLevel:           p.logLevel("LOG_LEVEL", slog.LevelInfo),
		AccessLog:          p.boolean("ACCESS_LOG", true),
	}
	cfg.Redis = p.redis(readFile)
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
	port := p.port("PORT", DefaultPort)
	return port, p.err
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

func (p *parser) port(name string, def int) int {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		p.fail(name, "%q is not a port number (0-65535)", v)
		return 0
	}
	return n
}

func (p *parser) nonNegativeInt(name string, def int) int {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		p.fail(name, "%q is not a whole number of 0 or more", v)
		return 0
	}
	return n
}

// duration parses a Go duration ("250ms", "5s") of at least min.
func (p *parser) duration(name string, def, min time.Duration) time.Duration {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.fail(name, "%q is not a duration (examples: 250ms, 5s, 1m)", v)
		return 0
	}
	if d < min {
		p.fail(name, "%q is too short (at least %s)", v, min)
		return 0
	}
	return d
}

// durationOrZero is duration where 0 is allowed and means "none".
func (p *parser) durationOrZero(name string, def time.Duration) time.Duration {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	if v == "0" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		p.fail(name, "%q is not a duration of 0 or more (examples: 0, 500ms, 2s)", v)
		return 0
	}
	return d
}

func (p *parser) boolean(name string, def bool) bool {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	p.fail(name, "%q is not a boolean (true or false)", v)
	return false
}

func (p *parser) logLevel(name string, def slog.Level) slog.Level {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	p.fail(name, "%q is not a log level (debug, info, warn, error)", v)
	return def
}

func (p *parser) redis(readFile func(string) ([]byte, error)) Redis {
	var r Redis
	if rawURL, ok := p.lookup("REDIS_URL"); ok {
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
		r.Addr = net.JoinHostPort(host, strconv.Itoa(p.redisPort()))
		r.DB = p.nonNegativeInt("REDIS_DB", 0)
	}

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

func (p *parser) redisPort() int {
	v, ok := p.lookup("REDIS_PORT")
	if !ok {
		return DefaultRedisPort
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		p.fail("REDIS_PORT", "%q is not a port number (1-65535)", v)
		return 0
	}
	return n
}

// password reads REDIS_PASSWORD_FILE (which wins, as Docker secrets should) or REDIS_PASSWORD.
// The password's own text is never part of an error.
func (p *parser) password(readFile func(string) ([]byte, error)) (Secret, bool) {
	if path, ok := p.lookup("REDIS_PASSWORD_FILE"); ok {
		data, err := readFile(path)
		if err != nil {
			reason := "cannot be read"
			switch {
			case errors.Is(err, os.ErrNotExist):
				reason = "does not exist"
			case errors.Is(err, os.ErrPermission):
				reason = "permission denied"
			}
			p.fail("REDIS_PASSWORD_FILE", "%q: %s", path, reason)
			return "", false
		}
		// Secret files usually end in a newline that is not part of the password.
		pw := strings.TrimRight(string(data), "\r\n")
		if pw == "" {
			p.fail("REDIS_PASSWORD_FILE", "%q is empty", path)
			return "", false
		}
		if strings.ContainsAny(pw, "\r\n") {
			p.fail("REDIS_PASSWORD_FILE", "%q holds more than one line", path)
			return "", false
		}
		return Secret(pw), true
	}
	// Not trimmed: blanks may be part of a password. Only an empty value counts as unset.
	if pw := p.getenv("REDIS_PASSWORD"); pw != "" {
		return Secret(pw), true
	}
	return "", false
}

// redisURL parses redis://[user[:password]@]host[:port][/db] and rediss:// for TLS. The URL
// may hold a password, so no error quotes it.
func (p *parser) redisURL(raw string) Redis {
	const name = "REDIS_URL"
	var r Redis
	u, err := url.Parse(raw)
	if err != nil {
		p.fail(name, "not a valid URL (expected redis://[user[:password]@]host[:port][/db])")
		return r
	}
	switch u.Scheme {
	case "redis":
	case "rediss":
		r.TLS = true
	default:
		p.fail(name, "scheme must be redis:// or rediss://")
		return r
	}
	if u.Opaque != "" || u.Hostname() == "" {
		p.fail(name, "has no host (expected redis://[user[:password]@]host[:port][/db])")
		return r
	}
	if u.RawQuery != "" || u.Fragment != "" {
		p.fail(name, "query parameters and fragments are not supported")
		return r
	}
	port := DefaultRedisPort
	if ps := u.Port(); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			p.fail(name, "has an invalid port")
			return r
		}
		port = n
	}
	r.Addr = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	if u.User != nil {
		r.Username = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			r.Password = Secret(pw)
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			p.fail(name, "database in the path must be a whole number of 0 or more")
			return r
		}
		r.DB = n
	}
	return r
}
