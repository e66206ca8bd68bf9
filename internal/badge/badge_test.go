package badge

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// parsed is what the tests look at in a rendered badge.
type parsed struct {
	width, height float64
	ariaLabel     string
	title         string
	texts         []string // the visible <text> elements' contents, shadows left out
	inks          []string // the visible <text> elements' fill
	shadows       []string // the shadow copies
	fills         []string // the fill of each part's <rect>, in order
	logos         []drawnLogo
	textXs        []float64 // the visible <text> elements' x
	elements      []string  // every element name
	attrs         []string  // every attribute name
}

// parseSVG reads svg with encoding/xml, which refuses malformed XML and characters XML 1.0
// does not allow.
func parseSVG(svg []byte) (parsed, error) {
	var p parsed
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var stack []xml.StartElement
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return p, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			p.elements = append(p.elements, tok.Name.Local)
			for _, a := range tok.Attr {
				p.attrs = append(p.attrs, a.Name.Local)
			}
			switch tok.Name.Local {
			case "svg":
				if len(stack) > 0 {
					return p, fmt.Errorf("nested <svg>")
				}
				if tok.Name.Space != "http://www.w3.org/2000/svg" {
					return p, fmt.Errorf("root namespace %q", tok.Name.Space)
				}
				p.width, _ = strconv.ParseFloat(attr(tok, "width"), 64)
				p.height, _ = strconv.ParseFloat(attr(tok, "height"), 64)
				p.ariaLabel = attr(tok, "aria-label")
				if attr(tok, "role") != "img" {
					return p, fmt.Errorf(`role is %q, want "img"`, attr(tok, "role"))
				}
			case "rect":
				if f := attr(tok, "fill"); strings.HasPrefix(f, "#") {
					p.fills = append(p.fills, f)
				}
			case "path":
				p.logos = append(p.logos, drawnLogo{attr(tok, "transform"), attr(tok, "fill"), attr(tok, "d")})
			case "text":
				if attr(tok, "aria-hidden") != "true" {
					x, _ := strconv.ParseFloat(attr(tok, "x"), 64)
					p.textXs = append(p.textXs, x)
				}
			}
			stack = append(stack, tok)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			switch top := stack[len(stack)-1]; top.Name.Local {
			case "title":
				p.title += string(tok)
			case "text":
				if attr(top, "aria-hidden") == "true" {
					p.shadows = append(p.shadows, string(tok))
				} else {
					p.texts = append(p.texts, string(tok))
					p.inks = append(p.inks, attr(top, "fill"))
				}
			}
		}
	}
	return p, nil
}

// drawnLogo is a <path>: a logo.
type drawnLogo struct{ transform, fill, d string }

func attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// The only elements and attributes a badge is made of: anything else in the output (a
// <script>, an onload=) would be markup that came from a caller's text.
var (
	allowedElements = []string{"svg", "title", "linearGradient", "stop", "clipPath", "rect", "g", "text", "path"}
	allowedAttrs    = []string{"xmlns", "width", "height", "role", "aria-label", "id", "x2", "y2", "offset",
		"stop-color", "stop-opacity", "rx", "clip-path", "x", "y", "fill", "fill-opacity", "text-anchor",
		"font-family", "font-size", "font-weight", "textLength", "aria-hidden", "transform", "d"}
)

// checkMarkup fails if the badge holds an element or attribute it is not made of.
func checkMarkup(p parsed) error {
	for _, el := range p.elements {
		if !slices.Contains(allowedElements, el) {
			return fmt.Errorf("unexpected element <%s>", el)
		}
	}
	for _, a := range p.attrs {
		if !slices.Contains(allowedAttrs, a) {
			return fmt.Errorf("unexpected attribute %s", a)
		}
	}
	return nil
}

func TestRenderStyles(t *testing.T) {
	tests := []struct {
		style      string
		height     float64
		texts      []string
		shadowed   bool
		gradient   bool
		rounded    bool
		wantWidth  float64 // hits 20.07 and 1,234 31.49 at 11px, each + 2×5 px, rounded
		fontWeight string
	}{
		{"", 20, []string{"hits", "1,234"}, true, true, true, 71, ""},
		{"flat", 20, []string{"hits", "1,234"}, true, true, true, 71, ""},
		{"flat-square", 20, []string{"hits", "1,234"}, false, false, false, 71, ""},
		{"plastic", 18, []string{"hits", "1,234"}, true, true, true, 71, ""},
		// bold 10px capitals, 1.25 px between letters, 12 px each side:
		// HITS 28.72×10/11 + 3×1.25 = 29.86 + 24 → 54; 1,234 34.79×10/11 + 4×1.25 = 36.63 + 24 → 61.
		{"for-the-badge", 28, []string{"HITS", "1,234"}, false, false, false, 115, "bold"},
	}
	for _, tt := range tests {
		t.Run(tt.style, func(t *testing.T) {
			svg, err := Render(Badge{Label: "hits", Message: "1,234", Color: "brightgreen", Style: tt.style})
			if err != nil {
				t.Fatal(err)
			}
			p, err := parseSVG(svg)
			if err != nil {
				t.Fatalf("does not parse: %v\n%s", err, svg)
			}
			if err := checkMarkup(p); err != nil {
				t.Error(err)
			}
			if got, want := p.title, "hits: 1,234"; got != want {
				t.Errorf("title = %q, want %q", got, want)
			}
			if got, want := p.ariaLabel, "hits: 1,234"; got != want {
				t.Errorf("aria-label = %q, want %q", got, want)
			}
			if !slices.Equal(p.texts, tt.texts) {
				t.Errorf("texts = %q, want %q", p.texts, tt.texts)
			}
			if got := len(p.shadows) > 0; got != tt.shadowed {
				t.Errorf("shadows %q, want shadowed %v", p.shadows, tt.shadowed)
			}
			if got := slices.Contains(p.elements, "linearGradient"); got != tt.gradient {
				t.Errorf("gradient %v, want %v", got, tt.gradient)
			}
			if got := !bytes.Contains(svg, []byte(`rx="0"`)); got != tt.rounded {
				t.Errorf("rounded %v, want %v", got, tt.rounded)
			}
			if got := bytes.Contains(svg, []byte(`font-weight="bold"`)); got != (tt.fontWeight == "bold") {
				t.Errorf("bold %v, want %q", got, tt.fontWeight)
			}
			if p.height != tt.height || p.width != tt.wantWidth {
				t.Errorf("size %vx%v, want %vx%v", p.width, p.height, tt.wantWidth, tt.height)
			}
			if got, want := p.fills, []string{"#555555", "#44cc11"}; !slices.Equal(got, want) {
				t.Errorf("fills = %q, want %q", got, want)
			}
		})
	}
}

func TestRenderWidthFollowsText(t *testing.T) {
	// A longer message makes a wider badge, by about the text's width; the count's digits
	// all being as wide, 1000 and 9999 make badges of one width.
	width := func(msg string) float64 {
		p, err := parseSVG(must(Render(Badge{Label: "hits", Message: msg})))
		if err != nil {
			t.Fatal(err)
		}
		return p.width
	}
	tests := []struct {
		narrow, wide string
	}{
		{"1", "12345"},
		{"iiii", "WWWW"},
	}
	for _, tt := range tests {
		if got, want := width(tt.narrow), width(tt.wide); !(got < want) {
			t.Errorf("width(%q) = %v, want less than width(%q) = %v", tt.narrow, got, tt.wide, want)
		}
	}
	if got, want := width("1000"), width("9999"); got != want {
		t.Errorf("width(1000) = %v, want width(9999) = %v", got, want)
	}
}

func TestRenderWithoutLabel(t *testing.T) {
	p, err := parseSVG(must(Render(Badge{Message: "42", Color: "#08c"})))
	if err != nil {
		t.Fatal(err)
	}
	if p.title != "42" || !slices.Equal(p.texts, []string{"42"}) || !slices.Equal(p.fills, []string{"#0088cc"}) {
		t.Errorf("title %q, texts %q, fills %q; want 42, [42], [#0088cc]", p.title, p.texts, p.fills)
	}
}

func TestRenderLightColourGetsDarkText(t *testing.T) {
	tests := []struct {
		color string
		ink   string
	}{
		{"fff", "#333"},
		{"lightgrey", "#fff"},
		{"yellow", "#fff"},
		{"ffe", "#333"},
		{"000", "#fff"},
	}
	for _, tt := range tests {
		p, err := parseSVG(must(Render(Badge{Message: "m", Color: tt.color})))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.inks, []string{tt.ink}) {
			t.Errorf("text on %s is %q, want %q", tt.color, p.inks, tt.ink)
		}
	}
}

func TestRenderHostileText(t *testing.T) {
	// Each label must come out as text: parsed back, it is the sanitised input, and the
	// document holds no element or attribute a badge is not made of.
	hostile := []string{
		`<script>alert(1)</script>`,
		`"><svg onload=alert(1)>`,
		`' onload='alert(1)`,
		`&lt;script&gt; &amp; &#60; &`,
		`]]><![CDATA[x]]>`,
		`<!-- --> <?xml version="1.0"?> <!DOCTYPE x [<!ENTITY e "e">]> &e;`,
		"nul\x00 bell\x07 esc\x1b[31m del\x7f c1\u0085\u009b",
		"bad utf-8 \xff\xfe\xc0\xaf end",
		"nonchars \uFFFE\uFFFF \uFFFD kept",
		"tab\tnewline\nreturn\r  spaces",
		"\u202eright-to-left override",
		"emoji 🎉 and 中文",
		"</text></g></svg><script>x</script>",
	}
	for _, s := range hostile {
		for _, style := range []string{StyleFlat, StyleForTheBadge} {
			svg, err := Render(Badge{Label: s, Message: s, Style: style})
			if err != nil {
				t.Fatalf("Render(%q): %v", s, err)
			}
			p, err := parseSVG(svg)
			if err != nil {
				t.Fatalf("Render(%q) does not parse: %v\n%s", s, err, svg)
			}
			if err := checkMarkup(p); err != nil {
				t.Errorf("Render(%q): %v\n%s", s, err, svg)
			}
			want := Sanitize(s)
			if p.title != want+": "+want {
				t.Errorf("Render(%q) title = %q, want %q twice", s, p.title, want)
			}
			if style == StyleForTheBadge {
				want = strings.ToUpper(want)
			}
			if !slices.Equal(p.texts, []string{want, want}) {
				t.Errorf("Render(%q) texts = %q, want %q twice", s, p.texts, want)
			}
			if bytes.Contains(bytes.ToLower(svg), []byte("<script")) {
				t.Errorf("Render(%q) holds <script as markup:\n%s", s, svg)
			}
		}
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"hits", "hits"},
		{"  a \t b\n\nc  ", "a b c"},
		{"\u00a0nbsp\u2003em space\u3000", "nbsp em space"},
		{"a\x00b\x1bc\x7fd\u0085e", "abcd e"}, // U+0085 (NEL) is white space, the rest control
		{"\xffa\xc0\xafb", "\uFFFDa\uFFFDb"},  // one U+FFFD per run of bad bytes
		{"x\uFFFEy\uFFFFz", "xyz"},
		{"<&>\"'", "<&>\"'"}, // not escaped: that is Render's job
		{"中文 🎉", "中文 🎉"},
	}
	for _, tt := range tests {
		if got := Sanitize(tt.in); got != tt.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSanitizeCapsLength(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"exactly the cap", strings.Repeat("a", MaxRunes), strings.Repeat("a", MaxRunes)},
		{"one over", strings.Repeat("a", MaxRunes+1), strings.Repeat("a", MaxRunes-1) + "…"},
		{"wide runes", strings.Repeat("🎉", 1000), strings.Repeat("🎉", MaxRunes-1) + "…"},
		{"space at the cut", strings.Repeat("a", MaxRunes-2) + " bcd", strings.Repeat("a", MaxRunes-2) + "…"},
		{"a run of white space counts as one", strings.Repeat("a \t\n ", MaxRunes/2), strings.TrimSpace(strings.Repeat("a ", MaxRunes/2))},
	}
	for _, tt := range tests {
		got := Sanitize(tt.in)
		if got != tt.want {
			t.Errorf("%s: Sanitize = %q, want %q", tt.name, got, tt.want)
		}
		if n := utf8.RuneCountInString(got); n > MaxRunes {
			t.Errorf("%s: %d runes, want at most %d", tt.name, n, MaxRunes)
		}
	}
}

func TestRenderLongLabelCapped(t *testing.T) {
	long := strings.Repeat("W", 1<<20)
	svg := must(Render(Badge{Label: long, Message: long, Style: StyleForTheBadge}))
	p, err := parseSVG(svg)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("W", MaxRunes-1) + "…"
	if !slices.Equal(p.texts, []string{want, want}) {
		t.Errorf("texts = %q, want %q twice", p.texts, want)
	}
	if p.width > 5000 || len(svg) > 4000 {
		t.Errorf("a megabyte label drew a badge %v px and %d bytes wide, want under 5000 px and 4000 bytes", p.width, len(svg))
	}
}

func TestParseColor(t *testing.T) {
	tests := []struct{ in, want string }{
		{"brightgreen", "#44cc11"},
		{"green", "#97ca00"},
		{"yellowgreen", "#a4a61d"},
		{"yellow", "#dfb317"},
		{"orange", "#fe7d37"},
		{"red", "#e05d44"},
		{"blue", "#007ec6"},
		{"lightgrey", "#9f9f9f"},
		{"lightgray", "#9f9f9f"},
		{"grey", "#555555"},
		{"gray", "#555555"},
		{"success", "#44cc11"},
		{"important", "#fe7d37"},
		{"critical", "#e05d44"},
		{"informational", "#007ec6"},
		{"inactive", "#9f9f9f"},
		{"BrightGreen", "#44cc11"},
		{"fff", "#ffffff"},
		{"#fff", "#ffffff"},
		{"0a0B0c", "#0a0b0c"},
		{"#C0FFEE", "#c0ffee"},
		{"bad", "#bbaadd"}, // a word, but also hex
	}
	for _, tt := range tests {
		got, err := ParseColor(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseColor(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseColorRefuses(t *testing.T) {
	for _, in := range []string{
		"", "#", "ff", "ffff", "fffffff", "#gggggg", "##fff", "purple", "#red", "rgb(1,2,3)",
		`red" onload="x`, "fff\x00", " fff", "４４４", "hsl(0,0%,0%)", strings.Repeat("f", 100),
	} {
		got, err := ParseColor(in)
		if !errors.Is(err, ErrBadColor) {
			t.Errorf("ParseColor(%q) = %q, %v; want ErrBadColor", in, got, err)
			continue
		}
		if q := quoteShort(in); !strings.Contains(err.Error(), q) {
			t.Errorf("ParseColor(%q) error %q does not name the value as %s", in, err, q)
		}
		if len(err.Error()) > 200 {
			t.Errorf("ParseColor(%q) error is %d bytes long", in, len(err.Error()))
		}
		for _, b := range []Badge{{Message: "m", Color: in}, {Message: "m", LabelColor: in}} {
			if in == "" {
				continue // empty means the default
			}
			if _, err := Render(b); !errors.Is(err, ErrBadColor) {
				t.Errorf("Render(%+v) error = %v, want ErrBadColor", b, err)
			}
		}
	}
}

func TestRenderRefusesStyle(t *testing.T) {
	for _, style := range []string{"Flat", "social", "flat ", "<script>"} {
		_, err := Render(Badge{Message: "m", Style: style})
		if !errors.Is(err, ErrBadStyle) || !strings.Contains(err.Error(), strconv.Quote(style)) {
			t.Errorf("Render(style %q) error = %v, want ErrBadStyle naming it", style, err)
		}
	}
}

// Styles is every style Render draws and nothing else, the default first; changing the list
// must not change the callers' copy.
func TestStylesAreTheLooks(t *testing.T) {
	got := Styles()
	if len(got) != len(looks) || got[0] != StyleFlat {
		t.Fatalf("Styles() = %q, want the %d styles of looks, flat first", got, len(looks))
	}
	for _, style := range got {
		if _, ok := looks[style]; !ok {
			t.Errorf("Styles() has %q, which Render does not draw", style)
		}
		if _, err := Render(Badge{Message: "m", Style: style}); err != nil {
			t.Errorf("Render(style %q) = %v", style, err)
		}
	}
	got[0] = "changed"
	if Styles()[0] != StyleFlat {
		t.Error("Styles() hands out its own list: a caller changed it")
	}
}

func TestErrorBadge(t *testing.T) {
	p, err := parseSVG(ErrorBadge("hits", `counter "<x>" not found`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.title, `hits: counter "<x>" not found`; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	if got, want := p.fills, []string{"#555555", "#e05d44"}; !slices.Equal(got, want) {
		t.Errorf("fills = %q, want grey and red %q", got, want)
	}
}

func TestIDsDifferBetweenBadges(t *testing.T) {
	// Two badges inlined in one HTML page must not share a clip path: the second would be
	// cut to the first's width.
	a := must(Render(Badge{Label: "hits", Message: "1"}))
	b := must(Render(Badge{Label: "hits", Message: "1000"}))
	id := func(svg []byte) string {
		_, rest, _ := bytes.Cut(svg, []byte(`<clipPath id="`))
		v, _, _ := bytes.Cut(rest, []byte(`"`))
		return string(v)
	}
	if id(a) == "" || id(a) == id(b) {
		t.Errorf("clip path ids %q and %q, want two different ones", id(a), id(b))
	}
}

func must(svg []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return svg
}
