package badge

import "strconv"

// metricPrefixes are the SI prefixes Short uses, one per factor of 1,000; an int64 ends in
// the exa range (9.2E).
var metricPrefixes = [...]string{"k", "M", "G", "T", "P", "E"}

// Short writes n in shields.io's metric style: as it is below 1,000, then with an SI prefix,
// one decimal below ten (1.2k, 4.5M) and none from ten (12k, 123k), a decimal that is zero left
// out (1k, not 1.0k). Unlike shields.io, which rounds to the nearest (999,999 reads 1M), the
// digits are cut, never rounded up: a counter's badge must not claim a visit that did not
// happen, so 1,999 reads 1.9k and 999,999 reads 999k. Negative values (a counter set below
// zero) are cut toward zero the same way: -1,250 reads -1.2k.
func Short(n int64) string {
	mag := uint64(n)
	if n < 0 {
		mag = -mag // two's complement: right for math.MinInt64 too
	}
	if mag < 1000 {
		return strconv.FormatInt(n, 10)
	}
	i, unit := 0, uint64(1000)
	for mag/unit >= 1000 && i < len(metricPrefixes)-1 {
		i, unit = i+1, unit*1000
	}
	b := make([]byte, 0, 8)
	if n < 0 {
		b = append(b, '-')
	}
	whole := mag / unit
	b = strconv.AppendUint(b, whole, 10)
	if tenth := mag % unit / (unit / 10); whole < 10 && tenth != 0 {
		b = append(b, '.', byte('0'+tenth))
	}
	return string(append(b, metricPrefixes[i]...))
}
