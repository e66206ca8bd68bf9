package badge

// The width table comes from DejaVu Sans; regenerate it (it needs Debian's fonts-dejavu-core)
// with `go generate ./internal/badge/`. The generator is its own module, so golang.org/x/image
// stays out of this module's dependencies.
//go:generate go run -C ../../tools/fontmetrics . -out ../../internal/badge/widths_gen.go

// Width is the advance width in pixels of text set in DejaVu Sans (bold: DejaVu Sans Bold) at
// 11px, with no kerning, as shields.io measures its badges (with Verdana). A rune outside the
// table (CJK, emoji, most scripts but Latin) counts as wide as 'm': usually a little too wide,
// which is the safe side, since the badge's textLength squeezes the drawn text to fit.
func Width(text string, bold bool) float64 {
	dense, extra, fallback := regularDense[:], regularExtra, regularFallback
	if bold {
		dense, extra, fallback = boldDense[:], boldExtra, boldFallback
	}
	var w float64
	for _, r := range text {
		switch i := int(r) - denseFirst; {
		case i >= 0 && i < len(dense):
			w += dense[i]
		default:
			if x, ok := extra[r]; ok {
				w += x
			} else {
				w += fallback
			}
		}
	}
	return w
}
