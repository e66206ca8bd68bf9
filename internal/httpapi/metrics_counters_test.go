package httpapi

import (
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The limit is there from the start; the count only once it has been counted, then follows.
func TestObserveCountersReportsCountAndLimit(t *testing.T) {
	m := NewMetrics("test")
	setCount := m.ObserveCounters(1000)

	const limitText = "# HELP hitcounter_counter_limit Most named counters that may exist (COUNTER_LIMIT); 0: no limit.\n" +
		"# TYPE hitcounter_counter_limit gauge\nhitcounter_counter_limit 1000\n"
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(limitText), "hitcounter_counter_limit", "hitcounter_counters"); err != nil {
		t.Errorf("before the first count: %v", err)
	}
	for _, n := range []int64{7, 5} {
		setCount(n)
		countText := "# HELP hitcounter_counters Named counters in Redis when last counted (every few seconds, by each replica).\n" +
			"# TYPE hitcounter_counters gauge\nhitcounter_counters " + strconv.FormatInt(n, 10) + "\n"
		if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(limitText+countText), "hitcounter_counter_limit", "hitcounter_counters"); err != nil {
			t.Errorf("after counting %d: %v", n, err)
		}
	}
}

// Every limit is exported at 0 before it first refuses anything, so that rate() sees the first
// refusal and the dashboard's panel by limit draws from the start.
func TestRateLimitedStartsAtZeroForEveryLimit(t *testing.T) {
	m := NewMetrics("test")
	want := "# HELP hitcounter_rate_limited_total Requests refused with 429 by the service, by limit (hits, creates, creates_per_day, reads, streams).\n" +
		"# TYPE hitcounter_rate_limited_total counter\n"
	// The names as the alerts, the dashboard and docs/api.md spell them, not counter.LimitNames:
	// a renamed limit must fail here.
	for _, limit := range []string{"creates", "creates_per_day", "hits", "reads", "streams"} {
		want += `hitcounter_rate_limited_total{limit="` + limit + `"} 0` + "\n"
	}
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "hitcounter_rate_limited_total"); err != nil {
		t.Error(err)
	}
}
