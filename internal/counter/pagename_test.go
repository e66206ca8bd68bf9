package counter

import (
	"strings"
	"testing"
)

func TestSeeyoufarmName(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"https://github.com/gjbae1212/hit-counter", "github.com/gjbae1212.hit-counter"},
		{"http://github.com/gjbae1212/hit-counter/", "github.com/gjbae1212.hit-counter"},
		{"github.com/gjbae1212/hit-counter?tab=readme#top", "github.com/gjbae1212.hit-counter"},
		{"https://WWW.Example.COM", "example.com/root"},
		{"https://example.com:8443/blog", "example.com-8443/blog"},
		{"https://example.com:443/blog", "example.com/blog"},
		{"https://github.com/owner/repo.js", "github.com/h-"}, // a dot inside a segment: hashed
		{"https://example.com/" + strings.Repeat("x", 80), "example.com/h-"},
	} {
		name, err := SeeyoufarmName(tt.url)
		if err != nil || !strings.HasPrefix(name.String(), tt.want) {
			t.Errorf("SeeyoufarmName(%q) = %v, %v; want %s…", tt.url, name, err, tt.want)
		}
	}
	a, _ := SeeyoufarmName("https://github.com/a/b.c")
	b, _ := SeeyoufarmName("https://github.com/a/b/c")
	if a == b {
		t.Errorf("/a/b.c and /a/b/c share the counter %s", a)
	}
	for _, bad := range []string{"", "https://", "https://exa mple.com"} {
		if _, err := SeeyoufarmName(bad); ErrorCode(err) != EINVALID {
			t.Errorf("SeeyoufarmName(%q) error = %v, want invalid", bad, err)
		}
	}
}
