package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/redisstore"
)

// newNamespaceServer is newCounterServer with the namespaces indexed, as the server does at
// start (cmd/hitcounter, indexNamespaces).
func newNamespaceServer(t *testing.T, o counterOptions) *testServer {
	t.Helper()
	ts := newCounterServer(t, o)
	store := redisstore.New(redisstore.Options{Addr: ts.redis.Addr(), Timeout: 2 * time.Second})
	defer store.Close()
	if _, err := store.IndexNamespaces(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return ts
}

// claimKey claims ns and returns its key.
func (ts *testServer) claimKey(t *testing.T, ns string) string {
	t.Helper()
	resp, body := ts.do(t, "POST", "/namespace/"+ns)
	var claimed claimedAnswer
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &claimed) != nil || len(claimed.AdminKey) != 43 || claimed.Namespace != ns {
		t.Fatalf("POST /namespace/%s: %d %q", ns, resp.StatusCode, body)
	}
	return claimed.AdminKey
}

// The routes of namespaces with an owner, every answer an outsider can get included: an
// outsider cannot create in, list or export an owned namespace, and learns nothing about a
// namespace it does not own from the listing's answers.
func TestNamespaceRoutes(t *testing.T) {
	ts := newNamespaceServer(t, counterOptions{})
	key := ts.claimKey(t, "mine.example")
	otherKey := ts.claimKey(t, "theirs.example")
	owner, other := bearerHeader(key), bearerHeader(otherKey)
	stranger, operator := bearerHeader("not-the-key"), bearerHeader(testOperatorToken)
	const notTheKey = `^\{"error":"the key given is not the key of namespace [a-z.]+","code":"forbidden"\}\n$`
	const needsKey = `"code":"unauthorized"`

	ts.run(t, []call{
		// Claims.
		{"POST", "/namespace/mine.example", nil, 409, `"namespace mine.example is claimed already","code":"conflict"`},
		{"POST", "/namespace/mine.example", operator, 409, `"code":"conflict"`},
		{"POST", "/namespace/ab", nil, 400, `namespace \\"ab\\" is invalid`},
		{"POST", "/namespace/a%2Fbcd", nil, 400, `"code":"invalid"`},
		{"POST", "/namespace/" + strings.Repeat("x", 65), nil, 400, `"code":"invalid"`},
		{"POST", "/namespace/mine.example", []string{"Authorization", "Basic abc"}, 401, needsKey},
		{"GET", "/namespace/mine.example/x", nil, 404, ``},
		{"DELETE", "/namespace/mine.example", nil, 405, ``},

		// Creating in an owned namespace: the owner or the operator only; a first hit creates
		// nothing and answers as for a missing counter.
		{"POST", "/create/mine.example/intruder", nil, 401,
			`"namespace mine.example has an owner: creating a counter in it needs the namespace's key","code":"unauthorized"`},
		{"POST", "/create/mine.example/intruder", stranger, 403, `has an owner, and the key given is not the namespace's key","code":"forbidden"`},
		{"POST", "/create/mine.example/intruder", other, 403, `"code":"forbidden"`},
		{"GET", "/hit/mine.example/intruder", nil, 404,
			`"counter mine.example/intruder not found \(namespace mine.example has an owner, and only the owner creates counters in it\)",` +
				`"code":"not_found"`},
		{"GET", "/hit/mine.example/intruder/shield", nil, 404, `no such counter`},
		{"GET", "/get/mine.example/intruder", nil, 404, `"code":"not_found"`},
		{"POST", "/create/mine.example/home?initializer=100", owner, 201,
			`^\{"namespace":"mine.example","key":"home","value":100,"admin_key":"[A-Za-z0-9_-]{43}"\}\n$`},
		{"POST", "/create/mine.example/docs?initializer=7", operator, 201, `"key":"docs","value":7`},
		{"POST", "/create/mine.example/home", owner, 409, `"code":"conflict"`},
		// Unowned namespaces work as before, with any header or none.
		{"POST", "/create/open.example/page", nil, 201, `"key":"page"`},
		{"POST", "/create/open.example/page2", stranger, 201, `"key":"page2"`},
		{"POST", "/create/open.example/page3", []string{"Authorization", "garbage"}, 201, `"key":"page3"`},
		{"GET", "/hit/open.example/new", nil, 200, `^\{"value":1\}\n$`},

		// Existing counters of an owned namespace: public hits and reads; the namespace's key
		// opens every counter in it.
		{"GET", "/hit/mine.example/home", nil, 200, `^\{"value":101\}\n$`},
		{"GET", "/get/mine.example/docs", nil, 200, `^\{"value":7\}\n$`},
		{"POST", "/set/mine.example/docs?value=70", owner, 200, `^\{"value":70\}\n$`},
		{"POST", "/update/mine.example/home?value=-1", owner, 200, `^\{"value":100\}\n$`},
		{"POST", "/set/mine.example/docs?value=1", other, 403, `"code":"forbidden"`},
		{"POST", "/set/mine.example/docs?value=1", stranger, 403, `"code":"forbidden"`},
		{"POST", "/reset/mine.example/docs", nil, 401, needsKey},
		{"POST", "/set/open.example/page?value=5", other, 403, `"code":"forbidden"`},
		{"POST", "/settings/mine.example/home?repeat_window=30", owner, 200, `"repeat_window":30`},
		{"POST", "/settings/mine.example/home?repeat_window=0", other, 403, `"code":"forbidden"`},

		// Listing and export: the owner and the operator.
		{"GET", "/namespace/mine.example", owner, 200,
			`^\{"namespace":"mine.example","sort":"name","total":2,"offset":0,"limit":100,"counters":\[\{"key":"docs","value":70,` +
				`"created":"[0-9TZ:-]+","admin_key_set":true\},\{"key":"home","value":100,"created":"[0-9TZ:-]+","admin_key_set":true\}\],` +
				`"next_offset":null\}\n$`},
		{"GET", "/namespace/mine.example?sort=value&limit=1", owner, 200,
			`"sort":"value","total":2,"offset":0,"limit":1,"counters":\[\{"key":"home","value":100,.*"next_offset":1\}`},
		{"GET", "/namespace/mine.example?sort=value&limit=1&offset=1", operator, 200, `"counters":\[\{"key":"docs","value":70,.*"next_offset":null\}`},
		{"GET", "/namespace/mine.example/export", owner, 200,
			`^\{"namespace":"mine.example","key":"(docs|home)","value":(70|100),"created":"[0-9TZ:-]+","admin_key_sha256":"[0-9a-f]{64}"(,` +
				`"settings":\{[^}]*\})?\}\n\{"namespace":"mine.example","key":"(docs|home)",.*\}\n$`},
		{"GET", "/namespace/open.example/export", operator, 200, `"key":"page`},
		{"GET", "/namespace/empty.example", operator, 200, `"total":0,"offset":0,"limit":100,"counters":\[\],"next_offset":null`},
		{"GET", "/namespace/empty.example/export", operator, 200, `^$`},

		// Bad listing options.
		{"GET", "/namespace/mine.example?sort=random", owner, 400, `"sort must be \\"name\\" or \\"value\\"","code":"invalid"`},
		{"GET", "/namespace/mine.example?sort=name&sort=value", owner, 400, `given 2 times`},
		{"GET", "/namespace/mine.example?limit=0", owner, 200, `"limit":100`},
		{"GET", "/namespace/mine.example?limit=1001", owner, 400, `"limit must be between 1 and 1000"`},
		{"GET", "/namespace/mine.example?limit=99999999999999999999", owner, 400, `must be an integer`},
		{"GET", "/namespace/mine.example?limit=-9223372036854775808", owner, 400, `"limit must be between 1 and 1000"`},
		{"GET", "/namespace/mine.example?offset=-1", owner, 400, `"offset must be 0 or more"`},
		{"GET", "/namespace/mine.example?offset=9223372036854775807", owner, 200, `"counters":\[\],"next_offset":null`},
		{"GET", "/namespace/mine.example?limit=x", owner, 400, `"code":"invalid"`},
	})

	// Outsiders: no key 401, any other key the same 403 whether the namespace is owned by
	// another, unclaimed with counters, or unclaimed and empty.
	for _, ns := range []string{"mine.example", "open.example", "nobody.example"} {
		for _, path := range []string{"/namespace/" + ns, "/namespace/" + ns + "/export", "/namespace/" + ns + "?sort=value"} {
			ts.run(t, []call{
				{"GET", path, nil, 401, needsKey},
				{"GET", path, []string{"Authorization", "Bearer"}, 401, needsKey},
				{"GET", path, stranger, 403, notTheKey},
				{"GET", path, other, 403, notTheKey},
			})
		}
	}

	// A namespace that holds counters is the operator's to claim; its counters are then its
	// owner's, listed and opened by the new key.
	ts.run(t, []call{
		{"POST", "/namespace/open.example", nil, 403,
			`"namespace open.example holds counters that others created: only the operator can claim it","code":"forbidden"`},
		{"POST", "/namespace/open.example", stranger, 403, `"code":"forbidden"`},
	})
	resp, body := ts.do(t, "POST", "/namespace/open.example", operator...)
	var claimed claimedAnswer
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &claimed) != nil {
		t.Fatalf("the operator's claim: %d %q", resp.StatusCode, body)
	}
	ts.run(t, []call{
		{"GET", "/namespace/open.example", bearerHeader(claimed.AdminKey), 200, `"total":4,.*"key":"new","value":1,.*"key":"page"`},
		{"POST", "/delete/open.example/page2", bearerHeader(claimed.AdminKey), 200, `"counter open.example/page2 deleted"`},
		{"GET", "/namespace/open.example", bearerHeader(claimed.AdminKey), 200, `"total":3,`},
		{"GET", "/hit/open.example/another", nil, 404, `has an owner`},
	})
	checkStatusesDocumented(t, ts.metrics)
}

// A claim is a creation: it spends the client's create allowance, and once that is used up the
// claim is refused with 429 without claiming anything.
func TestNamespaceClaimUnderCreateLimit(t *testing.T) {
	ts := newNamespaceServer(t, counterOptions{createLimit: 2})
	ts.claimKey(t, "one.example")
	ts.run(t, []call{
		{"POST", "/create/one.example/page", nil, 401, `"code":"unauthorized"`},
		{"POST", "/namespace/two.example", nil, 429, `"code":"rate_limited"`},
		{"POST", "/namespace/two.example", []string{"X-Forwarded-For", "203.0.113.9"}, 429, `"code":"rate_limited"`},
	})
	if n := ts.redis.Int("EXISTS", redisstore.NamespaceKey("two.example")); n != 0 {
		t.Fatal("a claim refused by the create limit claimed the namespace")
	}
	checkStatusesDocumented(t, ts.metrics)
}

// An owner's export is an import file: into another service (where the operator claims the
// namespace again) it restores every counter, in the namespace's list, and the owner's own
// key of the new claim lists them; importing it twice changes nothing.
func TestNamespaceExportImports(t *testing.T) {
	from := newNamespaceServer(t, counterOptions{})
	key := bearerHeader(from.claimKey(t, "blog.example"))
	from.run(t, []call{
		{"POST", "/create/blog.example/first-post?initializer=41", key, 201, `"key":"first-post"`},
		{"POST", "/create/blog.example/second-post", key, 201, `"key":"second-post"`},
		{"POST", "/create/other.example/not-mine", nil, 201, `"key":"not-mine"`},
	})
	resp, export := from.do(t, "GET", "/namespace/blog.example/export", key...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" ||
		strings.Count(export, "\n") != 2 || strings.Contains(export, "not-mine") {
		t.Fatalf("export: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), export)
	}

	to := newNamespaceServer(t, counterOptions{})
	newKey := bearerHeader(to.claimKey(t, "blog.example"))
	operator := bearerHeader(testOperatorToken)
	for _, want := range []string{`{"created":2,"updated":0,"unchanged":0}`, `{"created":0,"updated":0,"unchanged":2}`} {
		resp, body := to.post(t, "/admin/import", export, operator...)
		if resp.StatusCode != 200 || body != want+"\n" {
			t.Fatalf("import: %d %q, want %s", resp.StatusCode, body, want)
		}
	}
	to.run(t, []call{
		{"GET", "/namespace/blog.example?sort=value", newKey, 200, `"total":2,.*\{"key":"first-post","value":41,.*\{"key":"second-post","value":0,`},
		{"POST", "/set/blog.example/second-post?value=3", newKey, 200, `^\{"value":3\}\n$`},
	})
}
