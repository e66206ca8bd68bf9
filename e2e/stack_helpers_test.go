// Package e2e drives the real stack (compose.yaml, the three Dockerfiles) through the docker
// compose CLI against a real Docker engine. Every test has its own project, brings it down
// before and after, bounds every wait, and prints the containers' logs when it fails.
//
// A missing Docker engine or Compose plugin fails the run in CI (CI set) and under make
// (HITCOUNTER_E2E=1); a plain `go test ./...` without Docker says so and runs none of them. On a
// machine without a registry, scripts/prepare-docker.sh makes the engine ready.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// projectPrefix starts every project name of this package. A run's own projects are
// runPrefix: the prefix plus this test process's pid, so that clean-up can tell a leftover of
// an interrupted run (its process is gone) from another run going on beside this one.
const projectPrefix = "hce2e-"

var runPrefix = projectPrefix + strconv.Itoa(os.Getpid()) + "-"

// runTag tags the images this run builds (HITCOUNTER_TAG), so that runs from two checkouts on
// one engine never test each other's builds; TestMain removes them at the end.
var runTag = "e2e-" + strconv.Itoa(os.Getpid())

var composeFile string

func TestMain(m *testing.M) {
	abs, err := filepath.Abs(filepath.Join("..", "compose.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	composeFile = abs
	if err := testkit.CheckDocker(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\nThe end-to-end tests need a Docker engine with Compose v2 and Buildx: "+
			"run scripts/prepare-docker.sh (machines without a registry) or install Docker.\n", err)
		// `go test ./...` on a laptop without Docker runs the unit tests and passes; in CI, and
		// under `make test` / `make test-e2e` (HITCOUNTER_E2E=1), a missing engine is a failure.
		if os.Getenv("CI") == "" && os.Getenv("HITCOUNTER_E2E") != "1" {
			fmt.Fprintln(os.Stderr, "e2e: SKIPPED, every end-to-end test (no Docker engine; CI and HITCOUNTER_E2E=1 make this a failure)")
			os.Exit(0)
		}
		os.Exit(1)
	}
	testkit.RemoveLeftovers(projectPrefix)
	// Build once; each test's `up --build` then only checks the cache.
	build := []string{"compose", "-p", runPrefix + "build", "-f", composeFile, "build"}
	if out, err := testkit.Run(10*time.Minute, []string{"HITCOUNTER_TAG=" + runTag}, "docker", build...); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building the images failed: %v\n%s\n", err, out)
		os.Exit(1)
	}
	code := m.Run()
	// The layers stay in the build cache; only this run's tags go.
	if err := testkit.RemoveImages(runTag); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: removing this run's images:", err)
	}
	if err := writeReliabilityReport(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: writing docs/reliability.md:", err)
		code = 1
	}
	os.Exit(code)
}

// liftSourceLimits turns off the balancer's per-source limits, for tests that send a load, or
// play many clients, through the published port on 127.0.0.1: everything sent there reaches
// the balancer from one address, docker-proxy's, so to those limits the whole test is one
// source. The limits themselves are tested from real, distinct addresses (lb_limits_test.go,
// hostile_clients_test.go).
var liftSourceLimits = []string{"LB_CONN_PER_SOURCE=0", "LB_CONN_RATE_PER_SOURCE=0", "LB_REQ_RATE_PER_SOURCE=0"}

// asOneHeavyClient lifts what limits one client, for a test whose load comes from one
// client (the test) through one source: the balancer's per-source limits and the service's
// per-client read limit (GET / is a read). Every other limit stays as shipped.
func (s *stack) asOneHeavyClient() {
	s.Env = append(append(s.Env, liftSourceLimits...), "RATE_LIMIT_READS=0")
}

// stack is one Compose project of the real compose.yaml.
type stack struct {
	*testkit.Project
	t    *testing.T
	base string // http://127.0.0.1:PORT of the load balancer
}

// newStack names a project for this test, takes down anything left under that name, and
// registers the final `down -v` (with logs first, when the test failed).
func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{Project: testkit.NewTestProject(t, projectPrefix, composeFile), t: t}
	// Published on loopback only, on a port the engine picks.
	s.Env = []string{"HTTP_BIND=127.0.0.1", "HTTP_PORT=0", "ACCESS_LOG=false", "HITCOUNTER_TAG=" + runTag}
	return s
}

// up runs `up --build --wait` (bounded) and finds the load balancer's published port.
func (s *stack) up(args ...string) time.Duration {
	s.t.Helper()
	took := s.UpAndWait(120*time.Second, append([]string{"--build"}, args...)...)
	s.findLB()
	return took
}

func (s *stack) findLB() {
	s.t.Helper()
	s.base = "http://" + s.LoopbackPort("lb", "8080")
}

// inspect decodes `docker inspect` of one object into v.
func (s *stack) inspect(v any, args ...string) {
	s.t.Helper()
	out, err := testkit.Run(30*time.Second, nil, "docker", append([]string{"inspect"}, args...)...)
	if err != nil {
		s.t.Fatalf("docker inspect %v: %v\n%s", args, err, out)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		s.t.Fatalf("docker inspect %v: %v", args, err)
	}
}

// container is the part of `docker inspect` the tests read.
type container struct {
	ID           string
	RestartCount int
	State        struct {
		Pid       int
		StartedAt string
		Health    *struct{ Status string }
	}
	Config struct {
		User string
	}
	Mounts []struct {
		Name, Destination string
		RW                bool
	}
	HostConfig struct {
		ReadonlyRootfs  bool
		CapAdd, CapDrop []string
		SecurityOpt     []string
		Memory          int64
		PidsLimit       *int64
		LogConfig       struct {
			Type   string
			Config map[string]string
		}
		PortBindings map[string][]struct{ HostIP, HostPort string }
	}
	NetworkSettings struct {
		Ports    map[string][]struct{ HostIP, HostPort string }
		Networks map[string]struct{ IPAddress string }
	}
}

func (s *stack) inspectContainer(id string) container {
	s.t.Helper()
	var cs []container
	s.inspect(&cs, id)
	if len(cs) != 1 {
		s.t.Fatalf("docker inspect %s: %d results", id, len(cs))
	}
	return cs[0]
}

// waitHealthy polls a service's containers until all are healthy, within a bound.
func (s *stack) waitHealthy(service string, within time.Duration) {
	s.t.Helper()
	waitfor.Until(s.t, within, func() error {
		ids := s.Containers(service)
		if len(ids) == 0 {
			return fmt.Errorf("no %s container", service)
		}
		for _, id := range ids {
			if c := s.inspectContainer(id); c.State.Health == nil || c.State.Health.Status != "healthy" {
				return fmt.Errorf("%s %s is not healthy", service, id[:12])
			}
		}
		return nil
	})
}

// visit is one GET / through the load balancer.
type visit struct {
	status   int
	count    int64
	servedBy string
	took     time.Duration
	err      error
	attempts int // times the client sent it; more than 1 is a retry by Go's client
}

var countRe = regexp.MustCompile(`^Hello World! I have been seen (\d+) times\.\n$`)

var httpClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 5 * time.Second},
}

func (s *stack) visit(path string) visit {
	begin := time.Now()
	// Go's client sends a GET again by itself when a reused connection closes before the
	// answer. To the balancer that is a second request, which may be counted: attempts says
	// how many times this one was sent.
	attempts := 0
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { attempts++ }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.base+path, nil)
	if err != nil {
		return visit{err: err}
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return visit{err: err, took: time.Since(begin), attempts: attempts}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	v := visit{status: resp.StatusCode, servedBy: resp.Header.Get("X-Served-By"), took: time.Since(begin), err: err, attempts: attempts}
	if m := countRe.FindStringSubmatch(string(body)); m != nil {
		v.count, _ = strconv.ParseInt(m[1], 10, 64)
	} else if resp.StatusCode == 200 && path == "/" {
		v.err = fmt.Errorf("unexpected body %q", body)
	}
	return v
}

// mustVisit wants a 200 with a count.
func (s *stack) mustVisit() visit {
	s.t.Helper()
	v := s.visit("/")
	if v.err != nil || v.status != 200 {
		s.t.Fatalf("GET / = %d, %v", v.status, v.err)
	}
	return v
}

// waitVisit retries GET / until it answers 200, within a bound.
func (s *stack) waitVisit(within time.Duration) visit {
	s.t.Helper()
	var v visit
	waitfor.Until(s.t, within, func() error {
		if v = s.visit("/"); v.err != nil {
			return fmt.Errorf("GET /: %w", v.err)
		} else if v.status != 200 {
			return fmt.Errorf("GET / = %d", v.status)
		}
		return nil
	})
	return v
}

// burst sends n visits from `clients` concurrent clients and returns every result.
func (s *stack) burst(n, clients int) []visit {
	results := make(chan visit, n)
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	done := make(chan struct{})
	for range clients {
		go func() {
			defer func() { done <- struct{}{} }()
			for range jobs {
				results <- s.visit("/")
			}
		}()
	}
	for range clients {
		<-done
	}
	close(results)
	var out []visit
	for v := range results {
		out = append(out, v)
	}
	return out
}

// operatorURL is the operator port of a web container: http://<its frontend address>:5001. It
// is never published; the host reaches it as it reaches any container's address.
func (s *stack) operatorURL(webID string) string {
	s.t.Helper()
	ip := s.inspectContainer(webID).NetworkSettings.Networks[s.Name+"_frontend"].IPAddress
	if ip == "" {
		s.t.Fatalf("web container %s has no address on %s_frontend", webID, s.Name)
	}
	return "http://" + net.JoinHostPort(ip, "5001")
}

// webSecret reads one of the secrets a web container mounts (docker compose cp: the image has
// no shell to cat it with).
func (s *stack) webSecret(name string) []byte {
	s.t.Helper()
	dir := s.t.TempDir()
	s.MustCompose(30*time.Second, "cp", "web:/run/secrets/"+name, filepath.Join(dir, name))
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}
