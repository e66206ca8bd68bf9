package counter

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
)

// SeeyoufarmName turns a page URL into a counter name: the namespace is the host (lower case,
// without "www." and a default port), the key the path's segments joined by dots, without the
// scheme, query and fragment, so http://, https:// and a trailing slash count as one page.
// A host or path that does not fit the naming rule (3 to 64 of A-Z a-z 0-9 _ . -, no dot inside
// a path segment, so that /a.b and /a/b stay apart) is replaced by "h-" and 24 hex digits of
// its SHA-256.
//
// It is the one mapping from a page to a counter: the seeyoufarm badge path names its counter
// with it, and the importers name what they bring in with it too, so that an old badge shows
// the old count.
func SeeyoufarmName(raw string) (Name, error) {
	if raw == "" {
		return Name{}, Errorf(EINVALID, nil, "url is missing")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || len(raw) > 2048 {
		return Name{}, Errorf(EINVALID, err, "url: not a page address (example: https://github.com/owner/repo)")
	}
	host := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
	if port := u.Port(); port != "" && port != "80" && port != "443" {
		host += "-" + port
	}
	ns := host
	if !ValidPart(ns) {
		ns = hashedPart(host)
	}
	path := strings.Trim(u.Path, "/")
	key := strings.ReplaceAll(path, "/", ".")
	if path == "" {
		key = "root"
	} else if strings.Contains(path, ".") || strings.Contains(path, "//") || !ValidPart(key) {
		key = hashedPart(host + "/" + path)
	}
	return ParseName(ns, key)
}

func hashedPart(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "h-" + hex.EncodeToString(sum[:12])
}
