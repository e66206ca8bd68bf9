package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Bounds of the commands every project runs.
const (
	downTimeout  = 3 * time.Minute
	shortTimeout = 30 * time.Second
	logsTimeout  = time.Minute
)

// Project is one Compose project of a test: its own name, the compose files it is made of, and
// the environment its `docker compose` commands get (compose.yaml's substitutions).
type Project struct {
	T     testing.TB
	Name  string
	Files []string // absolute paths, given to compose as -f, in order
	Env   []string // KEY=value added to this process's environment
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// ProjectName is a project name unique to this test process and test: prefix, this process's
// pid, the test's name made fit for Compose, and a random suffix. The pid comes right after the
// prefix so that RemoveLeftovers can tell an interrupted run's project (its process is gone)
// from one of a run going on beside this one.
func ProjectName(prefix, testName string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := prefix + strconv.Itoa(os.Getpid()) + "-" + strings.Trim(nonName.ReplaceAllString(strings.ToLower(testName), "-"), "-")
	if len(name) > 48 {
		name = name[:48]
	}
	return name + "-" + hex.EncodeToString(b[:])
}

// NewTestProject names a project for t (ProjectName), takes down anything left under that name,
// and registers its final `down -v`, preceded by the containers' logs when t failed.
func NewTestProject(t testing.TB, prefix string, files ...string) *Project {
	t.Helper()
	p := &Project{T: t, Name: ProjectName(prefix, t.Name()), Files: files}
	p.Down()
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := p.Compose(logsTimeout, "logs", "--no-color", "--timestamps")
			t.Logf("logs of %s:\n%s", p.Name, out)
			ps, _ := p.Compose(shortTimeout, "ps", "-a")
			t.Logf("containers of %s:\n%s", p.Name, ps)
		}
		p.Down()
	})
	return p
}

// command is bounded by its timeout alone, not by the test's context: that one ends before the
// clean-ups run, and the final `down -v` is one of them.
func (p *Project) command(timeout time.Duration, args []string) Command {
	all := []string{"compose", "-p", p.Name}
	for _, f := range p.Files {
		all = append(all, "-f", f)
	}
	return Command{Name: "docker", Args: append(all, args...), Env: p.Env, Timeout: timeout}
}

// Compose runs `docker compose` on the project within timeout and returns its combined output.
func (p *Project) Compose(timeout time.Duration, args ...string) (string, error) {
	return p.command(timeout, args).Combined(context.Background())
}

// ComposeInput is Compose with stdin.
func (p *Project) ComposeInput(timeout time.Duration, stdin []byte, args ...string) (string, error) {
	c := p.command(timeout, args)
	c.Stdin = bytes.NewReader(stdin)
	return c.Combined(context.Background())
}

// MustCompose is Compose that fails the test, with the output, when the command fails.
func (p *Project) MustCompose(timeout time.Duration, args ...string) string {
	p.T.Helper()
	out, err := p.Compose(timeout, args...)
	if err != nil {
		p.T.Fatalf("%v\n%s", err, out)
	}
	return out
}

// Down removes the project's containers, networks and volumes. A failure is logged, not fatal:
// Down runs in clean-ups, where the test's own result matters more.
func (p *Project) Down() {
	if out, err := p.Compose(downTimeout, "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
		p.T.Logf("%v\n%s", err, out)
	}
}

// Up runs `up -d` with args, within timeout.
func (p *Project) Up(timeout time.Duration, args ...string) {
	p.T.Helper()
	p.MustCompose(timeout, append([]string{"up", "-d"}, args...)...)
}

// UpAndWait runs `up --wait` with args, compose waiting at most wait for every service to be
// healthy (and the command two minutes more, for creating what the project needs), and returns
// how long it took.
func (p *Project) UpAndWait(wait time.Duration, args ...string) time.Duration {
	p.T.Helper()
	begin := time.Now()
	p.MustCompose(wait+2*time.Minute, append([]string{"up", "--wait", "--wait-timeout", strconv.Itoa(int(wait.Seconds()))}, args...)...)
	return time.Since(begin)
}

// Containers lists the ids of a service's containers.
func (p *Project) Containers(service string) []string {
	p.T.Helper()
	return strings.Fields(p.MustCompose(shortTimeout, "ps", "-q", service))
}

// Port is the host address a service's container port is published on (HOST:PORT).
func (p *Project) Port(service, port string) string {
	p.T.Helper()
	return strings.TrimSpace(p.MustCompose(shortTimeout, "port", service, port))
}

// LoopbackPort is Port that fails the test unless the port is published on 127.0.0.1 alone.
func (p *Project) LoopbackPort(service, port string) string {
	p.T.Helper()
	addr := p.Port(service, port)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		p.T.Fatalf("%s is published on %q, want 127.0.0.1:PORT", service, addr)
	}
	return addr
}

// Exec runs a command in a service's first container (`exec -T`) and returns its combined
// output.
func (p *Project) Exec(timeout time.Duration, service string, command ...string) (string, error) {
	return p.Compose(timeout, append([]string{"exec", "-T", service}, command...)...)
}

// CheckDocker says what is missing when no Docker engine with Compose v2 answers.
func CheckDocker() error {
	if out, err := Run(shortTimeout, nil, "docker", "info", "--format", "{{.ServerVersion}}"); err != nil {
		return fmt.Errorf("no Docker engine answers: %w: %s", err, strings.TrimSpace(out))
	}
	if out, err := Run(shortTimeout, nil, "docker", "compose", "version"); err != nil {
		return fmt.Errorf("docker compose (v2) is missing: %w: %s", err, strings.TrimSpace(out))
	}
	return nil
}

// RemoveLeftovers takes down the projects named prefix+PID-... (ProjectName) or prefix+PID
// whose test process is gone: an interrupted run left them, and their containers restart with
// dockerd (restart: unless-stopped) and hold resources. A run going on beside this one keeps its
// projects. It returns the pids of the runs it cleaned up after, for their caller to remove
// what else they left (RemoveImages).
func RemoveLeftovers(prefix string) []int {
	out, err := Command{Name: "docker", Args: []string{"compose", "ls", "-a", "--format", "json"}, Timeout: shortTimeout}.Output(context.Background())
	if err != nil {
		return nil
	}
	var projects []struct{ Name string }
	_ = json.Unmarshal([]byte(out), &projects)
	var pids []int
	for _, p := range projects {
		pid, ok := leftoverPid(prefix, p.Name)
		if !ok {
			continue
		}
		_, _ = Run(downTimeout, nil, "docker", "compose", "-p", p.Name, "down", "-v", "--remove-orphans", "-t", "1")
		pids = append(pids, pid)
	}
	return pids
}

// leftoverPid reads the pid in a project name of prefix and reports whether its process is
// gone.
func leftoverPid(prefix, project string) (int, bool) {
	rest, ok := strings.CutPrefix(project, prefix)
	if !ok {
		return 0, false
	}
	digits, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(digits)
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return 0, false
	}
	_, err = os.Stat("/proc/" + digits)
	return pid, os.IsNotExist(err)
}

// Images are the repositories the project's compose.yaml builds, each tagged HITCOUNTER_TAG.
var Images = []string{"hitcounter/web", "hitcounter/lb", "hitcounter/redis"}

// RemoveImages removes the images built under tag (their layers stay in the build cache) and
// says what it could not remove.
func RemoveImages(tag string) error {
	var refs []string
	for _, repo := range Images {
		ref := repo + ":" + tag
		if _, err := Run(shortTimeout, nil, "docker", "image", "inspect", ref); err == nil {
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	if out, err := Run(time.Minute, nil, "docker", append([]string{"rmi"}, refs...)...); err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}
