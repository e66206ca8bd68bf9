package main

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

func (b *bench) baselineName() string {
	if b.Baseline == "" {
		return "none"
	}
	return b.Baseline
}

// summary has, for every (level, name, connections), the run with the median req/s of its
// rounds, in the order the rows first appeared. The median, not the best: on a shared machine
// a calm moment lifts whichever row happens to run in it, and noise goes both ways.
func (b *bench) summary() []row {
	var keys []row
	groups := map[[3]string][]row{}
	for _, r := range b.Rows {
		k := [3]string{r.Level, r.Name, fmt.Sprint(r.Conns)}
		if _, ok := groups[k]; !ok {
			keys = append(keys, r)
		}
		groups[k] = append(groups[k], r)
	}
	var out []row
	for _, key := range keys {
		g := slices.Clone(groups[[3]string{key.Level, key.Name, fmt.Sprint(key.Conns)}])
		slices.SortFunc(g, func(x, y row) int { return cmp.Compare(x.RPS, y.RPS) })
		out = append(out, g[(len(g)-1)/2])
	}
	return out
}

func (b *bench) rps(level, name string, conns int) float64 {
	for _, r := range b.summary() {
		if r.Level == level && r.Name == name && r.Conns == conns {
			return r.RPS
		}
	}
	return 0
}

// clientMedian is the median of the rounds of one clientcmp measurement.
func (b *bench) clientMedian(group, name string, clients int) float64 {
	var v []float64
	for _, r := range b.Clients {
		if r.Group == group && r.Name == name && r.Clients == clients {
			v = append(v, r.Ops)
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[(len(v)-1)/2]
}

// clientRounds is how many rounds clientcmp ran.
func (b *bench) clientRounds() int {
	n := 0
	for _, r := range b.Clients {
		n = max(n, r.Round)
	}
	return n
}

type md struct{ strings.Builder }

// w writes one line: formatted when there are args, verbatim when there are none.
func (m *md) w(format string, args ...any) {
	if len(args) == 0 {
		m.WriteString(format + "\n")
		return
	}
	fmt.Fprintf(&m.Builder, format+"\n", args...)
}

// num formats a figure with thousands separators, or "n/a" when it was not measured.
func num(v float64) string {
	if v == 0 {
		return "n/a"
	}
	s := fmt.Sprintf("%.0f", v)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func pct(a, b float64) string {
	if a == 0 || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*a/b)
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// mark says whether value met goal; missing figures are "not measured".
func mark(value, goal float64, text string, lowerIsBetter bool) string {
	if value == 0 {
		return "not measured"
	}
	met := value >= goal
	if lowerIsBetter {
		met = value <= goal
	}
	if met {
		return text + " met"
	}
	return text + " **missed**"
}

func (b *bench) metric(name string) float64 { return b.Metrics[name] }

// fig formats a metric with one decimal, or "n/a" when it was not measured.
func (b *bench) fig(name string) string {
	if v := b.metric(name); v > 0 {
		return fmt.Sprintf("%.1f", v)
	}
	return "n/a"
}

func (b *bench) report() error {
	ceiling := map[int]float64{}
	for _, c := range levels {
		ceiling[c] = b.rps("process", rowCeiling, c)
	}

	var m md
	m.p(
		"report-1",
		b.Started.UTC().Format("2006-01-02 15:04 UTC"),
		b.Commit,
		runtime.NumCPU(),
		b.GoVersion,
		b.RedisVersion,
		b.DockerVersion,
		b.LoadAtStart,
		b.LoadAtEnd,
		runtime.NumCPU(),
		b.Threads,
		b.DurationArg,
		b.Rounds,
	)
	if !b.Stack {
		m.w("- **stack level not measured in this run** (`BENCH_STACK=0`, or `BENCH_ROWS` without `BENCH_STACK=1`).")
	}
	if b.OnlyRows != nil {
		m.p("report-2", strings.Join(b.OnlyRows, ","))
	}
	m.p("report-3", filepath.Base(b.chartPath()))
	b.writeTargets(&m)
	m.p("report-4")

	m.p("report-5")
	for _, r := range b.summary() {
		ceil := ceiling[r.Conns]
		if ceil == 0 {
			ceil = ceiling[64]
		}
		m.w("| %s | %s | %d | %s | %s | %s | %s | %s |", r.Level, r.Name, r.Conns, num(r.RPS), pct(r.RPS, ceil), r.P50, r.P99, r.Check)
	}
	m.p("report-6", rowBaseline, b.baselineName())
	for _, e := range b.Exact {
		m.p("report-7", e.Name, e.Requests, e.OK, e.Other+e.Errors, e.Duplicates, e.MinCount, e.MaxCount, e.Delta, num(e.RPS), e.P50ms, e.P99ms)
	}

	b.namedSection(&m, ceiling)
	b.scalingSection(&m)
	b.memorySection(&m)

	m.p("report-8")
	if l := b.Latency; l != nil {
		m.p("report-9", l.Rate, b.VegetaDuration, l.Requests, l.OK, l.Delta, l.P50, l.P99, l.P999, l.Max)
	} else {
		m.w("Not measured in this run.")
	}
	m.w("")

	m.p("report-10")
	mb := b.fig
	m.p(
		"report-11",
		mb("web_rss_idle_mb"),
		mb("web_rss_load_mb"),
		mb("web_cpu_ms_per_1000"),
		mb("web_image_mb"),
		mb("redis_image_mb"),
		mb("lb_image_mb"),
		mb("start_to_ready_ms"),
		mb("compose_up_seconds"),
	)
	b.memoryResourceRow(&m)
	m.w("")

	m.p("report-12", rowStack3)
	for _, s := range b.CPUShare {
		m.w("| %s | %.0f%% |", s.Name, 100*s.Share)
	}
	if len(b.CPUShare) == 0 {
		m.w("| not measured | |")
	}
	m.p("report-13")

	m.p("report-14")
	for _, c := range levels {
		incr, coal := b.rps("process", rowMinIncr, c), b.rps("process", rowMinCoal, c)
		m.w(
			"| %d | %s req/s (%s of ceiling) | %s req/s (%s of ceiling) | %s |",
			c,
			num(incr),
			pct(incr, ceiling[c]),
			num(coal),
			pct(coal, ceiling[c]),
			ratio(coal, incr),
		)
	}
	m.p("report-15", b.ClientDuration, b.clientRounds())
	for _, s := range []struct{ label, group, name string }{
		{"INCR per visit", "store", "INCR per visit"},
		{"coalesce-1", "store", "coalesce-1"},
		{"coalesce-2", "store", "coalesce-2"},
		{"coalesce-4 (as shipped)", "coalesced", "rueidis"},
	} {
		m.w("| %s | %s | %s |", s.label, num(b.clientMedian(s.group, s.name, 64)), num(b.clientMedian(s.group, s.name, 256)))
	}
	m.p("report-16")

	m.p("report-17", num(b.metric("redis_incr_p1")), num(b.metric("redis_incr_p16")))

	m.p("report-18", b.ClientDuration, b.clientRounds())
	for _, c := range levels {
		g, r := b.rps("process", rowMinGoRed, c), b.rps("process", rowMinCoal, c)
		m.w("| HTTP, `GET /` | %d connections | %s req/s | %s req/s | %s |", c, num(g), num(r), ratio(r, g))
	}
	for _, c := range levels {
		g, r := b.clientMedian("coalesced", "go-redis", c), b.clientMedian("coalesced", "rueidis", c)
		m.w("| counter only | %d goroutines | %s visits/s | %s visits/s | %s |", c, num(g), num(r), ratio(r, g))
	}
	m.p("report-19")
	for _, c := range levels {
		g, r := b.clientMedian("incr", "go-redis", c), b.clientMedian("incr", "rueidis", c)
		m.w("| %d | %s | %s | %s |", c, num(g), num(r), ratio(r, g))
	}
	m.p("report-20")

	m.p("report-21")
	analysis, err := os.ReadFile(filepath.Join(b.root, "docs", "benchmarks-analysis.md"))
	if err != nil {
		return fmt.Errorf("docs/benchmarks-analysis.md: %w", err)
	}
	m.w("%s", strings.TrimSpace(string(analysis)))
	return os.WriteFile(b.out, []byte(m.String()), 0o644)
}

func (b *bench) chartPath() string { return filepath.Join(filepath.Dir(b.out), "benchmarks.png") }

// chart draws req/s by configuration, 64 and 256 connections side by side, with gnuplot.
func (b *bench) chart(ctx context.Context) error {
	var names [][2]string
	seen := map[string]bool{}
	for _, r := range b.summary() {
		k := r.Level + ": " + r.Name
		if !seen[k] {
			seen[k] = true
			names = append(names, [2]string{r.Level, r.Name})
		}
	}
	var data strings.Builder
	for _, n := range names {
		label := strings.ReplaceAll(n[0]+": "+n[1], "hitcounter", "hc")
		label = strings.ReplaceAll(label, `"`, "'")
		fmt.Fprintf(&data, "\"%s\"\t%.0f\t%.0f\n", label, b.rps(n[0], n[1], 64), b.rps(n[0], n[1], 256))
	}
	dat := filepath.Join(b.work, "chart.dat")
	if err := os.WriteFile(dat, []byte(data.String()), 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf(`set terminal pngcairo size 1200,720 font "sans,10"
set output %q
set title "hitcounter: requests per second (wrk, loopback, %d cores; higher is better; run %s)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set xtics rotate by -35 nomirror
set key top right
set bmargin 14
set rmargin 20
plot %q using 2:xtic(1) title "64 connections", "" using 3 title "256 connections"
`, b.chartPath(), runtime.NumCPU(), b.Started.UTC().Format("2006-01-02"), dat)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	scriptPath := filepath.Join(b.work, "chart.gp")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		return err
	}
	_, err := output(ctx, time.Minute, b.root, nil, "gnuplot", scriptPath)
	return err
}

// prose is the report's fixed text, kept apart from the code that measures and computes so
// that each reads as what it is: prose.md's blocks, by name.
//
//go:embed prose.md
var proseFile string

var prose = func() map[string]string {
	blocks := map[string]string{}
	name := ""
	for _, line := range strings.SplitAfter(proseFile, "\n") {
		if h, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "-- "); ok && strings.HasSuffix(h, " --") {
			name = strings.TrimSuffix(h, " --")
			continue
		}
		if name != "" {
			blocks[name] += line
		}
	}
	return blocks
}()

// p writes prose block name: formatted with args when there are any, verbatim otherwise.
func (m *md) p(name string, args ...any) {
	text, ok := prose[name]
	if !ok {
		panic("prose.md has no block " + name)
	}
	if len(args) > 0 {
		text = fmt.Sprintf(text, args...)
	}
	m.WriteString(text)
}
