package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// counterFunc reads the counter a run moves; nil when a row has none (the ceiling).
type counterFunc func(context.Context) (int64, error)

// row is one closed-loop wrk run.
type row struct {
	Level, Name string
	Conns       int
	RPS         float64
	P50, P99    string
	Check       string // "-" when the row counts nothing
	Failed      bool
	OK          int64 `json:",omitempty"` // 2xx answers
}

// wrkResult is what the harness reads from wrk's report.
type wrkResult struct {
	rps           float64
	p50, p99      string
	total, non2xx int64
	socketErrors  int64
}

func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveRPS, haveTotal bool
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk: %q: %w", line, err)
			}
			r.rps, haveRPS = v, true
		case len(f) >= 2 && f[0] == "50%":
			r.p50 = f[1]
		case len(f) >= 2 && f[0] == "99%":
			r.p99 = f[1]
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			v, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk: %q: %w", line, err)
			}
			r.total, haveTotal = v, true
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx"):
			v, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk: %q: %w", line, err)
			}
			r.non2xx = v
		case strings.HasPrefix(strings.TrimSpace(line), "Socket errors:"):
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 3; i < len(f); i += 2 {
				v, _ := strconv.ParseInt(strings.TrimSuffix(f[i], ","), 10, 64)
				r.socketErrors += v
			}
		}
	}
	if !haveRPS || !haveTotal {
		return r, fmt.Errorf("wrk printed no result: %q", out)
	}
	return r, nil
}

// settled reads the counter until two readings 100 ms apart agree (at most 5 s): the visits
// wrk left in flight are still being written when it exits, and must land in this run's
// reading, not in the next run's "before".
func settled(ctx context.Context, count counterFunc) (int64, error) {
	last, err := count(ctx)
	if err != nil {
		return 0, err
	}
	for range 50 {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		v, err := count(ctx)
		if err != nil {
			return 0, err
		}
		if v == last {
			return v, nil
		}
		last = v
	}
	return last, nil
}

// wrkRun runs wrk for the configured duration against url, as a stack row (no cost recorded).
func (b *bench) wrkRun(ctx context.Context, level, name, url string, conns int, count counterFunc) (row, error) {
	return b.runRow(ctx, level, processRow{name: name, url: url, count: count}, conns)
}

// runRow is the one runner: wrk for the configured duration against r.url (with r.script, when
// set) and, when r.count is given, the check that the counter moved by the 2xx answers: at
// least that, and at most one more per failed request and per connection (wrk stops with
// requests in flight, which the server still counts). When r.redis is set it also records what
// the run cost Redis and the service, read right before wrk starts and right after it ends: the
// harness' own readings of the counter are outside them.
func (b *bench) runRow(ctx context.Context, level string, pr processRow, conns int) (row, error) {
	name := pr.name
	var before, after int64
	var err error
	if pr.count != nil {
		if before, err = pr.count(ctx); err != nil {
			return row{}, fmt.Errorf("%s: counter before: %w", name, err)
		}
	}
	args := []string{"-t" + strconv.Itoa(b.Threads), "-c" + strconv.Itoa(conns), "-d" + b.DurationArg, "--latency"}
	if pr.script != "" {
		args = append(args, "-s", pr.script)
	}
	var cost *costReading
	if pr.redis != "" {
		if cost, err = startCost(pr); err != nil {
			return row{}, err
		}
	}
	out, err := output(ctx, b.duration+time.Minute, "", nil, "wrk", append(args, pr.url)...)
	if err != nil {
		return row{}, err
	}
	var c runCost
	if cost != nil {
		if c, err = cost.end(pr, conns); err != nil {
			return row{}, err
		}
	}
	if pr.count != nil {
		if after, err = settled(ctx, pr.count); err != nil {
			return row{}, fmt.Errorf("%s: counter after: %w", name, err)
		}
	}
	w, err := parseWrk(out)
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", name, err)
	}
	r := row{Level: level, Name: name, Conns: conns, RPS: w.rps, P50: w.p50, P99: w.p99, Check: "-", OK: w.total - w.non2xx}
	if pr.count != nil {
		// 2xx ≤ growth ≤ 2xx + failed + in flight: every answered visit was counted, and a visit
		// that failed (503 when Redis is slower than REDIS_TIMEOUT) may have been counted too.
		delta, ok := after-before, w.total-w.non2xx
		failed := w.non2xx + w.socketErrors
		switch {
		case delta < ok || delta > ok+failed+int64(conns):
			r.Failed = true
			r.Check = fmt.Sprintf("FAILED: %d 2xx, counter +%d, %d non-2xx, %d socket errors", ok, delta, w.non2xx, w.socketErrors)
		case failed > 0:
			r.Check = fmt.Sprintf("%d 2xx, counter +%d, %d non-2xx, %d socket errors", ok, delta, w.non2xx, w.socketErrors)
		default:
			r.Check = fmt.Sprintf("%d 2xx, counter +%d", ok, delta)
		}
	}
	b.Rows = append(b.Rows, r)
	if cost != nil {
		c.OK = r.OK
		b.Costs = append(b.Costs, c)
	}
	if r.Failed {
		b.fail("%s %s c=%d: %s", level, name, conns, r.Check)
	}
	logf("%-7s %-44s c=%-4d %10.0f req/s  p50 %-8s p99 %-8s %s", level, name, conns, r.RPS, r.P50, r.P99, r.Check)
	return r, nil
}
