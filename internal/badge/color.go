package badge

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadColor is wrapped by the error for a colour that is neither a shields.io name nor hex;
// the HTTP layer answers 400 for it (errors.Is). The error's text names the value.
var ErrBadColor = errors.New("bad colour")

// namedColors are shields.io's colour names and aliases, with the hex values its badges use.
var namedColors = map[string]string{
	"brightgreen": "4c1",
	"green":       "97ca00",
	"yellowgreen": "a4a61d",
	"yellow":      "dfb317",
	"orange":      "fe7d37",
	"red":         "e05d44",
	"blue":        "007ec6",
	"grey":        "555",
	"gray":        "555",
	"lightgrey":   "9f9f9f",
	"lightgray":   "9f9f9f",
	// The semantic aliases.
	"success":       "4c1",
	"important":     "fe7d37",
	"critical":      "e05d44",
	"informational": "007ec6",
	"inactive":      "9f9f9f",
}

// rgb is a parsed colour.
type rgb struct{ r, g, b uint8 }

// String is the colour as SVG wants it, always #rrggbb: the output never echoes the caller's
// spelling, so nothing the caller wrote reaches the SVG through a colour.
func (c rgb) String() string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

// light says whether dark text reads better than white on c. The threshold is on perceived
// brightness (ITU-R BT.601 weights): yellow, lightgrey and white get dark text, the rest white.
func (c rgb) light() bool {
	return 0.299*float64(c.r)+0.587*float64(c.g)+0.114*float64(c.b) > 0.69*255
}

// ParseColor reads a shields.io colour name (case-insensitive) or a hex colour, RGB or RRGGBB,
// with or without a leading '#', and returns it as #rrggbb.
func ParseColor(s string) (string, error) {
	c, err := parseColor(s)
	if err != nil {
		return "", err
	}
	return c.String(), nil
}

func parseColor(s string) (rgb, error) {
	hex := strings.TrimPrefix(s, "#")
	if named, ok := namedColors[strings.ToLower(s)]; ok {
		hex = named
	}
	var digits [6]uint8
	switch len(hex) {
	case 3: // #abc means #aabbcc
		for i := range 3 {
			d, ok := hexDigit(hex[i])
			if !ok {
				return rgb{}, badColor(s)
			}
			digits[2*i], digits[2*i+1] = d, d
		}
	case 6:
		for i := range 6 {
			d, ok := hexDigit(hex[i])
			if !ok {
				return rgb{}, badColor(s)
			}
			digits[i] = d
		}
	default:
		return rgb{}, badColor(s)
	}
	return rgb{digits[0]<<4 | digits[1], digits[2]<<4 | digits[3], digits[4]<<4 | digits[5]}, nil
}

func hexDigit(c byte) (uint8, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// badColor names the value, quoted and shortened, so a megabyte of query string does not end
// up in a log line or an error badge.
func badColor(s string) error {
	return fmt.Errorf("%w %s: want a name such as brightgreen or blue, or hex RGB or RRGGBB", ErrBadColor, quoteShort(s))
}

// quoteShort is s in Go quotes, cut to 40 bytes of s.
func quoteShort(s string) string {
	const limit = 40
	if len(s) > limit {
		return fmt.Sprintf("%q…", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
