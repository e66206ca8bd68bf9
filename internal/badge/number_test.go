package badge

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestShort(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0"},
		{7, "7"},
		{999, "999"},
		{1000, "1k"},
		{1049, "1k"},
		{1099, "1k"}, // cut, not rounded: 1.0k, the zero left out
		{1100, "1.1k"},
		{1234, "1.2k"},
		{1999, "1.9k"}, // shields.io: 2k
		{9999, "9.9k"},
		{10_000, "10k"},
		{12_345, "12k"},
		{99_999, "99k"},
		{123_456, "123k"},
		{999_999, "999k"}, // shields.io: 1M
		{1_000_000, "1M"},
		{1_250_000, "1.2M"},
		{12_500_000, "12M"},
		{999_999_999, "999M"},
		{1_000_000_000, "1G"},
		{1_500_000_000_000, "1.5T"},
		{2_000_000_000_000_000, "2P"},
		{math.MaxInt64, "9.2E"}, // 9,223,372,036,854,775,807
		{-1, "-1"},
		{-999, "-999"},
		{-1250, "-1.2k"},
		{-999_999, "-999k"},
		{math.MinInt64, "-9.2E"},
	}
	for _, tt := range tests {
		if got := Short(tt.in); got != tt.want {
			t.Errorf("Short(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzShort checks Short against what it promises, read back from its output: below 1,000 the
// number itself; above, a figure times its prefix's power that is at most the value and within
// one shown digit of it (never more: a badge must not overstate), one decimal only below ten,
// no zero decimal, and at most five characters besides the sign.
func FuzzShort(f *testing.F) {
	for _, n := range []int64{0, 999, 1000, 1099, 1999, 999_999, math.MaxInt64, math.MinInt64, -1250} {
		f.Add(n)
	}
	powers := map[string]float64{"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
	f.Fuzz(func(t *testing.T, n int64) {
		got := Short(n)
		mag := math.Abs(float64(n))
		if mag < 1000 {
			if got != strconv.FormatInt(n, 10) {
				t.Fatalf("Short(%d) = %q, want the number itself", n, got)
			}
			return
		}
		digits, neg := strings.CutPrefix(got, "-")
		if neg != (n < 0) || len(digits) < 2 || len(digits) > 5 {
			t.Fatalf("Short(%d) = %q: sign or length wrong", n, got)
		}
		power, ok := powers[digits[len(digits)-1:]]
		figure, err := strconv.ParseFloat(digits[:len(digits)-1], 64)
		if !ok || err != nil || figure < 1 || figure >= 1000 {
			t.Fatalf("Short(%d) = %q: not a figure from 1 to 999 and a prefix", n, got)
		}
		whole, frac, hasFrac := strings.Cut(digits[:len(digits)-1], ".")
		if hasFrac && (len(whole) != 1 || len(frac) != 1 || frac == "0") {
			t.Fatalf("Short(%d) = %q: a decimal only below ten, one digit, never zero", n, got)
		}
		step := power
		if figure < 10 {
			step = power / 10
		}
		// Float64 is exact enough here: the relative error of mag is 1e-16, a step is 1e-3 of
		// the value at the least.
		if shown := figure * power; shown > mag*(1+1e-12) || mag >= shown+step*(1-1e-12) {
			t.Fatalf("Short(%d) = %q: %g is not the value cut to one shown digit", n, got, shown)
		}
	})
}
