// Package redistest runs a real redis-server for tests: on a free loopback port, in a
// temporary directory, stopped when the test ends. Tests can kill, restart, freeze and thaw it
// to exercise fault handling against the real thing.
//
// The binary is $REDIS_SERVER_BIN when set, else redis-server from PATH. A missing binary fails
// the test; it never skips it.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// Server is one redis-server process owned by a test.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
	log *os.File
}

// startTimeout bounds how long a redis-server may take to answer PING after it is started.
const startTimeout = 10 * time.Second

// Start starts a redis-server with persistence off. Extra arguments are redis-server options,
// e.g. "--appendonly", "yes".
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER_BIN")
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("redistest: %s not found (install Debian's redis-server package, or set REDIS_SERVER_BIN): %v", bin, err)
	}
	s := &Server{t: t, bin: path, dir: t.TempDir(), args: args}
	t.Cleanup(s.stop)

	// A free port can be taken between choosing and binding it; try a few.
	var lastErr error
	for range 3 {
		s.port = FreePort(t)
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--logfile", "",
	}, s.args...)
	logFile, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	errExited := errors.New("exited")
	err = waitfor.Poll(startTimeout, func() error {
		select {
		case <-exited:
			return waitfor.Stop(errExited)
		default:
		}
		return ping(s.Addr())
	})
	switch {
	case err == nil:
		s.cmd, s.log = cmd, logFile
		return nil
	case errors.Is(err, errExited):
		logFile.Close()
		return fmt.Errorf("redis-server on port %d exited at start:\n%s", s.port, s.readLog())
	}
	_ = cmd.Process.Kill()
	<-exited
	logFile.Close()
	return fmt.Errorf("redis-server on port %d did not answer PING within %s:\n%s", s.port, startTimeout, s.readLog())
}

// Log returns what the server wrote to its log so far, restarts included.
func (s *Server) Log() string { return s.readLog() }

func (s *Server) readLog() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return string(b)
}

// Kill ends the server with SIGKILL, as a crash would, and waits until its port is closed.
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a frozen process must not keep its port open
	_ = s.cmd.Process.Kill()
	_, _ = s.cmd.Process.Wait()
	s.log.Close()
	s.cmd, s.log = nil, nil
}

// Restart starts the server again on the same port and directory, so persisted data returns.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// Freeze stops the process with SIGSTOP: connections stay open and nothing answers.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redistest: server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: signal %v: %v", sig, err)
	}
}

func (s *Server) stop() {
	s.Kill()
	if s.t.Failed() {
		s.t.Logf("redis-server log:\n%s", s.readLog())
	}
}

// Do sends one command on a fresh connection and returns the reply as text: the value of a
// simple string, bulk string or integer, or an error for an error reply. It is for test
// assertions and set-up, not for the code under test.
func (s *Server) Do(args ...string) (string, error) {
	return Do(s.Addr(), args...)
}

// MustDo is Do that fails the test on any error.
func (s *Server) MustDo(args ...string) string {
	s.t.Helper()
	v, err := s.Do(args...)
	if err != nil {
		s.t.Fatalf("redistest: %s: %v", strings.Join(args, " "), err)
	}
	return v
}

// Int runs a command whose reply is an integer or a number in a bulk string; a missing key is 0.
func (s *Server) Int(args ...string) int64 {
	s.t.Helper()
	v := s.MustDo(args...)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		s.t.Fatalf("redistest: %s: reply %q is not a number", strings.Join(args, " "), v)
	}
	return n
}

// ping reports whether the server answers. NOAUTH is an answer too: a server whose default user
// is off, as in the Redis container, refuses PING until a client authenticates.
func ping(addr string) error {
	v, err := Do(addr, "PING")
	if err != nil && strings.HasPrefix(err.Error(), "NOAUTH") {
		return nil
	}
	if err != nil {
		return err
	}
	if v != "PONG" {
		return fmt.Errorf("PING answered %q", v)
	}
	return nil
}

// Do sends one RESP2 command to addr and reads one reply (no arrays).
func Do(addr string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)

	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unsupported reply %q", line)
}
