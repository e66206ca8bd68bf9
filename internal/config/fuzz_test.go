package config

import (
	"errors"
	"strings"
	"testing"
)

var variables = []string{
	"PORT", "REDIS_HOST", "REDIS_PORT", "REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_PASSWORD_FILE",
	"REDIS_DB", "REDIS_URL", "REDIS_TIMEOUT", "SHUTDOWN_DRAIN_DELAY", "SHUTDOWN_TIMEOUT",
	"HTTP_READ_HEADER_TIMEOUT", "HTTP_READ_TIMEOUT", "HTTP_WRITE_TIMEOUT", "HTTP_IDLE_TIMEOUT",
	"LOG_LEVEL", "ACCESS_LOG",
}

// FuzzLoad sets one variable to anything: Load either succeeds or returns a one-line
// *config.Error naming a variable, and never echoes a password.
func FuzzLoad(f *testing.F) {
	for i, seed := range []string{"5000", "redis", "0", "", "x\ny", "redis://u:secret-pw@h:1/2", "1h", "-1s", "rediss://[::1]:6380", "%zz"} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		name := variables[int(which)%len(variables)]
		cfg, err := Load(env(name, value), func(string) ([]byte, error) { return []byte(value), nil })
		if err == nil {
			if cfg.Port < 0 || cfg.Port > 65535 || cfg.RedisTimeout <= 0 || cfg.ShutdownDrainDelay >= cfg.ShutdownTimeout {
				t.Fatalf("%s=%q accepted with an invalid result %+v", name, value, cfg)
			}
			return
		}
		cfgErr, ok := errors.AsType[*Error](err)
		if !ok {
			t.Fatalf("%s=%q: error %v is not a *config.Error", name, value, err)
		}
		if !strings.HasPrefix(err.Error(), cfgErr.Var+": ") {
			t.Fatalf("%s=%q: error %q does not start with the variable", name, value, err)
		}
		if strings.ContainsAny(err.Error(), "\r\n") {
			t.Fatalf("%s=%q: error is not one line: %q", name, value, err)
		}
		secret := name == "REDIS_PASSWORD" || name == "REDIS_PASSWORD_FILE" || name == "REDIS_URL"
		if secret && strings.Contains(value, "secret-pw") && strings.Contains(err.Error(), "secret-pw") {
			t.Fatalf("%s: error shows the password: %v", name, err)
		}
	})
}
