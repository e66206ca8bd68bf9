package redisstore

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// The append-only file replays into the database it was written in, with the users the Redis
// container has (REDIS_DB may be any database). Valkey 8.1 starts a new file at each rewrite and
// logs the SELECT that opens it inside the first write's MULTI ... EXEC when that write is a
// script that writes twice, as a hit is (Redis 7.0 logs it before the MULTI). And it replays the
// file as the default user, checking each MULTI ... EXEC against that user's ACL, as Redis before
// 8.4 does (redis/redis#14541; Valkey stopped checking in 8.1.10, but Debian's 8.1.1, which the
// tests run, still checks). Without SELECT among the default user's commands, that SELECT failed
// on reload and the file's writes went to database 0: database 3 lost every hit since the
// rewrite. Here the service's own rewrite (the legacy salts' purge, at its first start) is
// followed by a hit, on database 3.
func TestAOFReplaysIntoItsDatabase(t *testing.T) {
	args := append([]string{"--appendonly", "yes", "--appendfsync", "always", "--user", "default"}, aclRules(t, "default")...)
	srv := aclServer(t, args...)
	opt := Options{Addr: srv.Addr(), Username: "hitcounter", Password: "test-password", DB: 3, Timeout: 2 * time.Second}
	ctx := context.Background()

	store := newStore(t, opt)
	s := store.Named(0)
	if _, err := s.Restore(ctx, []counter.Info{{Name: testName, Value: 41, Created: testTime}}, 0); err != nil {
		t.Fatal(err)
	}
	if first, err := store.PurgeLegacySalts(ctx, testTime); err != nil || !first {
		t.Fatalf("PurgeLegacySalts: %v, %v; want the rewrite asked for", first, err)
	}
	if _, err := newCounters(s, 0, nil).Hit(ctx, testName, counter.Client{}); err != nil {
		t.Fatal(err)
	}
	before := exportAll(t, s)
	if len(before) != 1 || before[0].Value != 42 {
		t.Fatalf("before the reload: %+v, want %s at 42", before, testName)
	}

	srv.Kill()
	srv.Restart()
	store.Close()
	if after := exportAll(t, newStore(t, opt).Named(0)); !slices.Equal(after, before) {
		t.Fatalf("database 3 after an AOF reload:\n%+v\nwant\n%+v", after, before)
	}
	opt.DB = 0
	if stray := exportAll(t, newStore(t, opt).Named(0)); len(stray) > 0 {
		t.Fatalf("database 0 after an AOF reload holds %+v, written to database 3", stray)
	}
	if log := srv.Log(); strings.Contains(log, "NOPERM") || strings.Contains(log, "CRITICAL") {
		t.Fatalf("the server complained while loading its AOF:\n%s", log)
	}
}
