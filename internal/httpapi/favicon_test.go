package httpapi

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// /favicon.ico is an icon a browser can read: an ICO holding one 32x32 PNG. It may be stored,
// and a client that has it gets 304.
func TestFavicon(t *testing.T) {
	srv := httptest.NewServer(NewHandler(Deps{Metrics: NewMetrics("test"), Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	get := func(method string, header ...string) (*http.Response, []byte) {
		t.Helper()
		resp, body := request(t, method, srv.URL+"/favicon.ico", "", header...)
		return resp, []byte(body)
	}

	resp, body := get("GET")
	h := resp.Header
	if resp.StatusCode != 200 || h.Get("Content-Type") != "image/x-icon" || h.Get("Cache-Control") != "public, max-age=86400" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("ETag") != faviconETag {
		t.Fatalf("GET /favicon.ico: %d %v", resp.StatusCode, h)
	}
	checkICO(t, body)

	for _, tc := range []struct {
		method, ifNoneMatch string
		wantStatus, wantLen int
	}{
		{"GET", faviconETag, 304, 0},
		{"GET", `"other", ` + faviconETag, 304, 0},
		{"GET", "*", 304, 0},
		{"GET", `"other"`, 200, len(favicon)},
		{"HEAD", "", 200, 0},
	} {
		resp, body := get(tc.method, "If-None-Match", tc.ifNoneMatch)
		if resp.StatusCode != tc.wantStatus || len(body) != tc.wantLen {
			t.Errorf("%s with If-None-Match %q: %d, %d bytes; want %d, %d bytes",
				tc.method, tc.ifNoneMatch, resp.StatusCode, len(body), tc.wantStatus, tc.wantLen)
		}
	}
	if resp, _ := get("POST"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /favicon.ico: %d, want 405", resp.StatusCode)
	}
}

// checkICO reads the ICO header and its one entry, and decodes the PNG the entry points at.
func checkICO(t *testing.T, b []byte) {
	t.Helper()
	if len(b) < 22 {
		t.Fatalf("the icon is %d bytes, shorter than an ICO header", len(b))
	}
	le := binary.LittleEndian
	if reserved, typ, count := le.Uint16(b[0:]), le.Uint16(b[2:]), le.Uint16(b[4:]); reserved != 0 || typ != 1 || count != 1 {
		t.Fatalf("ICO header: reserved %d, type %d, %d images; want 0, 1 (icon), 1", reserved, typ, count)
	}
	width, height := b[6], b[7]
	size, offset := le.Uint32(b[14:]), le.Uint32(b[18:])
	if int(offset)+int(size) != len(b) {
		t.Fatalf("the entry's image is %d bytes at %d, in a file of %d", size, offset, len(b))
	}
	img, err := png.Decode(bytes.NewReader(b[offset:]))
	if err != nil {
		t.Fatalf("the icon's image is not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got.X != int(width) || got.Y != int(height) || got.X != 32 || got.Y != 32 {
		t.Errorf("the PNG is %v, the entry says %dx%d; want 32x32", got, width, height)
	}
}
