package badge

import (
	"math"
	"testing"
)

func TestWidthKnownStrings(t *testing.T) {
	// Values read off the table by hand (sum of the advances of each rune); a regenerated table
	// from another DejaVu release may move them a little, hence the one-pixel tolerance.
	tests := []struct {
		text string
		bold bool
		want float64
	}{
		{"", false, 0},
		{"hits", false, 20.07},
		{"hits", true, 23.41},
		{"1234567890", false, 69.99},
		{"visitors", false, 39.65},
		{"HITS", true, 28.72},
		{"m", false, 10.72},
		{"\u4e2d", false, 10.72}, // outside the table: as wide as 'm'
		{"…", false, 11},
	}
	for _, tt := range tests {
		if got := Width(tt.text, tt.bold); math.Abs(got-tt.want) > 1 {
			t.Errorf("Width(%q, %v) = %.2f, want %.2f ± 1", tt.text, tt.bold, got, tt.want)
		}
	}
}

func TestWidthOrdering(t *testing.T) {
	// Narrow and wide letters must come out narrow and wide: the sanity check that the table
	// is a real font's and not one width for all.
	tests := []struct{ narrow, wide string }{
		{"ll", "mm"},
		{"i", "W"},
		{"1", "11"},
		{"hits", "visitors"},
		{"é", "Æ"},
		{"'", "—"},
	}
	for _, tt := range tests {
		if got, want := Width(tt.narrow, false), Width(tt.wide, false); !(got < want) {
			t.Errorf("Width(%q) = %.2f, want less than Width(%q) = %.2f", tt.narrow, got, tt.wide, want)
		}
	}
}

func TestWidthEveryRunePositiveAndAdditive(t *testing.T) {
	// Every rune has a width between a hair and two ems, bold ASCII is never narrower than
	// regular (a few accented bold glyphs are), and a string's width is the sum of its runes'.
	runes := []rune{}
	for r := rune(0x20); r <= 0x24F; r++ {
		if r >= 0x7F && r <= 0x9F {
			continue // controls: never drawn, Sanitize removes them
		}
		runes = append(runes, r)
	}
	for r := range regularExtra {
		runes = append(runes, r)
	}
	var sum float64
	for _, r := range runes {
		w, b := Width(string(r), false), Width(string(r), true)
		if w <= 0.5 && r != 0xAD || w > 22 {
			t.Errorf("Width(%U) = %.2f, want within (0.5, 22]", r, w)
		}
		if r < 0x7F && b < w {
			t.Errorf("bold %U = %.2f narrower than regular %.2f", r, b, w)
		}
		sum += w
	}
	if got := Width(string(runes), false); math.Abs(got-sum) > 1e-6 {
		t.Errorf("Width of all runes = %f, want the sum %f", got, sum)
	}
}

func TestDigitsAreTabular(t *testing.T) {
	// A counter's badge keeps its width while the number changes only if every digit is as
	// wide as every other; DejaVu's (and Verdana's) digits are.
	for _, bold := range []bool{false, true} {
		zero := Width("0", bold)
		for d := '1'; d <= '9'; d++ {
			if got := Width(string(d), bold); got != zero {
				t.Errorf("Width(%q, %v) = %v, want %v like '0'", d, bold, got, zero)
			}
		}
	}
}
