package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
	"github.com/hitcounter/hitcounter/internal/waitfor"
	"github.com/hitcounter/hitcounter/monitoring"
)

// The monitoring profile: Prometheus finds every web replica by DNS and scrapes each one, and
// scrapes Redis through redis_exporter with its own least-privilege Redis user. Everything is
// checked through Prometheus's HTTP API on its published loopback port, against what Docker
// says is running.
func TestMonitoringProfile(t *testing.T) {
	const replicas = 3
	s := newStack(t)
	// Every compose command of this stack, the final `down` included, sees the profile.
	s.Env = append(s.Env, "COMPOSE_PROFILES=monitoring", "PROMETHEUS_BIND=127.0.0.1", "PROMETHEUS_PORT=0")
	took := s.up("--scale", "web="+strconv.Itoa(replicas))
	t.Logf("up --build --wait with the monitoring profile and %d replicas: %s", replicas, took.Round(100*time.Millisecond))

	prom := s.loopbackPort("prometheus", "9090")

	// The web targets Prometheus must have: each replica's address on the frontend network.
	ids := s.Containers("web")
	if len(ids) != replicas {
		t.Fatalf("%d web containers, want %d", len(ids), replicas)
	}
	want := map[string]bool{}
	for _, id := range ids {
		c := s.inspectContainer(id)
		ip := c.NetworkSettings.Networks[s.Name+"_frontend"].IPAddress
		if ip == "" {
			t.Fatalf("web container %s has no address on %s_frontend", id, s.Name)
		}
		want[ip+":5001"] = true // the operator port
	}
	if len(want) != replicas {
		t.Fatalf("web replicas' addresses %v are not %d distinct ones", want, replicas)
	}

	// Bounded: discovery every 5 s and a scrape every 10 s (monitoring/prometheus.yml) make
	// this about 20 s; 90 s leaves room for a busy machine.
	var webUp []string
	var redisUp bool
	var redisUpValue string
	waitfor.Until(t, 90*time.Second, func() error {
		targets, err := promTargets(prom)
		if err != nil {
			return err
		}
		webUp, redisUp = nil, false
		for _, tg := range targets {
			switch {
			case tg.Labels["job"] == "web" && tg.Health == "up":
				webUp = append(webUp, tg.Labels["instance"])
			case tg.Labels["job"] == "redis" && tg.Health == "up":
				redisUp = true
			}
		}
		redisUpValue, err = promScalar(prom, "redis_up")
		if err != nil {
			return err
		}
		if sameSet(webUp, want) && redisUp && redisUpValue == "1" {
			return nil
		}
		return fmt.Errorf("web targets up %v (want %d: %v), redis target up %v, redis_up %q\ntargets: %+v",
			webUp, replicas, keys(want), redisUp, redisUpValue, targets)
	})
	t.Logf("Prometheus scrapes %d web replicas %v and Redis (redis_up 1)", len(webUp), webUp)
	// While the published port does not serve the metrics (nor /admin/): they are the
	// operator's, on a port only Prometheus's network reaches.
	for _, path := range []string{"/metrics", "/admin/export"} {
		if a := s.call("GET", path, nil, nil); a.status != 404 {
			t.Errorf("GET %s through the published port = %s, want 404", path, a)
		}
	}

	checkDashboardQueries(t, s, prom)

	// GOMEMLIMIT in effect in every replica: 90% of web's mem_limit (64 MiB), as the runtime
	// itself reports it, and as the start log line says.
	const wantLimit = "60397977"
	series, err := promVector(prom, `go_gc_gomemlimit_bytes{job="web"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != replicas {
		t.Errorf("go_gc_gomemlimit_bytes has %d web series, want %d: %v", len(series), replicas, series)
	}
	for instance, v := range series {
		if v != wantLimit {
			t.Errorf("go_gc_gomemlimit_bytes{instance=%q} = %s, want %s (0.9 × 64 MiB)", instance, v, wantLimit)
		}
	}
	logs := s.MustCompose(time.Minute, "logs", "--no-color", "web")
	if n := strings.Count(logs, `"memory_limit":{"source":"cgroup","gomemlimit":`+wantLimit+`,"cgroup_limit":67108864}`); n != replicas {
		t.Errorf("%d of %d web start lines show the derived memory limit:\n%s", n, replicas, logs)
	}

	// The new services are hardened like the others, and every service's log is bounded.
	for _, service := range []string{"prometheus", "redis-exporter", "web", "lb", "redis"} {
		for _, id := range s.Containers(service) {
			c := s.inspectContainer(id)
			h := c.HostConfig
			if !h.ReadonlyRootfs || !slices.Equal(h.CapDrop, []string{"ALL"}) || len(h.CapAdd) != 0 ||
				!slices.Contains(h.SecurityOpt, "no-new-privileges:true") || h.Memory == 0 || h.PidsLimit == nil || *h.PidsLimit == 0 {
				t.Errorf("%s: not hardened: %+v", service, h)
			}
			if u := c.Config.User; u == "" || u == "0" || strings.HasPrefix(u, "root") || strings.HasPrefix(u, "0:") {
				t.Errorf("%s runs as %q, want a non-root user", service, u)
			}
			if lc := h.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != "10m" || lc.Config["max-file"] != "3" {
				t.Errorf("%s: log %+v, want json-file with max-size 10m and max-file 3", service, lc)
			}
		}
	}
	// The processes themselves: not root, no capabilities, no way to gain privileges.
	for _, service := range []string{"prometheus", "redis-exporter"} {
		c := s.inspectContainer(s.Containers(service)[0])
		st := procStatus(t, c.State.Pid)
		if strings.HasPrefix(st["Uid"], "0 ") || st["CapEff"] != "0000000000000000" || st["CapPrm"] != "0000000000000000" || st["NoNewPrivs"] != "1" {
			t.Errorf("%s: uid %q, capabilities effective %s permitted %s, NoNewPrivs %q; want non-root, none, 1",
				service, st["Uid"], st["CapEff"], st["CapPrm"], st["NoNewPrivs"])
		}
	}

	// The exporter's Redis user reads the server's state and nothing else.
	exporterCLI := func(cmd string) string {
		out, _ := s.Compose(30*time.Second, "exec", "-T", "redis", "sh", "-c",
			`REDISCLI_AUTH="$(cat /run/secrets/redis_exporter_password)" redis-cli --user exporter `+cmd)
		return strings.TrimSpace(out)
	}
	for _, cmd := range []string{"GET hitcounter:visits", "INCR hitcounter:visits", "SCAN 0", "KEYS *", "CONFIG SET maxmemory 1",
		"FLUSHALL", "ACL LIST", "CLIENT KILL ID 1", "CLIENT LIST", "SHUTDOWN", "EVAL 'return 1' 0", "MONITOR"} {
		if out := exporterCLI(cmd); !strings.Contains(out, "NOPERM") {
			t.Errorf("exporter user %s: %q, want NOPERM", cmd, out)
		}
	}
	if out := exporterCLI("INFO server"); !strings.Contains(out, "redis_version:") {
		t.Errorf("exporter user INFO: %q, want the server section", out)
	}
	if out := exporterCLI("CONFIG GET maxmemory"); !strings.HasPrefix(out, "maxmemory") {
		t.Errorf("exporter user CONFIG GET maxmemory: %q, want the setting", out)
	}

	// Prometheus is published on loopback only; the exporter sees its own password file and
	// no other secret.
	pc := s.inspectContainer(s.Containers("prometheus")[0])
	for _, b := range pc.HostConfig.PortBindings["9090/tcp"] {
		if b.HostIP != "127.0.0.1" {
			t.Errorf("prometheus published on %q, want 127.0.0.1", b.HostIP)
		}
	}
	ec := s.inspectContainer(s.Containers("redis-exporter")[0])
	for _, m := range ec.Mounts {
		if m.Name != s.Name+"_exporter-secrets" || m.RW {
			t.Errorf("redis-exporter mounts %s (%s, rw %v); want only %s_exporter-secrets, read-only", m.Name, m.Destination, m.RW, s.Name)
		}
	}
}

// checkDashboardQueries sends every query of the Grafana dashboard (read from its file, the
// one the grafana profile and the Helm chart ship) to the live Prometheus after some traffic:
// each must return at least one series, or its panel would say "No data" on a healthy stack.
// Grafana itself never runs here (no Debian package to stand in for its image), so this is
// how the dashboard is tested against the real metrics.
func checkDashboardQueries(t *testing.T, s *stack, prom string) {
	t.Helper()
	d, err := monitoring.ReadDashboard(filepath.Join("..", monitoring.DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	queries := d.Queries()
	if len(queries) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	// Traffic for the per-route, per-code and latency series, a visit and a hit on a named
	// counter (created by that hit).
	for _, path := range []string{"/", "/", "/hit/e2e-dashboard/page", "/get/e2e-dashboard/page"} {
		if a := s.call("GET", path, nil, nil); a.status != 200 {
			t.Fatalf("GET %s = %s, want 200", path, a)
		}
	}
	// Bounded: a rate needs two scrapes (10 s apart) of a series, and hitcounter_counters is
	// first counted 10 s after a replica starts; 90 s leaves room for a busy machine.
	var empty []string
	waitfor.Until(t, 90*time.Second, func() error {
		empty = empty[:0]
		for _, q := range queries {
			series, err := promVector(prom, q.Expr)
			if err != nil {
				// Prometheus refused the query: waiting will not change that.
				return waitfor.Stop(fmt.Errorf("%s: %w", q, err))
			}
			if len(series) == 0 {
				empty = append(empty, q.String())
			}
		}
		if len(empty) > 0 {
			return fmt.Errorf("%d of the dashboard's %d queries return no series:\n%s", len(empty), len(queries), strings.Join(empty, "\n"))
		}
		return nil
	})
	t.Logf("each of the dashboard's %d queries returns series from the live Prometheus", len(queries))
}

// loopbackPort is the host address a service's port is published on; it must be loopback.
func (s *stack) loopbackPort(service, port string) string {
	s.t.Helper()
	out := strings.TrimSpace(s.MustCompose(30*time.Second, "port", service, port))
	if !strings.HasPrefix(out, "127.0.0.1:") {
		s.t.Fatalf("%s is published on %q, want 127.0.0.1:PORT", service, out)
	}
	return out
}

type promTarget struct {
	Labels    map[string]string `json:"labels"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
}

// promGet decodes the data of one Prometheus API answer.
func promGet(addr, path string, data any) error {
	resp, err := httpClient.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var answer struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("GET %s: %d %q: %w", path, resp.StatusCode, body, err)
	}
	if answer.Status != "success" {
		return fmt.Errorf("GET %s: %d, status %q: %s", path, resp.StatusCode, answer.Status, answer.Error)
	}
	return json.Unmarshal(answer.Data, data)
}

func promTargets(addr string) ([]promTarget, error) {
	var data struct {
		ActiveTargets []promTarget `json:"activeTargets"`
	}
	err := promGet(addr, "/api/v1/targets?state=active", &data)
	return data.ActiveTargets, err
}

// promVector runs an instant query and returns each series' value by its instance label.
func promVector(addr, query string) (map[string]string, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := promGet(addr, "/api/v1/query?query="+url.QueryEscape(query), &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %q, want vector", query, data.ResultType)
	}
	out := map[string]string{}
	for _, r := range data.Result {
		v, _ := r.Value[1].(string)
		out[r.Metric["instance"]] = v
	}
	return out, nil
}

// promScalar is the value of a query that must have exactly one series ("" while it has none).
func promScalar(addr, query string) (string, error) {
	series, err := promVector(addr, query)
	if err != nil || len(series) == 0 {
		return "", err
	}
	if len(series) > 1 {
		return "", fmt.Errorf("query %s: %d series, want 1: %v", query, len(series), series)
	}
	for _, v := range series {
		return v, nil
	}
	return "", nil
}

// sameSet reports whether got holds each of want's keys exactly once, and nothing else.
func sameSet(got []string, want map[string]bool) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for _, g := range got {
		if !want[g] || seen[g] {
			return false
		}
		seen[g] = true
	}
	return true
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The grafana profile, as Compose reads it: Grafana never starts in a test (its image has no
// stand-in on machines without a registry), so what can be checked without it is checked
// here: the monitoring services come with it, it is hardened like the others, it listens on
// loopback only, and it mounts its provisioning and the dashboard read-only from files that
// exist, where its provisioning looks for them.
func TestGrafanaProfileConfig(t *testing.T) {
	out, err := testkit.Run(time.Minute, nil, "docker", "compose", "-f", composeFile, "--profile", "grafana", "config", "--format", "json")
	if err != nil {
		t.Fatalf("docker compose --profile grafana config: %v\n%s", err, out)
	}
	type mount struct {
		Type, Source, Target string
		ReadOnly             bool `json:"read_only"`
	}
	var cfg struct {
		Services map[string]struct {
			Image       string
			User        string
			ReadOnly    bool     `json:"read_only"`
			CapDrop     []string `json:"cap_drop"`
			SecurityOpt []string `json:"security_opt"`
			MemLimit    any      `json:"mem_limit"`
			PidsLimit   int      `json:"pids_limit"`
			Ports       []struct {
				HostIP string `json:"host_ip"`
				Target int
			}
			Networks    map[string]any
			Volumes     []mount
			Environment map[string]string
		}
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, service := range []string{"grafana", "prometheus", "redis-exporter"} {
		if _, ok := cfg.Services[service]; !ok {
			t.Errorf("the grafana profile has no %s service", service)
		}
	}
	g := cfg.Services["grafana"]
	if !regexp.MustCompile(`^grafana/grafana:\d+\.\d+\.\d+$`).MatchString(g.Image) {
		t.Errorf("grafana image %q, want grafana/grafana pinned to a version", g.Image)
	}
	if u := g.User; u == "" || u == "0" || strings.HasPrefix(u, "root") || strings.HasPrefix(u, "0:") || strings.HasSuffix(u, ":0") {
		t.Errorf("grafana runs as %q, want a user and group that are not root", u)
	}
	if !g.ReadOnly || !slices.Equal(g.CapDrop, []string{"ALL"}) || !slices.Contains(g.SecurityOpt, "no-new-privileges:true") ||
		g.MemLimit == nil || g.PidsLimit == 0 {
		t.Errorf("grafana is not hardened: read_only %v, cap_drop %v, security_opt %v, mem_limit %v, pids_limit %d",
			g.ReadOnly, g.CapDrop, g.SecurityOpt, g.MemLimit, g.PidsLimit)
	}
	if len(g.Ports) != 1 || g.Ports[0].HostIP != "127.0.0.1" || g.Ports[0].Target != 3000 {
		t.Errorf("grafana ports %+v, want 3000 on 127.0.0.1 only", g.Ports)
	}
	if got := slices.Sorted(maps.Keys(g.Networks)); !slices.Equal(got, []string{"grafana", "monitoring"}) {
		t.Errorf("grafana networks %v, want [grafana monitoring]: never frontend or backend", got)
	}
	env := g.Environment
	if env["GF_AUTH_ANONYMOUS_ORG_ROLE"] != "Viewer" || env["GF_AUTH_DISABLE_LOGIN_FORM"] != "true" || env["GF_AUTH_BASIC_ENABLED"] != "false" {
		t.Errorf("grafana environment %v: want anonymous Viewers and no way to log in", g.Environment)
	}

	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// Each file grafana mounts, by where it goes: the repository's file it must be.
	want := map[string]string{
		"/etc/grafana/provisioning/datasources/hitcounter.yml": "monitoring/grafana/datasources.yml",
		"/etc/grafana/provisioning/dashboards/hitcounter.yml":  "monitoring/grafana/dashboards.yml",
		"/etc/grafana/dashboards/hitcounter.json":              monitoring.DashboardFile,
	}
	got := map[string]string{}
	for _, m := range g.Volumes {
		switch {
		case m.Type == "volume" && m.Target == "/var/lib/grafana":
			// Grafana's database: the one writable mount.
		case m.Type == "bind" && m.ReadOnly:
			rel, err := filepath.Rel(repo, m.Source)
			if err != nil {
				t.Fatal(err)
			}
			got[m.Target] = filepath.ToSlash(rel)
		default:
			t.Errorf("grafana mounts %+v; want only read-only files and its data volume", m)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("grafana's read-only mounts %v, want %v", got, want)
	}
	for _, file := range want {
		if _, err := os.Stat(filepath.Join(repo, file)); err != nil {
			t.Errorf("grafana mounts %s: %v", file, err)
		}
	}
	// The provider reads the directory the dashboard is mounted in; the data source is the
	// profile's Prometheus, on the network the two share.
	provider, err := os.ReadFile(filepath.Join(repo, "monitoring/grafana/dashboards.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(provider), "path: /etc/grafana/dashboards\n") {
		t.Errorf("monitoring/grafana/dashboards.yml does not read /etc/grafana/dashboards:\n%s", provider)
	}
	datasource, err := os.ReadFile(filepath.Join(repo, "monitoring/grafana/datasources.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(datasource), "url: http://prometheus:9090\n") || cfg.Services["prometheus"].Networks == nil {
		t.Errorf("monitoring/grafana/datasources.yml does not ask the profile's Prometheus:\n%s", datasource)
	}
	if _, ok := cfg.Services["prometheus"].Networks["monitoring"]; !ok {
		t.Errorf("prometheus is not on the monitoring network, where grafana reaches it")
	}
}
