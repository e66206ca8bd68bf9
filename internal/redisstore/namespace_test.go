package redisstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redistest"
)

// nsService is the service over a store whose namespaces are indexed, as a fresh Redis is once
// the server has started (IndexNamespaces).
func nsService(t *testing.T, st *Store, limit int64) (*counter.Counters, *Named) {
	t.Helper()
	if _, err := st.IndexNamespaces(context.Background(), testTime); err != nil {
		t.Fatal(err)
	}
	named := st.Named(0)
	return newCounters(named, limit, func() time.Time { return testTime }), named
}

// claim claims ns as an anonymous client and returns the namespace's key as an Auth.
func claim(t *testing.T, c *counter.Counters, ns string) counter.Auth {
	t.Helper()
	key, _, err := c.ClaimNamespace(context.Background(), ns, counter.Auth{}, visitorAt("192.0.2.1"))
	if err != nil || len(key) != 43 {
		t.Fatalf("ClaimNamespace(%s) = %q, %v", ns, key, err)
	}
	return counter.Auth{AdminKeyHash: counter.HashAdminKey(key)}
}

// The done-when point of issue #17: after a claim, an outsider cannot create in the namespace,
// list it or export it; the owner can, and its key opens every counter in it. Through the
// application's ACL user, so the new commands are ones the Redis container allows.
func TestNamespaceOwnership(t *testing.T) {
	srv := aclServer(t)
	c, _ := nsService(t, newNamed(t, srv), 0)
	ctx := context.Background()
	outsider := visitorAt("198.51.100.7")
	owner := claim(t, c, "owned.example")
	stranger := counter.Auth{AdminKeyHash: counter.HashAdminKey("not-the-key")}
	otherOwner := claim(t, c, "other.example")
	operator := counter.Auth{Operator: true}
	in := func(key string) counter.Name { return counter.Name{Namespace: "owned.example", Key: key} }

	// Creating: by POST /create (CreateAs) and by a first hit.
	for _, tc := range []struct {
		what string
		auth counter.Auth
		want string
	}{
		{"no key", counter.Auth{}, counter.EUNAUTHORIZED},
		{"a wrong key", stranger, counter.EFORBIDDEN},
		{"another namespace's key", otherOwner, counter.EFORBIDDEN},
	} {
		_, _, err := c.CreateAs(ctx, in("intruder"), 5, tc.auth, outsider)
		wantCode(t, "CreateAs with "+tc.what, err, tc.want)
	}
	_, err := c.Hit(ctx, in("intruder"), outsider)
	wantCode(t, "a first hit in an owned namespace", err, counter.ENOTFOUND)
	if n := srv.Int("EXISTS", CounterKey(in("intruder"))); n != 0 {
		t.Fatal("a refused creation created the counter")
	}
	if n := srv.Int("SCARD", NamespaceListKey("owned.example")); n != 0 {
		t.Fatalf("refused creations left %d names in the namespace's list", n)
	}

	key, _, err := c.CreateAs(ctx, in("home"), 10, owner, outsider)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateAs(ctx, in("docs"), 30, operator, outsider); err != nil {
		t.Fatal(err)
	}
	// Hits and reads of existing counters stay public.
	if res, err := c.Hit(ctx, in("home"), outsider); err != nil || res.Total != 11 {
		t.Fatalf("an outsider's hit = %+v, %v; want 11", res, err)
	}
	if info, err := c.Get(ctx, in("docs"), outsider); err != nil || info.Value != 30 {
		t.Fatalf("an outsider's get = %+v, %v", info, err)
	}

	// The namespace's key opens every counter in it; the counter's own key still opens its own;
	// other keys nothing.
	if v, err := c.Set(ctx, in("docs"), 31, owner, outsider); err != nil || v != 31 {
		t.Fatalf("Set with the namespace's key = %d, %v", v, err)
	}
	if v, err := c.Update(ctx, in("home"), 1, counter.Auth{AdminKeyHash: counter.HashAdminKey(key)}, outsider); err != nil || v != 12 {
		t.Fatalf("Update with the counter's key = %d, %v", v, err)
	}
	_, err = c.Set(ctx, in("docs"), 0, otherOwner, outsider)
	wantCode(t, "Set with another namespace's key", err, counter.EFORBIDDEN)
	wantCode(t, "Delete with a wrong key", c.Delete(ctx, in("docs"), stranger, outsider), counter.EFORBIDDEN)

	// Listing and export: the owner and the operator; every outsider the same answer, whether
	// the namespace is claimed by another, unclaimed, or unclaimed and holding counters.
	if _, err := c.Hit(ctx, counter.Name{Namespace: "public.example", Key: "page"}, outsider); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"owned.example", "public.example", "nobody.example"} {
		for _, tc := range []struct {
			what string
			auth counter.Auth
			want string
		}{
			{"no key", counter.Auth{}, counter.EUNAUTHORIZED},
			{"a wrong key", stranger, counter.EFORBIDDEN},
			{"another namespace's key", otherOwner, counter.EFORBIDDEN},
		} {
			_, err := c.ListNamespace(ctx, ns, counter.ListOptions{}, tc.auth, outsider)
			wantCode(t, "listing "+ns+" with "+tc.what, err, tc.want)
			err = c.ExportNamespace(ctx, ns, tc.auth, outsider, func(counter.Info) error {
				t.Fatalf("export of %s with %s wrote a counter", ns, tc.what)
				return nil
			})
			wantCode(t, "exporting "+ns+" with "+tc.what, err, tc.want)
			if tc.want == counter.EFORBIDDEN && counter.ErrorMessage(err) != "the key given is not the key of namespace "+ns {
				t.Fatalf("exporting %s with %s: %q tells an outsider more than that the key is wrong", ns, tc.what, counter.ErrorMessage(err))
			}
		}
	}
	for _, auth := range []counter.Auth{owner, operator} {
		page, err := c.ListNamespace(ctx, "owned.example", counter.ListOptions{Sort: counter.SortByValue}, auth, outsider)
		if err != nil {
			t.Fatal(err)
		}
		got := infoKeysValues(page.Counters)
		if want := []string{"docs=31", "home=12"}; !slices.Equal(got, want) || page.Total != 2 || page.Next != 0 {
			t.Fatalf("listing = %v (total %d, next %d), want %v", got, page.Total, page.Next, want)
		}
		var exported []counter.Info
		if err := c.ExportNamespace(ctx, "owned.example", auth, outsider, func(i counter.Info) error {
			exported = append(exported, i)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(exported, func(a, b counter.Info) int { return -compareValue(a, b) })
		if got := infoKeysValues(exported); !slices.Equal(got, []string{"docs=31", "home=12"}) || exported[1].AdminKeyHash != counter.HashAdminKey(key) {
			t.Fatalf("export = %+v", exported)
		}
	}

	// A deleted counter leaves the list; the name may be created again by the owner only.
	if err := c.Delete(ctx, in("docs"), owner, outsider); err != nil {
		t.Fatal(err)
	}
	if srv.Int("SCARD", NamespaceListKey("owned.example")) != 1 || srv.Int("SISMEMBER", NamespaceListKey("owned.example"), "home") != 1 {
		t.Fatal("the list after a delete is not {home}")
	}
	_, err = c.Hit(ctx, in("docs"), outsider)
	wantCode(t, "a first hit on a deleted counter of an owned namespace", err, counter.ENOTFOUND)

	// Claims: one owner per namespace; a namespace with counters only by the operator.
	_, _, err = c.ClaimNamespace(ctx, "owned.example", counter.Auth{}, outsider)
	wantCode(t, "claiming an owned namespace", err, counter.ECONFLICT)
	_, _, err = c.ClaimNamespace(ctx, "owned.example", operator, outsider)
	wantCode(t, "the operator claiming an owned namespace", err, counter.ECONFLICT)
	_, _, err = c.ClaimNamespace(ctx, "public.example", counter.Auth{}, outsider)
	wantCode(t, "claiming a namespace with others' counters", err, counter.EFORBIDDEN)
	if srv.Int("SISMEMBER", NamespacesKey, "public.example") != 0 {
		t.Fatal("a refused claim kept its place among the claimed namespaces")
	}
	opKey, _, err := c.ClaimNamespace(ctx, "public.example", operator, outsider)
	if err != nil {
		t.Fatal(err)
	}
	// Counters created before the claim are the owner's from then on, listed and opened by its
	// key: the list was kept from the namespace's first counter.
	opOwner := counter.Auth{AdminKeyHash: counter.HashAdminKey(opKey)}
	page, err := c.ListNamespace(ctx, "public.example", counter.ListOptions{}, opOwner, outsider)
	if err != nil || !slices.Equal(infoKeysValues(page.Counters), []string{"page=1"}) {
		t.Fatalf("listing of a namespace claimed with a counter = %+v, %v", page, err)
	}
	if _, err := c.Set(ctx, counter.Name{Namespace: "public.example", Key: "page"}, 9, opOwner, outsider); err != nil {
		t.Fatal(err)
	}
	if n := srv.Int("SCARD", NamespacesKey); n != 3 {
		t.Fatalf("%d claimed namespaces, want 3", n)
	}
}

func infoKeysValues(infos []counter.Info) []string {
	out := make([]string, 0, len(infos))
	for _, i := range infos {
		out = append(out, fmt.Sprintf("%s=%d", i.Name.Key, i.Value))
	}
	return out
}

func compareValue(a, b counter.Info) int {
	switch {
	case a.Value < b.Value:
		return -1
	case a.Value > b.Value:
		return 1
	}
	return 0
}

// Pages: sorted by name or by value (ties by name), limit and offset, next offset, and the
// options that are refused.
func TestNamespaceListingPages(t *testing.T) {
	c, _ := nsService(t, newNamed(t, aclServer(t)), 0)
	ctx := context.Background()
	owner := claim(t, c, "pages.example")
	client := visitorAt("192.0.2.9")
	values := map[string]int64{"aaa": 5, "bbb": 50, "ccc": 5, "ddd": -3, "eee": 500}
	for k, v := range values {
		if _, _, err := c.CreateAs(ctx, counter.Name{Namespace: "pages.example", Key: k}, v, owner, client); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		opts     counter.ListOptions
		want     []string
		wantNext int
	}{
		{counter.ListOptions{}, []string{"aaa=5", "bbb=50", "ccc=5", "ddd=-3", "eee=500"}, 0},
		{counter.ListOptions{Sort: "value"}, []string{"eee=500", "bbb=50", "aaa=5", "ccc=5", "ddd=-3"}, 0},
		{counter.ListOptions{Sort: "value", Limit: 2}, []string{"eee=500", "bbb=50"}, 2},
		{counter.ListOptions{Sort: "value", Limit: 2, Offset: 2}, []string{"aaa=5", "ccc=5"}, 4},
		{counter.ListOptions{Sort: "value", Limit: 2, Offset: 4}, []string{"ddd=-3"}, 0},
		{counter.ListOptions{Sort: "name", Limit: 1, Offset: 3}, []string{"ddd=-3"}, 4},
		{counter.ListOptions{Offset: 99}, []string{}, 0},
		{counter.ListOptions{Limit: counter.MaxNamespacePage}, []string{"aaa=5", "bbb=50", "ccc=5", "ddd=-3", "eee=500"}, 0},
	} {
		page, err := c.ListNamespace(ctx, "pages.example", tc.opts, owner, client)
		if err != nil {
			t.Fatalf("%+v: %v", tc.opts, err)
		}
		if got := infoKeysValues(page.Counters); !slices.Equal(got, tc.want) || page.Next != tc.wantNext || page.Total != 5 {
			t.Errorf("%+v: got %v next %d total %d, want %v next %d total 5", tc.opts, got, page.Next, page.Total, tc.want, tc.wantNext)
		}
	}
	for _, opts := range []counter.ListOptions{
		{Sort: "random"}, {Limit: -1}, {Limit: counter.MaxNamespacePage + 1}, {Offset: -1},
	} {
		_, err := c.ListNamespace(ctx, "pages.example", opts, owner, client)
		wantCode(t, fmt.Sprintf("listing with %+v", opts), err, counter.EINVALID)
	}
}

// An owner creates at most MaxNamespaceCounters counters; the operator may pass that (an
// import), and then the listing refuses with a clear error while the export still works.
func TestNamespaceCap(t *testing.T) {
	srv := aclServer(t)
	st := newNamed(t, srv)
	c, named := nsService(t, st, 0)
	ctx := context.Background()
	owner := claim(t, c, "full.example")
	client := visitorAt("192.0.2.10")
	// Filled through the store's import (one pipelined script per counter), as the operator.
	infos := make([]counter.Info, counter.MaxNamespaceCounters-1)
	for i := range infos {
		infos[i] = counter.Info{Name: counter.Name{Namespace: "full.example", Key: fmt.Sprintf("k%05d", i)}, Value: int64(i), Created: testTime}
	}
	if _, err := named.Restore(ctx, infos, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateAs(ctx, counter.Name{Namespace: "full.example", Key: "last"}, 1, owner, client); err != nil {
		t.Fatalf("the owner's counter number %d: %v", counter.MaxNamespaceCounters, err)
	}
	_, _, err := c.CreateAs(ctx, counter.Name{Namespace: "full.example", Key: "one-too-many"}, 1, owner, client)
	wantCode(t, "an owner's counter past the cap", err, counter.EFULL)
	start := time.Now()
	page, err := c.ListNamespace(ctx, "full.example", counter.ListOptions{Sort: counter.SortByValue, Limit: 3}, owner, client)
	t.Logf("listing %d counters by value: %s", page.Total, time.Since(start))
	if err != nil || page.Total != counter.MaxNamespaceCounters ||
		!slices.Equal(infoKeysValues(page.Counters), []string{"k09998=9998", "k09997=9997", "k09996=9996"}) {
		t.Fatalf("listing of a full namespace = %v (total %d), %v", infoKeysValues(page.Counters), page.Total, err)
	}
	if _, _, err := c.CreateAs(ctx, counter.Name{Namespace: "full.example", Key: "operators"}, 1, counter.Auth{Operator: true}, client); err != nil {
		t.Fatalf("the operator past the cap: %v", err)
	}
	_, err = c.ListNamespace(ctx, "full.example", counter.ListOptions{}, owner, client)
	wantCode(t, "listing a namespace over the cap", err, counter.EINVALID)
	n := 0
	err = c.ExportNamespace(ctx, "full.example", owner, client, func(counter.Info) error { n++; return nil })
	if err != nil || n != counter.MaxNamespaceCounters+1 {
		t.Fatalf("export of a namespace over the cap: %d counters, %v", n, err)
	}
}

// Counters made before namespaces had lists (here: written straight into the global index and
// their hashes, as an earlier version did) keep anyone but the operator from claiming until
// IndexNamespaces has run; then their namespace counts as holding counters.
func TestIndexNamespacesBeforeClaims(t *testing.T) {
	srv := aclServer(t)
	st := newNamed(t, srv)
	ctx := context.Background()
	old := counter.Name{Namespace: "legacy.example", Key: "home"}
	srv.MustDo("SADD", IndexKey, old.String())
	srv.MustDo("HSET", CounterKey(old), "v", "41", "t", "1700000000")
	c := newCounters(st.Named(0), 0, func() time.Time { return testTime })

	_, _, err := c.ClaimNamespace(ctx, "legacy.example", counter.Auth{}, visitorAt("192.0.2.2"))
	wantCode(t, "a claim before the namespaces are indexed", err, counter.EUNAVAILABLE)
	_, _, err = c.ClaimNamespace(ctx, "fresh.example", counter.Auth{}, visitorAt("192.0.2.2"))
	wantCode(t, "a claim of an empty namespace before the namespaces are indexed", err, counter.EUNAVAILABLE)

	if did, err := st.IndexNamespaces(ctx, testTime); err != nil || !did {
		t.Fatalf("IndexNamespaces = %v, %v; want it done by this call", did, err)
	}
	if did, err := st.IndexNamespaces(ctx, testTime); err != nil || did {
		t.Fatalf("IndexNamespaces again = %v, %v; want nothing done", did, err)
	}
	if srv.Int("SCARD", NamespaceListKey("legacy.example")) != 1 || srv.Int("SISMEMBER", NamespaceListKey("legacy.example"), "home") != 1 {
		t.Fatal("the legacy namespace's list is not {home}")
	}
	_, _, err = c.ClaimNamespace(ctx, "legacy.example", counter.Auth{}, visitorAt("192.0.2.2"))
	wantCode(t, "claiming a namespace with legacy counters", err, counter.EFORBIDDEN)
	if _, _, err := c.ClaimNamespace(ctx, "fresh.example", counter.Auth{}, visitorAt("192.0.2.2")); err != nil {
		t.Fatal(err)
	}
}

// Claims race with creations: whatever the order, a namespace is claimed only while it holds
// no counter, and every counter created in an owned namespace was admitted by its owner.
// Claimed namespaces are bounded by a tenth of the counter limit.
func TestClaimRacingCreations(t *testing.T) {
	srv := aclServer(t)
	c, _ := nsService(t, newNamed(t, srv), 50)
	ctx := context.Background()
	var wg sync.WaitGroup
	claimed := make([]bool, 5)
	for i := range 5 {
		ns := fmt.Sprintf("race%d.example", i)
		wg.Go(func() {
			_, _, err := c.ClaimNamespace(ctx, ns, counter.Auth{}, visitorAt("192.0.2.3"))
			claimed[i] = err == nil
			if err != nil && counter.ErrorCode(err) != counter.EFORBIDDEN {
				t.Errorf("claim of %s: %v", ns, err)
			}
		})
		wg.Go(func() {
			_, err := c.Hit(ctx, counter.Name{Namespace: ns, Key: "first"}, visitorAt("192.0.2.4"))
			if err != nil && counter.ErrorCode(err) != counter.ENOTFOUND {
				t.Errorf("first hit in %s: %v", ns, err)
			}
		})
	}
	wg.Wait()
	for i, ok := range claimed {
		ns := fmt.Sprintf("race%d.example", i)
		exists := srv.Int("EXISTS", CounterKey(counter.Name{Namespace: ns, Key: "first"})) == 1
		if ok == exists {
			t.Errorf("%s: claimed %v and its anonymous counter exists %v: exactly one must win", ns, ok, exists)
		}
	}
	// The limit (50 / 10) counts claimed namespaces apart from counters.
	for i := range 6 {
		before := srv.Int("SCARD", NamespacesKey)
		_, _, err := c.ClaimNamespace(ctx, fmt.Sprintf("limit%d.example", i), counter.Auth{}, visitorAt("192.0.2.5"))
		if err != nil {
			wantCode(t, "a claim past the limit", err, counter.EFULL)
			if before != 5 || srv.Int("SCARD", NamespacesKey) != 5 {
				t.Fatalf("refused at %d claimed namespaces, want 5", before)
			}
			return
		}
	}
	t.Fatal("six claims passed a limit of five")
}

// On a cluster the namespace's keys and its counters' are on different nodes: creation, listing,
// export and delete still keep the list exact.
func TestNamespacesOnACluster(t *testing.T) {
	cl := startCluster(t)
	st := newStore(t, Options{Addrs: cl.Addrs(), Cluster: true, Username: "hitcounter", Password: "test-password", Timeout: 2 * time.Second})
	c, _ := nsService(t, st, 0)
	ctx := context.Background()
	owner := claim(t, c, "cluster.example")
	client := visitorAt("192.0.2.6")
	var want []string
	nodes := map[*redistest.Server]bool{}
	for i := range 20 {
		name := counter.Name{Namespace: "cluster.example", Key: fmt.Sprintf("page%02d", i)}
		if _, _, err := c.CreateAs(ctx, name, int64(i), owner, client); err != nil {
			t.Fatal(err)
		}
		nodes[cl.PrimaryOf(CounterKey(name))] = true
		want = append(want, fmt.Sprintf("%s=%d", name.Key, i))
	}
	if len(nodes) < 2 {
		t.Fatalf("the counters are on %d node(s): the test needs them spread", len(nodes))
	}
	page, err := c.ListNamespace(ctx, "cluster.example", counter.ListOptions{Limit: 100}, owner, client)
	if err != nil || !slices.Equal(infoKeysValues(page.Counters), want) {
		t.Fatalf("listing on a cluster = %v, %v; want %v", infoKeysValues(page.Counters), err, want)
	}
	if err := c.Delete(ctx, counter.Name{Namespace: "cluster.example", Key: "page00"}, owner, client); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := c.ExportNamespace(ctx, "cluster.example", owner, client, func(counter.Info) error { n++; return nil }); err != nil || n != 19 {
		t.Fatalf("export after a delete: %d counters, %v", n, err)
	}
	_, err = c.Hit(ctx, counter.Name{Namespace: "cluster.example", Key: "intruder"}, client)
	wantCode(t, "a first hit in an owned namespace on a cluster", err, counter.ENOTFOUND)
}

// At the counter limit, first hits on made-up names are refused before they reach a namespace's
// list: a client cannot grow the lists while the service is full.
func TestCounterLimitKeepsListsBounded(t *testing.T) {
	srv := aclServer(t)
	c, _ := nsService(t, newNamed(t, srv), 2)
	ctx := context.Background()
	client := visitorAt("192.0.2.11")
	for _, key := range []string{"one", "two"} {
		if _, err := c.Hit(ctx, counter.Name{Namespace: "busy.example", Key: key}, client); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		_, err := c.Hit(ctx, counter.Name{Namespace: fmt.Sprintf("made-up%02d", i), Key: "page"}, client)
		wantCode(t, "a first hit at the counter limit", err, counter.EFULL)
	}
	_, _, err := c.CreateAs(ctx, counter.Name{Namespace: "busy.example", Key: "three"}, 0, counter.Auth{}, client)
	wantCode(t, "a create at the counter limit", err, counter.EFULL)
	_, _, err = c.CreateAs(ctx, counter.Name{Namespace: "busy.example", Key: "two"}, 0, counter.Auth{}, client)
	wantCode(t, "a create of an existing counter at the counter limit", err, counter.ECONFLICT)
	if n := srv.Int("SCARD", NamespaceListKey("busy.example")); n != 2 {
		t.Fatalf("busy.example's list holds %d names, want 2", n)
	}
	if n := srv.Int("EXISTS", NamespaceListKey("made-up00"), NamespaceListKey("made-up49")); n != 0 {
		t.Fatal("first hits refused at the counter limit left names in lists")
	}
	// A hit on a counter that exists is never refused.
	if res, err := c.Hit(ctx, counter.Name{Namespace: "busy.example", Key: "one"}, client); err != nil || res.Total != 2 {
		t.Fatalf("a hit at the counter limit = %+v, %v", res, err)
	}
}
