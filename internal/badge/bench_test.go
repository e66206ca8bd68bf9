package badge

import "testing"

// BenchmarkRender: a counting badge is drawn for every hit, so what a logo or the short format
// costs per badge matters (docs/badges.md).
func BenchmarkRender(b *testing.B) {
	for _, bc := range []struct {
		name string
		b    Badge
	}{
		{"plain", Badge{Label: "hits", Message: "1234567", Color: "blue"}},
		{"short", Badge{Label: "hits", Message: Short(1234567), Color: "blue"}},
		{"logo", Badge{Label: "hits", Message: "1234567", Color: "blue", Logo: "github"}},
		{"large logo", Badge{Label: "hits", Message: "1234567", Color: "blue", Logo: "linux"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(bc.b); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkShort(b *testing.B) {
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		_ = Short(1_000_000 + i)
	}
}
