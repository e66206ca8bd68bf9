package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// clusterACL is the application's ACL user as redis/entrypoint.sh writes it, plus what a client
// of a Redis Cluster needs: the slots' map (CLUSTER SLOTS or SHARDS) and ASKING during a slot's
// migration. Still no key outside hitcounter:, no other command.
func clusterACL(t *testing.T) []string {
	rules := aclRules(t, "$app_user")
	return append([]string{"--user", "hitcounter"}, append(rules, "+cluster|slots", "+cluster|shards", "+asking")...)
}

// startCluster is a cluster of three primaries with a replica each, every node persisting with
// an fsync per write as the stack's Redis does, and the application's user.
func startCluster(t *testing.T) *redistest.Cluster {
	// cluster-require-full-coverage no, as docs/scaling.md asks of a production cluster: while
	// one shard fails over, the others go on serving their slots.
	args := append([]string{"--appendonly", "yes", "--appendfsync", "always", "--cluster-require-full-coverage", "no"}, clusterACL(t)...)
	return redistest.StartCluster(t, 3, 1, args...)
}

// clusterLoad sends clients × perClient hits over names through the service on a cluster
// store, each client one hit every clusterPace (or at once when behind), and returns each name's
// acknowledged hits, the numbers handed out, the failures and when each failure happened.
func clusterLoad(t *testing.T, c *counter.Counters, names []counter.Name, clients, perClient int) (
	ok map[counter.Name]int64, numbers map[counter.Name][]int64, failed map[counter.Name]int64, failedAt []time.Time,
) {
	ok, numbers, failed = map[counter.Name]int64{}, map[counter.Name][]int64{}, map[counter.Name]int64{}
	var mu sync.Mutex
	start := time.Now()
	deadline := start.Add(3 * time.Minute)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for i := 0; i < perClient && time.Now().Before(deadline); i++ {
				if wait := time.Until(start.Add(time.Duration(i) * clusterPace)); wait > 0 {
					time.Sleep(wait)
				}
				name := names[(w*perClient+i*7)%len(names)]
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				res, err := c.Hit(ctx, name, counter.Client{})
				cancel()
				mu.Lock()
				if err != nil {
					if len(failedAt) < 3 { // what a failure looks like, for the log
						t.Logf("%s: %s: %v", time.Since(start).Round(time.Millisecond), name, err)
					}
					failed[name]++
					failedAt = append(failedAt, time.Now())
				} else {
					ok[name]++
					numbers[name] = append(numbers[name], res.Total)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok, numbers, failed, failedAt
}

// clusterPace is each client's interval between hits: 64 clients send about 2,100 hits a
// second for 6 s, so that a primary killed 2 s in is replaced while the load still runs.
const clusterPace = 30 * time.Millisecond

// checkClusterCounts: every counter's value is its acknowledged hits, or more by at most its
// failed ones (each may or may not have been applied), and no number was handed out twice.
func checkClusterCounts(t *testing.T, s *Named, names []counter.Name, ok, failed map[counter.Name]int64, numbers map[counter.Name][]int64) {
	t.Helper()
	var problems []string
	for _, name := range names {
		// After a failover the client learns the new primary of a slot from the first call
		// that fails there; a read is retried until the map is current.
		var info counter.Info
		if err := waitfor.Poll(10*time.Second, func() (err error) {
			info, err = s.Get(context.Background(), name)
			return err
		}); err != nil {
			t.Fatalf("Get(%s): %v", name, err)
		}
		if info.Value < ok[name] || info.Value > ok[name]+failed[name] {
			problems = append(problems, fmt.Sprintf("%s = %d with %d acknowledged and %d failed hits", name, info.Value, ok[name], failed[name]))
		}
		n := slices.Clone(numbers[name])
		slices.Sort(n)
		if len(slices.Compact(n)) != len(numbers[name]) {
			problems = append(problems, fmt.Sprintf("%s: a number handed out twice", name))
		}
	}
	if len(problems) > 0 {
		t.Fatalf("%d of %d counters wrong; the first: %s", len(problems), len(names), strings.Join(problems[:min(5, len(problems))], "; "))
	}
}

func clusterCounters(t *testing.T, c *redistest.Cluster) (*Named, *counter.Counters, []counter.Name) {
	store := newStore(t, Options{Addrs: c.Addrs(), Cluster: true, Username: "hitcounter", Password: "test-password",
		WaitReplicas: 1, Timeout: 2 * time.Second})
	named := store.Named(0)
	var names []counter.Name
	for i := range 1000 {
		name := counter.Name{Namespace: "cluster", Key: fmt.Sprintf("key-%04d", i)}
		names = append(names, name)
		if err := named.Reserve(context.Background(), name, 0); err != nil {
			t.Fatal(err)
		}
		if err := named.Create(context.Background(), counter.Info{Name: name, Created: testTime}); err != nil {
			t.Fatal(err)
		}
	}
	return named, newCounters(named, 0, nil), names
}

// The store on a Redis Cluster (3 primaries, 3 replicas): 64 clients × 200 hits over 1,000
// counters, spread over every slot, and each counter's value is exactly its acknowledged hits.
func TestCountersOnACluster(t *testing.T) {
	cl := startCluster(t)
	named, c, names := clusterCounters(t, cl)
	ok, numbers, failed, _ := clusterLoad(t, c, names, 64, 200)
	var acked, fails int64
	for _, name := range names {
		acked += ok[name]
		fails += failed[name]
	}
	t.Logf("%d hits acknowledged, %d failed, over %d counters on 3 primaries", acked, fails, len(names))
	if fails != 0 || acked != 64*200 {
		t.Fatalf("%d acknowledged and %d failed of %d on a healthy cluster", acked, fails, 64*200)
	}
	checkClusterCounts(t, named, names, ok, failed, numbers)
}

// A primary killed a third of the way through: its replica takes over (every write was on the
// replica's disk before it was acknowledged, WAITAOF), no acknowledged hit is lost, nothing is
// counted twice, and the hits that fail are on the killed primary's counters, inside the
// failover window.
func TestCountersOnAClusterLosingAPrimary(t *testing.T) {
	cl := startCluster(t)
	named, c, names := clusterCounters(t, cl)
	victim := cl.PrimaryOf(CounterKey(names[0]))
	onVictim := map[counter.Name]bool{}
	for _, name := range names {
		onVictim[name] = cl.PrimaryOf(CounterKey(name)) == victim
	}
	slot := victim.MustDo("CLUSTER", "KEYSLOT", CounterKey(names[0]))
	type result struct {
		ok, failed map[counter.Name]int64
		numbers    map[counter.Name][]int64
		failedAt   []time.Time
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.ok, r.numbers, r.failed, r.failedAt = clusterLoad(t, c, names, 64, 200)
		done <- r
	}()
	time.Sleep(200 * clusterPace / 3) // a point a third into the run, not a wait for a condition
	killedAt := time.Now()
	victim.Kill()
	// The killed primary's replica takes its slots; then the old primary comes back, as a
	// replica of the new one, so that its slots have a replica for WAITAOF again (until then
	// their writes are refused, not acknowledged unreplicated).
	if err := waitfor.Poll(30*time.Second, func() error {
		if n := cl.ServedBy(slot); n == nil || n == victim {
			return fmt.Errorf("slot %s has no new primary", slot)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	promoted := time.Since(killedAt)
	victim.Restart()
	r := <-done
	ok, numbers, failed, failedAt := r.ok, r.numbers, r.failed, r.failedAt
	var acked, fails int64
	for _, name := range names {
		acked += ok[name]
		fails += failed[name]
		if failed[name] > 0 && !onVictim[name] {
			t.Errorf("%d hits on %s failed, a counter the killed primary did not hold", failed[name], name)
		}
	}
	var window time.Duration
	for _, at := range failedAt {
		window = max(window, at.Sub(killedAt))
	}
	t.Logf("primary %s killed 2 s in, its replica promoted %s later and the old primary restarted: "+
		"%d hits acknowledged, %d failed (%.1f%%) over %d counters; the last failure %s after the kill",
		victim.Addr(), promoted.Round(time.Millisecond), acked, fails, 100*float64(fails)/float64(acked+fails), len(names), window.Round(time.Millisecond))
	if acked+fails != 64*200 {
		t.Fatalf("%d hits sent of %d within the bound", acked+fails, 64*200)
	}
	// The killed shard takes writes again once it has a new primary (the node timeout, 1 s,
	// and an election) and that primary has a replica (the old primary restarted, reloaded and
	// resynchronised): measured 6–7 s here. With two replicas a shard, as docs/scaling.md
	// recommends, the second step is not needed. 15 s leaves room for a busy machine.
	if window > 15*time.Second {
		t.Errorf("hits still failed %s after the kill; the failover window is 15 s", window)
	}
	cl.WaitOK()
	checkClusterCounts(t, named, names, ok, failed, numbers)
}
