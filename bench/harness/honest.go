package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hitcounter/hitcounter/internal/redistest"
)

// Honest counts (issue #17): /hit over the 10,000 keys with a visitor of its own on every request
// (so every hit is a new visitor, the worst case of a repeat window: each one counts and writes
// its mark), a browser's user agent (read whole by the crawler check), with and without a
// 30-minute repeat window on the counters, side by side in the same rounds. Both rows run on one
// service that believes X-Forwarded-For from 127.0.0.1 (so that wrk can be many visitors) with
// no hit limit (so that a million clients are not a million leases).

const (
	rowHitVisitors = "hitcounter, /hit 10,000 keys, a new visitor each"
	rowHitWindow   = "hitcounter, /hit 10,000 keys, a new visitor each, 30-min repeat window"
	// windowNamespace holds the window row's counters, keys 1..hitKeys like the others'.
	windowNamespace = "benchmark-win"
	windowSeconds   = 1800
	// browserAgent is the user agent of both rows: a full-length Chrome one, no crawler.
	browserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

// visitorsEnv is the honest-count rows' service.
var visitorsEnv = []string{"RATE_LIMIT_HITS=0", "RATE_LIMIT_CREATES=0", "COUNTER_LIMIT=0", "RATE_LIMIT_READS=1000000000", "TRUSTED_PROXIES=127.0.0.1"}

// wrkVisitorsScript asks for /hit/NS/KEY with a random key among FIRST..FIRST+N-1, from the
// address in X-Forwarded-For: an IPv6 /64 of its own per request (thread, then a sequence from a
// random start, so that no two runs share visitors), which the service counts as one client.
const wrkVisitorsScript = `-- written by bench/harness
local ns, first, n, agent = %q, %d, %d, %q
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
local paths = {}
local seq
function init(args)
  math.randomseed(os.time() * 1009 + (thread_id or 0))
  seq = math.random(0, 2147483647)
  for i = 1, n do
    paths[i] = string.format("/hit/%%s/%s", ns, first + i - 1)
  end
end
function request()
  seq = seq + 1
  local xff = string.format("2001:%%x:%%x:%%x::1", thread_id or 0, math.floor(seq / 65536) %% 65536, seq %% 65536)
  return wrk.format("GET", paths[math.random(n)], {["X-Forwarded-For"] = xff, ["User-Agent"] = agent})
end
`

func (b *bench) writeVisitorsScript(ns string) (string, error) {
	path := filepath.Join(b.work, "visitors-"+ns+".lua")
	body := fmt.Sprintf(wrkVisitorsScript, ns, 1, hitKeys, browserAgent, hitKeyFormat)
	return path, os.WriteFile(path, []byte(body), 0o644)
}

// windowScript gives the counters ARGV[1]/key(ARGV[3]..ARGV[4]) a repeat window of ARGV[5]
// seconds, the field POST /settings writes (the bench's counters have no admin key).
const windowScript = `for i = tonumber(ARGV[3]), tonumber(ARGV[4]) do
  redis.call('HSET', 'hitcounter:c:{' .. ARGV[1] .. '/' .. string.format(ARGV[2], i) .. '}', 'w', ARGV[5])
end
return 'OK'`

// honestRows is the service of the honest-count rows and their wrk scripts.
type honestRows struct {
	url, plainScript, windowScript string
	pid                            int
}

// startHonest starts the rows' service and makes the window row's counters: first hits, then
// their window; the service reads a counter's settings again within 10 s, before any timed
// run. Every request is a new visitor, so every hit counts in both rows, and the counters must
// grow by exactly the 2xx answers, as in every other row.
func (b *bench) startHonest(ctx context.Context, redisAddr string) (h honestRows, err error) {
	if h.url, err = b.startHitcounter(ctx, redisAddr, visitorsEnv...); err != nil {
		return h, err
	}
	h.pid = b.procs.lastPid()
	logf("creating the window row's %d counters", hitKeys)
	paths := make([]string, 0, hitKeys)
	for i := 1; i <= hitKeys; i++ {
		paths = append(paths, hitPath(windowNamespace, i))
	}
	if err := drive(ctx, strings.TrimSuffix(h.url, "/"), http.MethodGet, paths, 64, http.StatusOK, firstHit); err != nil {
		return h, fmt.Errorf("creating the window row's counters: %w", err)
	}
	if _, err := redistest.Do(
		redisAddr,
		"EVAL",
		windowScript,
		"0",
		windowNamespace,
		hitKeyFormat,
		"1",
		strconv.Itoa(hitKeys),
		strconv.Itoa(windowSeconds),
	); err != nil {
		return h, fmt.Errorf("setting the window: %w", err)
	}
	if h.plainScript, err = b.writeVisitorsScript(hitNamespace); err != nil {
		return h, err
	}
	h.windowScript, err = b.writeVisitorsScript(windowNamespace)
	return h, err
}
