package counter

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		namespace, key string
		wantPart       string // "" when valid; else the part the error names
	}{
		{"abc", "xyz", ""},
		{"my-site.com", "post_42", ""},
		{strings.Repeat("a", 64), strings.Repeat("Z", 64), ""},
		{"ab", "xyz", "namespace"},
		{"abc", "xy", "key"},
		{strings.Repeat("a", 65), "xyz", "namespace"},
		{"abc", strings.Repeat("k", 65), "key"},
		{"a/b", "xyz", "namespace"},
		{"abc", "x y", "key"},
		{"abc", "ключ", "key"},
		{"", "", "namespace"},
		{"abc", "x%2Fy", "key"},
		{"abc\x00", "xyz", "namespace"},
	}
	for _, tt := range tests {
		got, err := ParseName(tt.namespace, tt.key)
		if tt.wantPart == "" {
			if err != nil || got != (Name{tt.namespace, tt.key}) {
				t.Errorf("ParseName(%q, %q) = %v, %v; want the name", tt.namespace, tt.key, got, err)
			}
			continue
		}
		if ErrorCode(err) != EINVALID || !strings.HasPrefix(ErrorMessage(err), tt.wantPart+" ") {
			t.Errorf("ParseName(%q, %q) error = %v; want %s naming the %s", tt.namespace, tt.key, err, EINVALID, tt.wantPart)
		}
	}
}

// Keys are independent: a write in flight on one key does not hold up another key's hits, and a
// key's lane is gone once its writes are done.
func TestKeyedKeysAreIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gates := map[string]chan struct{}{"slow": make(chan struct{}), "fast": make(chan struct{})}
		var mu sync.Mutex
		totals := map[string]int64{}
		k := NewKeyed(func(ctx context.Context, key string, hits []struct{}) (int64, error) {
			<-gates[key]
			mu.Lock()
			defer mu.Unlock()
			totals[key] += int64(len(hits))
			return totals[key], nil
		}, 1, 5*time.Second)

		go func() { _, _, _ = k.Add1(context.Background(), "slow", struct{}{}) }()
		for range 3 {
			go func() { _, _, _ = k.Add1(context.Background(), "slow", struct{}{}) }()
		}
		synctest.Wait()
		close(gates["fast"])
		if n, _, err := k.Add1(context.Background(), "fast", struct{}{}); n != 1 || err != nil {
			t.Fatalf("fast key while slow key is held: %d, %v; want 1, nil", n, err)
		}
		close(gates["slow"])
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if totals["slow"] != 4 || totals["fast"] != 1 {
			t.Fatalf("totals = %v, want slow 4 and fast 1", totals)
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if len(k.lanes) != 0 {
			t.Fatalf("%d lanes left after every write ended, want 0", len(k.lanes))
		}
	})
}

func TestAdminKeysAreRandomAndHashed(t *testing.T) {
	k1, h1 := NewAdminKey()
	k2, h2 := NewAdminKey()
	if k1 == k2 || h1 == h2 {
		t.Fatal("two admin keys are equal")
	}
	if len(k1) != 43 || len(h1) != 64 {
		t.Fatalf("key %d characters, hash %d; want 43 and 64", len(k1), len(h1))
	}
	if HashAdminKey(k1) != h1 || strings.Contains(h1, k1) {
		t.Fatal("the hash is not the key's SHA-256")
	}
}
