//go:build k8s

package k8s

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
)

// TestChart runs the checks in order on one release: each step leaves the release
// converged for the next, so they are subtests of one test rather than separate tests.
func TestChart(t *testing.T) {
	began := time.Now()
	step := func(name string, f func(t *testing.T)) {
		at := time.Now()
		ok := t.Run(name, f)
		t.Logf("timing: %-28s %6.1fs", name, time.Since(at).Seconds())
		if !ok && name == "Install" {
			t.FailNow()
		}
	}
	defer func() { t.Logf("timing: %-28s %6.1fs", "all", time.Since(began).Seconds()) }()

	step("Lint", testLint)
	step("BadValueRefused", testBadValue)
	step("Render", testRender)
	step("Install", testInstall)
	step("HelmTest", testHelmTest)
	step("Backup", testBackup)
	step("OperatorRoutesNotPublic", testOperatorRoutesNotPublic)
	step("ExportImport", testExportImport)
	step("Exactness", testExactness)
	step("RollingUpdate", testRollingUpdate)
	step("DeleteWebPod", func(t *testing.T) { testDeleteWebPod(t, "") })
	// The same with a 1 s grace period: SIGKILL lands 1 s after SIGTERM, mid-drain.
	step("KillWebPod", func(t *testing.T) { testDeleteWebPod(t, "--grace-period=1") })
	step("DeleteRedisPod", testDeleteRedisPod)
	step("NetworkPolicy", testNetworkPolicy)
	step("WebNetworkPolicy", testWebNetworkPolicy)
	step("DrainRespectsPDB", testDrain)
	// Last: it uninstalls the release and installs it again from a backup.
	step("BackupRestore", testBackupRestore)
}

func installArgs(tag string) []string {
	return []string{
		"--set", "image.web.tag=" + tag, "--set", "image.redis.tag=" + tag,
		"--set", "image.web.pullPolicy=Never", "--set", "image.redis.pullPolicy=Never",
		// The load tests send up to 100 requests a second from one address, this host, which the
		// service takes for one client: the read limit (1200 a minute per replica, GET / included)
		// would answer most of them 429. Real traffic comes from many clients.
		"--set", "web.rateLimit.reads=0",
	}
}

func testLint(t *testing.T) {
	out, err := run(time.Minute, "helm", "lint", "--strict", chartDir)
	if err != nil || strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ERROR]") {
		t.Fatalf("helm lint is not clean (%v):\n%s", err, out)
	}
	if !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("helm lint did not report success:\n%s", out)
	}
}

// Each bad value must stop `helm install` before anything is created, with a message that
// names the value.
func testBadValue(t *testing.T) {
	const notCombined = "cannot be combined with redis.external.url or redis.external.existingSecret"
	cases := []struct {
		set  string
		want []string
	}{
		{"redis.appendfsync=sometimes", []string{"values don't meet the specifications of the schema", "appendfsync"}},
		{"web.replicaCount=0", []string{"values don't meet the specifications of the schema", "replicaCount"}},
		{"web.replicas=3", []string{"values don't meet the specifications of the schema", "replicas"}},
		{"redis.external.url=http://example", []string{"values don't meet the specifications of the schema", "url"}},
		{"web.shutdownDrainDelay=20s", []string{"web.shutdownDrainDelay (20s) must be shorter than web.shutdownTimeout"}},
		{"ingress.enabled=true", []string{ingressRefusal}},
		{"web.rateLimit.createsPerDay=-1", []string{"values don't meet the specifications of the schema", "createsPerDay"}},
		{"backup.restoreFrom=../../etc/passwd", []string{"values don't meet the specifications of the schema", "restoreFrom"}},
		// An external Sentinel or Cluster deployment (issue #16): what it needs, and what it
		// cannot be combined with.
		{"redis.external.mode=sentinel,redis.external.sentinelMaster=mymaster", []string{"redis.external.mode is sentinel but redis.external.hosts is empty"}},
		{"redis.external.mode=sentinel,redis.external.hosts={s-0:26379}",
			[]string{"redis.external.mode is sentinel but redis.external.sentinelMaster is empty"}},
		{"redis.external.mode=cluster", []string{"redis.external.mode is cluster but redis.external.hosts is empty"}},
		{"redis.external.mode=cluster,redis.external.hosts={n-0:7000},redis.external.url=redis://r:6379",
			[]string{"redis.external.mode is cluster", notCombined}},
		{"redis.external.mode=sentinel,redis.external.hosts={s-0},redis.external.sentinelMaster=m,redis.external.existingSecret=mine",
			[]string{"redis.external.mode is sentinel", notCombined}},
		{"redis.external.mode=cluster,redis.external.hosts={n-0:70000}", []string{`redis.external.hosts: "n-0:70000": the port must be 1 to 65535`}},
		{"redis.external.mode=cluster,redis.external.hosts={redis://n-0:7000}", []string{"values don't meet the specifications of the schema", "hosts"}},
		{"redis.external.mode=cluster,redis.external.hosts={n-0},redis.external.sentinelMaster=m",
			[]string{"redis.external.sentinelMaster, sentinelUsername and sentinelPasswordSecret are for mode sentinel"}},
		{"redis.external.hosts={n-0:7000}", []string{"redis.external.hosts is set but redis.external.mode is not"}},
		{"redis.external.url=redis://r:6379,redis.external.passwordSecret.name=pw",
			[]string{"redis.external.username and passwordSecret are for redis.external.mode sentinel or cluster"}},
		{"redis.external.mode=standalone", []string{"values don't meet the specifications of the schema", "mode"}},
		{"web.redisWaitReplicas=1", []string{"web.redisWaitReplicas is 1 but the release's own Redis has no replicas"}},
		{"web.redisWaitReplicas=17", []string{"values don't meet the specifications of the schema", "redisWaitReplicas"}},
		// A Secret of the user's that the cluster holds, lacking a key (made just below).
		{"web.existingSecret=partial-web", []string{`web.existingSecret: Secret "partial-web" has no key "visitor_key"`}},
	}
	kubectl(t, "create", "secret", "generic", "partial-web", "--from-literal=operator_token=0123456789abcdef0123")
	defer kubectl(t, "delete", "secret", "partial-web", "--ignore-not-found")
	for _, c := range cases {
		args := append([]string{"-n", namespace, "install", "bad", chartDir, "--set", c.set}, installArgs(tagA)...)
		out, err := run(time.Minute, "helm", args...)
		if err == nil {
			t.Errorf("--set %s: install succeeded, want a refusal", c.set)
			if out, err := run(time.Minute, "helm", "-n", namespace, "uninstall", "bad"); err != nil {
				t.Errorf("uninstalling the release that should have been refused: %v\n%s", err, out)
			}
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("--set %s: message does not say %q:\n%s", c.set, w, out)
			}
		}
	}
	if out, err := run(time.Minute, "helm", "-n", namespace, "status", "bad"); err == nil {
		t.Errorf("a refused install left a release behind:\n%s", out)
	}
}

func testInstall(t *testing.T) {
	at := time.Now()
	args := append([]string{"install", release, chartDir, "--wait", "--timeout", "5m"}, installArgs(tagA)...)
	helm(t, 6*time.Minute, args...)
	// The HPA owns the replica count (minReplicas 2): wait for it to get there too.
	waitConverged(t, 2, 3*time.Minute)
	t.Logf("install converged (2 web pods and Redis ready) in %.1fs", time.Since(at).Seconds())
	// The settings that matter, as the cluster has them.
	pod := readyWebPods(t)[0]
	env := kubectl(t, "get", "pod", pod, "-o", `jsonpath={range .spec.containers[0].env[*]}{.name}={.value}{"\n"}{end}`)
	for _, want := range []string{
		"GOMEMLIMIT=60397977", "SHUTDOWN_DRAIN_DELAY=5s", "REDIS_PASSWORD_FILE=/run/secrets/redis_app_password", "RATE_LIMIT_READS=0",
	} {
		if !strings.Contains(env, want) {
			t.Errorf("web pod env lacks %s:\n%s", want, env)
		}
	}
	checkSecrets(t, pod)
	sc := kubectl(t, "get", "pod", pod, "-o", "jsonpath="+
		"{.spec.securityContext.runAsNonRoot} {.spec.securityContext.seccompProfile.type} "+
		"{.spec.containers[0].securityContext.readOnlyRootFilesystem} {.spec.containers[0].securityContext.capabilities.drop}")
	if sc != `true RuntimeDefault true ["ALL"]` {
		t.Errorf("web pod security context: %s", sc)
	}
	strategy := kubectl(t, "get", "deployment", fullname()+"-web", "-o", "jsonpath={.spec.strategy.rollingUpdate.maxUnavailable}")
	if strategy != "0" {
		t.Errorf("maxUnavailable = %q, want 0", strategy)
	}
	hpa := kubectl(t, "get", "hpa", fullname()+"-web", "-o", "jsonpath={.spec.scaleTargetRef.name} {.spec.minReplicas} {.spec.metrics[0].resource.name}")
	if hpa != fullname()+"-web 2 cpu" {
		t.Errorf("HPA (target, min, metric) = %q", hpa)
	}
}

// redisSecret is the generated Secret's data, to compare across upgrades (never logged).
func redisSecret(t *testing.T) string {
	t.Helper()
	return kubectl(t, "get", "secret", fullname()+"-redis", "-o", "jsonpath={.data}")
}

func testHelmTest(t *testing.T) {
	out := helm(t, 3*time.Minute, "test", release, "--logs", "--timeout", "2m")
	if !strings.Contains(out, "Phase:          Succeeded") && !strings.Contains(out, "Succeeded") {
		t.Fatalf("helm test did not succeed:\n%s", out)
	}
	t.Logf("helm test:\n%s", out)
}

// N clients × M hits through the Service: the counter grows by exactly the number of 2xx
// answers, and no number is handed out twice.
func testExactness(t *testing.T) {
	url := serviceURL(t)
	const clients, hits = 16, 125
	before := redisCount(t)
	results := make(chan testkit.Sample, clients*hits)
	done := make(chan struct{})
	for range clients {
		go func() {
			defer func() { done <- struct{}{} }()
			for range hits {
				results <- visit(url)
			}
		}()
	}
	for range clients {
		<-done
	}
	close(results)
	var samples []testkit.Sample
	for s := range results {
		samples = append(samples, s)
	}
	after := redisCount(t)
	c := testkit.Count(samples)
	t.Logf("%d clients × %d hits: %s; counter %d -> %d", clients, hits, c, before, after)
	if c.Failed > 0 {
		t.Errorf("%d requests failed: %v", c.Failed, c.Examples)
	}
	if grew := after - before; grew != int64(c.OK) {
		t.Errorf("counter grew by %d, 2xx answers %d", grew, c.OK)
	}
	if len(c.Duplicates) > 0 {
		t.Errorf("numbers handed out twice: %v", c.Duplicates)
	}
}

// helm upgrade to a new image tag under open-loop load: not one request fails.
func testRollingUpdate(t *testing.T) {
	url := serviceURL(t)
	before := redisCount(t)
	oldPods := readyWebPods(t)
	secret := redisSecret(t)
	web := kubectl(t, "get", "secret", fullname()+"-web", "-o", "jsonpath={.data}")
	l := startLoad(url, 100, 3*time.Minute)
	defer l.Finish()
	at := time.Now()
	// Only the web image: a new Redis image would restart Redis, which is another test.
	helm(t, 5*time.Minute, "upgrade", release, chartDir, "--reuse-values", "--wait", "--timeout", "4m",
		"--set", "image.web.tag="+tagB)
	waitFor(t, "the old web pods to be gone", 2*time.Minute, func() (bool, string) {
		all := kubectl(t, "get", "pods", "-l", webSelector(), "-o", "name")
		for _, p := range oldPods {
			if strings.Contains(all, "/"+p) {
				return false, all
			}
		}
		return len(readyWebPods(t)) == 2, all
	})
	rolled := time.Since(at)
	// Keep the load on a few seconds past the last old pod's exit.
	waitFor(t, "load to run 3 s past the rollout", 10*time.Second, func() (bool, string) {
		return time.Since(at) > rolled+3*time.Second, ""
	})
	samples := l.Finish()
	after := redisCount(t)
	c := testkit.Count(samples)
	t.Logf("rolling update took %.1fs under 100 req/s: %s; counter %d -> %d", rolled.Seconds(), c, before, after)
	if redisSecret(t) != secret {
		t.Errorf("helm upgrade changed the generated Redis passwords")
	}
	if kubectl(t, "get", "secret", fullname()+"-web", "-o", "jsonpath={.data}") != web {
		t.Errorf("helm upgrade changed the generated operator token or visitor key")
	}
	image := kubectl(t, "get", "deployment", fullname()+"-web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	if !strings.HasSuffix(image, ":"+tagB) {
		t.Errorf("deployment image %s, want tag %s", image, tagB)
	}
	if c.Failed > 0 {
		t.Errorf("%d of %d requests failed during the rolling update: %v", c.Failed, c.Sent, c.Examples)
	}
	if grew := after - before; grew != int64(c.OK) {
		t.Errorf("counter grew by %d, 2xx answers %d", grew, c.OK)
	}
	if len(c.Duplicates) > 0 {
		t.Errorf("numbers handed out twice: %v", c.Duplicates)
	}
}

// Deleting a web pod under load: at most 0.1% fail, none later than 2 s after the delete, and
// the counter grows by no more than the requests that may have reached Redis. extra is an
// extra kubectl delete flag ("" for a normal, graceful delete).
func testDeleteWebPod(t *testing.T, extra string) {
	url := serviceURL(t)
	before := redisCount(t)
	pods := readyWebPods(t)
	l := startLoad(url, 100, 2*time.Minute)
	defer l.Finish()
	waitFor(t, "load to run 3 s", 10*time.Second, func() (bool, string) {
		n := len(l.Samples())
		return n >= 250, fmt.Sprint(n)
	})
	deletedAt := time.Now()
	args := []string{"delete", "pod", pods[0], "--wait=false"}
	if extra != "" {
		args = append(args, extra)
	}
	kubectl(t, args...)
	waitConverged(t, 2, 2*time.Minute)
	// Keep the load on until 20 s after the delete and at least 5 s past convergence.
	until := deletedAt.Add(20 * time.Second)
	if later := time.Now().Add(5 * time.Second); later.After(until) {
		until = later
	}
	waitFor(t, "load to run on past convergence", time.Until(until)+5*time.Second, func() (bool, string) {
		return time.Now().After(until), ""
	})
	samples := l.Finish()
	after := redisCount(t)
	c := testkit.Count(samples)
	t.Logf("deleted %s %s at %s under 100 req/s: %s; counter %d -> %d", pods[0], extra, deletedAt.Format("15:04:05.000"), c, before, after)
	if limit := c.Sent / 1000; c.Failed > limit {
		t.Errorf("%d of %d requests failed (> 0.1%%): %v", c.Failed, c.Sent, c.Examples)
	}
	if c.Failed > 0 && c.LastFail.Sub(deletedAt) > 2*time.Second {
		t.Errorf("a request failed %.1fs after the delete (want none after 2 s): %v", c.LastFail.Sub(deletedAt).Seconds(), c.Examples)
	}
	grew := after - before
	if grew < int64(c.OK) || grew > int64(c.OK+c.Failed) {
		t.Errorf("counter grew by %d; 2xx %d, failed %d: want 2xx ≤ growth ≤ 2xx + failed", grew, c.OK, c.Failed)
	}
	if len(c.Duplicates) > 0 {
		t.Errorf("numbers handed out twice: %v", c.Duplicates)
	}
}

// Deleting the Redis pod: it comes back on the same volume and no acknowledged hit is lost.
func testDeleteRedisPod(t *testing.T) {
	url := serviceURL(t)
	pvc := "data-" + fullname() + "-redis-0"
	volume := kubectl(t, "get", "pvc", pvc, "-o", "jsonpath={.spec.volumeName}")
	uid := kubectl(t, "get", "pod", fullname()+"-redis-0", "-o", "jsonpath={.metadata.uid}")
	before := redisCount(t)
	l := startLoad(url, 50, 3*time.Minute)
	defer l.Finish()
	waitFor(t, "load to run 2 s", 10*time.Second, func() (bool, string) {
		n := len(l.Samples())
		return n >= 100, fmt.Sprint(n)
	})
	at := time.Now()
	kubectl(t, "delete", "pod", fullname()+"-redis-0", "--wait=false")
	waitFor(t, "a new Redis pod", 2*time.Minute, func() (bool, string) {
		now := kubectl(t, "get", "pod", fullname()+"-redis-0", "--ignore-not-found", "-o", "jsonpath={.metadata.uid}")
		return now != "" && now != uid, now
	})
	waitConverged(t, 2, 3*time.Minute)
	back := time.Since(at)
	mustVisit(t, url, time.Minute)
	samples := l.Finish()
	after := redisCount(t)
	c := testkit.Count(samples)
	t.Logf("Redis back and web ready %.1fs after the delete; under 50 req/s: %s; counter %d -> %d", back.Seconds(), c, before, after)
	if now := kubectl(t, "get", "pvc", pvc, "-o", "jsonpath={.spec.volumeName}"); now != volume {
		t.Errorf("Redis came back on volume %q, was %q", now, volume)
	}
	// Every acknowledged number is still counted: the counter is at least the highest number a
	// client was given, and grew by at least the 2xx answers (plus the one visit above).
	if c.Highest > after {
		t.Errorf("acknowledged hit lost: a client was given %d, the counter is %d", c.Highest, after)
	}
	grew := after - before
	if grew < int64(c.OK)+1 || grew > int64(c.OK+c.Failed)+1 {
		t.Errorf("counter grew by %d; 2xx %d, failed %d, +1 check visit", grew, c.OK, c.Failed)
	}
	if len(c.Duplicates) > 0 {
		t.Errorf("numbers handed out twice: %v", c.Duplicates)
	}
}

// A pod without the web labels cannot open a connection to Redis; one with them can, and gets
// NOAUTH without credentials.
func testNetworkPolicy(t *testing.T) {
	ip := kubectl(t, "get", "service", fullname()+"-redis", "-o", "jsonpath={.spec.clusterIP}")
	image := "hitcounter/redis:" + tagA
	// kube-router lets a new pod's address in once it has synced the policy for it, a moment
	// after the pod starts: try for up to 15 s, and stop at the first answer from Redis.
	script := fmt.Sprintf(`for i in $(seq 1 15); do
  out=$(timeout 3 redis-cli -h %s -p 6379 PING 2>&1)
  echo "try $i: $out"
  case "$out" in *NOAUTH*|*PONG*) exit 0 ;; esac
  sleep 1
done`, ip)
	outsider := runPod(t, "outsider", map[string]string{"app": "outsider"}, image, script)
	t.Logf("pod without the web labels: %s", strings.TrimSpace(outsider))
	if strings.Contains(outsider, "NOAUTH") || strings.Contains(outsider, "PONG") || !strings.Contains(outsider, "try 15:") {
		t.Errorf("a pod without the web labels reached Redis: %s", outsider)
	}
	labels := map[string]string{
		"app.kubernetes.io/name":      "hitcounter",
		"app.kubernetes.io/instance":  release,
		"app.kubernetes.io/component": "web",
	}
	insider := runPod(t, "web-labelled", labels, image, script)
	t.Logf("pod with the web labels, no credentials: %s", strings.TrimSpace(insider))
	if !strings.Contains(insider, "NOAUTH") {
		t.Errorf("an unauthenticated connection from a web pod did not get NOAUTH: %s", insider)
	}
}

// Draining the node evicts web pods only down to the PDB's minimum (1): the next eviction is
// refused, and the drain gives up.
func testDrain(t *testing.T) {
	defer func() {
		if out, err := run(time.Minute, "kubectl", "uncordon", node); err != nil {
			t.Errorf("uncordon: %v\n%s", err, out)
		}
		waitConverged(t, 2, 3*time.Minute)
	}()
	out, err := run(2*time.Minute, "kubectl", "drain", node, "--pod-selector", webSelector(),
		"--ignore-daemonsets", "--delete-emptydir-data", "--timeout", "20s")
	t.Logf("kubectl drain: %v\n%s", err, out)
	if err == nil {
		t.Fatalf("the drain evicted every web pod despite the PDB")
	}
	if !strings.Contains(out, "disruption budget") {
		t.Errorf("the drain did not fail on the disruption budget")
	}
	if ready := readyWebPods(t); len(ready) < 1 {
		t.Errorf("%d web pods ready after the drain, PDB minimum is 1", len(ready))
	}
	pdb := kubectl(t, "get", "pdb", fullname()+"-web", "-o", "jsonpath={.status.currentHealthy} {.status.disruptionsAllowed}")
	if pdb != "1 0" {
		t.Errorf("PDB status (healthy, disruptions allowed) = %q, want \"1 0\"", pdb)
	}
}
