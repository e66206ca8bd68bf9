//go:build k8s

package k8s

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The message the chart fails with when an Ingress would hide every client behind the controller.
const ingressRefusal = "ingress.enabled is true but web.trustedProxies is empty"

// testRender checks what helm template decides without a cluster: the refusals, and what
// existingSecret changes.
func testRender(t *testing.T) {
	out, err := run(time.Minute, "helm", "template", "r", chartDir, "--set", "ingress.enabled=true")
	if err == nil {
		t.Errorf("helm template with ingress.enabled and no web.trustedProxies rendered, want a refusal")
	} else if !strings.Contains(out, ingressRefusal) {
		t.Errorf("the refusal does not say %q:\n%s", ingressRefusal, out)
	}
	out, err = run(time.Minute, "helm", "template", "r", chartDir, "--set", "ingress.enabled=true",
		"--set", "web.trustedProxies=10.244.0.0/16")
	if err != nil || !strings.Contains(out, "kind: Ingress") {
		t.Errorf("with web.trustedProxies set, the Ingress should render (%v):\n%s", err, out)
	}

	// GitOps tools render without the cluster: with existingSecret the chart must generate
	// nothing, and mount only the named Secret's two keys.
	out, err = run(time.Minute, "helm", "template", "r", chartDir, "--set", "web.existingSecret=mine")
	if err != nil {
		t.Fatalf("helm template with web.existingSecret: %v\n%s", err, out)
	}
	for _, doc := range strings.Split(out, "\n---\n") {
		if strings.Contains(doc, "\nkind: Secret\n") && strings.Contains(doc, "\n  name: r-hitcounter-web\n") {
			t.Errorf("web.existingSecret set, yet the chart renders its own web Secret:\n%s", doc)
		}
	}
	if !strings.Contains(out, "name: mine\n                  items:\n                    - key: operator_token") {
		t.Errorf("the web pods do not mount operator_token from web.existingSecret:\n%s", out)
	}
	// The release's own Redis has no replicas: nothing to wait for.
	out, err = run(time.Minute, "helm", "template", "r", chartDir)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	if env := renderedEnv(t, renderedDoc(t, out, "Deployment", "r-hitcounter-web")); env["REDIS_WAIT_REPLICAS"] != "0" {
		t.Errorf("REDIS_WAIT_REPLICAS = %q by default, want \"0\"", env["REDIS_WAIT_REPLICAS"])
	}
	testRenderExternalRedis(t)
}

// testRenderExternalRedis renders the web tier on an external Sentinel or Cluster deployment
// (issue #16): the servers and the credentials' files in the web pods' environment, never a
// REDIS_URL, the passwords from the user's Secrets in the projected volume, nothing of the
// release's own Redis, and the NetworkPolicy open to every port of those servers.
func testRenderExternalRedis(t *testing.T) {
	cases := []struct {
		name, values string
		env          map[string]string // "": must not be set
		mounts       []string          // the projected volume's items, as rendered
		ports        []string          // the NetworkPolicy's ports to Redis, in order
	}{
		{
			name: "sentinel",
			values: `
redis:
  external:
    mode: sentinel
    hosts: ["s-0.sentinel:26379", "s-1.sentinel", "[2001:db8::1]:26380"]
    sentinelMaster: mymaster
    username: hc-app
    passwordSecret: {name: hc-redis-pw}
    sentinelUsername: hc-sentinel
    sentinelPasswordSecret: {name: hc-sentinel-pw, key: sentinel_password}
web:
  redisWaitReplicas: 1
  networkPolicy:
    externalRedis:
      to: [{ipBlock: {cidr: 10.20.0.0/16}}]
`,
			env: map[string]string{
				"REDIS_MODE":                   "sentinel",
				"REDIS_HOST":                   "s-0.sentinel:26379,s-1.sentinel:26379,[2001:db8::1]:26380",
				"REDIS_SENTINEL_MASTER":        "mymaster",
				"REDIS_SENTINEL_USERNAME":      "hc-sentinel",
				"REDIS_SENTINEL_PASSWORD_FILE": "/run/secrets/redis_sentinel_password",
				"REDIS_USERNAME":               "hc-app",
				"REDIS_PASSWORD_FILE":          "/run/secrets/redis_password",
				"REDIS_WAIT_REPLICAS":          "1",
				"REDIS_URL":                    "",
				"REDIS_PORT":                   "",
			},
			mounts: []string{"hc-redis-pw:password>redis_password", "hc-sentinel-pw:sentinel_password>redis_sentinel_password"},
			// The Sentinels' ports, then the primary's and replicas' (6379 unless set).
			ports: []string{"26379", "26380", "6379"},
		},
		{
			name: "cluster",
			values: `
redis:
  enabled: false
  external:
    mode: cluster
    hosts: ["n-0.cluster:7000", "n-1.cluster"]
    passwordSecret: {name: hc-redis-pw, key: redis_password}
web:
  redisWaitReplicas: 2
  networkPolicy:
    externalRedis:
      ports: [7001, 7000]
`,
			env: map[string]string{
				"REDIS_MODE":                   "cluster",
				"REDIS_HOST":                   "n-0.cluster:7000,n-1.cluster:6379",
				"REDIS_PASSWORD_FILE":          "/run/secrets/redis_password",
				"REDIS_WAIT_REPLICAS":          "2",
				"REDIS_USERNAME":               "",
				"REDIS_SENTINEL_MASTER":        "",
				"REDIS_SENTINEL_PASSWORD_FILE": "",
				"REDIS_URL":                    "",
				"REDIS_PORT":                   "",
			},
			mounts: []string{"hc-redis-pw:redis_password>redis_password"},
			// The seeds' ports and web.networkPolicy.externalRedis.ports, each once.
			ports: []string{"7000", "6379", "7001"},
		},
	}
	for _, c := range cases {
		file := filepath.Join(t.TempDir(), c.name+".yaml")
		if err := os.WriteFile(file, []byte(c.values), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := run(time.Minute, "helm", "template", "r", chartDir, "-f", file)
		if err != nil {
			t.Errorf("%s: helm template: %v\n%s", c.name, err, out)
			continue
		}
		deployment := renderedDoc(t, out, "Deployment", "r-hitcounter-web")
		env := renderedEnv(t, deployment)
		for name, want := range c.env {
			if got, set := env[name]; want == "" && set {
				t.Errorf("%s: the web pods have %s (%q), want it unset", c.name, name, got)
			} else if want != "" && got != want {
				t.Errorf("%s: %s = %q, want %q", c.name, name, got, want)
			}
		}
		if strings.Contains(deployment, "- name: REDIS_URL\n") {
			t.Errorf("%s: the web pods have REDIS_URL, which the service refuses in this mode:\n%s", c.name, deployment)
		}
		mounts := regexp.MustCompile(`- secret:\n\s+name: (\S+)\n\s+items:\n\s+- key: (\S+)\n\s+path: (\S+)`).FindAllStringSubmatch(deployment, -1)
		var got []string
		for _, m := range mounts {
			if m[3] != "operator_token" {
				got = append(got, m[1]+":"+m[2]+">"+m[3])
			}
		}
		if !slices.Equal(got, c.mounts) {
			t.Errorf("%s: the web pods' Redis secret files = %q, want %q", c.name, got, c.mounts)
		}
		for _, kind := range []string{"StatefulSet", "CronJob", "PersistentVolumeClaim"} {
			if strings.Contains(out, "\nkind: "+kind+"\n") {
				t.Errorf("%s: an external Redis, yet the chart renders a %s", c.name, kind)
			}
		}
		for _, secret := range []string{"r-hitcounter-redis", "r-hitcounter-redis-url"} {
			if strings.Contains(out, "\n  name: "+secret+"\n") {
				t.Errorf("%s: an external Sentinel or Cluster, yet the chart renders the Secret %s", c.name, secret)
			}
		}
		policy := renderedDoc(t, out, "NetworkPolicy", "r-hitcounter-web")
		egress := policy[strings.Index(policy, "\n  egress:"):]
		var ports []string
		for _, m := range regexp.MustCompile(`- port: (\d+)\n\s+protocol: TCP`).FindAllStringSubmatch(egress, -1) {
			if m[1] != "53" {
				ports = append(ports, m[1])
			}
		}
		if !slices.Equal(ports, c.ports) {
			t.Errorf("%s: the web NetworkPolicy lets the pods reach Redis on %q, want %q:\n%s", c.name, ports, c.ports, egress)
		}
	}
}

// renderedDoc returns the document of helm template's output that is the named object.
func renderedDoc(t *testing.T, out, kind, name string) string {
	t.Helper()
	for _, doc := range strings.Split(out, "\n---\n") {
		if strings.Contains(doc, "\nkind: "+kind+"\n") && strings.Contains(doc, "\n  name: "+name+"\n") {
			return doc
		}
	}
	t.Fatalf("helm template rendered no %s %s:\n%s", kind, name, out)
	return ""
}

// renderedEnv returns the name=value environment variables of a rendered pod template (those
// with valueFrom are left out).
func renderedEnv(t *testing.T, doc string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+- name: ([A-Z0-9_]+)\n\s+value: (.*)$`).FindAllStringSubmatch(doc, -1) {
		v, err := strconv.Unquote(m[2])
		if err != nil {
			v = m[2]
		}
		env[m[1]] = v
	}
	return env
}

// webSecret returns the decoded keys of the web Secret the chart generated.
func webSecret(t *testing.T) map[string]string {
	t.Helper()
	raw := kubectl(t, "get", "secret", fullname()+"-web", "-o", "jsonpath={.data}")
	var enc map[string]string
	if err := json.Unmarshal([]byte(raw), &enc); err != nil {
		t.Fatalf("web Secret data: %v", err)
	}
	dec := map[string]string{}
	for k, v := range enc {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("web Secret key %s: %v", k, err)
		}
		dec[k] = string(b)
	}
	return dec
}

// checkSecrets checks the settings issue #15 added, as the cluster has them: each container sees
// only its own secret files, and the generated web secrets have the form the service wants.
func checkSecrets(t *testing.T, pod string) {
	t.Helper()
	env := kubectl(t, "get", "pod", pod, "-o", `jsonpath={range .spec.containers[0].env[*]}{.name}={.value}{"\n"}{end}`)
	for _, want := range []string{"OPERATOR_PORT=5001", "OPERATOR_TOKEN_FILE=/run/secrets/operator_token", "VISITOR_KEY_FILE=/run/secrets/visitor_key"} {
		if !strings.Contains(env, want) {
			t.Errorf("web pod env lacks %s:\n%s", want, env)
		}
	}
	mounted := kubectl(t, "get", "pod", pod, "-o",
		`jsonpath={range .spec.volumes[?(@.name=="secrets")].projected.sources[*]}{.secret.name}:{range .secret.items[*]}{.key} {end};{end}`)
	if want := fullname() + "-redis:redis_app_password ;" + fullname() + "-web:operator_token visitor_key ;"; mounted != want {
		t.Errorf("web pod secret files = %q, want %q", mounted, want)
	}
	redisMounted := kubectl(t, "get", "pod", fullname()+"-redis-0", "-o",
		`jsonpath={range .spec.volumes[?(@.name=="secrets")].secret.items[*]}{.key} {end}`)
	// The users' passwords (it keeps their hashes): the app's, the health check's and the backup
	// CronJob's (backup.enabled, the default).
	if redisMounted != "redis_app_password redis_health_password redis_backup_password" {
		t.Errorf("Redis pod secret files = %q, want only its users' three passwords", redisMounted)
	}
	s := webSecret(t)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(s["visitor_key"]) {
		t.Errorf("visitor_key is not 64 hex characters (%d characters)", len(s["visitor_key"]))
	}
	if len(s["operator_token"]) < 16 {
		t.Errorf("operator_token has %d characters, want at least 16", len(s["operator_token"]))
	}
	redisEnv := kubectl(t, "get", "pod", fullname()+"-redis-0", "-o",
		`jsonpath={range .spec.containers[0].env[*]}{.name}={.value}{"\n"}{end}{.spec.containers[0].resources.limits.memory}`)
	for _, want := range []string{"REDIS_MAXMEMORY=1200mb", "1600Mi"} {
		if !strings.Contains(redisEnv, want) {
			t.Errorf("Redis pod lacks %s:\n%s", want, redisEnv)
		}
	}
}

// call sends one request through the Service and returns its status and body.
func call(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// The public port serves neither the metrics nor the operator's routes, even to a client that
// holds the operator token.
func testOperatorRoutesNotPublic(t *testing.T) {
	url := serviceURL(t)
	token := webSecret(t)["operator_token"]
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "metrics"},
		{http.MethodGet, "admin/export"},
		{http.MethodPost, "admin/import"},
		{http.MethodPost, "admin/key/k8s-test/anything"},
	} {
		for _, tok := range []string{"", token} {
			if status, body := call(t, c.method, url+c.path, tok); status != http.StatusNotFound {
				t.Errorf("%s /%s through the Service (token sent: %v) = %d %q, want 404",
					c.method, c.path, tok != "", status, body[:min(len(body), 200)])
			}
		}
	}
}

// execWeb runs the web binary in a web pod with kubectl exec; stdout comes back apart from
// stderr, because the export is the stdout.
func execWeb(t *testing.T, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"-n", namespace, "exec", "-i", "deploy/" + fullname() + "-web", "-c", "web", "--", "/hitcounter"}, args...)
	cmd := exec.CommandContext(ctx, "kubectl", full...)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

type exportLine struct {
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	Value     int64  `json:"value"`
	Hash      string `json:"admin_key_sha256"`
}

// The operator's backup and restore as docs/kubernetes.md gives them: `hitcounter export` and
// `hitcounter import` through kubectl exec, talking to the operator port on 127.0.0.1. A
// counter survives being deleted and restored, admin key included.
func testExportImport(t *testing.T) {
	url := serviceURL(t)
	const ns, key = "k8s-test", "backup"
	status, body := call(t, http.MethodPost, url+"create/"+ns+"/"+key+"?initializer=41", "")
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	var created struct {
		AdminKey string `json:"admin_key"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.AdminKey == "" {
		t.Fatalf("create answered without an admin key: %s", body)
	}
	if status, body := call(t, http.MethodGet, url+"hit/"+ns+"/"+key, ""); status != http.StatusOK || body != `{"value":42}` {
		t.Fatalf("hit: %d %s, want 200 {\"value\":42}", status, body)
	}

	at := time.Now()
	backup, stderr, err := execWeb(t, nil, "export")
	if err != nil {
		t.Fatalf("kubectl exec ... /hitcounter export: %v\nstderr: %s\nstdout: %.500s", err, stderr, backup)
	}
	t.Logf("export took %.1fs, %d bytes", time.Since(at).Seconds(), len(backup))
	var found *exportLine
	sc := bufio.NewScanner(strings.NewReader(backup))
	lines := 0
	for sc.Scan() {
		var l exportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("export line %d is not JSON (%v): %q", lines+1, err, sc.Text())
		}
		lines++
		if l.Namespace == ns && l.Key == key {
			found = &l
		}
	}
	if found == nil || found.Value != 42 || found.Hash == "" {
		t.Fatalf("the export (%d lines) lacks %s/%s at 42 with its admin key hash: %+v", lines, ns, key, found)
	}

	if status, body := call(t, http.MethodPost, url+"delete/"+ns+"/"+key, created.AdminKey); status != http.StatusOK {
		t.Fatalf("delete: %d %s", status, body)
	}
	if status, _ := call(t, http.MethodGet, url+"get/"+ns+"/"+key, ""); status != http.StatusNotFound {
		t.Fatalf("get after delete: %d, want 404", status)
	}
	out, stderr, err := execWeb(t, strings.NewReader(backup), "import")
	if err != nil {
		t.Fatalf("kubectl exec -i ... /hitcounter import: %v\nstderr: %s\nstdout: %s", err, stderr, out)
	}
	t.Logf("import: %s %s", strings.TrimSpace(out), strings.TrimSpace(stderr))
	if status, body := call(t, http.MethodGet, url+"get/"+ns+"/"+key, ""); status != http.StatusOK || body != `{"value":42}` {
		t.Errorf("get after import: %d %s, want 200 {\"value\":42}", status, body)
	}
	// The restored hash is the old key's: the owner's key works again.
	if status, body := call(t, http.MethodPost, url+"set/"+ns+"/"+key+"?value=7", created.AdminKey); status != http.StatusOK {
		t.Errorf("set with the owner's key after the restore: %d %s", status, body)
	}
}

// httpGet is a shell function for the probe pods: `get HOST PORT PATH` prints the answer and
// succeeds on a 2xx. With busybox's wget where the image has it (the official Alpine-based Redis
// image), with bash's /dev/tcp otherwise (the stand-in image on machines without a registry).
// Each try is bounded: a dropped connection fails after 5 s, a rejected one at once.
const httpGet = `get() {
  if command -v wget >/dev/null 2>&1; then
    timeout 5 wget -q -T 3 -O - "http://$1:$2$3" 2>&1
  else
    out=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
      printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$2" "$0" >&3; cat <&3' "$1" "$2" "$3" 2>&1) || { echo "$out"; return 1; }
    echo "$out"
    case "$out" in "HTTP/1."[01]" 2"*) return 0 ;; *) return 1 ;; esac
  fi
}
`

// webPodIP returns the address of one ready web pod.
func webPodIP(t *testing.T) string {
	t.Helper()
	return kubectl(t, "get", "pod", readyWebPods(t)[0], "-o", "jsonpath={.status.podIP}")
}

// The web pods' own policy: anyone reaches the public port, nobody unlisted the operator port,
// a listed peer (a scraper) does, and a web pod opens no connection but to Redis and DNS.
func testWebNetworkPolicy(t *testing.T) {
	ip := webPodIP(t)
	image := "hitcounter/redis:" + tagA
	// The public port first, so that a refusal on the operator port cannot be a pod that is not
	// reachable at all; then the operator port, each try bounded by its own timeout.
	outsiderScript := httpGet + fmt.Sprintf(`ok=
for i in $(seq 1 15); do
  if out=$(get %[1]s 5000 /healthz); then echo "public: answered"; ok=1; break; fi
  echo "public try $i: $out"; sleep 1
done
[ -n "$ok" ] || exit 0
for i in 1 2 3; do
  if out=$(get %[1]s 5001 /metrics); then echo "operator: REACHED"; exit 0; fi
  echo "operator try $i: $out"
done`, ip)
	outsider := runPod(t, "outsider-web", map[string]string{"app": "outsider"}, image, outsiderScript)
	t.Logf("pod without labels, to a web pod: %s", strings.TrimSpace(outsider))
	if !strings.Contains(outsider, "public: answered") {
		t.Errorf("a pod could not reach a web pod's public port: %s", outsider)
	}
	if strings.Contains(outsider, "REACHED") || !strings.Contains(outsider, "operator try 3:") {
		t.Errorf("a pod not in web.networkPolicy.operatorFrom reached the operator port: %s", outsider)
	}

	// Let a scraper in, as the chart's README tells a Prometheus user to. Only the policy
	// changes: the pods are not rolled.
	pods := strings.Join(readyWebPods(t), " ")
	helm(t, 3*time.Minute, "upgrade", release, chartDir, "--reuse-values", "--wait", "--timeout", "2m",
		"--set-json", `web.networkPolicy.operatorFrom=[{"podSelector":{"matchLabels":{"hitcounter-k8s/scraper":"true"}}}]`)
	if now := strings.Join(readyWebPods(t), " "); now != pods {
		t.Errorf("changing operatorFrom rolled the web pods: %s -> %s", pods, now)
	}
	// kube-router admits a new pod's address once it has synced the policy for it: try for up
	// to 20 s.
	scraperScript := httpGet + fmt.Sprintf(`for i in $(seq 1 20); do
  if out=$(get %s 5001 /metrics); then
    echo "scrape try $i: answered"; echo "$out" | grep -m1 '^hitcounter_build_info'; exit 0
  fi
  echo "scrape try $i: $out"; sleep 1
done`, ip)
	scraper := runPod(t, "scraper", map[string]string{"hitcounter-k8s/scraper": "true"}, image, scraperScript)
	t.Logf("pod in operatorFrom: %s", strings.TrimSpace(scraper))
	if !strings.Contains(scraper, "hitcounter_build_info") {
		t.Errorf("a pod listed in web.networkPolicy.operatorFrom could not scrape /metrics on 5001: %s", scraper)
	}

	// Egress: a pod with the web labels resolves names (DNS on 53 is allowed) but cannot open a
	// connection to CoreDNS's health port, which a pod without the labels reaches. The target is
	// a pod no policy selects on purpose: kube-router v2.1 runs a pod's outgoing packets through
	// every rule of the policies that select it, ingress rules included, so from a web pod it
	// lets through a connection to another web pod's port 5000 (the web policy's ingress rule),
	// which the NetworkPolicy API forbids. Before kube-router has synced a new pod nothing stops
	// it, so what counts is that it is stopped within 15 s and stays stopped.
	dns := kubectl(t, "-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "jsonpath={.items[0].status.podIP}")
	control := runPod(t, "dns-health", map[string]string{"app": "outsider"}, image, httpGet+fmt.Sprintf(
		`for i in $(seq 1 15); do if get %s 8080 /health >/dev/null; then echo "health: answered"; exit 0; fi; sleep 1; done`, dns))
	if !strings.Contains(control, "health: answered") {
		t.Fatalf("a pod without labels could not reach CoreDNS's health port, so the egress check below would prove nothing: %s", control)
	}
	// The name is looked up after the block holds, so with the policy in force.
	egressScript := httpGet + fmt.Sprintf(`blocked=0
for i in $(seq 1 15); do
  if get %[1]s 8080 /health >/dev/null; then
    echo "try $i: reached"; blocked=0; sleep 1
  else
    blocked=$((blocked+1)); echo "try $i: blocked"; [ $blocked -ge 3 ] && { echo "stays blocked"; break; }
  fi
done
getent hosts %[2]s >/dev/null && echo "dns: resolved" || echo "dns: FAILED"`, dns, fullname()+"-redis")
	labels := map[string]string{
		"app.kubernetes.io/name":      "hitcounter",
		"app.kubernetes.io/instance":  release,
		"app.kubernetes.io/component": "web",
	}
	egress := runPod(t, "web-egress", labels, image, egressScript)
	t.Logf("pod with the web labels, to CoreDNS's health port: %s", strings.TrimSpace(egress))
	if !strings.Contains(egress, "dns: resolved") {
		t.Errorf("a pod with the web labels could not resolve the Redis Service's name: %s", egress)
	}
	if !strings.Contains(egress, "stays blocked") {
		t.Errorf("a pod with the web labels could open connections to other than Redis and DNS: %s", egress)
	}
	// It carries the web labels: gone before the drain test counts and evicts web pods.
	kubectl(t, "delete", "pod", "web-egress", "--ignore-not-found", "--timeout=60s")
}
