package httpapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"
)

//go:generate go run ../../tools/favicon -out favicon.ico

// favicon is the site's icon (drawn by tools/favicon): browsers ask for /favicon.ico unprompted,
// on every page of the site, and without it every one of those asks was a 404 in the log.
//
//go:embed favicon.ico
var favicon []byte

// faviconETag names the icon's bytes: a new icon, a new tag.
var faviconETag = func() string {
	sum := sha256.Sum256(favicon)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// faviconCache: the icon changes only with a release, so a browser keeps it a day and then
// asks again with its ETag (304, no body).
const faviconCache = "public, max-age=86400"

// handleFavicon serves the icon. Unlike every other answer it may be stored: it is the same for
// everyone and says nothing about any counter.
func handleFavicon() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "image/x-icon")
		h.Set("Cache-Control", faviconCache)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", faviconETag)
		if etagMatches(r.Header.Get("If-None-Match"), faviconETag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(favicon)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(favicon)
		}
	})
}
