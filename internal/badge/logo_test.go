package badge

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestLogoSet(t *testing.T) {
	set := Logos()
	if !strings.HasPrefix(set.Source, "simple-icons ") || set.License != "CC0-1.0" {
		t.Errorf("source %q, licence %q; want simple-icons, CC0-1.0", set.Source, set.License)
	}
	if n := len(set.Logos); n < 30 || n > 80 {
		t.Errorf("%d logos, want a curated 30 to 80", n)
	}
	names := make([]string, 0, len(set.Logos))
	for _, l := range set.Logos {
		names = append(names, l.Name)
		if !validName(l.Name) || !pathData.MatchString(l.Path) || l.Title == "" || len(l.Path) > 8000 {
			t.Errorf("logo %q (%q): bad name, title or path (%d bytes)", l.Name, l.Title, len(l.Path))
		}
		if _, err := ParseColor(l.Hex); err != nil || len(l.Hex) != 6 {
			t.Errorf("logo %q: hex %q: %v", l.Name, l.Hex, err)
		}
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("names not sorted and unique: %q", names)
	}
	// The ones a README asks for most; Rust and JavaScript are not here because their icons
	// carry licences of their own (docs/badges.md).
	for _, want := range []string{
		"github", "gitlab", "go", "python", "typescript", "docker", "kubernetes", "linux", "npm", "pypi", "discord", "mastodon", "youtube",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("no %q logo", want)
		}
	}
}

func TestLookupLogo(t *testing.T) {
	tests := []struct {
		name   string
		want   string
		wantOK bool
	}{
		{"github", "GitHub", true},
		{"GitHub", "GitHub", true},
		{"GITHUB", "GitHub", true},
		{"nodedotjs", "Node.js", true},
		{"", "", false},
		{"git hub", "", false},
		{"github.svg", "", false},
		{"rust", "", false},
		{"../github", "", false},
	}
	for _, tt := range tests {
		got, ok := LookupLogo(tt.name)
		if ok != tt.wantOK || got.Title != tt.want {
			t.Errorf("LookupLogo(%q) = %q, %v; want %q, %v", tt.name, got.Title, ok, tt.want, tt.wantOK)
		}
	}
}

func TestRenderLogo(t *testing.T) {
	github, _ := LookupLogo("github")
	tests := []struct {
		name      string
		b         Badge
		transform string
		fill      string
		width     float64
		textXs    []float64
	}{
		// hits 20.07 + 2×5 + 14 + 3 → 47, its text centred right of the logo: 17 + 30/2;
		// 1,234 31.49 + 10 → 41 at 47.
		{"flat", Badge{Label: "hits", Message: "1,234", Logo: "github"},
			"translate(5 3) scale(0.5833)", "#ffffff", 88, []float64{32, 67.5}},
		{"upper case name", Badge{Label: "hits", Message: "1,234", Logo: "GitHub"},
			"translate(5 3) scale(0.5833)", "#ffffff", 88, []float64{32, 67.5}},
		{"logo colour", Badge{Label: "hits", Message: "1,234", Logo: "github", LogoColor: "181717"},
			"translate(5 3) scale(0.5833)", "#181717", 88, []float64{32, 67.5}},
		{"light label: dark logo like the text", Badge{Label: "hits", Message: "1,234", Logo: "github", LabelColor: "fff"},
			"translate(5 3) scale(0.5833)", "#333333", 88, []float64{32, 67.5}},
		{"no label: beside the message", Badge{Message: "1,234", Logo: "github"},
			"translate(5 3) scale(0.5833)", "#ffffff", 58, []float64{37.5}},
		{"plastic", Badge{Label: "hits", Message: "1,234", Logo: "github", Style: StylePlastic},
			"translate(5 2) scale(0.5833)", "#ffffff", 88, []float64{32, 67.5}},
		// HITS 29.86 + 2×12 + 14 + 6 → 74, centred at 20 + 54/2; 1,234 → 61 at 74.
		{"for-the-badge", Badge{Label: "hits", Message: "1,234", Logo: "github", Style: StyleForTheBadge},
			"translate(12 7) scale(0.5833)", "#ffffff", 135, []float64{47, 104.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := must(Render(tt.b))
			p, err := parseSVG(svg)
			if err != nil {
				t.Fatalf("does not parse: %v\n%s", err, svg)
			}
			if err := checkMarkup(p); err != nil {
				t.Error(err)
			}
			want := []drawnLogo{{tt.transform, tt.fill, github.Path}}
			if !slices.Equal(p.logos, want) {
				t.Errorf("logos = %+v, want %+v", p.logos, want)
			}
			if p.width != tt.width || !slices.Equal(p.textXs, tt.textXs) {
				t.Errorf("width %v, text x %v; want %v, %v", p.width, p.textXs, tt.width, tt.textXs)
			}
			if title := Sanitize(tt.b.Message); tt.b.Label != "" && p.title != "hits: 1,234" || tt.b.Label == "" && p.title != title {
				t.Errorf("title %q: the logo must not change it", p.title)
			}
		})
	}
	// Without a logo nothing moves: the widths of TestRenderStyles.
	if p, _ := parseSVG(must(Render(Badge{Label: "hits", Message: "1,234"}))); len(p.logos) != 0 || p.width != 71 {
		t.Errorf("no logo: logos %v, width %v; want none, 71", p.logos, p.width)
	}
}

func TestRenderRefusesLogo(t *testing.T) {
	for _, name := range []string{"rust", "nope", `github" onload="x`, strings.Repeat("g", 1000), "github\x00"} {
		_, err := Render(Badge{Message: "m", Logo: name})
		if !errors.Is(err, ErrBadLogo) || !strings.Contains(err.Error(), quoteShort(name)) || len(err.Error()) > 200 {
			t.Errorf("Render(logo %q) error = %v, want ErrBadLogo naming it, short", name, err)
		}
	}
	if _, err := Render(Badge{Message: "m", Logo: "github", LogoColor: "url(#x)"}); !errors.Is(err, ErrBadColor) {
		t.Errorf("Render(logoColor url(#x)) error = %v, want ErrBadColor", err)
	}
}

func TestLoadLogosRefusesBadPaths(t *testing.T) {
	for _, raw := range []string{
		`{"logos":[{"name":"x","path":"M0 0\"/><script>"}]}`,
		`{"logos":[{"name":"X","path":"M0 0"}]}`,
		`{"logos":[{"name":"","path":"M0 0"}]}`,
		`not json`,
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("loadLogos(%s) accepted it", raw)
				}
			}()
			loadLogos([]byte(raw))
		}()
	}
}

// Every logo of the set draws, in every style, as one path of its own data.
func TestRenderEveryLogo(t *testing.T) {
	for _, l := range Logos().Logos {
		for style := range looks {
			p, err := parseSVG(must(Render(Badge{Label: "hits", Message: "1", Logo: l.Name, Style: style})))
			if err != nil {
				t.Fatalf("%s, %s: %v", l.Name, style, err)
			}
			if err := checkMarkup(p); err != nil || len(p.logos) != 1 || p.logos[0].d != l.Path {
				t.Errorf("%s, %s: %v, logos %d", l.Name, style, err, len(p.logos))
			}
		}
	}
}
