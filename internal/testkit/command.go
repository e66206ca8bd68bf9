package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tailBytes is how much of a failed command's output an *Error keeps: enough for the last lines
// of a compose or kubectl failure, not the whole build log.
const tailBytes = 2000

// waitDelay bounds the wait for a command's output pipes once it was killed or exited: a child
// it left behind (docker compose's plugins, a shell's background job) may hold them open.
const waitDelay = 5 * time.Second

// Command is one command to run. Every run is bounded by Timeout.
type Command struct {
	Name    string
	Args    []string
	Env     []string // KEY=value added to this process's environment
	Dir     string   // working directory; empty: this process's
	Stdin   io.Reader
	Timeout time.Duration
}

// Error is a command that failed, timed out or did not start.
type Error struct {
	Line     string        // the command line, space-joined
	ExitCode int           // -1 when it did not exit by itself (timed out, killed, not started)
	TimedOut bool          // it was stopped after Timeout
	Timeout  time.Duration // the bound it had
	Tail     string        // the last part of its output (stderr only for Output)
	Err      error         // what os/exec returned
	// withTail puts Tail in the message: for Output, whose caller never sees stderr otherwise.
	// Combined returns the whole output to its caller, who prints it where it belongs.
	withTail bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Line)
	switch {
	case e.TimedOut:
		fmt.Fprintf(&b, ": timed out after %s", e.Timeout)
	case e.ExitCode >= 0:
		fmt.Fprintf(&b, ": exit status %d", e.ExitCode)
	default:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.withTail && e.Tail != "" {
		b.WriteString(": ")
		b.WriteString(e.Tail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Combined runs c and returns its stdout and stderr interleaved, as a terminal shows them.
func (c Command) Combined(ctx context.Context) (string, error) {
	var out bytes.Buffer
	err := c.run(ctx, &out, &out)
	if err != nil {
		err.Tail = tail(out.String())
		return out.String(), err
	}
	return out.String(), nil
}

// Output runs c and returns its stdout; stderr's tail goes into the error.
func (c Command) Output(ctx context.Context) (string, error) {
	var stdout, stderr bytes.Buffer
	err := c.run(ctx, &stdout, &stderr)
	if err != nil {
		err.Tail = tail(stderr.String())
		err.withTail = true
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// run returns a typed nil on success: callers check it before making it an error.
func (c Command) run(ctx context.Context, stdout, stderr io.Writer) *Error {
	if c.Timeout <= 0 {
		// Unbounded is never meant: a forgotten timeout is a bug in the caller.
		panic("testkit: a Command needs a Timeout")
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if err == nil {
		return nil
	}
	e := &Error{Line: strings.Join(append([]string{c.Name}, c.Args...), " "), ExitCode: -1, Timeout: c.Timeout, Err: err}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		e.TimedOut = true
	} else if exit, ok := errors.AsType[*exec.ExitError](err); ok && exit.Exited() {
		e.ExitCode = exit.ExitCode()
	}
	return e
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > tailBytes {
		s = "…" + s[len(s)-tailBytes:]
	}
	return s
}

// Run runs a command within timeout, with env added to this process's environment, and
// returns its combined output.
func Run(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	return Command{Name: name, Args: args, Env: env, Timeout: timeout}.Combined(context.Background())
}

// RunInput is Run with stdin.
func RunInput(timeout time.Duration, env []string, stdin io.Reader, name string, args ...string) (string, error) {
	return Command{Name: name, Args: args, Env: env, Stdin: stdin, Timeout: timeout}.Combined(context.Background())
}

// MustRun is Run that fails t, with the output, when the command fails.
func MustRun(t testing.TB, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := Run(timeout, nil, name, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}
