package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The product's browser tests bring up the real compose.yaml, as the e2e package does (whose
// helpers live in another package): a project and an image tag of this test process's own,
// `down -v` before and after, every command bounded, the stack's logs when the test failed.

// stackPrefix starts the project name of every stack these tests bring up; the rest is the
// test process's pid, so a leftover of an interrupted run (its process gone) can be told from a
// run going on beside this one.
const stackPrefix = "hcbrowser-"

// composeStack is one Compose project of the real compose.yaml, published on 127.0.0.1.
type composeStack struct {
	t       *testing.T
	project string
	tag     string // HITCOUNTER_TAG: the images this process builds, removed at the end
	file    string
	env     []string
	base    string // http://127.0.0.1:PORT of the load balancer
}

// requireDocker skips t without a Docker engine and Compose v2, or fails it where a missing
// browser fails (CI set, or HITCOUNTER_E2E=1), as the e2e package does.
func requireDocker(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{{"info", "--format", "{{.ServerVersion}}"}, {"compose", "version"}} {
		if out, err := runCmd(30*time.Second, nil, "docker", args...); err != nil {
			msg := fmt.Sprintf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
			if !MissingIsFailure() {
				t.Skipf("SKIPPED: no Docker engine with Compose v2 (%s); CI and HITCOUNTER_E2E=1 make this a failure", msg)
			}
			t.Fatalf("the browser tests of the product need a Docker engine with Compose v2: %s", msg)
		}
	}
}

// startStack builds and starts the stack with extra environment (KEY=value, given to compose
// and so to compose.yaml's substitutions), waits for every service to be healthy and finds the
// load balancer's port. At the end of t it takes the project down with its volumes and removes
// its images; before that, when t failed, it logs the containers and their logs.
func startStack(t *testing.T, extraEnv ...string) *composeStack {
	t.Helper()
	file, err := filepath.Abs(filepath.Join("..", "..", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(os.Getpid())
	s := &composeStack{t: t, project: stackPrefix + pid, tag: "browser-" + pid, file: file}
	s.env = append([]string{"HITCOUNTER_TAG=" + s.tag, "HTTP_BIND=127.0.0.1", "HTTP_PORT=0"}, extraEnv...)

	removeLeftoverStacks(t)
	s.down()
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.compose(time.Minute, "logs", "--no-color", "--timestamps")
			t.Logf("logs of %s:\n%s", s.project, out)
			ps, _ := s.compose(30*time.Second, "ps", "-a")
			t.Logf("containers of %s:\n%s", s.project, ps)
		}
		s.down()
		removeImages(t, s.tag)
	})

	began := time.Now()
	s.mustCompose(10*time.Minute, "build")
	t.Logf("stack %s: images built (tag %s) in %s", s.project, s.tag, time.Since(began).Round(time.Millisecond))
	began = time.Now()
	s.mustCompose(5*time.Minute, "up", "--wait", "--wait-timeout", "180")
	t.Logf("stack %s: up and healthy in %s", s.project, time.Since(began).Round(time.Millisecond))

	port := strings.TrimSpace(s.mustCompose(30*time.Second, "port", "lb", "8080"))
	if !strings.HasPrefix(port, "127.0.0.1:") {
		t.Fatalf("lb is published on %q, want 127.0.0.1:PORT", port)
	}
	s.base = "http://" + port
	return s
}

func (s *composeStack) compose(timeout time.Duration, args ...string) (string, error) {
	return runCmd(timeout, s.env, "docker", append([]string{"compose", "-p", s.project, "-f", s.file}, args...)...)
}

func (s *composeStack) mustCompose(timeout time.Duration, args ...string) string {
	s.t.Helper()
	out, err := s.compose(timeout, args...)
	if err != nil {
		s.t.Fatalf("docker compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *composeStack) down() {
	if out, err := s.compose(3*time.Minute, "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
		s.t.Logf("docker compose -p %s down: %v\n%s", s.project, err, out)
	}
}

// removeImages removes the images built under tag (their layers stay in the build cache).
func removeImages(t *testing.T, tag string) {
	var refs []string
	for _, repo := range []string{"hitcounter/web", "hitcounter/lb", "hitcounter/redis"} {
		ref := repo + ":" + tag
		if _, err := runCmd(30*time.Second, nil, "docker", "image", "inspect", ref); err == nil {
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		return
	}
	if out, err := runCmd(time.Minute, nil, "docker", append([]string{"rmi"}, refs...)...); err != nil {
		t.Logf("docker rmi %s: %v\n%s", strings.Join(refs, " "), err, out)
	}
}

// removeLeftoverStacks takes down the stacks (and removes the images) of earlier runs that were
// interrupted before their clean-up: their containers restart with dockerd. Stacks whose test
// process still runs are left alone.
func removeLeftoverStacks(t *testing.T) {
	out, err := runCmd(30*time.Second, nil, "docker", "compose", "ls", "-a", "--format", "json")
	if err != nil {
		return
	}
	var projects []struct{ Name string }
	_ = json.Unmarshal([]byte(out), &projects)
	for _, p := range projects {
		pid, ok := strings.CutPrefix(p.Name, stackPrefix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(pid); err != nil || n <= 0 || n == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); !os.IsNotExist(err) {
			continue
		}
		t.Logf("removing %s, left by an interrupted run", p.Name)
		_, _ = runCmd(3*time.Minute, nil, "docker", "compose", "-p", p.Name, "down", "-v", "--remove-orphans", "-t", "1")
		removeImages(t, "browser-"+pid)
	}
}

// runCmd runs a command with a deadline and returns its combined output.
func runCmd(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: timed out after %s", name, strings.Join(args, " "), timeout)
	}
	return out.String(), err
}
