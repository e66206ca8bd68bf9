// Package browser holds the product's browser tests: a headless Chromium, driven with chromedp,
// shows the product's pages the way a person's browser does (rendered text, images that
// loaded, a phone-sized screen, dark mode) and takes the screenshots in docs/screenshots/.
//
// This file is the little the tests need on top of chromedp: one browser per test, killed when
// the test ends, whatever its outcome; a fresh browser context per page (no cookies, no cache:
// every Open is one first visit); the three screens; every step bounded by Browser.Timeout; and
// what the pages said (console, exceptions, log entries such as a CSP violation), for the checks
// and for failures.
//
// The browser is Debian's chromium (apt-get install chromium; scripts/prepare-machine.sh does
// it), or the program HITCOUNTER_CHROMIUM names.
package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/inspector"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// DefaultTimeout bounds each step (start, one page load, one Eval, one screenshot) unless
// Browser.Timeout says otherwise. Generous: the machines have two cores shared with Docker tests.
const DefaultTimeout = 60 * time.Second

// Browser is one running headless Chromium. Its Pages may be used from several goroutines at
// once, each Page from one at a time.
type Browser struct {
	// Timeout bounds each step; DefaultTimeout when zero. It must not change while pages work.
	Timeout time.Duration

	// Version is the browser's product string, e.g. "Chrome/156.0.8078.114".
	Version string

	ctx         context.Context // the browser's own chromedp context: its first tab
	cancel      func()          // ends the browser, kills what is left of it, removes its profile
	cancelAlloc func()
	output      *keptOutput
	closed      sync.Once
	closeErr    error

	mu     sync.Mutex
	events []string // what every page said, oldest first
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

// Start launches a headless Chromium for t and closes it when t ends, failed or not. Without a
// browser it skips t, or fails it where MissingIsFailure. When t failed, what the pages said and
// the browser's output are logged.
func Start(t testing.TB) *Browser {
	t.Helper()
	path, err := Find()
	if err != nil {
		if !MissingIsFailure() {
			t.Skipf("SKIPPED: %v; CI and HITCOUNTER_E2E=1 make this a failure", err)
		}
		t.Fatalf("%v", err)
	}
	b, err := Launch(path, 0)
	if err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("closing the browser: %v", err)
		}
		if t.Failed() {
			if ev := b.Events(); len(ev) > 0 {
				t.Logf("what the pages said (console, exceptions, log):\n%s", strings.Join(ev, "\n"))
			}
			t.Logf("browser output:\n%s", withoutDBus(b.output.String()))
		}
	})
	return b
}

// Launch starts the browser at path (see Find) with a fresh temporary profile and waits, at most
// timeout (DefaultTimeout when zero), until it answers. Close ends it.
//
// chromedp talks to it over --remote-debugging-pipe, kills it and every helper process left
// (found by the profile on their command lines) when its context ends, and has the kernel kill
// it if the test process dies first (a test binary killed by go test's -timeout runs no Cleanup).
func Launch(path string, timeout time.Duration) (*Browser, error) {
	b := &Browser{Timeout: timeout, output: &keptOutput{max: 256 << 10}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		// No component updates: these machines reach no update server.
		chromedp.Flag("disable-component-update", true),
		chromedp.CombinedOutput(b.output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b.ctx, b.cancel, b.cancelAlloc = ctx, cancel, cancelAlloc

	if err := b.firstRun(ctx, cancel); err != nil {
		b.Close()
		return nil, fmt.Errorf("%w\nbrowser output:\n%s", err, b.output)
	}
	step, done := b.step(ctx)
	defer done()
	v, err := chromedp.CallBrowser(step, cdpbrowser.GetVersion, cdp.Empty{})
	if err != nil {
		b.Close()
		return nil, err
	}
	b.Version = v.Product
	return b, nil
}

// firstRun is the first Run on ctx, which starts its browser or tab and binds it to ctx; so it
// cannot take a context with a deadline: a timer calls cancel instead, after a step's time.
func (b *Browser) firstRun(ctx context.Context, cancel func()) error {
	timer := time.AfterFunc(b.timeout(), cancel)
	err := chromedp.Do(ctx)
	if !timer.Stop() {
		return fmt.Errorf("not ready within %s: %w", b.timeout(), err)
	}
	return err
}

func (b *Browser) timeout() time.Duration {
	if b.Timeout > 0 {
		return b.Timeout
	}
	return DefaultTimeout
}

func (b *Browser) step(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.timeout())
}

// Close closes the browser: it asks it to quit, then (within a few seconds at most) kills it and
// its helpers and removes its profile. Calling it again does nothing.
func (b *Browser) Close() error {
	b.closed.Do(func() {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		b.closeErr = chromedp.Cancel(ctx)
		// Cancel leaves the browser running when it could not ask it to quit: this kills it.
		b.cancel()
		b.cancelAlloc() // returns once the process is gone and the profile removed
	})
	return b.closeErr
}

// Events returns the console messages, uncaught exceptions and log entries (a blocked resource,
// a Content-Security-Policy violation) of every page this browser opened, oldest first.
func (b *Browser) Events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.events...)
}

func (b *Browser) addEvent(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.events) < 10000 {
		b.events = append(b.events, fmt.Sprintf(format, args...))
	}
}

// Mode is the screen a page is shown on.
type Mode struct {
	Name          string  // for file names and logs: "desktop", "phone", "dark"
	Width, Height int     // the viewport, in CSS pixels
	Scale         float64 // device pixels per CSS pixel (window.devicePixelRatio)
	Mobile        bool    // a phone: mobile viewport meta tag honoured, touch events, (pointer: coarse)
	Dark          bool    // prefers-color-scheme: dark (light otherwise)
}

// The screens of the product's browser test.
var (
	// Desktop is a laptop-sized window in light mode.
	Desktop = Mode{Name: "desktop", Width: 1280, Height: 800, Scale: 1}
	// Phone is an iPhone-12-sized screen: 390x844 CSS pixels at twice the density, touch.
	Phone = Mode{Name: "phone", Width: 390, Height: 844, Scale: 2, Mobile: true}
	// Dark is Desktop with prefers-color-scheme: dark.
	Dark = Mode{Name: "dark", Width: 1280, Height: 800, Scale: 1, Dark: true}
)

// Page is one tab, in a browser context of its own.
type Page struct {
	b      *Browser
	mode   Mode
	ctx    context.Context
	cancel func()
}

// Open opens url in a new tab of a fresh browser context, shown on mode's screen, and returns
// once the page's load event fired (every image, style and frame of the page loaded or failed)
// and its web fonts are ready. It fails on a network error (connection refused, DNS), or when
// this takes longer than the browser's Timeout; an HTTP error status is a page like any other.
func (b *Browser) Open(url string, mode Mode) (*Page, error) {
	p := &Page{b: b, mode: mode}
	// The listener is there before the tab's first message, so no event of the page is missed.
	p.ctx, p.cancel = chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(p.event))
	if err := b.firstRun(p.ctx, p.cancel); err != nil {
		p.Close()
		return nil, fmt.Errorf("opening a %s page: %w", mode.Name, err)
	}
	scheme := "light"
	if mode.Dark {
		scheme = "dark"
	}
	viewport := []chromedp.EmulateViewportOption{chromedp.EmulateScale(mode.Scale)}
	if mode.Mobile {
		viewport = append(viewport, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	ctx, done := b.step(p.ctx)
	defer done()
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(int64(mode.Width), int64(mode.Height), viewport...),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
			})
			return err
		}),
	)
	if err == nil {
		err = p.navigate(ctx, url)
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("opening a %s page: %w", mode.Name, err)
	}
	return p, nil
}

// Navigate loads url in this page (same screen, same browser context: cookies and cache kept, as
// when a person follows a link), and returns as Open does.
func (p *Page) Navigate(url string) error {
	ctx, done := p.b.step(p.ctx)
	defer done()
	return p.navigate(ctx, url)
}

func (p *Page) navigate(ctx context.Context, url string) error {
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("loading %s: %w", url, err)
	}
	// Text drawn in a web font not loaded yet would be measured and screenshot in the fallback.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.fonts.ready.then(() => true)`, chromedp.EvalAwaitPromise)); err != nil {
		return fmt.Errorf("loading %s: waiting for fonts: %w", url, err)
	}
	return nil
}

// event notes what the page says. It runs on the tab's reader goroutine: it must not block.
func (p *Page) event(ev any) {
	switch ev := ev.(type) {
	case *inspector.EventTargetCrashed:
		p.b.addEvent("[%s] the page crashed", p.mode.Name)
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			args = append(args, cmpOr(string(a.Value), a.Description))
		}
		p.b.addEvent("[%s] console.%s: %s", p.mode.Name, ev.Type, strings.Join(args, " "))
	case *runtime.EventExceptionThrown:
		p.b.addEvent("[%s] uncaught exception: %s", p.mode.Name, exception(ev.ExceptionDetails))
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		p.b.addEvent("[%s] %s %s: %s %s", p.mode.Name, e.Level, e.Source, e.Text, e.URL)
	}
}

func exception(e *runtime.ExceptionDetails) string {
	if e.Exception != nil && e.Exception.Description != "" {
		return e.Exception.Description
	}
	return e.Text
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// Eval evaluates the JavaScript expression js in the page and stores its value, as JSON, in out
// (a pointer, or nil to ignore it). A promise is awaited. A thrown exception, or an undefined
// value when out is not nil, is an error. The page's Content-Security-Policy does not apply.
func (p *Page) Eval(js string, out any) error {
	ctx, done := p.b.step(p.ctx)
	defer done()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	switch {
	case err != nil:
		return fmt.Errorf("evaluating %q: %w", abbreviate(js), err)
	case out == nil:
		return nil
	case raw == nil:
		return fmt.Errorf("evaluating %q: the value is undefined, not JSON", abbreviate(js))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("evaluating %q: %w", abbreviate(js), err)
	}
	return nil
}

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// Image is an <img> of the page as the browser loaded it.
type Image struct {
	Src           string // the absolute URL
	Alt           string
	Complete      bool // the browser is done with it (loaded or failed)
	NaturalWidth  int  // 0 when it failed to load or decode: a broken image
	NaturalHeight int
}

// Images returns every <img> of the page, in document order.
func (p *Page) Images() ([]Image, error) {
	var imgs []Image
	err := p.Eval(`Array.from(document.images, i => ({
		src: i.currentSrc || i.src, alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight,
	}))`, &imgs)
	return imgs, err
}

// Screenshot writes a PNG of the whole page (not only the viewport) to path, at the mode's
// device pixel ratio: a Phone page is 780 pixels wide.
func (p *Page) Screenshot(path string) error {
	ctx, done := p.b.step(p.ctx)
	defer done()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if err != nil {
		return fmt.Errorf("screenshot of %s: %w", path, err)
	}
	return os.WriteFile(path, png, 0o644)
}

// Close closes the tab and disposes of its browser context, within a few seconds at most. The
// browser's Close closes any left open.
func (p *Page) Close() error {
	err := chromedp.Cancel(p.ctx)
	p.cancel()
	return err
}

// withoutDBus leaves out the browser's complaints that it finds no D-Bus (these machines run
// none; they come by the dozen and mean nothing to a test).
func withoutDBus(output string) string {
	var kept []string
	dropped := 0
	for line := range strings.Lines(output) {
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

// keptOutput keeps the first max bytes of the browser's output: why it did not start, or what
// it said before a test failed.
type keptOutput struct {
	mu      sync.Mutex
	max     int
	buf     strings.Builder
	dropped int
}

func (k *keptOutput) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	room := max(k.max-k.buf.Len(), 0)
	k.buf.Write(p[:min(room, len(p))])
	k.dropped += len(p) - min(room, len(p))
	return len(p), nil
}

func (k *keptOutput) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dropped > 0 {
		return fmt.Sprintf("%s[%d bytes after this left out]\n", k.buf.String(), k.dropped)
	}
	return k.buf.String()
}
