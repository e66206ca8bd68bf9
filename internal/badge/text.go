package badge

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxRunes is the most runes of a label or message a badge shows; longer text is cut and ends
// in "…". At the widest rune in the table this keeps a badge's part under about 3,000 px.
const MaxRunes = 128

// Sanitize is the text a badge shows for s: what Render draws and puts in the title. It
// replaces invalid UTF-8 with U+FFFD; turns every run of white space into one space and trims
// both ends (SVG collapses white space when it draws, so measuring it uncollapsed would make
// the badge too wide); drops what XML 1.0 may not carry or a badge cannot draw (control
// characters, U+FFFE, U+FFFF); and cuts the result to MaxRunes runes, the last being "…".
//
// Sanitize does not escape: Render escapes what it writes.
func Sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r): // before Cc: tab, newline and CR are both
			return ' '
		case unicode.Is(unicode.Cc, r), r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")

	if utf8.RuneCountInString(s) <= MaxRunes {
		return s
	}
	kept := 0
	for i := range s {
		if kept == MaxRunes-1 {
			return strings.TrimRight(s[:i], " ") + "…"
		}
		kept++
	}
	return s // not reached: s has more than MaxRunes runes
}
