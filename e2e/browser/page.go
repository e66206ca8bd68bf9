package browser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
)

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
	b       *Browser
	mode    Mode
	target  string // Target.targetId
	context string // Target.browserContextId
	session string // the flat session that addresses this tab

	mu        sync.Mutex
	loaded    map[string]bool // loader ids whose document fired its load event
	lifecycle chan struct{}   // a token when loaded changed
	crashed   chan struct{}   // closed on Inspector.targetCrashed
	crash     sync.Once
	closed    bool
}

// Open opens url in a new tab of a fresh browser context (no cookies, no cache: a first visit),
// shown on mode's screen, and returns once the page's load event fired (every image, style and
// frame of the page loaded or failed) and its web fonts are ready. It fails on a network error
// (connection refused, DNS), a crash, or when this takes longer than the browser's Timeout; an
// HTTP error status is a loaded page like any other.
func (b *Browser) Open(url string, mode Mode) (*Page, error) {
	ctx, cancel := b.step()
	defer cancel()
	p := &Page{b: b, mode: mode, loaded: map[string]bool{}, lifecycle: make(chan struct{}, 1), crashed: make(chan struct{})}
	if err := p.create(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("opening a %s page: %w", mode.Name, err)
	}
	if err := p.navigate(ctx, url); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Page) create(ctx context.Context) error {
	c := p.b.conn
	var bc struct {
		BrowserContextID string `json:"browserContextId"`
	}
	if err := c.call(ctx, "", "Target.createBrowserContext", map[string]any{"disposeOnDetach": true}, &bc); err != nil {
		return err
	}
	p.context = bc.BrowserContextID
	var tg struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": p.context}, &tg); err != nil {
		return err
	}
	p.target = tg.TargetID
	var at struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": p.target, "flatten": true}, &at); err != nil {
		return err
	}
	p.session = at.SessionID
	c.onEvents(p.session, p.event)

	for _, domain := range []string{"Page", "Runtime", "Log", "Inspector"} {
		if err := p.call(ctx, domain+".enable", nil, nil); err != nil {
			return err
		}
	}
	if err := p.call(ctx, "Page.setLifecycleEventsEnabled", map[string]any{"enabled": true}, nil); err != nil {
		return err
	}
	m := p.mode
	if err := p.call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": m.Width, "height": m.Height, "deviceScaleFactor": cmpOr(m.Scale, 1), "mobile": m.Mobile,
	}, nil); err != nil {
		return err
	}
	if err := p.call(ctx, "Emulation.setTouchEmulationEnabled", map[string]any{
		"enabled": m.Mobile, "maxTouchPoints": 5,
	}, nil); err != nil {
		return err
	}
	scheme := "light"
	if m.Dark {
		scheme = "dark"
	}
	return p.call(ctx, "Emulation.setEmulatedMedia", map[string]any{
		"features": []map[string]string{{"name": "prefers-color-scheme", "value": scheme}},
	}, nil)
}

func cmpOr(v, fallback float64) float64 {
	if v == 0 {
		return fallback
	}
	return v
}

// Navigate loads url in this page (same screen, same browser context: cookies and cache kept, as
// when a person follows a link), and returns as Open does.
func (p *Page) Navigate(url string) error {
	ctx, cancel := p.b.step()
	defer cancel()
	return p.navigate(ctx, url)
}

func (p *Page) navigate(ctx context.Context, url string) error {
	var nav struct {
		LoaderID  string `json:"loaderId"`
		ErrorText string `json:"errorText"`
	}
	if err := p.call(ctx, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return fmt.Errorf("loading %s: %w", url, err)
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("loading %s: %s", url, nav.ErrorText)
	}
	// A cross-document navigation has a loader of its own, and its document's load event is the
	// lifecycle event "load" with that loader's id (it may come before Page.navigate's answer:
	// event() keeps them all). A same-document one (only the #fragment changed) has none.
	if nav.LoaderID != "" {
		for !p.loadedBy(nav.LoaderID) {
			select {
			case <-p.lifecycle:
			case <-p.crashed:
				return fmt.Errorf("loading %s: the page crashed", url)
			case <-p.b.conn.done:
				return fmt.Errorf("loading %s: %w", url, p.b.conn.err)
			case <-ctx.Done():
				return fmt.Errorf("loading %s: no load event within %s: %w", url, p.b.timeout(), context.Cause(ctx))
			}
		}
	}
	// Text drawn in a web font not loaded yet would be measured and screenshot in the fallback.
	if err := p.eval(ctx, `document.fonts.ready.then(() => true)`, nil); err != nil {
		return fmt.Errorf("loading %s: waiting for fonts: %w", url, err)
	}
	return nil
}

func (p *Page) loadedBy(loader string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.loaded[loader]
}

// event handles the tab's events, on the connection's reader goroutine: it must not block.
func (p *Page) event(method string, params json.RawMessage) {
	switch method {
	case "Page.lifecycleEvent":
		var e struct {
			Name     string `json:"name"`
			LoaderID string `json:"loaderId"`
		}
		_ = json.Unmarshal(params, &e)
		if e.Name != "load" {
			return
		}
		p.mu.Lock()
		p.loaded[e.LoaderID] = true
		p.mu.Unlock()
		select {
		case p.lifecycle <- struct{}{}:
		default:
		}
	case "Inspector.targetCrashed":
		p.crash.Do(func() { close(p.crashed) })
		p.b.addEvent(fmt.Sprintf("[%s] the page crashed", p.mode.Name))
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		_ = json.Unmarshal(params, &e)
		var parts []string
		for _, a := range e.Args {
			if a.Value != nil {
				parts = append(parts, fmt.Sprint(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		p.b.addEvent(fmt.Sprintf("[%s] console.%s: %s", p.mode.Name, e.Type, strings.Join(parts, " ")))
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails exceptionDetails `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(params, &e)
		p.b.addEvent(fmt.Sprintf("[%s] uncaught exception: %s", p.mode.Name, e.ExceptionDetails))
	case "Log.entryAdded":
		var e struct {
			Entry struct {
				Level, Source, Text, URL string
			} `json:"entry"`
		}
		_ = json.Unmarshal(params, &e)
		p.b.addEvent(fmt.Sprintf("[%s] %s %s: %s %s", p.mode.Name, e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL))
	}
}

type exceptionDetails struct {
	Text      string `json:"text"`
	Exception *struct {
		Description string `json:"description"`
	} `json:"exception"`
}

func (e exceptionDetails) String() string {
	if e.Exception != nil && e.Exception.Description != "" {
		return e.Exception.Description
	}
	return e.Text
}

func (p *Page) call(ctx context.Context, method string, params, result any) error {
	return p.b.conn.call(ctx, p.session, method, params, result)
}

// Mode returns the screen the page is shown on.
func (p *Page) Mode() Mode { return p.mode }

// Eval evaluates the JavaScript expression js in the page and stores its value, as JSON, in out
// (a pointer, or nil to ignore it). A promise is awaited. A thrown exception, or an undefined
// value when out is not nil, is an error. The page's Content-Security-Policy does not apply.
func (p *Page) Eval(js string, out any) error {
	ctx, cancel := p.b.step()
	defer cancel()
	return p.eval(ctx, js, out)
}

func (p *Page) eval(ctx context.Context, js string, out any) error {
	var r struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *exceptionDetails `json:"exceptionDetails"`
	}
	if err := p.call(ctx, "Runtime.evaluate", map[string]any{
		"expression": js, "returnByValue": true, "awaitPromise": true,
	}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("evaluating %q: %s", abbreviate(js), r.ExceptionDetails)
	}
	if out == nil {
		return nil
	}
	if len(r.Result.Value) == 0 {
		return fmt.Errorf("evaluating %q: the value is %s, not JSON", abbreviate(js), r.Result.Type)
	}
	if err := json.Unmarshal(r.Result.Value, out); err != nil {
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

// Text returns the rendered text (innerText: what a person sees, hidden parts left out) of the
// first element that the CSS selector matches; "body" for the whole page. No match is an error.
func (p *Page) Text(selector string) (string, error) {
	sel, _ := json.Marshal(selector)
	var out struct {
		Found bool
		Text  string
	}
	err := p.Eval(fmt.Sprintf(`(() => { const e = document.querySelector(%s); return {found: !!e, text: e ? e.innerText : ""}; })()`, sel), &out)
	if err != nil {
		return "", err
	}
	if !out.Found {
		return "", fmt.Errorf("no element matches %s", sel)
	}
	return out.Text, nil
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
	err := p.Eval(`Array.from(document.images, i => ({src: i.currentSrc || i.src, alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}))`, &imgs)
	return imgs, err
}

// Screenshot writes a PNG of the whole page (not only the viewport) to path, at the mode's
// device pixel ratio: a Phone page is 780 pixels wide.
func (p *Page) Screenshot(path string) error {
	ctx, cancel := p.b.step()
	defer cancel()
	var lm struct {
		CSSContentSize struct {
			Width, Height float64
		} `json:"cssContentSize"`
	}
	if err := p.call(ctx, "Page.getLayoutMetrics", nil, &lm); err != nil {
		return err
	}
	// Never narrower or shorter than the screen, as a person would see it.
	w := math.Max(math.Ceil(lm.CSSContentSize.Width), float64(p.mode.Width))
	h := math.Max(math.Ceil(lm.CSSContentSize.Height), float64(p.mode.Height))
	var shot struct {
		Data string `json:"data"`
	}
	if err := p.call(ctx, "Page.captureScreenshot", map[string]any{
		"format":                "png",
		"captureBeyondViewport": true,
		"clip":                  map[string]any{"x": 0, "y": 0, "width": w, "height": h, "scale": 1},
	}, &shot); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return fmt.Errorf("Page.captureScreenshot: %w", err)
	}
	return os.WriteFile(path, png, 0o644)
}

// Close closes the tab and its browser context. The browser's Close closes any left open.
func (p *Page) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	ctx, cancel := p.b.step()
	defer cancel()
	var errs []error
	if p.session != "" {
		p.b.conn.onEvents(p.session, nil)
	}
	if p.target != "" {
		errs = append(errs, p.b.conn.call(ctx, "", "Target.closeTarget", map[string]any{"targetId": p.target}, nil))
	}
	if p.context != "" {
		errs = append(errs, p.b.conn.call(ctx, "", "Target.disposeBrowserContext", map[string]any{"browserContextId": p.context}, nil))
	}
	return errors.Join(errs...)
}
