// Package browser drives a headless Chromium over the Chrome DevTools Protocol, for tests that
// need to see a page the way a person's browser does: rendered text, images that loaded,
// a phone-sized screen, dark mode, a screenshot.
//
// It talks to the browser over --remote-debugging-pipe (no port, no websocket, no dependency
// outside the standard library), and it never sleeps: every step waits for the browser's own
// answer or event, bounded by Browser.Timeout.
//
//	b := browser.Start(t) // skips without Chromium, unless CI or HITCOUNTER_E2E=1
//	p, err := b.Open("http://127.0.0.1:8000/c/demo/home", browser.Phone)
//	var count string
//	err = p.Eval(`document.querySelector("#total").textContent`, &count)
//	imgs, err := p.Images() // NaturalWidth 0: that image did not load
//	err = p.Screenshot("docs/page-phone.png")
//
// Each Open gets a fresh browser context (like a new incognito window: no cookies, no cache),
// so every Open is one first visit and loads each of its resources once.
//
// The browser is Debian's chromium (apt-get install chromium; scripts/prepare-machine.sh does
// it), or the program HITCOUNTER_CHROMIUM names.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultTimeout bounds each step (start, one page load, one Eval, one screenshot) unless
// Browser.Timeout says otherwise. Generous: the machines have two cores shared with Docker tests.
const DefaultTimeout = 60 * time.Second

// Browser is one running headless Chromium. It and its Pages may be used from several
// goroutines at once (pages side by side); only Timeout must not change meanwhile.
type Browser struct {
	// Timeout bounds each step; DefaultTimeout when zero.
	Timeout time.Duration

	// Version is the browser's product string, e.g. "Chrome/156.0.8078.108".
	Version string

	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait returned
	conn    *conn
	profile string
	stderr  *tailBuffer

	mu     sync.Mutex
	events []string // console messages, exceptions and log entries of every page, for failures
	closed bool
}

// Find returns the browser to run: HITCOUNTER_CHROMIUM when set; else Debian's chromium binary
// behind its /usr/bin/chromium launcher script (the script only adds flags these tests don't
// want, such as extensions); else chromium, chromium-browser or google-chrome on PATH.
func Find() (string, error) {
	if p := os.Getenv("HITCOUNTER_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	if p, err := exec.LookPath("/usr/lib/chromium/chromium"); err == nil {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium, chromium-browser or google-chrome on PATH (Debian: apt-get install chromium; scripts/prepare-machine.sh installs it)")
}

// MissingIsFailure reports whether a missing browser must fail a test rather than skip it: in
// CI (CI set) and under make (HITCOUNTER_E2E=1), as in the e2e package.
func MissingIsFailure() bool {
	return os.Getenv("CI") != "" || os.Getenv("HITCOUNTER_E2E") == "1"
}

// Start launches a headless Chromium for t and closes it when t ends. Without a browser it skips
// t, or fails it where MissingIsFailure. When t fails, the browser's stderr and the console
// messages, exceptions and log entries of its pages are logged.
func Start(t testing.TB) *Browser {
	t.Helper()
	path, err := Find()
	if err != nil {
		if !MissingIsFailure() {
			t.Skipf("SKIPPED: %v; CI and HITCOUNTER_E2E=1 make this a failure", err)
		}
		t.Fatalf("%v", err)
	}
	b, err := Launch(path)
	if err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	t.Cleanup(func() {
		cerr := b.Close()
		if cerr != nil {
			t.Errorf("closing the browser: %v", cerr)
		}
		if t.Failed() {
			if ev := b.Events(); len(ev) > 0 {
				t.Logf("what the pages said (console, exceptions, log):\n%s", strings.Join(ev, "\n"))
			}
			t.Logf("browser stderr:\n%s", withoutDBus(b.Stderr()))
		}
	})
	return b
}

// Launch starts the browser at path (see Find) with a fresh temporary profile, and waits until
// it answers on the DevTools pipe. Close ends it.
func Launch(path string) (*Browser, error) {
	profile, err := os.MkdirTemp("", "hitcounter-chromium-")
	if err != nil {
		return nil, err
	}
	b := &Browser{profile: profile, stderr: newTailBuffer(256 << 10), exited: make(chan struct{})}

	// Our ends and the browser's: it reads commands on fd 3 and writes to fd 4.
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(profile)
		return nil, err
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		os.RemoveAll(profile)
		return nil, err
	}
	b.cmd = exec.Command(path,
		"--headless=new",
		"--no-sandbox", // the tests run as root, where Chromium's sandbox refuses to start
		"--remote-debugging-pipe",
		"--user-data-dir="+profile,
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-background-networking", // no update checks, no safe browsing: the machines have no internet
		"--disable-component-update",
		"--disable-sync",
		"--disable-extensions",
		"--disable-default-apps",
		"--disable-breakpad",
		"--disable-dev-shm-usage",
		"--disable-features=Translate,MediaRouter,OptimizationHints",
		"--metrics-recording-only",
		"--password-store=basic",
		"--use-mock-keychain",
		"--hide-scrollbars",
		"--mute-audio",
		"about:blank",
	)
	b.cmd.ExtraFiles = []*os.File{cmdR, evW}
	b.cmd.Stdout = b.stderr
	b.cmd.Stderr = b.stderr
	// Wait also waits for the copying of stderr, which the helpers hold open too: bounded.
	b.cmd.WaitDelay = 5 * time.Second
	b.cmd.Dir = profile
	setProcessGroup(b.cmd)
	if err := b.cmd.Start(); err != nil {
		cmdR.Close()
		cmdW.Close()
		evR.Close()
		evW.Close()
		os.RemoveAll(profile)
		return nil, err
	}
	// The browser holds its own copies now; ours would keep the pipes open after it died.
	cmdR.Close()
	evW.Close()
	go func() {
		_ = b.cmd.Wait()
		close(b.exited)
		evR.Close()
	}()
	b.conn = newConn(cmdW, evR)

	ctx, cancel := b.step()
	defer cancel()
	var v struct {
		Product string `json:"product"`
	}
	if err := b.conn.call(ctx, "", "Browser.getVersion", nil, &v); err != nil {
		b.Close()
		return nil, fmt.Errorf("%w\nbrowser stderr:\n%s", err, b.Stderr())
	}
	b.Version = v.Product
	return b, nil
}

func (b *Browser) timeout() time.Duration {
	if b.Timeout > 0 {
		return b.Timeout
	}
	return DefaultTimeout
}

func (b *Browser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), b.timeout())
}

// Close asks the browser to quit, kills it (and every process it started) if it has not within
// a few seconds, and removes its profile. Calling it again does nothing.
func (b *Browser) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.conn.call(ctx, "", "Browser.close", nil, nil)
	var err error
	select {
	case <-b.exited:
	case <-ctx.Done():
		err = errors.New("the browser did not quit within 5 s of Browser.close; killed it")
	}
	// The browser's helpers (zygote, renderers, GPU process) share its process group.
	killProcessGroup(b.cmd)
	<-b.exited
	b.conn.w.Close()
	if werr := waitProcessGroupGone(b.cmd, 5*time.Second); werr != nil && err == nil {
		err = werr
	}
	if rerr := os.RemoveAll(b.profile); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// Stderr returns what the browser wrote to stdout and stderr (the last 256 KiB).
func (b *Browser) Stderr() string { return b.stderr.String() }

// Events returns the console messages, uncaught exceptions and log entries (a blocked resource,
// a Content-Security-Policy violation) of every page this browser opened, oldest first.
func (b *Browser) Events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.events...)
}

func (b *Browser) addEvent(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.events) < 10000 {
		b.events = append(b.events, s)
	}
}

// withoutDBus leaves out the browser's complaints that it finds no D-Bus (these machines run
// none; they come by the dozen and mean nothing to a test).
func withoutDBus(stderr string) string {
	var kept []string
	dropped := 0
	for line := range strings.Lines(stderr) {
		if strings.Contains(line, ":ERROR:dbus/") {
			dropped++
			continue
		}
		kept = append(kept, line)
	}
	if dropped > 0 {
		kept = append(kept, fmt.Sprintf("[%d lines about D-Bus left out]\n", dropped))
	}
	return strings.Join(kept, "")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.dropped += over
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropped > 0 {
		return fmt.Sprintf("[%d bytes before this left out]\n%s", t.dropped, t.buf)
	}
	return string(t.buf)
}
