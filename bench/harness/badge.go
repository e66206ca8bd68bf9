package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/badge"
)

// The counting badge (issue #10): GET /hit/{ns}/{key}/shield on one key, each request with a
// User-Agent chosen at random among 1,000, beside GET / in the same rounds. A visitor is the
// client's address and user agent, so every hit records the day's count and adds one of 1,000
// visitors to the day's HyperLogLog, as a README badge's readers do.

// rowBadge is the counting badge's row.
const rowBadge = "hitcounter, counting badge one key"

// badgeGoal is issue #10's target: the counting badge at this share of GET /'s throughput, at
// process level, in the same run.
const badgeGoal = .6

// The badge row's counter is the next one after the /hit rows' (it is its own counter, so that
// its unique visitors are exactly its 1,000 user agents), and its user agents.
const (
	badgeKey    = hitKeys + 1
	badgeAgents = 1000
	// badgeAgentFormat is a browser's user agent of ordinary length with a number (%04d) that
	// makes each of the 1,000 its own visitor; the wrk script formats the same pattern.
	badgeAgentFormat = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 visitor/%04d"
	// badgeSamples is how many answers are checked one by one after the rounds.
	badgeSamples = 200
)

func badgeAgent(i int) string { return fmt.Sprintf(badgeAgentFormat, i) }

func badgePath() string { return hitPath(hitNamespace, badgeKey) + "/shield" }

// wrkBadgeScript is the badge row's wrk script: every request asks for the same path with a
// User-Agent chosen at random among N. As in wrkKeysScript the requests are formatted once per
// thread, so a request costs wrk one Lua call and one random number, the same as the /hit rows.
// The script has no response(): wrk would then parse every answer's headers and body in Lua,
// which would slow wrk and so this row; the answers are checked by a sample after the rounds.
const wrkBadgeScript = `-- written by bench/harness
local path, agent, n = %q, %q, %d
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
local reqs = {}
function init(args)
  math.randomseed(os.time() * 1009 + (thread_id or 0))
  for i = 1, n do
    reqs[i] = wrk.format("GET", path, {["User-Agent"] = string.format(agent, i - 1)})
  end
end
function request()
  return reqs[math.random(n)]
end
`

func (b *bench) writeBadgeScript() (string, error) {
	path := filepath.Join(b.work, "badge.lua")
	body := fmt.Sprintf(wrkBadgeScript, badgePath(), badgeAgentFormat, badgeAgents)
	return path, os.WriteFile(path, []byte(body), 0o644)
}

// badgeAnswer is one counting badge's answer, checked.
type badgeAnswer struct {
	count int64 // the number the badge shows
	size  int   // bytes of SVG
}

// getBadge asks for url with user agent agent and checks the answer: 200, an SVG
// (Content-Type image/svg+xml, a well-formed XML document whose root is <svg>) that is never
// cached, showing a number; it returns the number.
func getBadge(ctx context.Context, client *http.Client, url, agent string) (badgeAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return badgeAnswer{}, err
	}
	req.Header.Set("User-Agent", agent)
	resp, err := client.Do(req)
	if err != nil {
		return badgeAnswer{}, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return badgeAnswer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return badgeAnswer{}, fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" {
		return badgeAnswer{}, fmt.Errorf("GET %s: Content-Type %q, want image/svg+xml", url, ct)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		return badgeAnswer{}, fmt.Errorf("GET %s: Cache-Control %q: a counting badge must not be stored", url, cc)
	}
	root, texts, err := svgTexts(body)
	if err != nil {
		return badgeAnswer{}, fmt.Errorf("GET %s: not an SVG document (%w): %.80q", url, err, body)
	}
	if root != "svg" {
		return badgeAnswer{}, fmt.Errorf("GET %s: not an SVG document (root %q): %.80q", url, root, body)
	}
	// The badge's last text is its message: the total, as the default view shows it.
	if len(texts) == 0 {
		return badgeAnswer{}, fmt.Errorf("GET %s: the SVG has no text", url)
	}
	n, err := strconv.ParseInt(texts[len(texts)-1], 10, 64)
	if err != nil {
		return badgeAnswer{}, fmt.Errorf("GET %s: the badge says %q, want a number", url, texts[len(texts)-1])
	}
	return badgeAnswer{count: n, size: len(body)}, nil
}

// svgTexts parses an XML document and returns its root element's name and the contents of its
// <text> elements, in order.
func svgTexts(doc []byte) (root string, texts []string, err error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth, inText := 0, false
	var cur strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return root, texts, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = t.Name.Local
			}
			depth++
			if t.Name.Local == "text" {
				inText = true
				cur.Reset()
			}
		case xml.EndElement:
			depth--
			if t.Name.Local == "text" {
				inText = false
				texts = append(texts, strings.TrimSpace(cur.String()))
			}
		case xml.CharData:
			if inText {
				cur.Write(t)
			}
		}
	}
	if root == "" || depth != 0 {
		return root, texts, errors.New("not one complete element")
	}
	return root, texts, nil
}

// createBadgeCounter creates the badge row's counter by one untimed counting badge request
// (its first hit: the badge shows 1), with the first of the row's user agents.
func (b *bench) createBadgeCounter(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a, err := getBadge(ctx, http.DefaultClient, strings.TrimSuffix(base, "/")+badgePath(), badgeAgent(0))
	if err != nil {
		return fmt.Errorf("creating the badge row's counter: %w", err)
	}
	if a.count != 1 {
		return fmt.Errorf("creating the badge row's counter: its first badge shows %d, want 1 (a counter created by this hit)", a.count)
	}
	b.Metrics["badge_created_day"] = float64(time.Now().UTC().Unix() / 86400)
	return nil
}

// checkBadges is the badge row's check of its answers, after the rounds: badgeSamples counting
// badges one at a time, each with one of the row's user agents at random, must each be an SVG
// that is never cached and shows the next number of the counter (nothing else hits it now); and
// the day's unique visitors must be the row's 1,000 user agents, within HyperLogLog's error.
func (b *bench) checkBadges(ctx context.Context, base, redisAddr string) {
	base = strings.TrimSuffix(base, "/")
	count := namedCounter(redisAddr, hitNamespace, badgeKey, 1)
	before, err := count(ctx)
	if err != nil {
		b.fail("badge check: %v", err)
		return
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	size := 0
	for i := range badgeSamples {
		a, err := getBadge(ctx, client, base+badgePath(), badgeAgent(rand.IntN(badgeAgents)))
		if err == nil && a.count != before+int64(i)+1 {
			err = fmt.Errorf("badge %d of the sample shows %d, want %d", i+1, a.count, before+int64(i)+1)
		}
		if err != nil {
			b.fail("badge check: %v", err)
			return
		}
		size = a.size
	}
	b.Metrics["badge_sampled"] = badgeSamples
	b.Metrics["badge_svg_bytes"] = float64(size)
	logf("badge check ok: %d counting badges, each an SVG (%d bytes) with the next count", badgeSamples, size)
	b.measureRender(before + badgeSamples)

	// Today's unique visitors: the 1,000 user agents from one address, unless the day changed
	// since the counter was made (then today holds only the visitors since midnight).
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/stats/"+hitNamespace+"/"+hitKey(badgeKey)+"?days=1", nil)
	resp, err := client.Do(req)
	if err != nil {
		b.fail("badge check: reading the counter's stats: %v", err)
		return
	}
	defer resp.Body.Close()
	var st struct {
		Today struct {
			Hits    int64 `json:"hits"`
			Uniques int64 `json:"uniques"`
		} `json:"today"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		b.fail("badge check: reading the counter's stats: %d, %v", resp.StatusCode, err)
		return
	}
	b.Metrics["badge_uniques"] = float64(st.Today.Uniques)
	b.Metrics["badge_today_hits"] = float64(st.Today.Hits)
	if float64(time.Now().UTC().Unix()/86400) != b.Metrics["badge_created_day"] {
		logf("badge check: the UTC day changed during the run; today's %d unique visitors not checked", st.Today.Uniques)
		b.Metrics["badge_day_changed"] = 1
		return
	}
	// HyperLogLog's standard error in Redis is 0.81%; 3% is well outside it.
	if u := float64(st.Today.Uniques); u < badgeAgents*0.97 || u > badgeAgents*1.03 {
		b.fail("badge check: today's unique visitors are %d after hits from %d user agents (want within 3%%)", st.Today.Uniques, badgeAgents)
		return
	}
	logf("badge check ok: today %d hits, %d unique visitors (%d user agents)", st.Today.Hits, st.Today.Uniques, badgeAgents)
}

// badgeIntro says what the counting badge row measures and how it is checked.
func (b *bench) badgeIntro(m *md) {
	m.p("badge-1", rowBadge, badgePath(), num(badgeAgents), num(badgeAgents), num(badgeAgents))
	if sz := b.metric("badge_svg_bytes"); sz > 0 {
		m.w("default flat badge, an SVG of %s bytes, where the `/hit` rows answer `{\"value\":N}`.", num(sz))
	} else {
		m.w("default flat badge, an SVG, where the `/hit` rows answer `{\"value\":N}`.")
	}
	m.p("badge-2", num(badgeAgents), badgeSamples, num(badgeAgents))
	switch {
	case b.metric("badge_sampled") == 0:
		m.w("That sample was not taken in this run.")
	case b.metric("badge_day_changed") > 0:
		m.p("badge-3", b.metric("badge_sampled"), b.metric("badge_uniques"), num(badgeAgents))
	default:
		m.p("badge-4", b.metric("badge_sampled"), num(b.metric("badge_uniques")), num(badgeAgents), num(b.metric("badge_today_hits")))
	}
	m.w("")
}

// badgeAnalysis explains the counting badge's ratio to GET / from the cost figures.
func (b *bench) badgeAnalysis(m *md, cost map[string]map[int]runCost) {
	get64, get256 := b.rps("process", rowHC, 64), b.rps("process", rowHC, 256)
	badge64, badge256 := b.rps("process", rowBadge, 64), b.rps("process", rowBadge, 256)
	if badge64 == 0 && badge256 == 0 {
		return
	}
	x, okX := cost[rowBadge][64]
	g, okG := cost[rowHC][64]
	h, okH := cost[rowHitOne][64]
	met64, met256 := badge64 >= badgeGoal*get64, badge256 >= badgeGoal*get256
	verdict := "missed at both levels"
	switch {
	case met64 && met256:
		verdict = "met at both levels"
	case met64:
		verdict = "met at 64 connections, missed at 256"
	case met256:
		verdict = "met at 256 connections, missed at 64"
	}
	m.p("badge-5", pct(badge64, get64), pct(badge256, get256), 100*badgeGoal, verdict)
	if !okX || !okG {
		m.w("")
		return
	}
	m.p(
		"badge-6",
		batchOf(x, rowBadge),
		batchOf(g, rowHC),
		fmt.Sprintf("%.2f", callsPerRequest(x)),
		callsList(x),
		us(perRequest(x, x.RedisCPU)),
		us(perRequest(g, g.RedisCPU)),
	)
	fx, fg := perRequest(x, x.ServiceCPU), perRequest(g, g.ServiceCPU)
	m.w("At 64 connections the service spent %s of CPU per badge against %s per `GET /`", us(fx), us(fg))
	if okH && perRequest(h, h.ServiceCPU) > 0 {
		fh := perRequest(h, h.ServiceCPU)
		m.p("badge-7", us(fh), us(fx), usDiff(fh-fg), usDiff(fx-fh))
		if ns := b.metric("badge_render_ns"); ns > 0 && fx > fh {
			m.p("badge-8", ns/1000, b.metric("badge_render_allocs"), num(b.metric("badge_render_bytes")), pct(ns/1e9, fx-fh), usDiff(fx-fh))
		}
	} else {
		m.w("(the one-key `/hit` row, which would split that cost, did not run).")
	}
	// Per level: the ratio the service's CPU per request predicts, and what it says of a miss.
	pred := map[int]float64{}
	for _, c := range levels {
		xc, ok1 := cost[rowBadge][c]
		gc, ok2 := cost[rowHC][c]
		if ok1 && ok2 && perRequest(xc, xc.ServiceCPU) > 0 && perRequest(gc, gc.ServiceCPU) > 0 {
			pred[c] = perRequest(gc, gc.ServiceCPU) / perRequest(xc, xc.ServiceCPU)
		}
	}
	predPct := func(c int) string {
		if pred[c] == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f%%", 100*pred[c])
	}
	m.p("badge-9", predPct(64), predPct(256), pct(badge64, get64), pct(badge256, get256))
	met := map[int]bool{64: met64, 256: met256}
	var explained, unexplained []string
	for _, c := range levels {
		switch {
		case met[c] || pred[c] == 0:
		case pred[c] < badgeGoal:
			explained = append(explained, strconv.Itoa(c))
		default:
			unexplained = append(unexplained, strconv.Itoa(c))
		}
	}
	if len(explained) > 0 {
		redisCores := 0.0
		for _, c := range levels {
			if xc, ok := cost[rowBadge][c]; ok && xc.Seconds > 0 {
				redisCores = max(redisCores, xc.RedisCPU/xc.Seconds)
			}
		}
		var times []string
		for _, c := range explained {
			n, _ := strconv.Atoi(c)
			times = append(times, fmt.Sprintf("%.1fx at %d connections", 1/pred[n], n))
		}
		m.p("badge-10", strings.Join(explained, " and "), strings.Join(times, " and "), us(perRequest(x, x.RedisCPU)), redisCores)
	}
	if len(unexplained) > 0 {
		m.p("badge-11", strings.Join(unexplained, " and "))
	}
	if met64 && met256 {
		m.w("The service's CPU per badge, %.1fx a `GET /`'s at 64 connections, is what its margin depends on.", fx/fg)
	}
	m.w("")
}

// callsPerRequest is all of Redis's command calls during the runs per answered request.
func callsPerRequest(c runCost) float64 {
	var n int64
	for _, v := range c.Calls {
		n += v
	}
	return perRequest(c, float64(n))
}

// usDiff formats a difference in seconds as microseconds, with its sign when negative.
func usDiff(v float64) string {
	return fmt.Sprintf("%.0f µs", 1e6*v)
}

// measureRender times the service's drawing of the row's badge (internal/badge.Render, the
// default flat badge showing count) in this process, one goroutine, while the services are
// idle: how much of the badge's CPU per request the SVG itself is.
func (b *bench) measureRender(count int64) {
	opt := badge.Badge{Label: "hits", Message: strconv.FormatInt(count, 10), Color: "blue",
		LabelColor: badge.DefaultLabelColor, Style: badge.StyleFlat}
	if _, err := badge.Render(opt); err != nil {
		b.fail("badge.Render: %v", err)
		return
	}
	r := testing.Benchmark(func(tb *testing.B) {
		tb.ReportAllocs()
		for range tb.N {
			_, _ = badge.Render(opt)
		}
	})
	if r.N == 0 {
		return
	}
	b.Metrics["badge_render_ns"] = float64(r.NsPerOp())
	b.Metrics["badge_render_allocs"] = float64(r.AllocsPerOp())
	b.Metrics["badge_render_bytes"] = float64(r.AllocedBytesPerOp())
	logf("badge.Render: %s", r.String()+r.MemString())
}
