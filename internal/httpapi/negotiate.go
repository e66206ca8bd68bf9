package httpapi

import (
	"strconv"
	"strings"
)

// format is a representation of the counter that a client can ask for with Accept.
type format int

const (
	formatText format = iota
	formatJSON
	formatHTML
)

// offers in the server's order of preference, which breaks ties between equal q-values: curl's
// "*/*" gets text, a browser's "text/html,...,*/*;q=0.8" gets HTML.
var offers = [...]struct {
	typ, sub string
	format   format
}{
	{"text", "plain", formatText},
	{"application", "json", formatJSON},
	{"text", "html", formatHTML},
}

func (f format) contentType() string {
	switch f {
	case formatJSON:
		return "application/json"
	case formatHTML:
		return "text/html; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// negotiate picks a format for an Accept header value (RFC 9110, section 12.5.1). An empty
// header means text. ok is false when the client accepts none of the offers.
func negotiate(accept string) (f format, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return formatText, true
	}
	bestQ := 0
	for _, o := range offers {
		if q := quality(accept, o.typ, o.sub); q > bestQ {
			f, bestQ = o.format, q
		}
	}
	return f, bestQ > 0
}

// quality returns the q-value, in thousandths, that accept gives typ/sub: the q of the most
// specific media range that matches it, or 0. Malformed ranges are ignored.
func quality(accept, typ, sub string) int {
	bestSpecificity, q := 0, 0
	for accept != "" {
		var part string
		part, accept, _ = strings.Cut(accept, ",")
		mediaRange, params, _ := strings.Cut(part, ";")
		rt, rs, found := strings.Cut(strings.TrimSpace(mediaRange), "/")
		if !found {
			continue
		}
		var specificity int
		switch {
		case rt == "*" && rs == "*":
			specificity = 1
		case strings.EqualFold(rt, typ) && rs == "*":
			specificity = 2
		case strings.EqualFold(rt, typ) && strings.EqualFold(rs, sub):
			specificity = 3
		default:
			continue
		}
		rq, valid := qParam(params)
		if valid && specificity > bestSpecificity {
			bestSpecificity, q = specificity, rq
		}
	}
	return q
}

// qParam finds q= among a media range's parameters and returns it in thousandths: "0.8" is 800.
// No q means 1000. valid is false for a malformed q.
func qParam(params string) (q int, valid bool) {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		return parseQ(strings.TrimSpace(value))
	}
	return 1000, true
}

// parseQ parses a qvalue: "0", "1", or up to three decimals ("0.5", "1.000").
func parseQ(v string) (int, bool) {
	whole, frac, hasFrac := strings.Cut(v, ".")
	if (whole != "0" && whole != "1") || len(frac) > 3 || (hasFrac && frac == "") {
		return 0, false
	}
	n := 0
	if frac != "" {
		padded := frac + "000"[len(frac):]
		var err error
		if n, err = strconv.Atoi(padded); err != nil || padded[0] == '+' || padded[0] == '-' {
			return 0, false
		}
	}
	if whole == "1" {
		if n != 0 {
			return 0, false
		}
		return 1000, true
	}
	return n, true
}
