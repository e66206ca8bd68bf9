package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// pagePolicy: the counter's page is self-contained (inline style, the chart inline SVG, no
// script); its one image is the counter's own badge, its one form the owner's "don't count me".
const pagePolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// handlePage answers a counter's page: its figures, a chart of its last 30 days drawn on the
// server, and the snippets to embed its badge. Looking at the page counts nothing.
func handlePage(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		st, err := d.Counters.Stats(r.Context(), name, min(defaultStatsDays, d.HistoryDays), d.clientOf(r))
		if err != nil {
			return m.failed("stats", err)
		}
		owner := false
		if c, err := r.Cookie(ownerCookieName(name)); err == nil {
			owner = d.Counters.IsOwner(name, c.Value)
		}
		h := w.Header()
		setBodyHeaders(h, formatHTML.contentType())
		h.Set("Content-Security-Policy", pagePolicy)
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(renderPage(name, st, baseURL(r, d), owner)))
		}
		return nil
	}
}

// baseURL is the scheme and host the snippets point at: the host the client asked for, and
// https when the request came over TLS or through a trusted proxy that says it did.
func baseURL(r *http.Request, d CounterDeps) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if proto := r.Header.Get("X-Forwarded-Proto"); proto == "https" && d.Clients.Proxies != nil && d.Clients.Proxies.Trusts(peerAddr(r.RemoteAddr)) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func renderPage(name counter.Name, st counter.Stats, base string, owner bool) string {
	today := st.Days[len(st.Days)-1]
	path := name.Namespace + "/" + name.Key
	hit := base + "/hit/" + path + "/shield"
	page := base + "/c/" + path
	markdown := "[![hits](" + hit + ")](" + page + ")"
	html := `<a href="` + page + `"><img src="` + hit + `" alt="hits"></a>`

	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>`)
	b.WriteString(escapeText.Replace(path))
	b.WriteString(` · hitcounter</title>
`)
	b.WriteString(pageStyle)
	b.WriteString(`</head>
<body>
<main>
<h1><span class="ns">`)
	b.WriteString(escapeText.Replace(name.Namespace))
	b.WriteString(` /</span> `)
	b.WriteString(escapeText.Replace(name.Key))
	b.WriteString(`</h1>
<dl class="figures">
`)
	for _, f := range []struct {
		id, label string
		value     int64
	}{
		{"total", "Total hits", st.Value},
		{"today", "Hits today", today.Hits},
		{"uniques-today", "Unique visitors today", today.Uniques},
		{"uniques-30", "Unique visitors, " + strconv.Itoa(len(st.Days)) + " days", st.Uniques},
		{"bots", "Crawler hits, " + strconv.Itoa(len(st.Days)) + " days (not counted)", st.BotsInDays},
	} {
		fmt.Fprintf(&b, "<div><dt>%s</dt><dd id=\"%s\">%d</dd></div>\n", f.label, f.id, f.value)
	}
	b.WriteString(`</dl>
<figure>
`)
	b.WriteString(chartSVG(st.Days))
	settings := settingsAnswerOf(st.Settings)
	fmt.Fprintf(&b, `<figcaption>Per day in <span id="time-zone">%s</span>, the last %d days:`+
		`<span class="key-hits"></span>hits<span class="key-uniques"></span>unique visitors</figcaption>
</figure>
<p class="note">Unique visitors are counted per day without storing who they are, so a visitor who came on three days `+
		`counts three times over the %d days. Badges fetched through GitHub's image proxy cannot be told apart: `+
		`they count as hits, not as visitors. Crawlers and link previews are counted apart, not as hits.`,
		escapeText.Replace(settings.TimeZone), len(st.Days), len(st.Days))
	if settings.RepeatWindow > 0 {
		fmt.Fprintf(&b, ` A visitor's hits within <span id="repeat-window">%d</span> minutes of one that counted do not count again.`, settings.RepeatWindow)
	}
	b.WriteString("</p>\n")
	fmt.Fprintf(&b, `
<h2>Badge</h2>
<p><img src="/get/%s/shield" alt="hits badge"></p>
<p>Markdown:</p>
<pre><code id="markdown">%s</code></pre>
<p>HTML:</p>
<pre><code id="html">%s</code></pre>
<h2>Don't count me</h2>
<p id="owner-status">%s</p>
<form method="post" action="/c/%s/me">
<input type="password" name="admin_key" placeholder="admin key" autocomplete="off" aria-label="admin key" required>
<button name="exclude" value="1">Don't count this browser</button>
<button name="exclude" value="0">Count it again</button>
</form>
<p class="note">For the counter's owner: with the admin key, this browser gets a cookie, and its hits stop counting. `+
		`Badges in a README on GitHub are fetched by GitHub's image proxy, which sends no cookie, so there this cannot work; `+
		`browsers that block third-party cookies do not send it to a counter on another site either.</p>
</main>
</body>
</html>
`, escapeText.Replace(path), escapeText.Replace(markdown), escapeText.Replace(html), ownerStatus(owner), escapeText.Replace(path))
	return b.String()
}

func ownerStatus(owner bool) string {
	if owner {
		return "This browser is not counted."
	}
	return "This browser is counted like any visitor."
}

// chartSVG draws the days as bars: hits, and unique visitors in front of them.
func chartSVG(days []counter.Day) string {
	const width, height, top, bottom, left = 600.0, 180.0, 10.0, 24.0, 36.0
	peak := int64(1)
	for _, d := range days {
		peak = max(peak, d.Hits, d.Uniques)
	}
	plot := height - top - bottom
	slot := (width - left) / float64(len(days))
	bar := slot * 0.7
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="Hits and unique visitors per day">`+"\n", width, height)
	fmt.Fprintf(&b, `<line class="axis" x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/>`+"\n", left, height-bottom, width, height-bottom)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%d</text>`+"\n", left-6, top+10, peak)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">0</text>`+"\n", left-6, height-bottom)
	for i, d := range days {
		x := left + float64(i)*slot + (slot-bar)/2
		for _, v := range []struct {
			class string
			n     int64
		}{{"hits", d.Hits}, {"uniques", d.Uniques}} {
			if v.n == 0 {
				continue
			}
			h := plot * float64(v.n) / float64(peak)
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d %s</title></rect>`+"\n",
				v.class, x, height-bottom-h, bar, h, d.Date.Format("2006-01-02"), v.n, v.class)
		}
		if i%7 == (len(days)-1)%7 { // a label every week, ending today
			// Centred under its bar, except today's, which would run off the right edge.
			lx, anchor := x+bar/2, "middle"
			if i == len(days)-1 {
				lx, anchor = x+bar, "end"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="%s">%s</text>`+"\n", lx, height-6, anchor, d.Date.Format("01-02"))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// pageStyle is the pages' one stylesheet, inline (the policy allows no other): light and dark.
const pageStyle = `<style>
:root { --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --card: #f6f8fa; --line: #d1d9e0; --hits: #0969da; --uniques: #1a7f37; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --card: #161b22; --line: #30363d; --hits: #4493f8; --uniques: #3fb950; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 56rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; overflow-wrap: anywhere; }
h1 .ns { color: var(--muted); font-weight: 400; }
h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: .75rem; margin: 0; }
.figures div { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem; }
.figures dt { color: var(--muted); font-size: .85rem; }
.figures dd { margin: 0; font-size: 1.75rem; font-weight: 600; font-variant-numeric: tabular-nums; }
figure { margin: 1.5rem 0 0; }
svg.chart { width: 100%; height: auto; display: block; }
.chart .hits { fill: var(--hits); }
.chart .uniques { fill: var(--uniques); }
.chart .axis { stroke: var(--line); }
.chart text { fill: var(--muted); font-size: 13px; font-family: system-ui, sans-serif; }
figcaption { color: var(--muted); font-size: .85rem; }
.key-hits, .key-uniques { display: inline-block; width: .7rem; height: .7rem; border-radius: 2px; margin: 0 .25rem 0 .5rem; }
.key-hits { background: var(--hits); } .key-uniques { background: var(--uniques); }
pre { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: .75rem; overflow-x: auto; ` +
	`white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85rem; }
.note { color: var(--muted); font-size: .85rem; }
form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
input, button { font: inherit; padding: .3rem .6rem; border: 1px solid var(--line); border-radius: .4rem; background: var(--card); color: var(--fg); }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
a { color: var(--hits); }
</style>
`
