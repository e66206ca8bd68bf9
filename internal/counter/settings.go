package counter

import (
	"strconv"
	"sync"
	"time"
)

// Settings are how a counter counts, chosen by its owner (the admin key) and kept with it.
type Settings struct {
	// TimeZone is the IANA name of the zone the counter's days follow ("" is UTC): its "today",
	// its history and its chart begin each day at the zone's midnight.
	TimeZone string
	// RepeatWindow: a visitor's hits within this long after one that counted do not count
	// (0: every hit counts). Visitors are the day's pseudonyms, so the window cannot reach back
	// past the UTC midnight when pseudonyms change, and hits without a visitor (GitHub's image
	// proxy) always count.
	RepeatWindow time.Duration
	// CountBots counts crawlers' and link previewers' hits in the total like anyone's; by
	// default they are counted apart (Stats.Bots).
	CountBots bool
}

// SettingsChange changes some of a counter's settings: the fields given (not nil) replace its
// own, the others stay as they are, in one step in the store, so that two owners' changes of
// different settings at once both hold.
type SettingsChange struct {
	TimeZone     *string
	RepeatWindow *time.Duration
	CountBots    *bool
}

// All is the change that makes a counter's settings exactly s.
func (s Settings) All() SettingsChange {
	return SettingsChange{TimeZone: &s.TimeZone, RepeatWindow: &s.RepeatWindow, CountBots: &s.CountBots}
}

// check refuses a zone that does not load and a window out of range.
func (c SettingsChange) check() error {
	if c.TimeZone != nil {
		if _, err := ParseTimeZone(*c.TimeZone); err != nil {
			return err
		}
	}
	if c.RepeatWindow != nil && (*c.RepeatWindow < 0 || *c.RepeatWindow > MaxRepeatWindow) {
		return Errorf(EINVALID, nil, "the repeat window must be between 0 and %s", MaxRepeatWindow)
	}
	return nil
}

// MaxRepeatWindow is the longest repeat window: a day, the life of a visitor's pseudonym.
const MaxRepeatWindow = 24 * time.Hour

// maxTimeZoneName bounds a zone's name: the longest in the IANA database is 32 bytes.
const maxTimeZoneName = 64

// ParseTimeZone checks an IANA zone name and returns its location; "" and "UTC" are UTC.
func ParseTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	bad := len(name) > maxTimeZoneName || name == "Local"
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		bad = !isASCIIAlnum(c) && c != '/' && c != '_' && c != '-' && c != '+'
	}
	if bad || name[0] == '/' || containsDotDot(name) {
		return nil, Errorf(EINVALID, nil, "time_zone %q is not an IANA time zone name (example: Europe/Berlin)", clip(name))
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, Errorf(EINVALID, nil, "time_zone %q is not a known IANA time zone (example: Europe/Berlin)", clip(name))
	}
	return loc, nil
}

func containsDotDot(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '.' && s[i+1] == '.' {
			return true
		}
	}
	return false
}

// ParseRepeatWindow reads a repeat window in whole minutes, 0 to a day.
func ParseRepeatWindow(minutes string) (time.Duration, error) {
	n, err := strconv.Atoi(minutes)
	if err != nil || n < 0 || time.Duration(n)*time.Minute > MaxRepeatWindow {
		return 0, Errorf(EINVALID, nil, "repeat_window must be a whole number of minutes from 0 (off) to %d", int(MaxRepeatWindow/time.Minute))
	}
	return time.Duration(n) * time.Minute, nil
}

// settingsTTL is how long a process believes what it read of a counter's settings. A change
// made through this process applies here at once; through another replica, within this long.
const settingsTTL = 10 * time.Second

// maxKnownSettings bounds the settings a process keeps: hits on made-up names are looked up
// too, so the set is emptied when full rather than allowed to grow with them.
const maxKnownSettings = 1 << 16

// policy is a counter's settings as a hit applies them.
type policy struct {
	zone      *time.Location
	window    time.Duration
	countBots bool
	read      time.Time
}

// policies remembers counters' settings for settingsTTL, so that a hit does not read them.
type policies struct {
	mu    sync.Mutex
	known map[Name]policy
}

func (p *policies) get(name Name, now time.Time) (policy, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pol, ok := p.known[name]
	if !ok || now.Sub(pol.read) >= settingsTTL || now.Before(pol.read) {
		return policy{}, false
	}
	return pol, true
}

func (p *policies) put(name Name, pol policy) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known == nil || len(p.known) >= maxKnownSettings {
		p.known = make(map[Name]policy)
	}
	p.known[name] = pol
}

func (p *policies) forget(name Name) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.known, name)
}

// policyOf turns stored settings into a policy; a zone that no longer loads (a tzdata without
// it) counts in UTC rather than failing every hit.
func policyOf(s Settings, read time.Time) policy {
	loc, err := ParseTimeZone(s.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return policy{zone: loc, window: s.RepeatWindow, countBots: s.CountBots, read: read}
}
