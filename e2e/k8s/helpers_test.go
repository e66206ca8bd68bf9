//go:build k8s

// Package k8s tests the Helm chart in deploy/helm/hitcounter against a real single-node
// Kubernetes (scripts/k8s/cluster.sh). Run through `make test-k8s`, which brings the cluster
// up, loads the images, runs these tests and takes the cluster down. The tests drive kubectl
// and helm, and send HTTP only to the chart's Service IP on this machine's cluster.
package k8s

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// Settings from the environment, set by scripts/k8s/test.sh.
var (
	namespace = envOr("HCK8S_NAMESPACE", "hck8s-test")
	release   = envOr("HCK8S_RELEASE", "hc")
	tagA      = os.Getenv("HCK8S_TAG_A") // installed first
	tagB      = os.Getenv("HCK8S_TAG_B") // the rolling update's new tag
	node      = envOr("HCK8S_NODE", "hck8s-node")
	chartDir  string
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	chartDir = filepath.Join(filepath.Dir(file), "..", "..", "deploy", "helm", "hitcounter")
	// A missing tool or cluster is a failure, never a skip.
	var missing []string
	for _, tool := range []string{"kubectl", "helm"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" not on PATH")
		}
	}
	if os.Getenv("KUBECONFIG") == "" {
		missing = append(missing, "KUBECONFIG is not set")
	}
	if tagA == "" || tagB == "" {
		missing = append(missing, "HCK8S_TAG_A and HCK8S_TAG_B are not set")
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "k8s tests need the cluster from scripts/k8s/test.sh: %s\n", strings.Join(missing, "; "))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// run executes a command with a deadline and returns its combined output.
func run(timeout time.Duration, name string, args ...string) (string, error) {
	return testkit.Run(timeout, nil, name, args...)
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(2*time.Minute, "kubectl", append([]string{"-n", namespace}, args...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

func kubectlApply(t *testing.T, manifest string) {
	t.Helper()
	out, err := testkit.RunInput(time.Minute, nil, strings.NewReader(manifest), "kubectl", "-n", namespace, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

func helm(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	out, err := run(timeout, "helm", append([]string{"-n", namespace}, args...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

func fullname() string { return release + "-hitcounter" }

func webSelector() string {
	return "app.kubernetes.io/instance=" + release + ",app.kubernetes.io/component=web"
}

// waitFor polls cond through the project's one polling helper until it holds or within passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	err := waitfor.Poll(within, func() error {
		if ok, state := cond(); !ok {
			return errors.New(state)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s (last: %s)", what, within, err)
	}
}

// readyWebPods returns the names of the web pods that are Ready and not terminating.
func readyWebPods(t *testing.T) []string {
	t.Helper()
	out := kubectl(t, "get", "pods", "-l", webSelector(), "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	var ready []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[1] == "True" {
			ready = append(ready, f[0])
		}
	}
	return ready
}

// waitConverged waits for n ready web pods, no others, and a ready Redis.
func waitConverged(t *testing.T, n int, within time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d ready web pods and a ready Redis", n), within, func() (bool, string) {
		all := kubectl(t, "get", "pods", "-l", webSelector(), "-o", "name")
		ready := readyWebPods(t)
		redis := kubectl(t, "get", "pods", fullname()+"-redis-0", "--ignore-not-found", "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		state := fmt.Sprintf("web ready %d of %d, redis ready %q", len(ready), len(strings.Fields(all)), redis)
		return len(ready) == n && len(strings.Fields(all)) == n && redis == "True", state
	})
}

// serviceURL is the chart's Service on its cluster IP, reached from this host through kube-proxy.
func serviceURL(t *testing.T) string {
	t.Helper()
	ip := kubectl(t, "get", "service", fullname(), "-o", "jsonpath={.spec.clusterIP}")
	return "http://" + ip + ":80/"
}

// A new connection per request, so kube-proxy picks a pod for every request, as it would for
// many independent clients.
var client = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

func visit(url string) testkit.Sample {
	at := time.Now()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return testkit.Sample{At: at, Took: time.Since(at), Err: err}
	}
	defer resp.Body.Close()
	s := testkit.Sample{At: at, Status: resp.StatusCode, ServedBy: resp.Header.Get("X-Served-By")}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	s.Took = time.Since(at)
	if err != nil {
		s.Err = err
		return s
	}
	if !s.OK() {
		s.Body = strings.TrimSpace(string(body[:min(len(body), 120)]))
	}
	if s.OK() {
		var v struct {
			Count int64 `json:"count"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Count <= 0 {
			s.Err = fmt.Errorf("2xx without a count: %q", body)
		}
		s.Count = v.Count
	}
	return s
}

// mustVisit wants one counted visit, retrying for a bounded time.
func mustVisit(t *testing.T, url string, within time.Duration) int64 {
	t.Helper()
	var got testkit.Sample
	waitFor(t, "a counted visit", within, func() (bool, string) {
		got = visit(url)
		return got.OK(), fmt.Sprintf("status %d, %v", got.Status, got.Err)
	})
	return got.Count
}

// startLoad sends GET / to url at a fixed rate, open loop, at most rate × bound requests.
func startLoad(url string, rate int, bound time.Duration) *testkit.Loader {
	return testkit.StartLoad(rate, bound, func() testkit.Sample { return visit(url) })
}

// redisCount reads the counter in Redis without counting a visit (INCRBY 0 is the app user's
// read), from inside the Redis pod.
func redisCount(t *testing.T) int64 {
	t.Helper()
	var n int64
	waitFor(t, "reading the counter in Redis", time.Minute, func() (bool, string) {
		out, err := run(20*time.Second, "kubectl", "-n", namespace, "exec", fullname()+"-redis-0", "-c", "redis", "--",
			"sh", "-c", `REDISCLI_AUTH="$(cat /run/secrets/redis_app_password)" redis-cli --no-auth-warning --user hitcounter INCRBY hitcounter:visits 0`)
		if err != nil {
			return false, fmt.Sprintf("%v: %s", err, out)
		}
		v, perr := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		n = v
		return perr == nil, out
	})
	return n
}

// runPod runs a one-shot pod and returns its log once it has ended.
func runPod(t *testing.T, name string, labels map[string]string, image string, script string) string {
	t.Helper()
	var lbl []string
	for k, v := range labels {
		lbl = append(lbl, fmt.Sprintf("    %s: %q", k, v))
	}
	slices.Sort(lbl)
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels:
%s
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: main
    image: %s
    imagePullPolicy: Never
    command: [/bin/sh, -c, %q]
    # Never Ready, so that a pod carrying the web labels takes no Service traffic.
    readinessProbe: {exec: {command: ["false"]}, periodSeconds: 60}
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
`, name, strings.Join(lbl, "\n"), image, script)
	kubectlApply(t, manifest)
	defer kubectl(t, "delete", "pod", name, "--wait=false", "--ignore-not-found")
	waitFor(t, "pod "+name+" to end", 90*time.Second, func() (bool, string) {
		phase := kubectl(t, "get", "pod", name, "-o", "jsonpath={.status.phase}")
		return phase == "Succeeded" || phase == "Failed", phase
	})
	return kubectl(t, "logs", name)
}
