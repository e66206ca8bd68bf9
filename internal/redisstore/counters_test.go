package redisstore

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// aclRules returns the ACL rules of a user (the application's, "$app_user", or "default") as
// redis/entrypoint.sh writes them, so the store is tested with exactly the permissions the Redis
// container gives.
func aclRules(t *testing.T, user string) []string {
	t.Helper()
	src, err := os.ReadFile("../../redis/entrypoint.sh")
	if err != nil {
		t.Fatal(err)
	}
	commands := regexp.MustCompile(`(?m)^app_commands="([^"]*)"$`).FindSubmatch(src)
	replayed := regexp.MustCompile(`(?m)^replayed_commands="([^"]*)"$`).FindSubmatch(src)
	line := regexp.MustCompile(`(?m)^user ` + regexp.QuoteMeta(user) + ` (.*)$`).FindSubmatch(src)
	if commands == nil || replayed == nil || line == nil {
		t.Fatalf("redis/entrypoint.sh: app_commands, replayed_commands or the ACL line of %s not found", user)
	}
	rules := strings.ReplaceAll(string(line[1]), "$app_commands", string(commands[1]))
	rules = strings.ReplaceAll(rules, "$replayed_commands", string(replayed[1]))
	rules = strings.Replace(rules, "on #$app_hash", "on >test-password", 1)
	return strings.Fields(rules)
}

// aclServer starts a redis-server with the application's user (password "test-password") next
// to the default user, which the tests use to look at what the store wrote. extra are more
// redis-server options.
func aclServer(t *testing.T, extra ...string) *redistest.Server {
	t.Helper()
	args := append([]string{"--user", "hitcounter"}, aclRules(t, "$app_user")...)
	return redistest.Start(t, append(args, extra...)...)
}

func newNamed(t *testing.T, srv *redistest.Server) *Store {
	t.Helper()
	return newStore(t, Options{Addr: srv.Addr(), Username: "hitcounter", Password: "test-password", Timeout: 2 * time.Second})
}

// addrPseudonyms names a visitor by its address: the store's tests need visitors they know, not
// privacy (visitor.Pseudonyms is tested on its own).
type addrPseudonyms struct{}

func (addrPseudonyms) Visitor(_ time.Time, c counter.Client) string { return c.Addr.String() }

// newCounters is the service over s with no per-client limits, visitors named by address.
func newCounters(s counter.Store, limit int64, now func() time.Time) *counter.Counters {
	return counter.NewCounters(counter.CountersConfig{
		Store: s, MaxInFlight: 4, Timeout: 2 * time.Second, CounterLimit: limit, Pseudonyms: addrPseudonyms{}, Now: now,
	})
}

// visitorAt is a client whose pseudonym (addrPseudonyms) is its address; camo, a hit without a
// visitor.
func visitorAt(addr string) counter.Client {
	a := netip.MustParseAddr(addr)
	return counter.Client{Addr: a, Prefix: netip.PrefixFrom(a, a.BitLen())}
}

var camo = counter.Client{Camo: true}

// anonymous is n hits without a visitor.
func anonymous(n int64) []counter.Hit { return make([]counter.Hit, n) }

var (
	testName  = counter.Name{Namespace: "example.com", Key: "home-page"}
	otherName = counter.Name{Namespace: "example.com", Key: "about"}
	testTime  = time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
)

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := counter.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// Every store operation, through the application's ACL user: what it does, and what it refuses
// without changing anything.
func TestNamedLifecycle(t *testing.T) {
	srv := aclServer(t)
	s := newNamed(t, srv).Named(0)
	ctx := context.Background()

	_, err := s.Add(ctx, testName, anonymous(1), testTime, 0)
	wantCode(t, "Add on a missing counter", err, counter.ENOTFOUND)
	if n := srv.Int("EXISTS", CounterKey(testName)); n != 0 {
		t.Fatal("Add on a missing counter created it")
	}
	if err := s.Reserve(ctx, testName, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := s.AddCreating(ctx, testName, anonymous(1), testTime, 0); v.Total != 1 || err != nil {
		t.Fatalf("AddCreating = %d, %v; want 1", v, err)
	}
	if v, err := s.Add(ctx, testName, anonymous(5), testTime, 0); v.Total != 6 || err != nil {
		t.Fatalf("Add(5) = %d, %v; want 6", v, err)
	}
	// A second creation keeps the first creation time.
	if v, _ := s.AddCreating(ctx, testName, anonymous(1), testTime.Add(time.Hour), 0); v.Total != 7 {
		t.Fatalf("AddCreating on an existing counter = %d, want 7", v)
	}
	info, err := s.Get(ctx, testName)
	if err != nil || info.Value != 7 || !info.Created.Equal(testTime) || info.AdminKeyHash != "" {
		t.Fatalf("Get = %+v, %v; want value 7, created %s, no admin key", info, err, testTime)
	}
	wantCode(t, "Create over an existing counter", s.Create(ctx, counter.Info{Name: testName, Created: testTime}), counter.ECONFLICT)

	key, hash := counter.NewAdminKey()
	if err := s.Create(ctx, counter.Info{Name: otherName, Value: 40, Created: testTime, AdminKeyHash: hash}); err != nil {
		t.Fatal(err)
	}
	owner := counter.Auth{AdminKeyHash: counter.HashAdminKey(key)}
	stranger := counter.Auth{AdminKeyHash: counter.HashAdminKey("not-the-key")}
	operator := counter.Auth{Operator: true}

	_, err = s.Set(ctx, otherName, 0, counter.Auth{})
	wantCode(t, "Set without a key", err, counter.EUNAUTHORIZED)
	_, err = s.Set(ctx, otherName, 0, stranger)
	wantCode(t, "Set with a wrong key", err, counter.EFORBIDDEN)
	_, err = s.Update(ctx, otherName, 1, stranger)
	wantCode(t, "Update with a wrong key", err, counter.EFORBIDDEN)
	wantCode(t, "Delete with a wrong key", s.Delete(ctx, otherName, stranger), counter.EFORBIDDEN)
	_, err = s.Set(ctx, testName, 0, owner)
	wantCode(t, "Set on a counter without an admin key", err, counter.EFORBIDDEN)
	_, err = s.Set(ctx, counter.Name{Namespace: "nobody", Key: "nothing"}, 0, owner)
	wantCode(t, "Set on a missing counter", err, counter.ENOTFOUND)
	if got := srv.Int("HGET", CounterKey(otherName), "v"); got != 40 {
		t.Fatalf("refused changes changed the value to %d, want 40", got)
	}

	steps := []struct {
		name string
		do   func() (int64, error)
		want int64
	}{
		{"set", func() (int64, error) { return s.Set(ctx, otherName, 100, owner) }, 100},
		{"update +", func() (int64, error) { return s.Update(ctx, otherName, 23, owner) }, 123},
		{"update -", func() (int64, error) { return s.Update(ctx, otherName, -200, owner) }, -77},
		{"operator set", func() (int64, error) { return s.Set(ctx, otherName, 5, operator) }, 5},
		{"operator on a counter without admin key", func() (int64, error) { return s.Set(ctx, testName, 70, operator) }, 70},
	}
	for _, st := range steps {
		if got, err := st.do(); got != st.want || err != nil {
			t.Fatalf("%s = %d, %v; want %d", st.name, got, err, st.want)
		}
	}
	// Values are exact over all 64 bits, hits included (Lua numbers are doubles: exact to 2^53).
	if _, err := s.Set(ctx, testName, 9_007_199_254_740_993, operator); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Add(ctx, testName, anonymous(2), testTime, 0); v.Total != 9_007_199_254_740_995 || err != nil {
		t.Fatalf("Add past 2^53 = %d, %v; want 9007199254740995", v, err)
	}
	if v, err := s.Update(ctx, testName, -9_007_199_254_740_995+70, operator); v != 70 || err != nil {
		t.Fatalf("Update back = %d, %v; want 70", v, err)
	}
	_, err = s.Update(ctx, otherName, 1<<62, owner)
	if err == nil {
		_, err = s.Update(ctx, otherName, 1<<62, owner)
	}
	wantCode(t, "Update past 64 bits", err, counter.EINVALID)

	// A new admin key replaces the old one.
	newKey, newHash := counter.NewAdminKey()
	if err := s.SetAdminKey(ctx, testName, newHash); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Set(ctx, testName, 1, counter.Auth{AdminKeyHash: counter.HashAdminKey(newKey)}); v != 1 || err != nil {
		t.Fatalf("Set with the assigned key = %d, %v", v, err)
	}
	wantCode(t, "SetAdminKey on a missing counter", s.SetAdminKey(ctx, counter.Name{Namespace: "nobody", Key: "nothing"}, newHash), counter.ENOTFOUND)

	if err := s.Delete(ctx, otherName, owner); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, otherName)
	wantCode(t, "Get after Delete", err, counter.ENOTFOUND)
	if n := srv.Int("SISMEMBER", IndexKey, otherName.String()); n != 0 {
		t.Fatal("the deleted counter is still in the index")
	}
	wantCode(t, "Delete again", s.Delete(ctx, otherName, owner), counter.ENOTFOUND)
}

// The limit holds under concurrent creation: exactly limit names get in, whatever the timing.
func TestReserveNeverPassesTheLimit(t *testing.T) {
	srv := aclServer(t)
	s := newNamed(t, srv).Named(0)
	const limit, creators = 5, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, full := 0, 0
	for i := range creators {
		wg.Go(func() {
			err := s.Reserve(context.Background(), counter.Name{Namespace: "space", Key: fmt.Sprintf("key-%03d", i)}, limit)
			mu.Lock()
			defer mu.Unlock()
			switch counter.ErrorCode(err) {
			case "":
				ok++
			case counter.EFULL:
				full++
			default:
				t.Errorf("Reserve: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != limit || full != creators-limit || srv.Int("SCARD", IndexKey) != limit {
		t.Fatalf("%d reserved, %d full, index %d; want %d, %d, %d", ok, full, srv.Int("SCARD", IndexKey), limit, creators-limit, limit)
	}
	// A name already in the index takes no new room, even when full.
	ns, key, _ := strings.Cut(srv.MustDo("SRANDMEMBER", IndexKey), "/")
	if err := s.Reserve(context.Background(), counter.Name{Namespace: ns, Key: key}, limit); err != nil {
		t.Fatalf("Reserve of a reserved name when full: %v", err)
	}
}

// hitAll sends perKey hits to each of keys counters from workers goroutines through the
// service, and returns the numbers handed out per counter.
func hitAll(t *testing.T, c *counter.Counters, names []counter.Name, workers, perWorker int) map[counter.Name][]int64 {
	t.Helper()
	var mu sync.Mutex
	got := map[counter.Name][]int64{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := names[(w+i)%len(names)]
				counts, err := c.Hit(context.Background(), name, counter.Client{})
				n := counts.Total
				if err != nil {
					t.Errorf("Hit(%s): %v", name, err)
					return
				}
				mu.Lock()
				got[name] = append(got[name], n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return got
}

// Hits through the service are exact per counter: each hit its own number, the stored value the
// number of hits, and far fewer scripts run than hits (one per batch).
func TestCountersHitsExactPerKey(t *testing.T) {
	srv := aclServer(t)
	store := newNamed(t, srv)
	c := newCounters(store.Named(0), 0, nil)
	var names []counter.Name
	for i := range 10 {
		names = append(names, counter.Name{Namespace: "exact", Key: fmt.Sprintf("key-%02d", i)})
	}
	const workers, perWorker = 64, 100
	got := hitAll(t, c, names, workers, perWorker)
	total := 0
	for _, name := range names {
		numbers := got[name]
		slices.Sort(numbers)
		for i, n := range numbers {
			if n != int64(i+1) {
				t.Fatalf("%s: numbers handed out %v…, want 1..%d each once", name, numbers[:min(len(numbers), 10)], len(numbers))
			}
		}
		if v := srv.Int("HGET", CounterKey(name), "v"); v != int64(len(numbers)) {
			t.Fatalf("%s: stored %d after %d hits", name, v, len(numbers))
		}
		total += len(numbers)
	}
	if total != workers*perWorker {
		t.Fatalf("%d hits answered, want %d", total, workers*perWorker)
	}
	scripts := scriptCalls(t, srv)
	t.Logf("%d hits in %d script calls", total, scripts)
	if scripts >= int64(total) {
		t.Fatalf("%d script calls for %d hits: no batching", scripts, total)
	}
}

// commandCalls is how many times Redis ran cmd (inside scripts too).
func commandCalls(t *testing.T, srv *redistest.Server, cmd string) int64 {
	t.Helper()
	m := regexp.MustCompile(`cmdstat_` + cmd + `:calls=(\d+)`).FindStringSubmatch(srv.MustDo("INFO", "commandstats"))
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// scriptCalls reads how many EVALSHA and EVAL calls Redis ran.
func scriptCalls(t *testing.T, srv *redistest.Server) int64 {
	t.Helper()
	return commandCalls(t, srv, "evalsha") + commandCalls(t, srv, "eval")
}

// A set racing with hits leaves a value that some order of the operations explains: the hits
// answered before the set in the order got numbers from the old count, those after it numbers
// from the set value on, and the final value is the set value plus the hits after it.
func TestSetRacingHitsIsLinearizable(t *testing.T) {
	srv := aclServer(t)
	store := newNamed(t, srv)
	s := store.Named(0)
	c := newCounters(s, 0, nil)
	ctx := context.Background()
	if _, _, err := c.Create(ctx, testName, 0, counter.Client{}); err != nil {
		t.Fatal(err)
	}
	const setTo = 1_000_000 // far above the hits, so a number says which side of the set it is on
	const workers, perWorker = 32, 60
	var mu sync.Mutex
	var numbers []int64
	var wg sync.WaitGroup
	started := make(chan struct{}, workers)
	for range workers {
		wg.Go(func() {
			for i := range perWorker {
				if i == perWorker/3 {
					started <- struct{}{}
				}
				counts, err := c.Hit(ctx, testName, camo)
				n := counts.Total
				if err != nil {
					t.Errorf("Hit: %v", err)
					return
				}
				mu.Lock()
				numbers = append(numbers, n)
				mu.Unlock()
			}
		})
	}
	for range workers { // every worker is a third through: the set lands among the hits
		<-started
	}
	if _, err := s.Set(ctx, testName, setTo, counter.Auth{Operator: true}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	slices.Sort(numbers)
	var before, after []int64
	for _, n := range numbers {
		if n > setTo {
			after = append(after, n)
		} else {
			before = append(before, n)
		}
	}
	final := srv.Int("HGET", CounterKey(testName), "v")
	t.Logf("%d hits before the set, %d after; final %d", len(before), len(after), final)
	if len(numbers) != workers*perWorker {
		t.Fatalf("%d hits answered, want %d", len(numbers), workers*perWorker)
	}
	for i, n := range before {
		if n != int64(i+1) {
			t.Fatalf("numbers before the set are not 1..%d each once (at %d: %d)", len(before), i, n)
		}
	}
	for i, n := range after {
		if n != setTo+int64(i+1) {
			t.Fatalf("numbers after the set are not %d..%d each once (at %d: %d)", setTo+1, setTo+len(after), i, n)
		}
	}
	if final != setTo+int64(len(after)) {
		t.Fatalf("final value %d, want the set value plus the %d hits after it (%d)", final, len(after), setTo+len(after))
	}
	if len(after) == 0 || len(before) == 0 {
		t.Fatalf("the set did not land among the hits (%d before, %d after)", len(before), len(after))
	}
}

func exportAll(t *testing.T, s *Named) []counter.Info {
	t.Helper()
	var all []counter.Info
	if err := s.Export(context.Background(), func(i counter.Info) error { all = append(all, i); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(all, func(a, b counter.Info) int { return strings.Compare(a.Name.String(), b.Name.String()) })
	return all
}

// Export then import restores every counter; importing again changes nothing.
func TestExportImportRoundTrip(t *testing.T) {
	srv := aclServer(t)
	s := newNamed(t, srv).Named(0)
	ctx := context.Background()
	const n = 1234 // more than one SSCAN step and one import worker's share
	for i := range n {
		_, hash := counter.NewAdminKey()
		if i%2 == 0 {
			hash = ""
		}
		info := counter.Info{
			Name:         counter.Name{Namespace: fmt.Sprintf("site-%02d", i%7), Key: fmt.Sprintf("page-%04d", i)},
			Value:        int64(i * 3),
			Created:      testTime.Add(time.Duration(i) * time.Second),
			AdminKeyHash: hash,
		}
		if err := s.Reserve(ctx, info.Name, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, info); err != nil {
			t.Fatal(err)
		}
	}
	exported := exportAll(t, s)
	if len(exported) != n {
		t.Fatalf("exported %d counters, want %d", len(exported), n)
	}

	// Lose some, change some, then restore.
	for _, info := range exported[:100] {
		if err := s.Delete(ctx, info.Name, counter.Auth{Operator: true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, info := range exported[100:150] {
		if _, err := s.Update(ctx, info.Name, 1, counter.Auth{Operator: true}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Restore(ctx, exported, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (counter.ImportResult{Created: 100, Updated: 50, Unchanged: n - 150}); res != want {
		t.Fatalf("Restore = %+v, want %+v", res, want)
	}
	if again := exportAll(t, s); !slices.Equal(again, exported) {
		t.Fatal("the export after the import differs from the one before")
	}
	res, err = s.Restore(ctx, exported, 0)
	if err != nil || res != (counter.ImportResult{Unchanged: n}) {
		t.Fatalf("second Restore = %+v, %v; want all %d unchanged", res, err, n)
	}

	// An import into a full store stops at the limit.
	srv2 := aclServer(t)
	s2 := newNamed(t, srv2).Named(0)
	_, err = s2.Restore(ctx, exported, 10)
	wantCode(t, "Restore past the limit", err, counter.EFULL)
	if got := srv2.Int("SCARD", IndexKey); got != 10 {
		t.Fatalf("index holds %d after a refused import, want the limit, 10", got)
	}
}

// Limiters on three replicas share one count through Redis: together they never accept more
// than the limit, and strand at most about 1.25 leases each.
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	srv := aclServer(t)
	const limit = 200
	var limiters []*ratelimit.Shared
	namer := func(_ time.Time, limit string, k counter.LimitKey) string { return "pseudonym-of-" + k.String() }
	for range 3 {
		limiters = append(limiters, ratelimit.NewShared(newNamed(t, srv), "hits", limit, time.Hour, namer, nil))
	}
	lease := limiters[0].Lease()
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Go(func() {
			for range limit / 2 {
				d, err := limiters[w%3].Allow(context.Background(), counter.LimitKey{}, 1)
				if err != nil {
					t.Errorf("Allow: %v", err)
					return
				}
				if d.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	// 1.25 leases: a replica refills when a quarter of a lease is left.
	floor := limit - 3*(lease+lease/4+1)
	t.Logf("%d allowed of %d tries; limit %d, lease %d", allowed, 12*limit/2, limit, lease)
	if allowed > limit || allowed < int(floor) {
		t.Fatalf("%d allowed, want between %d and the limit %d", allowed, floor, limit)
	}
}

// Every kind of write survives Redis reloading its append-only file, with the users the Redis
// container has. Redis before 8.4 replays the file as the default user and checks each MULTI/EXEC
// block (how a script that writes twice is logged) against that user's ACL; with the default
// user at -@all it dropped them on reload, and every counter lost its first hit.
func TestWritesSurviveAOFReload(t *testing.T) {
	args := append([]string{"--appendonly", "yes", "--appendfsync", "always", "--user", "default"}, aclRules(t, "default")...)
	srv := aclServer(t, args...)
	store := newNamed(t, srv)
	s := store.Named(0)
	c := newCounters(s, 0, nil)
	ctx := context.Background()

	for range 3 { // the first creates the counter
		if _, err := c.Hit(ctx, testName, counter.Client{}); err != nil {
			t.Fatal(err)
		}
	}
	_, hash := counter.NewAdminKey()
	restored := []counter.Info{
		{Name: otherName, Value: 77, Created: testTime, AdminKeyHash: hash},
		{Name: counter.Name{Namespace: "example.com", Key: "contact"}, Value: 5, Created: testTime},
	}
	if _, err := s.Restore(ctx, restored, 0); err != nil {
		t.Fatal(err)
	}
	restored[0].AdminKeyHash = "" // an import that takes an admin key away: two writes
	if _, err := s.Restore(ctx, restored, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Create(ctx, counter.Name{Namespace: "example.com", Key: "created"}, 9, counter.Client{}); err != nil {
		t.Fatal(err)
	}
	// A counter with settings and a repeat window: its marks are writes of their own.
	windowed := counter.Name{Namespace: "example.com", Key: "windowed"}
	if _, err := c.Hit(ctx, windowed, visitorAt("192.0.2.7")); err != nil {
		t.Fatal(err)
	}
	tokyoHourly := counter.Settings{TimeZone: "Asia/Tokyo", RepeatWindow: time.Hour}.All()
	if _, err := s.ChangeSettings(ctx, windowed, tokyoHourly, counter.Auth{Operator: true}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a fresh service, which reads the settings
		if _, err := newCounters(s, 0, nil).Hit(ctx, windowed, visitorAt("192.0.2.8")); err != nil {
			t.Fatal(err)
		}
	}
	before := exportAll(t, s)

	srv.Kill()
	srv.Restart()
	store.Close()
	reloaded := newNamed(t, srv).Named(0)
	after := exportAll(t, reloaded)
	if !slices.Equal(after, before) {
		t.Fatalf("after an AOF reload:\n%+v\nwant\n%+v", after, before)
	}
	// The marks came back too: the window's visitor is still a repeat.
	if n, err := newCounters(reloaded, 0, nil).Hit(ctx, windowed, visitorAt("192.0.2.8")); err != nil || n.Total != 2 {
		t.Fatalf("a repeat after the reload: %+v, %v; want the total still 2", n, err)
	}
	if log := srv.Log(); strings.Contains(log, "NOPERM") || strings.Contains(log, "CRITICAL") {
		t.Fatalf("Redis complained while loading its AOF:\n%s", log)
	}
}

// A read whose connection breaks before its answer is sent again (the client retries a read-only
// command on a new connection); a write is not, since a hit's script sent twice would count twice.
// A proxy in front of Redis lets the request reach Redis, takes Redis's answer and cuts the
// connection instead of passing it on; Redis's own statistics count what it ran.
func TestReadsRetriedWritesNot(t *testing.T) {
	srv := aclServer(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	s := newStore(t, Options{Addr: proxy.Addr(), Username: "hitcounter", Password: "test-password", Timeout: 2 * time.Second}).Named(0)
	ctx := context.Background()
	// The counter, and the scripts of a first hit and of the next ones loaded: a cut request is
	// then one command, never a NOSCRIPT and its EVAL.
	if _, err := newCounters(s, 0, nil).Hit(ctx, testName, counter.Client{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, testName, anonymous(1), testTime, 0); err != nil {
		t.Fatal(err)
	}

	hmgets := commandCalls(t, srv, "hmget")
	proxy.CutAfter(CounterKey(testName))
	if info, err := s.Get(ctx, testName); err != nil || info.Value != 2 {
		t.Fatalf("a read whose connection was cut: %+v, %v; want value 2", info, err)
	}
	if got := proxy.Cuts(); got != 1 {
		t.Fatalf("%d connections cut, want 1", got)
	}
	if got := commandCalls(t, srv, "hmget") - hmgets; got != 2 {
		t.Fatalf("Redis ran %d HMGETs for a read cut once, want 2: the read and its retry", got)
	}

	scripts := scriptCalls(t, srv)
	proxy.CutAfter(CounterKey(testName))
	_, err := s.Add(ctx, testName, anonymous(1), testTime, 0)
	wantCode(t, "a hit whose connection was cut", err, counter.EUNAVAILABLE)
	if got := proxy.Cuts(); got != 2 {
		t.Fatalf("%d connections cut, want 2", got)
	}
	if got := scriptCalls(t, srv) - scripts; got != 1 {
		t.Fatalf("Redis ran %d scripts for a hit cut once, want 1: sent, and never again", got)
	}
	if v := srv.Int("HGET", CounterKey(testName), "v"); v != 3 {
		t.Fatalf("the counter is %d after a hit whose answer was lost, want 3: counted once", v)
	}
}

// Days: hits count on the UTC day of their batch, a new day starts new counts and new unique
// visitors, the history keeps historyDays days, and the visitors of a day are a HyperLogLog.
func TestDaysAndUniques(t *testing.T) {
	srv := aclServer(t)
	s := newNamed(t, srv).Named(3)
	ctx := context.Background()
	clock := time.Date(2026, 11, 26, 23, 59, 0, 0, time.UTC)
	c := newCounters(s, 0, func() time.Time { return clock })
	alice, bob, carol := visitorAt("192.0.2.1"), visitorAt("192.0.2.2"), visitorAt("2001:db8::3")
	hit := func(client counter.Client) counter.Counts {
		t.Helper()
		n, err := c.HitWithUniques(ctx, testName, client)
		if err != nil {
			t.Fatal(err)
		}
		return n.Counts
	}
	hit(alice)
	hit(bob)
	hit(alice)
	if got := hit(camo); got != (counter.Counts{Total: 4, Today: 4, TodayUniques: 2}) {
		t.Fatalf("4th hit of the day = %+v, want total 4, today 4, 2 uniques", got)
	}
	clock = clock.Add(2 * time.Minute) // past midnight
	if got := hit(alice); got != (counter.Counts{Total: 5, Today: 1, TodayUniques: 1}) {
		t.Fatalf("first hit of the next day = %+v, want total 5, today 1, 1 unique", got)
	}

	st, err := c.Stats(ctx, testName, 5, counter.Client{}) // more than the history: cut to 3
	if err != nil {
		t.Fatal(err)
	}
	want := []counter.Day{
		{Date: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)},
		{Date: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), Hits: 4, Uniques: 2, Unidentified: 1},
		{Date: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Hits: 1, Uniques: 1},
	}
	// The window's uniques are the sum of the days': in the service a pseudonym changes daily.
	if !slices.Equal(st.Days, want) || st.Value != 5 || st.Uniques != 3 {
		t.Fatalf("Stats = %+v (uniques %d), want days %+v, value 5, 3 visitor-days", st.Days, st.Uniques, want)
	}

	// Old days go by themselves: a day's visitors expire at the end of the next day (only the
	// day's estimate is kept), a month's figures when its last day leaves the history.
	if ttl := srv.Int("TTL", visitorsKey(CounterKey(testName), time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))); ttl <= 24*3600 || ttl > 2*24*3600 {
		t.Fatalf("the 27th's HyperLogLog expires in %d s, want at the end of the 28th (1 to 2 days)", ttl)
	}
	nov, dec := monthKey(CounterKey(testName), clock), monthKey(CounterKey(testName), clock.AddDate(0, 1, 0))
	// Made at 23:59 on the 26th; the 30th leaves the history at midnight on 4 December.
	if ttl := srv.Int("TTL", nov); ttl < 7*24*3600 || ttl > 7*24*3600+120 {
		t.Fatalf("November's counts expire in %d s, want 7 days and a minute (at midnight on 4 December)", ttl)
	}
	clock = clock.AddDate(0, 0, 5) // into December
	hit(carol)
	if n := srv.Int("EXISTS", dec); n != 1 {
		t.Fatal("December's counts are not in a hash of their own")
	}

	// 1,000 visitors over 10,000 hits, in batches: within HyperLogLog's error of 1,000.
	other := counter.Name{Namespace: "example.com", Key: "uniques"}
	var wg sync.WaitGroup
	for w := range 50 {
		wg.Go(func() {
			for i := range 200 {
				v := (w*200 + i) % 1000
				if _, err := c.Hit(ctx, other, visitorAt(fmt.Sprintf("10.0.%d.%d", v/256, v%256))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st, err = c.Stats(ctx, other, 1, counter.Client{})
	if err != nil {
		t.Fatal(err)
	}
	// Redis's HyperLogLog has a standard error of 0.81%: 2.5% is three of them.
	if today := st.Days[0]; today.Hits != 10_000 || today.Uniques < 975 || today.Uniques > 1025 {
		t.Fatalf("today %+v, want 10000 hits and 1000±2.5%% uniques", today)
	}
}

// A full Redis (at maxmemory, noeviction) refuses what would make a new counter, as EFULL (507),
// and nothing else: hits on counters that exist (visitors and all), the visit counter, owners'
// changes and the shared rate-limit counts go on, exactly.
func TestFullRedisRefusesOnlyNewCounters(t *testing.T) {
	srv := aclServer(t, "--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
	store := newNamed(t, srv)
	s := store.Named(0)
	ctx := context.Background()
	key, hash := counter.NewAdminKey()
	if err := s.Reserve(ctx, testName, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, counter.Info{Name: testName, Created: testTime, AdminKeyHash: hash}); err != nil {
		t.Fatal(err)
	}

	// Fill Redis with counters until it refuses one.
	var full error
	made := 0
	for i := 0; i < 100_000 && full == nil; i++ {
		name := counter.Name{Namespace: "filler", Key: fmt.Sprintf("counter-%06d-%s", i, strings.Repeat("x", 40))}
		if full = s.Reserve(ctx, name, 0); full == nil {
			if full = s.Create(ctx, counter.Info{Name: name, Created: testTime, AdminKeyHash: hash}); full == nil {
				made++
			}
		}
	}
	wantCode(t, fmt.Sprintf("a create after %d counters", made), full, counter.EFULL)
	if !strings.Contains(counter.ErrorMessage(full), "storage is full") {
		t.Fatalf("the full store's message %q does not say so", counter.ErrorMessage(full))
	}
	t.Logf("Redis full after %d counters (maxmemory 3mb)", made)

	newName := counter.Name{Namespace: "example.com", Key: "too-late"}
	_, err := s.AddCreating(ctx, newName, anonymous(1), testTime, 0)
	wantCode(t, "a first hit when full", err, counter.EFULL)
	wantCode(t, "a create when full", s.Create(ctx, counter.Info{Name: newName, Created: testTime}), counter.EFULL)
	_, err = s.Restore(ctx, []counter.Info{{Name: newName, Value: 5, Created: testTime}}, 0)
	wantCode(t, "an import of a new counter when full", err, counter.EFULL)
	if n := srv.Int("EXISTS", CounterKey(newName)); n != 0 {
		t.Fatal("a refused creation left a counter behind")
	}

	for i := range 50 {
		hits := []counter.Hit{{Visitor: fmt.Sprintf("visitor-%d", i)}, {}}
		n, err := s.Add(ctx, testName, hits, testTime, 0)
		if err != nil || n.Total != int64(2*(i+1)) {
			t.Fatalf("hit batch %d on a counter that exists, Redis full: %+v, %v; want total %d", i+1, n, err, 2*(i+1))
		}
	}
	if v, err := store.Add(ctx, 3); err != nil || v != 3 {
		t.Fatalf("the visit counter, Redis full: %d, %v; want 3", v, err)
	}
	if v, err := s.Update(ctx, testName, 10, counter.Auth{AdminKeyHash: counter.HashAdminKey(key)}); err != nil || v != 110 {
		t.Fatalf("an owner's update, Redis full: %d, %v; want 110", v, err)
	}
	for i := range 20 {
		granted, _, err := store.Lease(ctx, fmt.Sprintf("hits:client-%d:1", i), 5, 100, time.Minute)
		if err != nil || granted != 5 {
			t.Fatalf("a rate-limit lease for a new client, Redis full: %d, %v; want 5 granted", granted, err)
		}
	}
	if ttl := srv.Int("TTL", rateLimitPrefix+"hits:client-0:1"); ttl <= 0 || ttl > 121 {
		t.Fatalf("a rate-limit count expires in %d s, want within two windows", ttl)
	}
	// An import line over a counter that exists changes it; one that would create is refused.
	res, err := s.Restore(ctx, []counter.Info{{Name: testName, Value: 7, Created: testTime, AdminKeyHash: hash}}, 0)
	if err != nil || res.Updated != 1 {
		t.Fatalf("an import over an existing counter, Redis full: %+v, %v; want it updated", res, err)
	}

	// Once the store has read that Redis is full, hits leave the day's sketch alone: the one
	// thing a hit on an existing counter could make grow with its visitors.
	watch, stop := context.WithCancel(ctx)
	defer stop()
	reported := make(chan Capacity, 1)
	go store.WatchMemory(watch, 10*time.Millisecond, 1000, 400, func(c Capacity, err error) {
		if err != nil {
			t.Errorf("WatchMemory: %v", err)
		}
		reported <- c
	})
	if c := <-reported; c.UsedMemory < c.MaxMemory {
		t.Fatalf("WatchMemory read %+v: Redis is not full", c)
	}
	waitfor.Until(t, 5*time.Second, func() error {
		if !store.Full() {
			return fmt.Errorf("the store does not see Redis full yet")
		}
		return nil
	})
	sketch := visitorsKey(CounterKey(testName), testTime)
	before := srv.MustDo("PFCOUNT", sketch)
	for i := range 20 {
		visitors := make([]counter.Hit, 16)
		for v := range visitors {
			visitors[v].Visitor = fmt.Sprintf("new-visitor-%d-%d", i, v)
		}
		if _, err := s.Add(ctx, testName, visitors, testTime, 0); err != nil {
			t.Fatalf("a hit with new visitors, Redis full: %v", err)
		}
	}
	if after := srv.MustDo("PFCOUNT", sketch); after != before {
		t.Fatalf("the day's sketch went from %s to %s visitors while Redis was full, want it left alone", before, after)
	}
	if v, err := s.Get(ctx, testName); err != nil || v.Value != 7+20*16 {
		t.Fatalf("after the hits: %+v, %v; want 7 + 320", v, err)
	}
}

// The capacity check reads maxmemory through the application's user and compares it with what
// the counter limit needs at full history.
func TestCapacity(t *testing.T) {
	srv := aclServer(t, "--maxmemory", "200mb")
	store := newNamed(t, srv)
	ctx := context.Background()
	c, err := store.Capacity(ctx, 10_000, 400)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxMemory != 200<<20 || c.UsedMemory <= 0 || c.Needed != BytesNeeded(10_000, 400) || !c.Fits {
		t.Fatalf("Capacity(10,000 counters, 400 days) = %+v; want maxmemory 200 MiB, fits", c)
	}
	if c, err := store.Capacity(ctx, 100_000, 400); err != nil || c.Fits {
		t.Fatalf("Capacity(100,000 counters, 400 days) = %+v, %v; want it not to fit 200 MiB", c, err)
	}
	if c, err := store.Capacity(ctx, 0, 400); err != nil || c.Fits {
		t.Fatalf("Capacity(no counter limit) = %+v, %v; want no fit: nothing bounds the counters", c, err)
	}
}

// The formula, for the defaults: 100,000 counters with 400 days fit in the 1200mb the Redis
// container is given.
func TestBytesNeededForTheDefaults(t *testing.T) {
	got := BytesNeeded(100_000, 400)
	if got != 100_000*12_200+32<<20 || got > 1200<<20 {
		t.Fatalf("BytesNeeded(100,000, 400) = %d, want 100,000 x 12,200 + 32 MiB, under 1200 MiB", got)
	}
}

// Hits on many different counters that reach the store together share script runs: 64 clients
// × 100 hits, each on one of 1,000 counters (so a counter rarely has two batches in a row), run
// in far fewer scripts than the batches of each counter would need alone, and every counter is
// exact, each hit with its own number.
func TestHitsOnManyCountersShareRuns(t *testing.T) {
	srv := aclServer(t)
	store := newNamed(t, srv)
	named := store.Named(0)
	c := newCounters(named, 0, nil)
	var names []counter.Name
	for i := range 1000 {
		name := counter.Name{Namespace: "many", Key: fmt.Sprintf("key-%04d", i)}
		names = append(names, name)
		if err := named.Reserve(context.Background(), name, 0); err != nil {
			t.Fatal(err)
		}
		if err := named.Create(context.Background(), counter.Info{Name: name, Created: testTime}); err != nil {
			t.Fatal(err)
		}
	}
	before := scriptCalls(t, srv)
	const workers, perWorker = 64, 100
	var mu sync.Mutex
	got := map[counter.Name][]int64{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := names[(w*perWorker+i*37)%len(names)]
				res, err := c.Hit(context.Background(), name, visitorAt(fmt.Sprintf("10.9.%d.%d", w, i)))
				if err != nil {
					t.Errorf("Hit(%s): %v", name, err)
					return
				}
				mu.Lock()
				got[name] = append(got[name], res.Total)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	hits := 0
	for _, name := range names {
		numbers := got[name]
		slices.Sort(numbers)
		for i, n := range numbers {
			if n != int64(i+1) {
				t.Fatalf("%s: numbers handed out %v, want 1..%d each once", name, numbers, len(numbers))
			}
		}
		if v := srv.Int("HGET", CounterKey(name), "v"); v != int64(len(numbers)) {
			t.Fatalf("%s: stored %d after %d hits", name, v, len(numbers))
		}
		hits += len(numbers)
	}
	runs := scriptCalls(t, srv) - before
	t.Logf("%d hits on %d counters in %d script runs", hits, len(names), runs)
	// Each counter's own batches would take about one run per hit here (a counter's hits are
	// 37 apart in each worker's sequence); joined, a run carries several counters.
	if hits != workers*perWorker || runs > int64(hits)/2 {
		t.Fatalf("%d hits in %d script runs: want every hit answered, in at most half as many runs", hits, runs)
	}
}
