package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hitcounter/hitcounter/internal/badge"
	"github.com/hitcounter/hitcounter/internal/counter"
)

// The badge views: which figure a badge shows.
const (
	viewTotal      = "total"
	viewToday      = "today"
	viewUniques    = "uniques"     // today's unique visitors
	viewTodayTotal = "today-total" // "today / total", as hits.seeyoufarm.com drew it
)

// badgeViews are the views, the default first: the one list a view is checked against and its
// error names (TestBadgeEnumerations holds openapi.json's to it, and figures.message draws
// each).
var badgeViews = []string{viewTotal, viewToday, viewUniques, viewTodayTotal}

// badgePolicy: an SVG opened on its own is a document; it has no script and needs none.
const badgePolicy = "default-src 'none'; style-src 'unsafe-inline'"

// The number formats: digits, or shields.io's metric style (badge.Short).
const (
	formatFull  = "full"
	formatShort = "short"
)

// numberFormats are the number formats, the default first, as badgeViews are the views.
var numberFormats = []string{formatFull, formatShort}

// checkOneOf refuses a value of param that is not one of values, naming them.
func checkOneOf(param, value string, values []string) error {
	if !slices.Contains(values, value) {
		return counter.Errorf(counter.EINVALID, nil, "%s: %s is not one of %s", param, quoteShort(value), strings.Join(values, ", "))
	}
	return nil
}

// badgeOptions are a badge request's query parameters, in shields.io's names.
type badgeOptions struct {
	badge  badge.Badge
	view   string
	format string
}

// figures are the numbers a badge may show.
type figures struct {
	total, today, uniques int64
	// uniquesUnknown: the request came from GitHub's image proxy, which fetches for every
	// reader alike, so the readers cannot be told apart.
	uniquesUnknown bool
}

func (f figures) message(view, format string) string {
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	if format == formatShort {
		num = badge.Short
	}
	switch view {
	case viewToday:
		return num(f.today)
	case viewUniques:
		if f.uniquesUnknown {
			return "unknown"
		}
		return num(f.uniques)
	case viewTodayTotal:
		return num(f.today) + " / " + num(f.total)
	}
	return num(f.total)
}

// parseBadgeQuery reads label, color, labelColor, style, view, format, logo and logoColor; an
// invalid one is EINVALID naming it. Other parameters are ignored, as shields.io ignores them.
func parseBadgeQuery(q url.Values) (badgeOptions, error) {
	o := badgeOptions{
		badge:  badge.Badge{Label: "hits", Color: "blue", LabelColor: badge.DefaultLabelColor, Style: badge.StyleFlat},
		view:   viewTotal,
		format: formatFull,
	}
	if q.Has("label") {
		o.badge.Label = q.Get("label")
	}
	for _, p := range []struct {
		name string
		into *string
	}{{"color", &o.badge.Color}, {"labelColor", &o.badge.LabelColor}, {"style", &o.badge.Style}, {"view", &o.view},
		{"format", &o.format}, {"logo", &o.badge.Logo}, {"logoColor", &o.badge.LogoColor}} {
		if v := q.Get(p.name); v != "" {
			*p.into = v
		}
	}
	for _, c := range []struct{ name, value string }{{"color", o.badge.Color}, {"labelColor", o.badge.LabelColor}, {"logoColor", o.badge.LogoColor}} {
		if c.value == "" { // only logoColor: empty is the text's colour
			continue
		}
		if err := checkColor(c.name, c.value); err != nil {
			return o, err
		}
	}
	if err := checkLogo(o.badge.Logo); err != nil {
		return o, err
	}
	if err := checkOneOf("style", o.badge.Style, badge.Styles()); err != nil {
		return o, err
	}
	if err := checkOneOf("view", o.view, badgeViews); err != nil {
		return o, err
	}
	return o, checkOneOf("format", o.format, numberFormats)
}

// errUnknownLogo marks a logo name the set does not have: its error badge says where the names
// are, since a README's author sees only the image.
var errUnknownLogo = errors.New("unknown logo")

// checkLogo refuses a logo name the set does not have, saying where the names are.
func checkLogo(name string) error {
	if _, ok := badge.LookupLogo(name); name != "" && !ok {
		return counter.Errorf(counter.EINVALID, errUnknownLogo,
			"logo: %s is not a logo this server has; GET /badges/logos lists them (docs/badges.md)", quoteShort(name))
	}
	return nil
}

// logoList is the answer of GET /badges/logos, made once: the set is in the binary.
var logoList = func() []byte {
	set := badge.Logos()
	type entry struct {
		Name  string `json:"name"`
		Title string `json:"title"`
		Hex   string `json:"hex"`
	}
	answer := struct {
		Source  string  `json:"source"`
		License string  `json:"license"`
		Logos   []entry `json:"logos"`
	}{Source: set.Source, License: set.License, Logos: make([]entry, 0, len(set.Logos))}
	for _, l := range set.Logos {
		answer.Logos = append(answer.Logos, entry{l.Name, l.Title, l.Hex})
	}
	b, err := json.Marshal(answer)
	if err != nil {
		panic("httpapi: the logo list does not encode: " + err.Error())
	}
	return append(b, '\n')
}()

// handleLogos lists the logos a badge can show: their names, titles and brand colours.
func handleLogos() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setBodyHeaders(w.Header(), "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(logoList)
	})
}

// checkColor refuses a colour parameter the badge cannot draw, naming the parameter.
func checkColor(param, value string) error {
	if _, err := badge.ParseColor(value); err != nil {
		return counter.Errorf(counter.EINVALID, err, "%s: %s is not a colour (a name such as blue, or hex such as 4c1 or 44cc11)", param, quoteShort(value))
	}
	return nil
}

// quoteShort quotes a value for an error message, cut to 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// writeBadge answers an SVG. Counting badges must never be cached, by browsers or by GitHub's
// image proxy (camo), which otherwise freezes a README's count; a read-only badge carries an
// ETag, and a client that has it gets 304.
func writeBadge(w http.ResponseWriter, r *http.Request, svg []byte, counting bool) {
	h := w.Header()
	setBadgeHeaders(h)
	if counting {
		h.Set("Cache-Control", "no-cache, no-store, must-revalidate, max-age=0")
		h.Set("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")
		h.Set("Pragma", "no-cache")
	} else {
		sum := sha256.Sum256(svg)
		etag := `"` + hex.EncodeToString(sum[:12]) + `"`
		h.Set("Cache-Control", "no-cache") // may be kept, must be revalidated: the count moves
		h.Set("ETag", etag)
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(svg)
	}
}

// setBadgeHeaders sets what every badge answer carries: an SVG, not to be stored unless the
// caller says otherwise, with no script, readable by any page.
func setBadgeHeaders(h http.Header) {
	setBodyHeaders(h, "image/svg+xml")
	h.Set("Content-Security-Policy", badgePolicy)
	h.Set("Access-Control-Allow-Origin", "*")
}

// etagMatches reads If-None-Match: a list of entity tags, possibly weak, or *.
func etagMatches(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}

// readFigures reads a counter's figures without counting.
func (d CounterDeps) readFigures(ctx context.Context, name counter.Name, client counter.Client) (figures, error) {
	st, err := d.Counters.Stats(ctx, name, 1, client)
	if err != nil {
		return figures{}, err
	}
	today := st.Days[len(st.Days)-1]
	return figures{total: st.Value, today: today.Hits, uniques: today.Uniques, uniquesUnknown: client.Camo}, nil
}

// handleShield draws a counter's badge; counting, it counts a hit first.
func handleShield(d CounterDeps, m *Metrics, counting bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		opt, err := parseBadgeQuery(r.URL.Query())
		if err != nil {
			return err
		}
		return d.serveBadge(w, r, m, name, opt, counting)
	}
}

// serveBadge counts (when counting; not for HEAD) or reads the figures, and draws them.
func (d CounterDeps) serveBadge(w http.ResponseWriter, r *http.Request, m *Metrics, name counter.Name, opt badgeOptions, counting bool) error {
	client := d.clientOf(r)
	var f figures
	var err error
	if counting && r.Method != http.MethodHead {
		var n counter.Counts
		n, err = d.hit(w, r, m, name, client, opt.view == viewUniques)
		f = figures{total: n.Total, today: n.Today, uniques: n.TodayUniques, uniquesUnknown: client.Camo}
	} else {
		if f, err = d.readFigures(r.Context(), name, client); err != nil {
			err = m.failed("get", err)
		}
	}
	if err != nil {
		return err
	}
	opt.badge.Message = f.message(opt.view, opt.format)
	svg, err := badge.Render(opt.badge)
	if err != nil { // the parsers checked the colours, the style and the logo
		return counter.Errorf(counter.EINVALID, err, "bad badge parameters")
	}
	writeBadge(w, r, svg, counting && r.Method != http.MethodHead)
	return nil
}

// handleSeeyoufarm serves hits.seeyoufarm.com's badge paths, so that a README badge of that
// service (shut down in 2025) works by changing only the host: the page URL becomes a counter
// name (counter.SeeyoufarmName), and the badge says "today / total".
func handleSeeyoufarm(d CounterDeps, m *Metrics, counting bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		name, err := counter.SeeyoufarmName(q.Get("url"))
		if err != nil {
			return err
		}
		opt := badgeOptions{
			badge:  badge.Badge{Label: "hits", LabelColor: "#555555", Color: "#79C83D", Style: badge.StyleFlat},
			view:   viewTodayTotal,
			format: formatFull,
		}
		if q.Has("title") {
			opt.badge.Label = q.Get("title")
		}
		for _, p := range []struct {
			name string
			into *string
		}{{"title_bg", &opt.badge.LabelColor}, {"count_bg", &opt.badge.Color}} {
			v := q.Get(p.name)
			if v == "" {
				continue
			}
			if err := checkColor(p.name, v); err != nil {
				return err
			}
			*p.into = v
		}
		switch q.Get("edge_flat") {
		case "", "false":
		case "true":
			opt.badge.Style = badge.StyleFlatSquare
		default:
			return counter.Errorf(counter.EINVALID, nil, "edge_flat: want true or false")
		}
		if f := q.Get("format"); f != "" {
			if err := checkOneOf("format", f, numberFormats); err != nil {
				return err
			}
			opt.format = f
		}
		// The old service's icon was a Simple Icons file name (github.svg). One this server
		// lacks draws no icon rather than an error: the README was written for a larger set.
		if l, ok := badge.LookupLogo(strings.TrimSuffix(q.Get("icon"), ".svg")); ok {
			opt.badge.Logo = l.Name
			if c := q.Get("icon_color"); c != "" {
				if err := checkColor("icon_color", c); err != nil {
					return err
				}
				opt.badge.LogoColor = c
			}
		}
		return d.serveBadge(w, r, m, name, opt, counting)
	}
}
