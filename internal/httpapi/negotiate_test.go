package httpapi

import "testing"

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept string
		want   format
		wantOK bool
	}{
		{"", formatText, true},
		{"  ", formatText, true},
		{"*/*", formatText, true},
		{"text/plain", formatText, true},
		{"text/*", formatText, true},
		{"application/json", formatJSON, true},
		{"APPLICATION/JSON", formatJSON, true},
		{"application/*", formatJSON, true},
		{"text/html", formatHTML, true},
		{"text/html;level=1", formatHTML, true},
		// Firefox and Chrome.
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", formatHTML, true},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8," +
			"application/signed-exchange;v=b3;q=0.7", formatHTML, true},
		{"application/json, text/plain;q=0.5", formatJSON, true},
		{"text/plain;q=0.2, application/json;q=0.9, text/html;q=0.5", formatJSON, true},
		{"text/html;q=0.1, */*;q=0.5", formatText, true},
		{"*/*;q=0.5, text/plain;q=0", formatJSON, true},
		{"text/plain; q=1.000", formatText, true},
		{"application/json;q=0.001", formatJSON, true},
		{"image/png", formatText, false},
		{"text/plain;q=0", formatText, false},
		{"text/plain;q=2", formatText, false},
		{"text/plain;q=0.1234", formatText, false},
		{"text/plain;q=abc", formatText, false},
		{"text/plain;q=.5", formatText, false},
		{"text/plain;q=0.-5", formatText, false},
		{"text/plain;q=1.5", formatText, false},
		{"garbage", formatText, false},
		{",,,", formatText, false},
		{"text/plain;q=0.x, application/json", formatJSON, true},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			got, ok := negotiate(tt.accept)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("negotiate(%q) = %v, %v; want %v, %v", tt.accept, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func BenchmarkNegotiateBrowser(b *testing.B) {
	const accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	b.ReportAllocs()
	for b.Loop() {
		negotiate(accept)
	}
}
