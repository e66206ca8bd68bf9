package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	got, err := Load(env(), nil)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	want := Config{
		Port:               5000,
		OperatorPort:       5001,
		Redis:              Redis{Mode: "standalone", Addr: "redis:6379", Addrs: []string{"redis:6379"}},
		RedisTimeout:       250 * time.Millisecond,
		ShutdownDrainDelay: 0,
		ShutdownTimeout:    10 * time.Second,
		ReadHeaderTimeout:  5 * time.Second,
		ReadTimeout:        10 * time.Second,
		WriteTimeout:       10 * time.Second,
		IdleTimeout:        60 * time.Second,
		LogLevel:           slog.LevelInfo,
		AccessLog:          true,
		CounterLimit:       100_000,
		HistoryDays:        400,
		RateLimitWindow:    time.Minute,
		RateLimitHits:      600,
		RateLimitCreates:   10,
		// 1% of the counter limit a day: one client fills at most that.
		RateLimitCreatesPerDay: 1000,
		RateLimitReads:         1200,
		ClientIPv6Prefix:       64,
		CamoNetworks:           DefaultCamoNetworks,
		StreamMax:              256,
		StreamMaxPerClient:     4,
		StreamHeartbeat:        15 * time.Second,
		StreamLifetime:         time.Hour,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load() =\n%+v\nwant\n%+v", got, want)
	}
}

// TestLoadGood covers every variable with well-formed values.
func TestLoadGood(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(Config) (got, want any)
	}{
		{"PORT", []string{"PORT", "8080"}, func(c Config) (any, any) { return c.Port, 8080 }},
		{"PORT zero picks a free port", []string{"PORT", "0"}, func(c Config) (any, any) { return c.Port, 0 }},
		{"PORT with blanks", []string{"PORT", " 80 "}, func(c Config) (any, any) { return c.Port, 80 }},
		{"REDIS_HOST", []string{"REDIS_HOST", "cache.internal"}, func(c Config) (any, any) { return c.Redis.Addr, "cache.internal:6379" }},
		{"REDIS_HOST IPv6", []string{"REDIS_HOST", "::1"}, func(c Config) (any, any) { return c.Redis.Addr, "[::1]:6379" }},
		{"REDIS_PORT", []string{"REDIS_PORT", "6380"}, func(c Config) (any, any) { return c.Redis.Addr, "redis:6380" }},
		{"REDIS_USERNAME", []string{"REDIS_USERNAME", "hitcounter"}, func(c Config) (any, any) { return c.Redis.Username, "hitcounter" }},
		{"REDIS_PASSWORD", []string{"REDIS_PASSWORD", " s3cret "}, func(c Config) (any, any) { return c.Redis.Password.Reveal(), " s3cret " }},
		{"REDIS_DB", []string{"REDIS_DB", "3"}, func(c Config) (any, any) { return c.Redis.DB, 3 }},
		{"REDIS_URL without a host means localhost, as the client reads it", []string{"REDIS_URL", "redis://"}, func(c Config) (any, any) {
			return c.Redis, Redis{Mode: "standalone", Addrs: []string{"localhost:6379"}, Addr: "localhost:6379"}
		}},
		{"REDIS_URL plain", []string{"REDIS_URL", "redis://db.example:6390/2"}, func(c Config) (any, any) {
			return c.Redis, Redis{Mode: "standalone", Addrs: []string{"db.example:6390"}, Addr: "db.example:6390", DB: 2}
		}},
		{"REDIS_URL TLS with credentials", []string{"REDIS_URL", "rediss://app:pw@db.example"}, func(c Config) (any, any) {
			return c.Redis, Redis{Mode: "standalone", Addrs: []string{"db.example:6379"}, Addr: "db.example:6379", Username: "app", Password: "pw", TLS: true}
		}},
		{"REDIS_URL with password file", []string{"REDIS_URL", "redis://app@db.example", "REDIS_PASSWORD_FILE", "/run/secrets/pw"}, func(c Config) (any, any) {
			return c.Redis, Redis{Mode: "standalone", Addrs: []string{"db.example:6379"}, Addr: "db.example:6379", Username: "app", Password: "from-file"}
		}},
		{"REDIS_PASSWORD_FILE wins over REDIS_PASSWORD", []string{"REDIS_PASSWORD", "from-env", "REDIS_PASSWORD_FILE", "/run/secrets/pw"},
			func(c Config) (any, any) { return c.Redis.Password.Reveal(), "from-file" }},
		{"REDIS_TIMEOUT", []string{"REDIS_TIMEOUT", "100ms"}, func(c Config) (any, any) { return c.RedisTimeout, 100 * time.Millisecond }},
		{"SHUTDOWN_DRAIN_DELAY", []string{"SHUTDOWN_DRAIN_DELAY", "2s"}, func(c Config) (any, any) { return c.ShutdownDrainDelay, 2 * time.Second }},
		{"SHUTDOWN_DRAIN_DELAY zero", []string{"SHUTDOWN_DRAIN_DELAY", "0"}, func(c Config) (any, any) { return c.ShutdownDrainDelay, time.Duration(0) }},
		{"SHUTDOWN_TIMEOUT", []string{"SHUTDOWN_TIMEOUT", "30s"}, func(c Config) (any, any) { return c.ShutdownTimeout, 30 * time.Second }},
		{"HTTP_READ_HEADER_TIMEOUT", []string{"HTTP_READ_HEADER_TIMEOUT", "1s"}, func(c Config) (any, any) { return c.ReadHeaderTimeout, time.Second }},
		{"HTTP_READ_TIMEOUT", []string{"HTTP_READ_TIMEOUT", "2s"}, func(c Config) (any, any) { return c.ReadTimeout, 2 * time.Second }},
		{"HTTP_WRITE_TIMEOUT", []string{"HTTP_WRITE_TIMEOUT", "3s"}, func(c Config) (any, any) { return c.WriteTimeout, 3 * time.Second }},
		{"HTTP_IDLE_TIMEOUT", []string{"HTTP_IDLE_TIMEOUT", "2m"}, func(c Config) (any, any) { return c.IdleTimeout, 2 * time.Minute }},
		{"LOG_LEVEL", []string{"LOG_LEVEL", "DEBUG"}, func(c Config) (any, any) { return c.LogLevel, slog.LevelDebug }},
		{"LOG_LEVEL warning", []string{"LOG_LEVEL", "warning"}, func(c Config) (any, any) { return c.LogLevel, slog.LevelWarn }},
		{"ACCESS_LOG off", []string{"ACCESS_LOG", "false"}, func(c Config) (any, any) { return c.AccessLog, false }},
		{"ACCESS_LOG on", []string{"ACCESS_LOG", "1"}, func(c Config) (any, any) { return c.AccessLog, true }},
		{"COUNTER_LIMIT", []string{"COUNTER_LIMIT", "5000"}, func(c Config) (any, any) { return c.CounterLimit, int64(5000) }},
		{"COUNTER_LIMIT off", []string{"COUNTER_LIMIT", "0"}, func(c Config) (any, any) { return c.CounterLimit, int64(0) }},
		{"HISTORY_DAYS", []string{"HISTORY_DAYS", "30"}, func(c Config) (any, any) { return c.HistoryDays, 30 }},
		{"RATE_LIMIT_WINDOW", []string{"RATE_LIMIT_WINDOW", "1h"}, func(c Config) (any, any) { return c.RateLimitWindow, time.Hour }},
		{"RATE_LIMIT_HITS", []string{"RATE_LIMIT_HITS", "60"}, func(c Config) (any, any) { return c.RateLimitHits, int64(60) }},
		{"RATE_LIMIT_CREATES off", []string{"RATE_LIMIT_CREATES", "0"}, func(c Config) (any, any) { return c.RateLimitCreates, int64(0) }},
		{"RATE_LIMIT_CREATES_PER_DAY", []string{"RATE_LIMIT_CREATES_PER_DAY", "7"}, func(c Config) (any, any) { return c.RateLimitCreatesPerDay, int64(7) }},
		{"RATE_LIMIT_CREATES_PER_DAY follows COUNTER_LIMIT", []string{"COUNTER_LIMIT", "500"},
			func(c Config) (any, any) { return c.RateLimitCreatesPerDay, int64(5) }},
		{"RATE_LIMIT_CREATES_PER_DAY at least 1", []string{"COUNTER_LIMIT", "20"}, func(c Config) (any, any) { return c.RateLimitCreatesPerDay, int64(1) }},
		{"RATE_LIMIT_CREATES_PER_DAY off without a counter limit", []string{"COUNTER_LIMIT", "0"},
			func(c Config) (any, any) { return c.RateLimitCreatesPerDay, int64(0) }},
		{"RATE_LIMIT_READS", []string{"RATE_LIMIT_READS", "0"}, func(c Config) (any, any) { return c.RateLimitReads, int64(0) }},
		{"STREAM_MAX off", []string{"STREAM_MAX", "0"}, func(c Config) (any, any) { return c.StreamMax, 0 }},
		{"STREAM_MAX_PER_CLIENT", []string{"STREAM_MAX_PER_CLIENT", "2"}, func(c Config) (any, any) { return c.StreamMaxPerClient, 2 }},
		{"STREAM_HEARTBEAT", []string{"STREAM_HEARTBEAT", "500ms"}, func(c Config) (any, any) { return c.StreamHeartbeat, 500 * time.Millisecond }},
		{"STREAM_LIFETIME", []string{"STREAM_LIFETIME", "10m"}, func(c Config) (any, any) { return c.StreamLifetime, 10 * time.Minute }},
		{"CLIENT_IPV6_PREFIX", []string{"CLIENT_IPV6_PREFIX", "56"}, func(c Config) (any, any) { return c.ClientIPv6Prefix, 56 }},
		{"CAMO_NETWORKS", []string{"CAMO_NETWORKS", "140.82.112.7/20, 2606:50c0::/32"}, func(c Config) (any, any) {
			return fmt.Sprint(c.CamoNetworks), "[140.82.112.0/20 2606:50c0::/32]"
		}},
		{"CAMO_NETWORKS none", []string{"CAMO_NETWORKS", "none"}, func(c Config) (any, any) { return len(c.CamoNetworks), 0 }},
		{"OPERATOR_PORT", []string{"OPERATOR_PORT", "9100"}, func(c Config) (any, any) { return c.OperatorPort, 9100 }},
		{"REDIS_MODE cluster", []string{"REDIS_MODE", "cluster", "REDIS_HOST", "r1:7000, r2:7001,r3"}, func(c Config) (any, any) {
			return c.Redis, Redis{Mode: "cluster", Addr: "r1:7000", Addrs: []string{"r1:7000", "r2:7001", "r3:6379"}}
		}},
		{"REDIS_MODE sentinel", []string{"REDIS_MODE", "Sentinel", "REDIS_HOST", "s1,s2:26380", "REDIS_SENTINEL_MASTER", "hitcounter",
			"REDIS_SENTINEL_USERNAME", "watcher", "REDIS_SENTINEL_PASSWORD_FILE", "/run/secrets/pw", "REDIS_WAIT_REPLICAS", "1"}, func(c Config) (any, any) {
			return c.Redis, Redis{Mode: "sentinel", Addr: "s1:26379", Addrs: []string{"s1:26379", "s2:26380"}, SentinelMaster: "hitcounter",
				SentinelUsername: "watcher", SentinelPassword: "from-file", WaitReplicas: 1}
		}},
		{"VISITOR_KEY_FILE", []string{"VISITOR_KEY_FILE", "/run/secrets/token"},
			func(c Config) (any, any) { return c.VisitorKey.Reveal(), "0123456789abcdef-token" }},
		{"TRUSTED_PROXIES", []string{"TRUSTED_PROXIES", "lb, 10.0.0.0/8,::1"}, func(c Config) (any, any) { return c.TrustedProxies, "lb, 10.0.0.0/8,::1" }},
		{"OPERATOR_TOKEN_FILE", []string{"OPERATOR_TOKEN_FILE", "/run/secrets/token"},
			func(c Config) (any, any) { return c.OperatorToken.Reveal(), "0123456789abcdef-token" }},
	}
	readFile := func(path string) ([]byte, error) {
		if path == "/run/secrets/token" {
			return []byte("0123456789abcdef-token\n"), nil
		}
		return []byte("from-file\n"), nil
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(env(tt.env...), readFile)
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if got, want := tt.check(cfg); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// TestLoadMalformed checks that every malformed value is an error that names its variable.
func TestLoadMalformed(t *testing.T) {
	tests := []struct {
		env     []string
		wantVar string
	}{
		{[]string{"PORT", "http"}, "PORT"},
		{[]string{"PORT", "-1"}, "PORT"},
		{[]string{"PORT", "65536"}, "PORT"},
		{[]string{"REDIS_HOST", "redis:6379"}, "REDIS_HOST"},
		{[]string{"REDIS_HOST", "a/b"}, "REDIS_HOST"},
		{[]string{"REDIS_PORT", "0"}, "REDIS_PORT"},
		{[]string{"REDIS_PORT", "six"}, "REDIS_PORT"},
		{[]string{"REDIS_DB", "-1"}, "REDIS_DB"},
		{[]string{"REDIS_DB", "one"}, "REDIS_DB"},
		{[]string{"REDIS_URL", "http://redis:6379"}, "REDIS_URL"},
		{[]string{"REDIS_URL", "redis://host:99999"}, "REDIS_URL"},
		{[]string{"REDIS_URL", "redis://host/db0"}, "REDIS_URL"},
		{[]string{"REDIS_URL", "redis://host?dial_timeout=1s"}, "REDIS_URL"},
		{[]string{"REDIS_URL", "redis://host", "REDIS_HOST", "other"}, "REDIS_HOST"},
		{[]string{"REDIS_URL", "redis://host", "REDIS_PORT", "1"}, "REDIS_PORT"},
		{[]string{"REDIS_URL", "redis://host", "REDIS_DB", "1"}, "REDIS_DB"},
		{[]string{"REDIS_URL", "redis://u@host", "REDIS_USERNAME", "v"}, "REDIS_USERNAME"},
		{[]string{"REDIS_URL", "redis://:pw@host", "REDIS_PASSWORD", "pw2"}, "REDIS_URL"},
		{[]string{"REDIS_PASSWORD_FILE", "/missing"}, "REDIS_PASSWORD_FILE"},
		{[]string{"REDIS_TIMEOUT", "fast"}, "REDIS_TIMEOUT"},
		{[]string{"REDIS_TIMEOUT", "250"}, "REDIS_TIMEOUT"},
		{[]string{"REDIS_TIMEOUT", "0s"}, "REDIS_TIMEOUT"},
		{[]string{"SHUTDOWN_DRAIN_DELAY", "-1s"}, "SHUTDOWN_DRAIN_DELAY"},
		{[]string{"SHUTDOWN_DRAIN_DELAY", "soon"}, "SHUTDOWN_DRAIN_DELAY"},
		{[]string{"SHUTDOWN_TIMEOUT", "-5s"}, "SHUTDOWN_TIMEOUT"},
		{[]string{"SHUTDOWN_DRAIN_DELAY", "10s"}, "SHUTDOWN_DRAIN_DELAY"},
		{[]string{"SHUTDOWN_DRAIN_DELAY", "3s", "SHUTDOWN_TIMEOUT", "2s"}, "SHUTDOWN_DRAIN_DELAY"},
		{[]string{"HTTP_READ_HEADER_TIMEOUT", "x"}, "HTTP_READ_HEADER_TIMEOUT"},
		{[]string{"HTTP_READ_TIMEOUT", "1"}, "HTTP_READ_TIMEOUT"},
		{[]string{"HTTP_WRITE_TIMEOUT", "0"}, "HTTP_WRITE_TIMEOUT"},
		{[]string{"HTTP_IDLE_TIMEOUT", "1d"}, "HTTP_IDLE_TIMEOUT"},
		{[]string{"COUNTER_LIMIT", "-1"}, "COUNTER_LIMIT"},
		{[]string{"HISTORY_DAYS", "0"}, "HISTORY_DAYS"},
		{[]string{"HISTORY_DAYS", "a year"}, "HISTORY_DAYS"},
		{[]string{"COUNTER_LIMIT", "1e6"}, "COUNTER_LIMIT"},
		{[]string{"RATE_LIMIT_WINDOW", "500ms"}, "RATE_LIMIT_WINDOW"},
		{[]string{"RATE_LIMIT_HITS", "many"}, "RATE_LIMIT_HITS"},
		{[]string{"RATE_LIMIT_CREATES", "-3"}, "RATE_LIMIT_CREATES"},
		{[]string{"TRUSTED_PROXIES", "10.0.0.0/33"}, "TRUSTED_PROXIES"},
		{[]string{"TRUSTED_PROXIES", "lb;rm -rf"}, "TRUSTED_PROXIES"},
		{[]string{"OPERATOR_TOKEN_FILE", "/missing"}, "OPERATOR_TOKEN_FILE"},
		{[]string{"OPERATOR_TOKEN_FILE", "/run/secrets/short"}, "OPERATOR_TOKEN_FILE"},
		{[]string{"LOG_LEVEL", "verbose"}, "LOG_LEVEL"},
		{[]string{"OPERATOR_PORT", "http"}, "OPERATOR_PORT"},
		{[]string{"REDIS_MODE", "replicated"}, "REDIS_MODE"},
		{[]string{"REDIS_MODE", "cluster"}, "REDIS_HOST"},
		{[]string{"REDIS_MODE", "cluster", "REDIS_HOST", "a:1,b:x"}, "REDIS_HOST"},
		{[]string{"REDIS_MODE", "cluster", "REDIS_URL", "redis://a:1"}, "REDIS_URL"},
		{[]string{"REDIS_MODE", "cluster", "REDIS_HOST", "a:1", "REDIS_DB", "1"}, "REDIS_DB"},
		{[]string{"REDIS_MODE", "sentinel", "REDIS_HOST", "s1"}, "REDIS_SENTINEL_MASTER"},
		{[]string{"REDIS_WAIT_REPLICAS", "-1"}, "REDIS_WAIT_REPLICAS"},
		{[]string{"OPERATOR_PORT", "5000"}, "OPERATOR_PORT"},
		{[]string{"PORT", "7000", "OPERATOR_PORT", "7000"}, "OPERATOR_PORT"},
		{[]string{"RATE_LIMIT_CREATES_PER_DAY", "-1"}, "RATE_LIMIT_CREATES_PER_DAY"},
		{[]string{"RATE_LIMIT_READS", "lots"}, "RATE_LIMIT_READS"},
		{[]string{"STREAM_MAX", "-1"}, "STREAM_MAX"},
		{[]string{"STREAM_MAX_PER_CLIENT", "many"}, "STREAM_MAX_PER_CLIENT"},
		{[]string{"STREAM_HEARTBEAT", "10ms"}, "STREAM_HEARTBEAT"},
		{[]string{"STREAM_LIFETIME", "500ms"}, "STREAM_LIFETIME"},
		{[]string{"CLIENT_IPV6_PREFIX", "0"}, "CLIENT_IPV6_PREFIX"},
		{[]string{"CLIENT_IPV6_PREFIX", "129"}, "CLIENT_IPV6_PREFIX"},
		{[]string{"CAMO_NETWORKS", "github"}, "CAMO_NETWORKS"},
		{[]string{"CAMO_NETWORKS", "140.82.112.0/20,"}, "CAMO_NETWORKS"},
		{[]string{"VISITOR_KEY_FILE", "/missing"}, "VISITOR_KEY_FILE"},
		{[]string{"VISITOR_KEY_FILE", "/run/secrets/short"}, "VISITOR_KEY_FILE"},
		{[]string{"ACCESS_LOG", "maybe"}, "ACCESS_LOG"},
	}
	readFile := func(path string) ([]byte, error) {
		if path == "/run/secrets/short" {
			return []byte("short\n"), nil
		}
		return nil, fs.ErrNotExist
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.env, "="), func(t *testing.T) {
			_, err := Load(env(tt.env...), readFile)
			cfgErr, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("Load() error = %v, want a *config.Error", err)
			}
			if got := cfgErr.Var; got != tt.wantVar {
				t.Errorf("error names %q, want %q (error: %v)", got, tt.wantVar, err)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, tt.wantVar+": ") {
				t.Errorf("error %q is not one line starting with the variable name", msg)
			}
		})
	}
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr string
	}{
		{"trailing newline dropped", write("nl", "p4ss\n", 0o600), "p4ss", ""},
		{"CRLF dropped", write("crlf", "p4ss\r\n", 0o600), "p4ss", ""},
		{"no newline", write("plain", "p4ss", 0o600), "p4ss", ""},
		{"empty", write("empty", "\n", 0o600), "", "is empty"},
		{"two lines", write("two", "a\nb\n", 0o600), "", "more than one line"},
		{"missing", filepath.Join(dir, "nope"), "", "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(env("REDIS_PASSWORD_FILE", tt.path), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if got := cfg.Redis.Password.Reveal(); got != tt.want {
				t.Errorf("password = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSecretsNeverPrint formats a loaded configuration every way a log line, an error or a
// panic could, and looks for the password.
func TestSecretsNeverPrint(t *testing.T) {
	const password = "hunter2-very-secret"
	secretFile := func(string) ([]byte, error) { return []byte(password + "\n"), nil }
	for _, e := range [][]string{
		{"REDIS_PASSWORD", password},
		{"REDIS_URL", "redis://app:" + password + "@db:6379/0"},
		{"VISITOR_KEY_FILE", "/run/secrets/visitor_key"},
		{"OPERATOR_TOKEN_FILE", "/run/secrets/operator_token"},
	} {
		cfg, err := Load(env(e...), secretFile)
		if err != nil {
			t.Fatalf("Load(%v) error = %v", e[0], err)
		}
		var logged strings.Builder
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "config", cfg)
		slog.New(slog.NewTextHandler(&logged, nil)).Info("start", "config", cfg, "redis", cfg.Redis)
		for name, text := range map[string]string{
			"%v":       fmt.Sprintf("%v", cfg),
			"%+v":      fmt.Sprintf("%+v", cfg),
			"%#v":      fmt.Sprintf("%#v", cfg),
			"%q":       fmt.Sprintf("%q", cfg.Redis.Password),
			"slog":     logged.String(),
			"panic %v": fmt.Sprint(cfg.Redis),
		} {
			if strings.Contains(text, password) {
				t.Errorf("%s formatting of the config shows the password: %s", name, text)
			}
		}
	}
	// Malformed URLs holding a password must not echo it back either.
	for _, raw := range []string{
		"redis://app:" + password + "@db:notaport",
		"http://app:" + password + "@db",
		"redis://app:" + password + "@db/x",
		"redis://app:" + password + "@db?x=1",
		"redis://app:" + password + "@db%zz",
	} {
		_, err := Load(env("REDIS_URL", raw), nil)
		if err == nil {
			t.Fatalf("Load(REDIS_URL=%q) succeeded, want an error", raw)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("error for a malformed REDIS_URL shows the password: %v", err)
		}
	}
}

// The load balancer's list of sources it does not limit like one client (lb/exempt-sources.lst)
// is GitHub's ranges, as the web tier's camo default: one list in two places, kept equal here.
func TestCamoNetworksMatchTheLoadBalancersList(t *testing.T) {
	b, err := os.ReadFile("../../lb/exempt-sources.lst")
	if err != nil {
		t.Fatal(err)
	}
	var lb []string
	for line := range strings.Lines(string(b)) {
		if line, _, _ = strings.Cut(line, "#"); strings.TrimSpace(line) != "" {
			lb = append(lb, strings.TrimSpace(line))
		}
	}
	var web []string
	for _, p := range DefaultCamoNetworks {
		web = append(web, p.String())
	}
	if !reflect.DeepEqual(lb, web) {
		t.Fatalf("lb/exempt-sources.lst lists %v, CAMO_NETWORKS' default is %v: change both", lb, web)
	}
}
