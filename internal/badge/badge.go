// Package badge draws shields.io-style SVG badges ("label | message"). It is pure: no I/O, no
// HTTP, no Redis; it takes strings and returns a complete SVG document.
//
// Text is measured with a font metric table (DejaVu Sans at 11px, see Width), so the badge is
// as wide as its text; every user string is sanitised (Sanitize) and XML-escaped, and colours
// are parsed into #rrggbb, so nothing a caller passes reaches the SVG as markup.
package badge

import (
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The styles, named as shields.io's style query parameter names them.
const (
	StyleFlat        = "flat" // the default
	StyleFlatSquare  = "flat-square"
	StylePlastic     = "plastic"
	StyleForTheBadge = "for-the-badge"
)

// styles are the Style constants in their documented order, the default first.
var styles = []string{StyleFlat, StyleFlatSquare, StylePlastic, StyleForTheBadge}

// Styles returns the styles Render draws, the default first: the one list that callers check a
// style against and name in their messages (TestStylesAreTheLooks holds it to what Render
// draws).
func Styles() []string { return slices.Clone(styles) }

// Default colours, shields.io's: a dark grey label and a light grey message.
const (
	DefaultLabelColor = "grey"
	DefaultColor      = "lightgrey"
)

// ErrBadStyle is wrapped by the error for a style that is not one of the Style constants; the
// error's text names the value.
var ErrBadStyle = errors.New("bad badge style")

// Badge is what to draw. Label and Message are any text (sanitised and escaped by Render);
// an empty Label draws the message alone. Colours are shields.io names or hex (see
// ParseColor); empty means the default. Style is one of the Style constants; empty is flat.
// Logo is the name of one of Logos, drawn left of the label (of the message when there is no
// label); empty draws none. LogoColor is its colour, by default the colour of the text beside it.
type Badge struct {
	Label, Message    string
	Color, LabelColor string
	Style             string
	Logo, LogoColor   string
}

// look is how a style draws. All lengths are in px.
type look struct {
	height   float64
	radius   float64 // of the outer corners; 0 is square
	pad      float64 // space left and right of the text, in each of the two parts
	fontSize float64
	baseline float64 // y of the text's baseline
	bold     bool
	upper    bool    // text drawn in capitals
	spacing  float64 // extra space between letters
	shadow   bool    // a copy of the text 1px lower, at 0.3 opacity, under it
	gradient []stop  // a sheen over the whole badge; none if empty
	logoGap  float64 // between a logo and the text right of it
}

// logoSize is a logo's height and width in px, as shields.io draws it, in every style.
const logoSize = 14

// stop is one colour stop of the vertical sheen gradient.
type stop struct {
	offset  string
	color   string
	opacity string
}

// looks are the numbers of each style, chosen by eye to look like shields.io's: flat is 20px
// high with 3px corners and a faint top-to-bottom sheen; flat-square is flat without corners,
// sheen or shadow; plastic is 18px high, 4px corners and a glossy sheen; for-the-badge is 28px
// high, square, with 10px bold capitals spaced 1.25px apart and more room around them. The
// baselines put the capitals' middle on the badge's middle.
var looks = map[string]look{
	StyleFlat: {height: 20, radius: 3, pad: 5, fontSize: 11, baseline: 14, shadow: true, logoGap: 3,
		gradient: []stop{{"0", "#bbb", ".1"}, {"1", "#000", ".1"}}},
	StyleFlatSquare: {height: 20, radius: 0, pad: 5, fontSize: 11, baseline: 14, logoGap: 3},
	StylePlastic: {height: 18, radius: 4, pad: 5, fontSize: 11, baseline: 13, shadow: true, logoGap: 3,
		gradient: []stop{{"0", "#fff", ".7"}, {".1", "#aaa", ".1"}, {".9", "#000", ".3"}, {"1", "#000", ".5"}}},
	StyleForTheBadge: {height: 28, radius: 0, pad: 12, fontSize: 10, baseline: 18, bold: true, upper: true, spacing: 1.25, logoGap: 6},
}

// fontFamily names Verdana first (what shields.io measures), then DejaVu Sans (what our table
// measures), then whatever sans-serif the reader has; textLength makes any of them fit.
const fontFamily = "Verdana,Geneva,DejaVu Sans,sans-serif"

// part is one of the badge's two halves, laid out.
type part struct {
	text      string  // as drawn: sanitised, capitalised for for-the-badge, not yet escaped
	x, width  float64 // left edge and width of its rectangle, whole pixels
	textWidth float64 // measured width of text, the textLength the renderer is held to
	fill      rgb
	logo      *Logo   // drawn at the part's left, before the text; nil for none
	logoFill  rgb     // the logo's colour
	textLeft  float64 // where the text's space begins, from x: past the logo and its gap
}

// Render draws b as a complete SVG document. It fails only on a bad colour (ErrBadColor),
// style (ErrBadStyle) or logo name (ErrBadLogo); any label and message render.
func Render(b Badge) ([]byte, error) {
	style := b.Style
	if style == "" {
		style = StyleFlat
	}
	lk, ok := looks[style]
	if !ok {
		return nil, fmt.Errorf("%w %s: want one of %s", ErrBadStyle, quoteShort(b.Style), strings.Join(styles, ", "))
	}
	labelFill, err := parseColor(cmp.Or(b.LabelColor, DefaultLabelColor))
	if err != nil {
		return nil, err
	}
	messageFill, err := parseColor(cmp.Or(b.Color, DefaultColor))
	if err != nil {
		return nil, err
	}
	var logo *Logo
	if b.Logo != "" {
		l, ok := LookupLogo(b.Logo)
		if !ok {
			return nil, badLogo(b.Logo)
		}
		logo = &l
	}
	var logoFill *rgb
	if b.LogoColor != "" {
		c, err := parseColor(b.LogoColor)
		if err != nil {
			return nil, err
		}
		logoFill = &c
	}
	label, message := Sanitize(b.Label), Sanitize(b.Message)

	var parts []part
	if label != "" { // no label: the message alone
		parts = append(parts, lk.measure(label, labelFill))
	}
	parts = append(parts, lk.measure(message, messageFill))
	if logo != nil {
		lk.addLogo(&parts[0], logo, logoFill)
	}
	for i := 1; i < len(parts); i++ {
		parts[i].x = parts[i-1].x + parts[i-1].width
	}
	title := message
	if label != "" {
		title = label + ": " + message
	}
	return lk.draw(parts, title), nil
}

// measure lays out one part's text. The table is for 11px, so other sizes scale it; letter
// spacing goes between letters, not after the last. The rectangle's width is rounded to a whole
// pixel, so that the two rectangles meet on a pixel edge and the badge stays crisp.
func (lk look) measure(text string, fill rgb) part {
	if lk.upper {
		text = strings.ToUpper(text)
	}
	w := Width(text, lk.bold) * lk.fontSize / 11
	if n := len([]rune(text)); n > 1 {
		w += lk.spacing * float64(n-1)
	}
	return part{text: text, textWidth: w, width: math.Round(w + 2*lk.pad), fill: fill}
}

// addLogo puts the logo at the part's left, as shields.io does: logoSize square, lk.pad from
// the edge, the text moved right by the logo and a gap (no gap when there is no text). The
// logo takes the text's colour unless given one, so it stays readable on a light part.
func (lk look) addLogo(p *part, logo *Logo, fill *rgb) {
	extra := float64(logoSize)
	if p.text != "" {
		extra += lk.logoGap
	}
	p.logo, p.textLeft = logo, extra
	p.width = math.Round(p.textWidth + 2*lk.pad + extra)
	p.logoFill = rgb{0xff, 0xff, 0xff}
	if p.fill.light() {
		p.logoFill = rgb{0x33, 0x33, 0x33}
	}
	if fill != nil {
		p.logoFill = *fill
	}
}

// draw writes the document. The two rectangles are clipped to one rounded rectangle so only
// the outer corners are rounded; the sheen lies over both. Each text is centred in its part
// and held to its measured width with textLength, so a reader without DejaVu Sans or Verdana
// still gets text that fits (for-the-badge's letter spacing comes from there too). Ids are
// made from a hash of the content, so two different badges inlined in one HTML page do not
// take each other's clip path or gradient.
func (lk look) draw(parts []part, title string) []byte {
	total := 0.0
	for _, p := range parts {
		total += p.width
	}
	id := contentID(title, lk, parts)
	esc := escape(title)

	// Appended by hand, not with fmt: a counting badge is drawn for every hit, and this was
	// most of its cost (make bench, "counting badge").
	size := 1024 // a badge without a logo fits
	for _, p := range parts {
		if p.logo != nil {
			size = 1536 + len(p.logo.Path)
		}
	}
	s := svgWriter(make([]byte, 0, size))
	s.str(`<svg xmlns="http://www.w3.org/2000/svg" width="`).num(total).str(`" height="`).num(lk.height).
		str(`" role="img" aria-label="`).str(esc).str(`"><title>`).str(esc).str(`</title>`)
	if len(lk.gradient) > 0 {
		s.str(`<linearGradient id="`).str(id).str(`-g" x2="0" y2="100%">`)
		for _, st := range lk.gradient {
			s.str(`<stop offset="`).str(st.offset).str(`" stop-color="`).str(st.color).str(`" stop-opacity="`).str(st.opacity).str(`"/>`)
		}
		s.str(`</linearGradient>`)
	}
	s.str(`<clipPath id="`).str(id).str(`-c"><rect width="`).num(total).str(`" height="`).num(lk.height).
		str(`" rx="`).num(lk.radius).str(`"/></clipPath><g clip-path="url(#`).str(id).str(`-c)">`)
	for _, p := range parts {
		s.str(`<rect x="`).num(p.x).str(`" width="`).num(p.width).str(`" height="`).num(lk.height).str(`" fill="`).color(p.fill).str(`"/>`)
	}
	if len(lk.gradient) > 0 {
		s.str(`<rect width="`).num(total).str(`" height="`).num(lk.height).str(`" fill="url(#`).str(id).str(`-g)"/>`)
	}
	s.str(`</g>`)
	for _, p := range parts {
		if p.logo == nil {
			continue
		}
		// The icons are drawn on a 24 px grid: scaled to logoSize, vertically centred. The path
		// goes in unescaped: loadLogos let in only commands, digits and separators, none of
		// which XML escapes, and escaping 5 KB for every hit tripled a logo badge's cost.
		s.str(`<path transform="translate(`).num(p.x + lk.pad).str(` `).num((lk.height - logoSize) / 2).
			str(`) scale(`).num4(logoSize / 24.0).str(`)" fill="`).color(p.logoFill).str(`" d="`).str(p.logo.Path).str(`"/>`)
	}
	s.str(`<g text-anchor="middle" font-family="`).str(fontFamily).str(`" font-size="`).num(lk.fontSize).str(`"`)
	if lk.bold {
		s.str(` font-weight="bold"`)
	}
	s.str(`>`)
	for _, p := range parts {
		if p.text == "" {
			continue
		}
		// White text with a dark shadow on dark colours, dark text with a light one on light.
		ink, shade := "#fff", "#010101"
		if p.fill.light() {
			ink, shade = "#333", "#ccc"
		}
		mid, text := p.x+p.textLeft+(p.width-p.textLeft)/2, escape(p.text)
		if lk.shadow {
			s.str(`<text x="`).num(mid).str(`" y="`).num(lk.baseline + 1).str(`" fill="`).str(shade).
				str(`" fill-opacity=".3" textLength="`).num(p.textWidth).str(`" aria-hidden="true">`).str(text).str(`</text>`)
		}
		s.str(`<text x="`).num(mid).str(`" y="`).num(lk.baseline).str(`" fill="`).str(ink).
			str(`" textLength="`).num(p.textWidth).str(`">`).str(text).str(`</text>`)
	}
	s.str(`</g></svg>`)
	return s
}

// svgWriter appends a document's pieces.
type svgWriter []byte

func (w *svgWriter) str(s string) *svgWriter { *w = append(*w, s...); return w }

// num appends a length with at most two decimals and no trailing zeros.
func (w *svgWriter) num(v float64) *svgWriter {
	*w = strconv.AppendFloat(*w, math.Round(v*100)/100, 'f', -1, 64)
	return w
}

// num4 appends a factor with at most four decimals: a logo's scale, where two would misplace
// the far edge of a 24 px grid by a tenth of a pixel.
func (w *svgWriter) num4(v float64) *svgWriter {
	*w = strconv.AppendFloat(*w, math.Round(v*1e4)/1e4, 'f', -1, 64)
	return w
}

func (w *svgWriter) color(c rgb) *svgWriter {
	const hexDigits = "0123456789abcdef"
	*w = append(*w, '#', hexDigits[c.r>>4], hexDigits[c.r&15], hexDigits[c.g>>4], hexDigits[c.g&15], hexDigits[c.b>>4], hexDigits[c.b&15])
	return w
}

// escape makes s safe as XML text and as a double- or single-quoted attribute value:
// encoding/xml escapes & < > " ' and the white-space controls. s is already sanitised, so
// every rune in it is one XML allows.
func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails to write
	return b.String()
}

// contentID is a short id that differs between badges that draw differently: a hash of the
// title (both texts), the look and each part's colour and width.
func contentID(title string, lk look, parts []part) string {
	h := fnv.New32a()
	b := make([]byte, 0, 128)
	b = append(b, title...)
	for _, v := range []float64{lk.height, lk.radius, lk.pad, lk.fontSize, lk.spacing, float64(len(lk.gradient))} {
		b = strconv.AppendFloat(append(b, 0), v, 'g', -1, 64)
	}
	b = strconv.AppendBool(append(b, 0), lk.shadow)
	for _, p := range parts {
		b = append(b, 0, p.fill.r, p.fill.g, p.fill.b)
		b = strconv.AppendFloat(b, p.width, 'g', -1, 64)
		if p.logo != nil {
			b = append(append(b, 0), p.logo.Name...)
		}
	}
	_, _ = h.Write(b)
	return "hc" + strconv.FormatUint(uint64(h.Sum32())|1<<32, 16)[1:]
}

// ErrorBadge is a badge for a request that failed, for an <img> that cannot show a JSON error:
// the label on grey, the message on red, flat. It cannot fail.
func ErrorBadge(label, message string) []byte {
	svg, err := Render(Badge{Label: label, Message: message, LabelColor: "grey", Color: "red"})
	if err != nil {
		panic("badge: the error badge's own colours and style are refused: " + err.Error())
	}
	return svg
}
