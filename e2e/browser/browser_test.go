package browser

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The driver on its own, without the product: a page from a local server with two images, shown
// on each screen. Each Open must fetch the page and each image exactly once, the images must
// decode, the screen must be the one asked for, and the screenshot must cover the whole page.
func TestDriverOnALocalPage(t *testing.T) {
	site := newTestSite(t)
	b := Start(t)
	t.Logf("browser: %s", b.Version)
	dir := screenshotDir(t)

	for i, mode := range []Mode{Desktop, Phone, Dark} {
		t.Run(mode.Name, func(t *testing.T) {
			began := time.Now()
			p, err := b.Open(site.URL+"/", mode)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			t.Logf("%s: opened and loaded in %s", mode.Name, time.Since(began).Round(time.Millisecond))

			// Each page load fetched the page and each of its images once, although the images
			// are cacheable: every Open is a first visit.
			for _, path := range []string{"/", "/img/badge.svg", "/img/dot.png"} {
				if got, want := site.count(path), i+1; got != want {
					t.Errorf("%s requested %d times after %d page loads, want %d", path, got, i+1, want)
				}
			}

			if got, err := p.Text("#count"); err != nil || got != "Seen 42 times" {
				t.Errorf(`Text("#count") = %q, %v; want "Seen 42 times"`, got, err)
			}
			body, err := p.Text("body")
			if err != nil || !strings.Contains(body, "Browser driver check") || strings.Contains(body, "hidden text") {
				t.Errorf("Text(body) = %.200q, %v: want the heading and not the hidden paragraph", body, err)
			}
			if _, err := p.Text("#nothing-here"); err == nil {
				t.Error(`Text("#nothing-here") found something`)
			}

			imgs, err := p.Images()
			if err != nil {
				t.Fatal(err)
			}
			wantImgs := []Image{
				{Src: site.URL + "/img/badge.svg", Alt: "badge", Complete: true, NaturalWidth: 120, NaturalHeight: 20},
				{Src: site.URL + "/img/dot.png", Alt: "dot", Complete: true, NaturalWidth: 30, NaturalHeight: 10},
			}
			if fmt.Sprint(imgs) != fmt.Sprint(wantImgs) {
				t.Errorf("Images() = %+v\nwant       %+v", imgs, wantImgs)
			}

			var screen struct {
				Width, Height int
				Ratio         float64
				Dark, Coarse  bool
				Background    string
			}
			if err := p.Eval(`({width: innerWidth, height: innerHeight, ratio: devicePixelRatio,
				dark: matchMedia("(prefers-color-scheme: dark)").matches,
				coarse: matchMedia("(pointer: coarse)").matches,
				background: getComputedStyle(document.body).backgroundColor})`, &screen); err != nil {
				t.Fatal(err)
			}
			wantBackground := "rgb(255, 255, 255)"
			if mode.Dark {
				wantBackground = "rgb(17, 17, 17)"
			}
			if screen.Width != mode.Width || screen.Height != mode.Height || screen.Ratio != mode.Scale ||
				screen.Dark != mode.Dark || screen.Coarse != mode.Mobile || screen.Background != wantBackground {
				t.Errorf("the page sees %+v; want %dx%d at %v, dark %v, coarse pointer %v, background %s",
					screen, mode.Width, mode.Height, mode.Scale, mode.Dark, mode.Mobile, wantBackground)
			}

			path := filepath.Join(dir, "driver-"+mode.Name+".png")
			if err := p.Screenshot(path); err != nil {
				t.Fatal(err)
			}
			w, h := pngSize(t, path)
			if wantW := int(float64(mode.Width) * mode.Scale); w != wantW || float64(h) <= float64(mode.Height)*mode.Scale {
				t.Errorf("screenshot is %dx%d; want %d wide and taller than the screen (%v): the whole page",
					w, h, wantW, float64(mode.Height)*mode.Scale)
			}
			t.Logf("%s: screenshot %dx%d in %s", mode.Name, w, h, path)
		})
	}

	t.Run("side by side", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, mode := range []Mode{Desktop, Phone} {
			wg.Go(func() {
				p, err := b.Open(site.URL+"/", mode)
				if err != nil {
					t.Error(err)
					return
				}
				defer p.Close()
				var width int
				if err := p.Eval(`innerWidth`, &width); err != nil || width != mode.Width {
					t.Errorf("%s: innerWidth = %d, %v; want %d", mode.Name, width, err, mode.Width)
				}
			})
		}
		wg.Wait()
	})

	t.Run("errors", func(t *testing.T) {
		p, err := b.Open(site.URL+"/", Desktop)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Eval(`(() => { throw new Error("boom") })()`, nil); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Errorf("Eval of a throw = %v, want the exception", err)
		}
		var v int
		if err := p.Eval(`undefined`, &v); err == nil {
			t.Error("Eval of undefined into an int succeeded")
		}
		if err := p.Eval(`new Promise(r => setTimeout(() => r(7), 10))`, &v); err != nil || v != 7 {
			t.Errorf("Eval of a promise = %d, %v; want 7", v, err)
		}
		// A port nobody listens on: an error at once, not a wait for the deadline.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + l.Addr().String() + "/"
		l.Close()
		if err := p.Navigate(closed); err == nil || !strings.Contains(err.Error(), "ERR_CONNECTION_REFUSED") {
			t.Errorf("Navigate(%s) = %v, want ERR_CONNECTION_REFUSED", closed, err)
		}
		// A page whose image never comes: Navigate gives up at the deadline.
		b.Timeout = 2 * time.Second
		began := time.Now()
		err = p.Navigate(site.URL + "/hang")
		b.Timeout = 0
		if err == nil || !strings.Contains(err.Error(), "no load event within 2s") {
			t.Errorf("Navigate(/hang) = %v, want no load event within 2s", err)
		}
		if took := time.Since(began); took > 10*time.Second {
			t.Errorf("Navigate(/hang) gave up after %s, want about 2 s", took)
		}
		if err := p.Navigate(site.URL + "/#again"); err != nil {
			t.Errorf("Navigate back: %v", err)
		}
	})
}

func TestMissingIsFailure(t *testing.T) {
	for _, c := range []struct {
		ci, e2e string
		want    bool
	}{{"", "", false}, {"true", "", true}, {"", "1", true}, {"", "0", false}} {
		t.Setenv("CI", c.ci)
		t.Setenv("HITCOUNTER_E2E", c.e2e)
		if got := MissingIsFailure(); got != c.want {
			t.Errorf("CI=%q HITCOUNTER_E2E=%q: MissingIsFailure() = %v, want %v", c.ci, c.e2e, got, c.want)
		}
	}
}

func TestFindHonoursHITCOUNTER_CHROMIUM(t *testing.T) {
	t.Setenv("HITCOUNTER_CHROMIUM", filepath.Join(t.TempDir(), "no-such-browser"))
	if p, err := Find(); err == nil {
		t.Errorf("Find() = %q with HITCOUNTER_CHROMIUM naming nothing; want an error", p)
	}
}

// screenshotDir is where the screenshots go: HITCOUNTER_SCREENSHOTS to keep them, else a
// directory removed with the test.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("HITCOUNTER_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func pngSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg.Width, cfg.Height
}

type testSite struct {
	URL    string
	mu     sync.Mutex
	counts map[string]int
}

func (s *testSite) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[path]
}

// newTestSite serves, on 127.0.0.1, a page under a strict Content-Security-Policy (no script at
// all, as the product's pages) with a badge-like SVG and a PNG, both cacheable for an hour, and
// counts the requests for each path. /hang is a page whose image never comes.
func newTestSite(t *testing.T) *testSite {
	s := &testSite{counts: map[string]int{}}
	var items strings.Builder
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&items, "<li>line %d of a page taller than any screen</li>\n", i)
	}
	page := `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Browser driver check</title>
<style>
body { font-family: "DejaVu Sans", sans-serif; margin: 1rem; background: #fff; color: #111; }
@media (prefers-color-scheme: dark) { body { background: #111; color: #eee; } }
.box { max-width: 40rem; border: 1px solid currentColor; padding: 1rem; }
.hidden { display: none; }
</style></head>
<body><main class="box">
<h1>Browser driver check</h1>
<p id="count">Seen 42 times</p>
<p><img src="/img/badge.svg" alt="badge"> <img src="/img/dot.png" alt="dot"></p>
<p class="hidden">hidden text</p>
<ol>
` + items.String() + `</ol>
</main></body></html>`
	badge := `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="20">
<rect width="60" height="20" fill="#555"/><rect x="60" width="60" height="20" fill="#4c1"/>
<g fill="#fff" font-family="DejaVu Sans,sans-serif" font-size="11">
<text x="6" y="14">hits</text><text x="66" y="14">42</text></g></svg>`
	img := image.NewRGBA(image.Rect(0, 0, 30, 10))
	for x := range 30 {
		for y := range 10 {
			img.Set(x, y, color.RGBA{0x20, 0x60, 0xc0, 0xff})
		}
	}
	var dot bytes.Buffer
	if err := png.Encode(&dot, img); err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counts[r.URL.Path]++
		s.mu.Unlock()
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write([]byte(page))
		case "/img/badge.svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Header().Set("Cache-Control", "max-age=3600")
			_, _ = w.Write([]byte(badge))
		case "/hang":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(`<!doctype html><title>hang</title><img src="/img/hang.png">`))
		case "/img/hang.png":
			select { // until the browser gives up on it, or the test ends
			case <-r.Context().Done():
			case <-release:
			}
		case "/img/dot.png":
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Cache-Control", "max-age=3600")
			_, _ = w.Write(dot.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for every request
	s.URL = srv.URL
	return s
}
