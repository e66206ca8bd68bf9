package monitoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
)

var chartDir = filepath.Join(root, "deploy", "helm", "hitcounter")

// helmTemplate renders the chart with `helm template` (no cluster) and the given --set values.
func helmTemplate(t *testing.T, sets ...string) (string, error) {
	t.Helper()
	args := []string{"template", "r", chartDir}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return runHelm(t, args...)
}

func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	helm, err := findHelm()
	needTool(t, err)
	return testkit.Run(time.Minute, nil, helm, args...)
}

// findHelm is the Helm that make prepare built for the test cluster (scripts/k8s/build-binaries.sh,
// cached by the version scripts/versions.env pins), or else one on PATH: so the tests find it
// however they are started, go test ./... included.
func findHelm() (string, error) {
	pins, err := os.ReadFile(filepath.Join(root, "scripts", "versions.env"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^HELM_VERSION=(\S+)$`).FindSubmatch(pins)
	if m == nil {
		return "", errors.New("scripts/versions.env pins no HELM_VERSION")
	}
	cache := os.Getenv("HITCOUNTER_CACHE")
	if cache == "" {
		cache = "/var/cache/hitcounter"
	}
	cached := filepath.Join(cache, "k8s-helm-"+string(m[1]), "helm")
	if info, err := os.Stat(cached); err == nil && info.Mode()&0o111 != 0 {
		return cached, nil
	}
	helm, err := exec.LookPath("helm")
	if err != nil {
		return "", fmt.Errorf("no Helm in %s nor on PATH (make prepare builds it): %w", cached, err)
	}
	return helm, nil
}

// renderedDoc is the one document of kind and name in helm template's output ("" if none).
func renderedDoc(t *testing.T, out, kind, name string) string {
	t.Helper()
	var found []string
	for _, doc := range regexp.MustCompile(`(?m)^---\n`).Split(out, -1) {
		if strings.Contains(doc, "\nkind: "+kind+"\n") && strings.Contains(doc, "\n  name: "+name+"\n") {
			found = append(found, doc)
		}
	}
	if len(found) > 1 {
		t.Fatalf("%d documents of kind %s named %s", len(found), kind, name)
	}
	if len(found) == 0 {
		return ""
	}
	return found[0]
}

// block is the text under a line (key, exactly) of doc: the lines after it indented deeper
// than the key, with that indentation removed. Blank lines stay, as a YAML block keeps them.
func block(t *testing.T, doc, key string) string {
	t.Helper()
	lines := strings.Split(doc, "\n")
	start := -1
	for i, l := range lines {
		if l == key {
			start = i + 1
			break
		}
	}
	if start < 0 {
		t.Fatalf("no line %q in\n%s", key, doc)
	}
	depth := len(key) - len(strings.TrimLeft(key, " ")) + 2
	prefix := strings.Repeat(" ", depth)
	var out []string
	for _, l := range lines[start:] {
		if strings.TrimSpace(l) == "" {
			out = append(out, "")
			continue
		}
		if !strings.HasPrefix(l, prefix) {
			break
		}
		out = append(out, l[depth:])
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The chart ships the rules and the dashboard from its files/, the copies Compose mounts:
// the PrometheusRule's spec is the rules file (its job names replaced when asked), the
// ConfigMap's hitcounter.json is the dashboard, byte for byte; both only when enabled.
func TestChartShipsRulesAndDashboard(t *testing.T) {
	rules := readFile(t, filepath.Join(chartDir, "files", "prometheus-rules.yml"))
	dashboard := readFile(t, filepath.Join(root, DashboardFile))
	cases := []struct {
		name      string
		sets      []string
		wantRules string // the PrometheusRule's spec; "": no PrometheusRule
		wantLabel string // a label line the PrometheusRule must carry
		wantDash  bool   // the dashboard's ConfigMap
	}{
		{name: "defaults: neither"},
		{
			name:      "PrometheusRule",
			sets:      []string{"monitoring.prometheusRule.enabled=true"},
			wantRules: rules,
			wantLabel: "    app.kubernetes.io/component: monitoring\n",
		},
		{
			name: "PrometheusRule with the jobs of a PodMonitor",
			sets: []string{"monitoring.prometheusRule.enabled=true", "monitoring.prometheusRule.jobs.web=hc/hitcounter-web",
				"monitoring.prometheusRule.jobs.redis=monitoring/redis-exporter", "monitoring.prometheusRule.labels.release=kps"},
			wantRules: strings.NewReplacer(`job="web"`, `job="hc/hitcounter-web"`, `job="redis"`, `job="monitoring/redis-exporter"`).Replace(rules),
			wantLabel: "    release: kps\n",
		},
		{
			name:     "dashboard",
			sets:     []string{"monitoring.grafanaDashboard.enabled=true"},
			wantDash: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := helmTemplate(t, c.sets...)
			if err != nil {
				t.Fatalf("helm template %v: %v\n%s", c.sets, err, out)
			}
			rule := renderedDoc(t, out, "PrometheusRule", "r-hitcounter")
			switch {
			case c.wantRules == "" && rule != "":
				t.Errorf("a PrometheusRule rendered, want none:\n%s", rule)
			case c.wantRules != "" && rule == "":
				t.Errorf("no PrometheusRule rendered:\n%s", out)
			case c.wantRules != "":
				if !strings.Contains(rule, "\napiVersion: monitoring.coreos.com/v1\n") || !strings.Contains(rule, c.wantLabel) {
					t.Errorf("PrometheusRule lacks apiVersion monitoring.coreos.com/v1 or %q:\n%s", c.wantLabel, rule)
				}
				if got := block(t, rule, "spec:"); got != c.wantRules {
					t.Errorf("PrometheusRule spec is not the rules file:\ngot\n%s\nwant\n%s", got, c.wantRules)
				}
			}
			cm := renderedDoc(t, out, "ConfigMap", "r-hitcounter-dashboard")
			switch {
			case !c.wantDash && cm != "":
				t.Errorf("a dashboard ConfigMap rendered, want none:\n%s", cm)
			case c.wantDash && cm == "":
				t.Errorf("no dashboard ConfigMap rendered:\n%s", out)
			case c.wantDash:
				if !strings.Contains(cm, "\n    grafana_dashboard: \"1\"\n") {
					t.Errorf("the dashboard ConfigMap lacks the label grafana_dashboard: \"1\":\n%s", cm)
				}
				if got := block(t, cm, "  hitcounter.json: |"); got != dashboard {
					t.Errorf("the ConfigMap's hitcounter.json is not %s:\ngot\n%s", DashboardFile, got)
				}
			}
		})
	}
}

// A job name is put into the rules' PromQL strings: one that would end the string is refused
// at install, by the schema. (From a values file: --set reads a backslash as an escape.)
func TestChartRefusesAJobNameThatBreaksPromQL(t *testing.T) {
	for _, job := range []string{`we"b`, `we\b`, "we\nb", ""} {
		values := filepath.Join(t.TempDir(), "values.yaml")
		quoted, err := json.Marshal(job) // a JSON string is a YAML string
		if err != nil {
			t.Fatal(err)
		}
		yaml := "monitoring:\n  prometheusRule:\n    enabled: true\n    jobs:\n      web: " + string(quoted) + "\n"
		if err := os.WriteFile(values, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := runHelm(t, "template", "r", chartDir, "-f", values)
		if err == nil {
			t.Errorf("jobs.web=%q rendered, want a refusal:\n%s", job, out)
		} else if !strings.Contains(out, "values don't meet the specifications of the schema") ||
			!strings.Contains(out, "/monitoring/prometheusRule/jobs/web") {
			t.Errorf("jobs.web=%q: the refusal does not name the schema and the value:\n%s", job, out)
		}
	}
}

// helm lint --strict is clean with both on, as the Kubernetes test requires with the defaults.
func TestChartLintsWithMonitoring(t *testing.T) {
	out, err := runHelm(t, "lint", "--strict", chartDir,
		"--set", "monitoring.prometheusRule.enabled=true", "--set", "monitoring.grafanaDashboard.enabled=true")
	if err != nil || strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ERROR]") || !strings.Contains(out, "0 chart(s) failed") {
		t.Errorf("helm lint --strict with the monitoring values: %v\n%s", err, out)
	}
}
