package badge

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzRender: any label, message, colours, style, logo and logo colour either render a badge
// that parses as XML, is made only of a badge's elements and attributes, titles the sanitised
// texts and draws the logo asked for, or are refused with ErrBadColor, ErrBadStyle or
// ErrBadLogo. Never a panic.
func FuzzRender(f *testing.F) {
	f.Add("hits", "1,234", "brightgreen", "", "", "", "")
	f.Add(`"><svg onload=alert(1)>`, "<script>alert(1)</script>", "#fff", "555", "flat-square", "github", "")
	f.Add("a\x00b\xff\uFFFE", "]]>&amp;\t\n", "C0FFEE", "grey", "plastic", "Docker", "fff")
	f.Add("visitors", strings.Repeat("🎉", 200), "", "", "for-the-badge", "kubernetes", "326ce5")
	f.Add("", "", "red\" onload=\"x", "", "social", `go" onload="x`, "red")
	f.Add("", "12k", "", "", "", "python", "")
	f.Fuzz(func(t *testing.T, label, message, color, labelColor, style, logo, logoColor string) {
		svg, err := Render(Badge{Label: label, Message: message, Color: color, LabelColor: labelColor, Style: style, Logo: logo, LogoColor: logoColor})
		if err != nil {
			if !errors.Is(err, ErrBadColor) && !errors.Is(err, ErrBadStyle) && !errors.Is(err, ErrBadLogo) {
				t.Fatalf("Render error %v is neither ErrBadColor, ErrBadStyle nor ErrBadLogo", err)
			}
			return
		}
		p, err := parseSVG(svg)
		if err != nil {
			t.Fatalf("does not parse: %v\n%s", err, svg)
		}
		if err := checkMarkup(p); err != nil {
			t.Fatalf("%v\n%s", err, svg)
		}
		if bytes.Contains(bytes.ToLower(svg), []byte("<script")) {
			t.Fatalf("<script in the markup:\n%s", svg)
		}
		want := Sanitize(message)
		if l := Sanitize(label); l != "" {
			want = l + ": " + want
		}
		if p.title != want || p.ariaLabel != want {
			t.Fatalf("title %q, aria-label %q, want %q", p.title, p.ariaLabel, want)
		}
		var texts []string // the drawn texts: no <text> for an empty one
		for _, s := range []string{Sanitize(label), Sanitize(message)} {
			if style == StyleForTheBadge {
				s = strings.ToUpper(s)
			}
			if s != "" {
				texts = append(texts, s)
			}
		}
		if !slices.Equal(p.texts, texts) || !slices.Equal(p.shadows, texts) && len(p.shadows) > 0 {
			t.Fatalf("texts %q, shadows %q, want %q", p.texts, p.shadows, texts)
		}
		l, ok := LookupLogo(logo)
		if logo == "" && len(p.logos) != 0 || logo != "" && (!ok || len(p.logos) != 1 || p.logos[0].d != l.Path) {
			t.Fatalf("logo %q drawn as %+v", logo, p.logos)
		}
	})
}
