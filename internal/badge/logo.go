package badge

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// logosJSON is a curated set of Simple Icons (CC0-1.0), written by scripts/gen-logos.sh from a
// pinned release; docs/badges.md lists them and says how to add one.
//
//go:embed logos.json
var logosJSON []byte

// ErrBadLogo is wrapped by the error for a logo name the set does not have; the error's text
// names the value.
var ErrBadLogo = errors.New("unknown logo")

// Logo is one icon of the set: a 24x24 monochrome path, drawn 14 px high left of the label.
type Logo struct {
	Name  string `json:"name"`  // Simple Icons' slug, as shields.io's logo parameter takes it
	Title string `json:"title"` // the brand's own spelling
	Hex   string `json:"hex"`   // the brand's colour, rrggbb
	Path  string `json:"path"`  // the SVG path data
}

// LogoSet is the embedded set and where it comes from.
type LogoSet struct {
	Source  string `json:"source"`
	License string `json:"license"`
	Logos   []Logo `json:"logos"` // sorted by name
}

// pathData is all a path's d attribute may hold. The file is ours, but a badge is drawn for
// anonymous clients: a character outside this set (a quote, a '<') never reaches the SVG, even
// from a careless regeneration.
var pathData = regexp.MustCompile(`^[MmZzLlHhVvCcSsQqTtAa0-9eE.,+\- ]+$`)

var logoSet, logoByName = loadLogos(logosJSON)

func loadLogos(raw []byte) (LogoSet, map[string]Logo) {
	var set LogoSet
	if err := json.Unmarshal(raw, &set); err != nil {
		panic("badge: logos.json: " + err.Error())
	}
	byName := make(map[string]Logo, len(set.Logos))
	for _, l := range set.Logos {
		if !pathData.MatchString(l.Path) || !validName(l.Name) {
			panic("badge: logos.json: logo " + l.Name + " has a bad name or path")
		}
		byName[l.Name] = l
	}
	return set, byName
}

func validName(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// Logos is the embedded set, sorted by name. The caller must not change it.
func Logos() LogoSet { return logoSet }

// LookupLogo finds a logo by its name, in any case (shields.io's names are lower case, but a
// README may write logo=GitHub).
func LookupLogo(name string) (Logo, bool) {
	l, ok := logoByName[strings.ToLower(name)]
	return l, ok
}

func badLogo(name string) error {
	return fmt.Errorf("%w %s: want a name such as github or docker (the list: GET /badges/logos)", ErrBadLogo, quoteShort(name))
}
