package testkit

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestCommandFailureCarriesLineExitCodeAndTail(t *testing.T) {
	out, err := Run(10*time.Second, nil, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3")
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("Run = %v, want an *Error", err)
	}
	if got, want := e.ExitCode, 3; got != want {
		t.Errorf("exit code %d, want %d", got, want)
	}
	if got, want := e.Line, "sh -c echo to-stdout; echo to-stderr >&2; exit 3"; got != want {
		t.Errorf("command line %q, want %q", got, want)
	}
	if got, want := e.Tail, "to-stdout\nto-stderr"; got != want {
		t.Errorf("tail %q, want %q", got, want)
	}
	if got, want := out, "to-stdout\nto-stderr\n"; got != want {
		t.Errorf("combined output %q, want %q", got, want)
	}
	// Combined hands the output back; the message does not repeat it.
	if got, want := err.Error(), "sh -c echo to-stdout; echo to-stderr >&2; exit 3: exit status 3"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestOutputKeepsStdoutAndPutsStderrInTheError(t *testing.T) {
	c := Command{Name: "sh", Args: []string{"-c", "echo result; echo why >&2; exit 1"}, Timeout: 10 * time.Second}
	out, err := c.Output(context.Background())
	if got, want := out, "result\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if err == nil || !strings.HasSuffix(err.Error(), ": exit status 1: why") {
		t.Errorf("error %v, want it to end with the exit status and stderr", err)
	}

	out, err = Command{Name: "sh", Args: []string{"-c", "echo result; echo noise >&2"}, Timeout: 10 * time.Second}.Output(context.Background())
	if err != nil || out != "result\n" {
		t.Errorf("a successful Output = %q, %v; want only stdout", out, err)
	}
}

func TestTailKeepsTheEnd(t *testing.T) {
	_, err := Run(10*time.Second, nil, "sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a; echo THE-END; exit 1")
	e, _ := errors.AsType[*Error](err)
	if e == nil {
		t.Fatalf("Run = %v, want an *Error", err)
	}
	if !strings.HasSuffix(e.Tail, "THE-END") || len(e.Tail) > tailBytes+len("…") {
		t.Errorf("tail of %d bytes ending %q, want at most %d ending THE-END", len(e.Tail), e.Tail[max(0, len(e.Tail)-10):], tailBytes)
	}
}

func TestCommandTimesOut(t *testing.T) {
	begin := time.Now()
	// The shell's child keeps stdout open after the shell is killed: WaitDelay must still end
	// the wait.
	_, err := Run(200*time.Millisecond, nil, "sh", "-c", "sleep 30 & sleep 30")
	took := time.Since(begin)
	e, ok := errors.AsType[*Error](err)
	if !ok || !e.TimedOut || e.ExitCode != -1 {
		t.Fatalf("Run = %#v, want a timeout with no exit code", err)
	}
	if !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Errorf("message %q, want it to say the bound", err)
	}
	if took > 20*time.Second {
		t.Errorf("a 200ms command took %s to give up, want the bound plus the pipes' %s at most", took, waitDelay)
	}
}

func TestCommandThatDoesNotStart(t *testing.T) {
	_, err := Run(10*time.Second, nil, "testkit-no-such-command")
	e, ok := errors.AsType[*Error](err)
	if !ok || e.ExitCode != -1 || e.TimedOut {
		t.Fatalf("Run = %#v, want an *Error with no exit code", err)
	}
	if !strings.HasPrefix(err.Error(), "testkit-no-such-command: ") || !strings.Contains(err.Error(), "not found") {
		t.Errorf("message %q, want the command and why", err)
	}
}

func TestCommandGetsEnvAndStdin(t *testing.T) {
	env := []string{"TESTKIT_GREETING=hello"}
	out, err := RunInput(10*time.Second, env, strings.NewReader("from stdin"), "sh", "-c", `printf '%s ' "$TESTKIT_GREETING"; cat`)
	if got, want := out, "hello from stdin"; err != nil || got != want {
		t.Errorf("output %q, %v; want %q", got, err, want)
	}
	// The environment is added to this process's, not put in its place.
	out, err = Run(10*time.Second, []string{"TESTKIT_GREETING=hello"}, "sh", "-c", `printf '%s' "$PATH"`)
	if err != nil || out == "" {
		t.Errorf("PATH in the command %q, %v; want this process's", out, err)
	}
}

func TestMustRunReturnsTheOutput(t *testing.T) {
	if got, want := MustRun(t, 10*time.Second, "echo", "fine"), "fine\n"; got != want {
		t.Errorf("MustRun = %q, want %q", got, want)
	}
}

func TestLeftoverPid(t *testing.T) {
	// A pid that is surely gone: larger than any the kernel hands out (pid_max is at most 2^22).
	const gone = "9999999"
	for _, tc := range []struct {
		project string
		wantPid int
		want    bool
	}{
		{"hce2e-" + gone + "-testscaling-abc123", 9999999, true},
		{"hce2e-" + gone, 9999999, true},
		{"hce2e-1-testscaling-abc123", 0, false}, // init runs
		{"other-" + gone + "-x", 0, false},
		{"hce2e-notapid-x", 0, false},
		{ProjectName("hce2e-", "TestOwn"), 0, false}, // this process runs
	} {
		pid, ok := leftoverPid("hce2e-", tc.project)
		if ok != tc.want || (ok && pid != tc.wantPid) {
			t.Errorf("leftoverPid(%q) = %d, %v; want %d, %v", tc.project, pid, ok, tc.wantPid, tc.want)
		}
	}
}

func TestProjectNameIsUniqueAndFitsCompose(t *testing.T) {
	a, b := ProjectName("hce2e-", "TestA/sub case: ÄÖ"), ProjectName("hce2e-", "TestA/sub case: ÄÖ")
	if a == b {
		t.Errorf("two names for one test are both %q, want them apart", a)
	}
	for _, name := range []string{a, b, ProjectName("hce2e-", strings.Repeat("TestLong", 20))} {
		if !validProject.MatchString(name) || len(name) > 48+7 {
			t.Errorf("project name %q is not a short Compose name", name)
		}
	}
}

// validProject is Compose's rule for a project name.
var validProject = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
