package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/testkit"
)

func logf(format string, args ...any) {
	fmt.Printf("bench: "+format+"\n", args...)
}

// output runs a command to completion within timeout and returns its stdout; stderr's tail
// goes into the error. env adds to the harness' environment.
func output(ctx context.Context, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	return testkit.Command{Name: name, Args: args, Env: env, Dir: dir, Timeout: timeout}.Output(ctx)
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 2xx, for at most 15 s.
func waitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	return waitUntil(ctx, url+" to answer", 15*time.Second, func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

func waitRedis(ctx context.Context, addr string) error {
	return waitUntil(ctx, "redis on "+addr, 10*time.Second, func() error {
		pong, err := redistest.Do(addr, "PING")
		if err != nil {
			return fmt.Errorf("PING: %w", err)
		}
		if pong != "PONG" {
			return fmt.Errorf("PING: %q", pong)
		}
		return nil
	})
}

// redisCounter reads an integer key (0 when absent).
func redisCounter(addr, key string) func(context.Context) (int64, error) {
	return func(context.Context) (int64, error) {
		v, err := redistest.Do(addr, "GET", key)
		if err != nil {
			return 0, fmt.Errorf("GET %s: %w", key, err)
		}
		if v == "" {
			return 0, nil
		}
		return strconv.ParseInt(v, 10, 64)
	}
}

// procs are the long-running processes the harness started; stop ends exactly those.
type procs struct {
	cmds    []*exec.Cmd
	logs    string // directory for their output
	started int    // how many were started, for the log files' names
}

// start starts a process with its output in a log file, and returns that file's path.
func (p *procs) start(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	logPath := filepath.Join(p.logs, fmt.Sprintf("%d-%s.log", p.started, filepath.Base(name)))
	p.started++
	f, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so that a ^C to the harness reaches the harness first and the
	// clean-up decides; and gunicorn's workers go with their master.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", name, err)
	}
	p.cmds = append(p.cmds, cmd)
	return logPath, nil
}

// tail returns the end of a log file, for an error message.
func tail(path string) string {
	s := strings.TrimSpace(readFile(path))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}

// stop sends SIGTERM to every process it started, waits up to 10 s for each, then kills.
func (p *procs) stop() { p.stopFrom(0) }

// lastPid is the process id of the process started last.
func (p *procs) lastPid() int { return p.cmds[len(p.cmds)-1].Process.Pid }

// stopFrom stops the processes started from the i-th on (as stop does) and forgets them.
func (p *procs) stopFrom(i int) {
	for _, cmd := range p.cmds[i:] {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, cmd := range p.cmds[i:] {
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	p.cmds = p.cmds[:i]
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// procField returns a "Name:  value kB" field of /proc/PID/status in MB.
func procStatusMB(pid int, field string) (float64, error) {
	for _, line := range strings.Split(readFile(fmt.Sprintf("/proc/%d/status", pid)), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.ParseFloat(f[0], 64)
				return kb / 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no %s for pid %d", field, pid)
}

// procStat returns a process' name and its user+system CPU ticks.
func procStat(pid string) (string, int64, bool) {
	data := readFile("/proc/" + pid + "/stat")
	open, closing := strings.IndexByte(data, '('), strings.LastIndexByte(data, ')')
	if open < 0 || closing < open || closing+2 > len(data) {
		return "", 0, false
	}
	fields := strings.Fields(data[closing+2:])
	if len(fields) < 13 {
		return "", 0, false
	}
	u, err1 := strconv.ParseInt(fields[11], 10, 64)
	s, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, false
	}
	return data[open+1 : closing], u + s, true
}

// cpuSnapshot is every process' CPU ticks and the machine's /proc/stat totals.
type cpuSnapshot struct {
	procs map[string]procTicks
	stat  []int64
}

type procTicks struct {
	comm  string
	ticks int64
}

func takeCPUSnapshot() cpuSnapshot {
	s := cpuSnapshot{procs: map[string]procTicks{}}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if comm, ticks, ok := procStat(e.Name()); ok {
			s.procs[e.Name()] = procTicks{comm, ticks}
		}
	}
	first, _, _ := strings.Cut(readFile("/proc/stat"), "\n")
	for _, f := range strings.Fields(first)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		s.stat = append(s.stat, v)
	}
	return s
}

func loadAverage() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
