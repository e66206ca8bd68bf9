package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
)

// root is the repository's root, seen from this package's directory (where go test runs).
const root = ".."

func readShipped(t *testing.T) *Dashboard {
	t.Helper()
	d, err := ReadDashboard(filepath.Join(root, DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The dashboard works in any Grafana (the chart's ConfigMap goes to Grafanas whose Prometheus
// has another uid): every panel and query asks the data source the "datasource" variable
// names. Its queries run as written: Grafana would substitute variables and the end-to-end
// test sends the text as it is, so there are none in them.
func TestDashboardIsWellFormed(t *testing.T) {
	d := readShipped(t)
	if d.UID != "hitcounter" || d.Title == "" {
		t.Errorf("uid %q, title %q; want uid hitcounter and a title", d.UID, d.Title)
	}
	if !slices.Contains(d.Templating.List, Variable{Name: "datasource", Type: "datasource", Query: "prometheus"}) {
		t.Errorf("templating %+v has no datasource variable of type prometheus", d.Templating.List)
	}
	viaVariable := Datasource{Type: "prometheus", UID: "${datasource}"}
	ids := map[int]string{}
	panels := d.AllPanels()
	if len(panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	for _, p := range panels {
		if other, ok := ids[p.ID]; ok || p.ID <= 0 {
			t.Errorf("panel %q: id %d is not positive or is also %q's", p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
			t.Errorf("panel %q: gridPos %+v is outside Grafana's 24 columns", p.Title, g)
		}
		if p.Datasource == nil || *p.Datasource != viaVariable {
			t.Errorf("panel %q: datasource %+v, want %+v", p.Title, p.Datasource, viaVariable)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.RefID == "" || refs[q.RefID] {
				t.Errorf("panel %q: refId %q is empty or used twice", p.Title, q.RefID)
			}
			refs[q.RefID] = true
			if strings.TrimSpace(q.Expr) == "" || strings.Contains(q.Expr, "$") {
				t.Errorf("panel %q %s: expr %q is empty or has a Grafana variable", p.Title, q.RefID, q.Expr)
			}
			if q.Datasource == nil || *q.Datasource != viaVariable {
				t.Errorf("panel %q %s: datasource %+v, want %+v", p.Title, q.RefID, q.Datasource, viaVariable)
			}
		}
	}
}

// What issue #18 asks the dashboard to show, each by the metric that shows it.
func TestDashboardShowsWhatAnOperatorNeeds(t *testing.T) {
	d := readShipped(t)
	cases := []struct {
		panel string
		want  []string // each in one of the panel's queries
	}{
		{"Requests per second by route", []string{"sum by (route) (rate(hitcounter_http_requests_total"}},
		{"5xx ratio", []string{`hitcounter_http_requests_total{code=~"5.."}`}},
		{"Latency p50 and p99", []string{"histogram_quantile(0.5,", "histogram_quantile(0.99,"}},
		{"Replicas up", []string{"hitcounter_build_info"}},
		{"Redis memory and maxmemory", []string{"redis_memory_used_bytes", "redis_memory_max_bytes"}},
		{"Rate-limited requests per second by limit", []string{"sum by (limit) (rate(hitcounter_rate_limited_total"}},
		{"Counters and COUNTER_LIMIT", []string{"hitcounter_counters", "hitcounter_counter_limit"}},
		{"Hits and visits per second", []string{"hitcounter_counter_hits_total", "hitcounter_visits_total"}},
	}
	for _, c := range cases {
		var exprs []string
		for _, q := range d.Queries() {
			if q.Panel == c.panel {
				exprs = append(exprs, q.Expr)
			}
		}
		if len(exprs) == 0 {
			t.Errorf("no panel %q", c.panel)
			continue
		}
		all := strings.Join(exprs, "\n")
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("panel %q: got queries\n%s\nwant one with %q", c.panel, all, w)
			}
		}
	}
}

// Queries walks rows' folded panels too, and keeps the panels' order.
func TestQueriesIncludesRowsPanels(t *testing.T) {
	const dashboard = `{"panels": [
		{"id": 1, "type": "stat", "title": "top", "targets": [{"refId": "A", "expr": "up"}]},
		{"id": 2, "type": "row", "title": "folded", "panels": [
			{"id": 3, "type": "timeseries", "title": "inner", "targets": [{"refId": "A", "expr": "a"}, {"refId": "B", "expr": "b"}]}
		]},
		{"id": 4, "type": "text", "title": "no query"}
	]}`
	file := filepath.Join(t.TempDir(), "d.json")
	if err := os.WriteFile(file, []byte(dashboard), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := ReadDashboard(file)
	if err != nil {
		t.Fatal(err)
	}
	got := d.Queries()
	want := []Query{{"top", "A", "up"}, {"inner", "A", "a"}, {"inner", "B", "b"}}
	if !slices.Equal(got, want) {
		t.Errorf("Queries() = %v, want %v", got, want)
	}
}

// needTool skips a test whose tool is missing on a developer's machine, and fails it in CI and
// under make (HITCOUNTER_E2E=1), as the end-to-end tests do.
func needTool(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "" && os.Getenv("HITCOUNTER_E2E") != "1" {
		t.Skipf("SKIPPED (CI and HITCOUNTER_E2E=1 make this a failure): %v", err)
	}
	t.Fatal(err)
}

// prometheusImage is the Prometheus image the monitoring profile runs, as compose.yaml pins it.
func prometheusImage(t *testing.T) string {
	t.Helper()
	compose, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+image: (prom/prometheus:\S+)$`).FindSubmatch(compose)
	if m == nil {
		t.Fatal("compose.yaml names no prom/prometheus image")
	}
	return string(m[1])
}

// Every query is PromQL that the pinned Prometheus parses: promtool checks them as the
// expressions of recording rules (a file of rules is the one way promtool reads PromQL offline),
// and must find as many as the dashboard has.
func TestDashboardQueriesArePromQL(t *testing.T) {
	needTool(t, testkit.CheckDocker())
	queries := readShipped(t).Queries()
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	for i, q := range queries {
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: q.Expr})
	}
	// JSON is YAML: promtool reads it as a rule file.
	file, err := json.MarshalIndent(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Readable by the image's user (nobody), as the mount is.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dashboard.yml"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := testkit.Run(2*time.Minute, nil, "docker", "run", "--rm", "--network", "none", "--entrypoint", "promtool",
		"-v", dir+":/check:ro", prometheusImage(t), "check", "rules", "/check/dashboard.yml")
	if err != nil {
		t.Fatalf("promtool check rules on the dashboard's %d queries: %v\n%s\n%s", len(queries), err, out, file)
	}
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(queries)); !strings.Contains(out, want) {
		t.Errorf("promtool says\n%s\nwant %q", out, want)
	}
	t.Logf("promtool: the dashboard's %d queries are PromQL", len(queries))
}
