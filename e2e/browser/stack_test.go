package browser

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
)

// The product's browser tests bring up the real compose.yaml with internal/testkit, as the e2e
// package does: a project and an image tag of this test process's own,
// `down -v` before and after, every command bounded, the stack's logs when the test failed.

// stackPrefix starts the project name of every stack these tests bring up; the test process's
// pid comes next (testkit.ProjectName), so a leftover of an interrupted run (its process gone)
// can be told from a run going on beside this one.
const stackPrefix = "hcbrowser-"

// composeStack is one Compose project of the real compose.yaml, published on 127.0.0.1.
type composeStack struct {
	*testkit.Project
	t    *testing.T
	tag  string // HITCOUNTER_TAG: the images this process builds, removed at the end
	base string // http://127.0.0.1:PORT of the load balancer
}

// requireDocker skips t without a Docker engine and Compose v2, or fails it where a missing
// browser fails (CI set, or HITCOUNTER_E2E=1), as the e2e package does.
func requireDocker(t *testing.T) {
	t.Helper()
	if err := testkit.CheckDocker(); err != nil {
		if !MissingIsFailure() {
			t.Skipf("SKIPPED: %v; CI and HITCOUNTER_E2E=1 make this a failure", err)
		}
		t.Fatalf("the browser tests of the product need a Docker engine with Compose v2: %v", err)
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
	removeLeftoverStacks(t)
	tag := imageTag(os.Getpid())
	// Registered before the project's own clean-up, so it runs after the `down -v`.
	t.Cleanup(func() {
		if err := testkit.RemoveImages(tag); err != nil {
			t.Logf("removing the images tagged %s: %v", tag, err)
		}
	})
	s := &composeStack{Project: testkit.NewTestProject(t, stackPrefix, file), t: t, tag: tag}
	s.Env = append([]string{"HITCOUNTER_TAG=" + s.tag, "HTTP_BIND=127.0.0.1", "HTTP_PORT=0"}, extraEnv...)

	began := time.Now()
	s.MustCompose(10*time.Minute, "build")
	t.Logf("stack %s: images built (tag %s) in %s", s.Name, s.tag, time.Since(began).Round(time.Millisecond))
	took := s.UpAndWait(180 * time.Second)
	t.Logf("stack %s: up and healthy in %s", s.Name, took.Round(time.Millisecond))
	s.base = "http://" + s.LoopbackPort("lb", "8080")
	return s
}

// imageTag is the tag of the images a test process of this package builds.
func imageTag(pid int) string { return "browser-" + strconv.Itoa(pid) }

// removeLeftoverStacks takes down the stacks (and removes the images) of earlier runs that were
// interrupted before their clean-up: their containers restart with dockerd. Stacks whose test
// process still runs are left alone.
func removeLeftoverStacks(t *testing.T) {
	for _, pid := range testkit.RemoveLeftovers(stackPrefix) {
		t.Logf("removed the stack of pid %d, left by an interrupted run", pid)
		if err := testkit.RemoveImages(imageTag(pid)); err != nil {
			t.Logf("removing the images tagged %s: %v", imageTag(pid), err)
		}
	}
}
