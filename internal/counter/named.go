package counter

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"time"
)

// Name names a counter: a namespace and a key, each 3 to 64 characters of A-Z a-z 0-9 _ . -
// (Abacus' rule, so that its counters move here unchanged).
type Name struct {
	Namespace string
	Key       string
}

// ParseName checks namespace and key and returns the Name, or an EINVALID error naming the part
// that is wrong.
func ParseName(namespace, key string) (Name, error) {
	if !ValidPart(namespace) {
		return Name{}, Errorf(EINVALID, nil, "namespace %q is invalid: want 3 to 64 characters of A-Z a-z 0-9 _ . -", clip(namespace))
	}
	if !ValidPart(key) {
		return Name{}, Errorf(EINVALID, nil, "key %q is invalid: want 3 to 64 characters of A-Z a-z 0-9 _ . -", clip(key))
	}
	return Name{Namespace: namespace, Key: key}, nil
}

// String is "namespace/key"; the slash cannot occur in either part.
func (n Name) String() string { return n.Namespace + "/" + n.Key }

// ValidPart reports whether s may be a namespace or a key.
func ValidPart(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isASCIIAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isASCIIAlnum reports whether c is an ASCII letter or digit; names are checked byte by byte,
// so that no other script's letters pass.
func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// clip keeps an invalid name short in an error message; %q escapes the rest.
func clip(s string) string {
	if len(s) > 70 {
		return s[:70] + "…"
	}
	return s
}

// Info is what is known about one counter.
type Info struct {
	Name    Name
	Value   int64
	Created time.Time
	// AdminKeyHash is the hex SHA-256 of the counter's admin key, "" when it has none.
	AdminKeyHash string
	// Settings are how it counts.
	Settings Settings
	// Bots is how many crawler hits it has had, counted apart from Value.
	Bots int64
}

// Hit is one hit as the store records it.
type Hit struct {
	// Uniques: the hit's answer shows today's unique visitors (a badge does), which costs the
	// store one more read; a batch reads them when any of its hits asks.
	Uniques bool
	// Visitor is the visitor's pseudonym for the day (visitor.Pseudonyms), or "" when visitors
	// cannot be told apart (GitHub's image proxy fetches for every reader alike): such a hit
	// counts in the totals, not in the unique visitors.
	Visitor string
}

// Counts is what a hit is answered with: the counter's total and today's figures just after it.
type Counts struct {
	// Total is the hit's own number.
	Total int64
	// Today is the hit's number among today's hits.
	Today int64
	// TodayUniques is today's distinct visitors as of the hit's batch; 0 unless the hit asked
	// for them (Hit.Uniques, Counters.HitWithUniques).
	TodayUniques int64
	// Repeats is how many hits of the batch the repeat window left out. Only the store's
	// answer for a batch has it.
	Repeats int64
}

// Day is what a counter recorded on one day of its time zone.
type Day struct {
	Date time.Time // midnight in the counter's time zone
	Hits int64
	// Uniques is the number of distinct visitors (a HyperLogLog estimate, within about 1%).
	Uniques int64
	// Unidentified is how many of the hits came without a visitor (Hit.Visitor "").
	Unidentified int64
	// Bots is how many crawler hits came, not counted in Hits.
	Bots int64
}

// Stats is a counter's total and its history.
type Stats struct {
	Info
	// Days are the last days, oldest first, ending with today.
	Days []Day
	// Uniques is the number of distinct visitors over Days, the sum of the days'. Pseudonyms
	// change every day, so a visitor who came on three days counts three times: the price of
	// never storing who they are.
	Uniques int64
	// BotsInDays is the crawler hits over Days (Info.Bots is all time).
	BotsInDays int64
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	// The days of history the import brought (import.go): set, already so, and skipped for
	// being older than the history the store keeps. Absent from an answer when 0, which keeps
	// the answer to an import without history as it was.
	Days          int `json:"days,omitempty"`
	DaysUnchanged int `json:"days_unchanged,omitempty"`
	DaysSkipped   int `json:"days_skipped,omitempty"`
}

// Auth is who asks to change a counter: the holder of an admin key (as its hash), or the
// operator, who may change any counter.
type Auth struct {
	AdminKeyHash string
	Operator     bool
	// NamespaceOwner: AdminKeyHash is the key of the counter's namespace, which opens every
	// counter in it. Only the domain sets it (Counters.resolve), never a request's parser.
	NamespaceOwner bool
}

// Store keeps named counters. Every method is one atomic step per counter in the store; none
// is retried, so none is applied twice.
type Store interface {
	// Add adds the hits, at time at, to an existing counter (its total, the day's count and the
	// day's unique visitors) and returns the new total; ENOTFOUND if there is none (it creates
	// nothing). The day is at's date in at's location: the counter's time zone. With a repeat
	// window, a visitor's hits count only if none of theirs counted within window before at.
	Add(ctx context.Context, name Name, hits []Hit, at time.Time, window time.Duration) (Counts, error)
	// AddUncounted records bots crawler hits apart (0: none, a read) and returns the counter's
	// figures as they are; ENOTFOUND if there is none.
	AddUncounted(ctx context.Context, name Name, bots int64, at time.Time) (Counts, error)
	// Reserve makes room for name in the counter index: EFULL when that would pass limit
	// (0: no limit). Reserving a name that is already there succeeds and takes no room.
	Reserve(ctx context.Context, name Name, limit int64) error
	// AddCreating is Add, creating the counter (created at at) if it does not exist.
	AddCreating(ctx context.Context, name Name, hits []Hit, at time.Time, window time.Duration) (Counts, error)
	// Settings returns how the counter counts; ENOTFOUND if there is none.
	Settings(ctx context.Context, name Name) (Settings, error)
	// ChangeSettings changes them after checking auth against the counter's admin key, in
	// one step, and returns them as they are afterwards.
	ChangeSettings(ctx context.Context, name Name, change SettingsChange, auth Auth) (Settings, error)
	// Authorize checks auth against the counter's admin key (ENOTFOUND, EUNAUTHORIZED, EFORBIDDEN).
	Authorize(ctx context.Context, name Name, auth Auth) error
	// Create creates the counter with value and admin key hash; ECONFLICT if it exists.
	Create(ctx context.Context, info Info) error
	// Get returns the counter; ENOTFOUND if there is none.
	Get(ctx context.Context, name Name) (Info, error)
	// Stats returns the counter with its last days ending at at's day; ENOTFOUND if there is none.
	Stats(ctx context.Context, name Name, days int, at time.Time) (Stats, error)
	// Set sets the value, Update adds delta; both check auth against the counter's admin key.
	Set(ctx context.Context, name Name, value int64, auth Auth) (int64, error)
	Update(ctx context.Context, name Name, delta int64, auth Auth) (int64, error)
	// Delete removes the counter after checking auth.
	Delete(ctx context.Context, name Name, auth Auth) error
	// SetAdminKey replaces the counter's admin key hash (operator only).
	SetAdminKey(ctx context.Context, name Name, hash string) error
	// Export calls each for every counter, one at a time.
	Export(ctx context.Context, each func(Info) error) error
	// Restore makes each counter exactly as given, creating it if missing (within limit).
	Restore(ctx context.Context, infos []Info, limit int64) (ImportResult, error)
	// RestoreDays sets each day's hits (all without a visitor) of an existing counter, as of
	// at: a day older than the history kept is skipped; ENOTFOUND if there is no counter.
	RestoreDays(ctx context.Context, name Name, days []DayCount, at time.Time) (DaysResult, error)
}

// Pseudonyms name a client without its address, for what the store keeps about it.
type Pseudonyms interface {
	// Visitor names the client among the day's unique visitors of a counter: the same on
	// every replica for the whole day, another the next day, and impossible to map back to an
	// address without a key that never reaches the store.
	Visitor(day time.Time, c Client) string
}

// OwnerTokens make the "don't count me" mark of a counter's owner: a value that only the
// service can make (a keyed hash of the name, whose key never reaches the store), the same on
// every replica and at every time, so that a browser holding it is known without the store
// keeping anything about it.
type OwnerTokens interface {
	OwnerToken(name Name) string
}

// CountersConfig is what the named-counter service is made of.
type CountersConfig struct {
	Store Store
	// MaxInFlight and Timeout are the coalescer's: concurrent writes per counter, and the
	// bound on each.
	MaxInFlight int
	Timeout     time.Duration
	// CounterLimit caps the number of counters (0: no cap).
	CounterLimit int64
	// Limits are the per-client limits; nil: none.
	Limits *Limits
	// Pseudonyms tell visitors apart for the unique-visitor figures; nil: every hit counts
	// as a hit without a visitor.
	Pseudonyms Pseudonyms
	// Owners make the owners' "don't count me" marks; nil: there are none.
	Owners OwnerTokens
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Counters is the named-counter service: who may do what (the per-client limits, the counter
// limit, admin keys), how a hit counts (crawlers apart, a repeat window, the owner not at all,
// the days of the counter's time zone), hits coalesced per counter, and a counter created by
// its first hit.
type Counters struct {
	store      Store
	hits       *Keyed[Name, Hit, Counts]
	uncounted  *Keyed[Name, bool, Counts] // true: a crawler's hit; false: the owner's, a read
	limit      int64
	limits     *Limits
	pseudonyms Pseudonyms
	owners     OwnerTokens
	policies   policies
	now        func() time.Time
	// namespaces: the store's owners and lists of namespaces (namespace.go); nil when it keeps
	// none, and then every namespace is unowned.
	namespaces NamespaceStore

	mu       sync.Mutex
	creating map[Name]chan struct{} // closed when the creation by a first hit is over
}

// NewCounters returns the service.
func NewCounters(cfg CountersConfig) *Counters {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	c := &Counters{
		store: cfg.Store, limit: cfg.CounterLimit, limits: cfg.Limits, pseudonyms: cfg.Pseudonyms,
		owners: cfg.Owners, now: now, creating: make(map[Name]chan struct{}),
	}
	c.namespaces, _ = cfg.Store.(NamespaceStore)
	// A batch's hits are dated when the batch is written: a batch that straddles midnight
	// counts on the new day.
	c.hits = NewKeyed(func(ctx context.Context, name Name, hits []Hit) (Counts, error) {
		pol, err := c.policy(ctx, name)
		if err != nil {
			return Counts{}, err
		}
		return c.store.Add(ctx, name, hits, c.now().In(pol.zone), pol.window)
	}, cfg.MaxInFlight, cfg.Timeout)
	c.uncounted = NewKeyed(func(ctx context.Context, name Name, bots []bool) (Counts, error) {
		pol, err := c.policy(ctx, name)
		if err != nil {
			return Counts{}, err
		}
		n := int64(0)
		for _, bot := range bots {
			if bot {
				n++
			}
		}
		return c.store.AddUncounted(ctx, name, n, c.now().In(pol.zone))
	}, cfg.MaxInFlight, cfg.Timeout)
	return c
}

// policy is how name counts: its settings as this process last read them, read again when
// older than settingsTTL. A counter that does not exist (yet) counts by the defaults.
func (c *Counters) policy(ctx context.Context, name Name) (policy, error) {
	now := c.now()
	if pol, ok := c.policies.get(name, now); ok {
		return pol, nil
	}
	s, err := c.store.Settings(ctx, name)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return policy{}, err
	}
	pol := policyOf(s, now)
	c.policies.put(name, pol)
	return pol, nil
}

// HitResult is a hit's numbers and where the client stands with its hit limit afterwards.
type HitResult struct {
	Counts
	Limit Allowance
	// Counted is false when the hit was not counted: a crawler's (Bot) or the owner's (Owner).
	// A hit left out by the repeat window is not told apart from one that counted.
	Counted bool
}

// Hit counts one hit of client on name: the hit limit, then the hit, with the client as one of
// the day's visitors (camo's hits have none). A counter that does not exist is created by its
// first hit, within the client's create limits and the counter limit. A crawler's hit is counted
// apart (unless the counter counts them), the owner's not at all, and neither creates a counter.
func (c *Counters) Hit(ctx context.Context, name Name, client Client) (HitResult, error) {
	return c.hit(ctx, name, client, false)
}

// HitWithUniques is Hit, with today's unique visitors in the answer (for a badge that shows them).
func (c *Counters) HitWithUniques(ctx context.Context, name Name, client Client) (HitResult, error) {
	return c.hit(ctx, name, client, true)
}

func (c *Counters) hit(ctx context.Context, name Name, client Client, uniques bool) (HitResult, error) {
	allowance, err := c.limits.hit(ctx, client, name)
	if err != nil {
		return HitResult{Limit: allowance}, err
	}
	if client.Owner || client.Bot {
		pol, err := c.policy(ctx, name)
		if err != nil {
			return HitResult{Limit: allowance}, err
		}
		if client.Owner || !pol.countBots {
			n, _, err := c.uncounted.Add1(ctx, name, !client.Owner)
			return HitResult{Counts: n, Limit: allowance}, err
		}
	}
	hit := Hit{Uniques: uniques}
	if !client.Camo && c.pseudonyms != nil {
		hit.Visitor = c.pseudonyms.Visitor(c.now(), client)
	}
	n, err := c.hitOrCreate(ctx, name, hit, client)
	return HitResult{Counts: n, Limit: allowance, Counted: true}, err
}

func (c *Counters) hitOrCreate(ctx context.Context, name Name, hit Hit, client Client) (Counts, error) {
	n, err := c.add1(ctx, name, hit)
	if ErrorCode(err) != ENOTFOUND {
		return n, err
	}
	// The batch that found no counter changed nothing, so each of its hits comes here once.
	// One of them creates the counter; the others wait for it and then hit it as usual, so a
	// burst of first hits costs one creation (and one of the creator's creates), not one each.
	c.mu.Lock()
	done, busy := c.creating[name]
	if !busy {
		done = make(chan struct{})
		c.creating[name] = done
	}
	c.mu.Unlock()
	if busy {
		select {
		case <-done:
		case <-ctx.Done():
			return Counts{}, Errorf(EUNAVAILABLE, ctx.Err(), "storage did not answer in time")
		}
		n, err := c.add1(ctx, name, hit)
		if ErrorCode(err) != ENOTFOUND {
			return n, err
		}
		return c.create(ctx, name, hit, client) // that creation failed: try on this hit's own account
	}
	defer func() {
		c.mu.Lock()
		delete(c.creating, name)
		c.mu.Unlock()
		close(done)
	}()
	return c.create(ctx, name, hit, client)
}

// create is a first hit: the client's create limits, a place under the counter limit, then the
// hit that creates the counter.
func (c *Counters) create(ctx context.Context, name Name, hit Hit, client Client) (Counts, error) {
	if _, err := c.limits.create(ctx, client); err != nil {
		// Another replica, or a creation that just ended here, may have created it meanwhile:
		// then this is a plain hit, and no creation is needed.
		if n, again := c.add1(ctx, name, hit); ErrorCode(again) != ENOTFOUND {
			return n, again
		}
		return Counts{}, err
	}
	if err := c.admitFirstHit(ctx, name); err != nil {
		return Counts{}, err
	}
	if err := c.store.Reserve(ctx, name, c.limit); err != nil {
		return Counts{}, err
	}
	// A new counter counts by the defaults (UTC, no window): its settings are made after it.
	c.policies.forget(name)
	n, err := c.store.AddCreating(ctx, name, []Hit{hit}, c.now().UTC(), 0)
	if ErrorCode(err) == EFULL {
		// A full store refuses a creation, but another replica may have just made this counter,
		// and a hit on a counter that exists is never refused.
		if n, again := c.add1(ctx, name, hit); ErrorCode(again) != ENOTFOUND {
			return n, again
		}
	}
	return n, err
}

// add1 is one hit through the coalescer, with the hit's own numbers. When a repeat window left
// some of the batch out, which of its hits were the counted ones is not known, and each is
// answered with the figures after the batch.
func (c *Counters) add1(ctx context.Context, name Name, hit Hit) (Counts, error) {
	batch, after, err := c.hits.Add1(ctx, name, hit)
	if err != nil {
		return Counts{}, err
	}
	if batch.Repeats == 0 {
		batch.Total -= after
		batch.Today -= after
	}
	batch.Repeats = 0
	return batch, nil
}

// Create creates a counter for client with its first value and a new admin key, which it
// returns (the only time the key is seen, since only its hash is stored), with where the client
// stands with its create limit.
func (c *Counters) Create(ctx context.Context, name Name, initial int64, client Client) (adminKey string, limit Allowance, err error) {
	return c.CreateAs(ctx, name, initial, Auth{}, client)
}

// CreateAs is Create by the holder of auth: in a namespace with an owner, only the owner's key
// (or the operator) creates.
func (c *Counters) CreateAs(ctx context.Context, name Name, initial int64, auth Auth, client Client) (adminKey string, limit Allowance, err error) {
	limit, err = c.limits.create(ctx, client)
	if err != nil {
		return "", limit, err
	}
	if err := c.admit(ctx, name, auth); err != nil {
		return "", limit, err
	}
	key, hash := NewAdminKey()
	if err := c.store.Reserve(ctx, name, c.limit); err != nil {
		return "", limit, err
	}
	info := Info{Name: name, Value: initial, Created: c.now(), AdminKeyHash: hash}
	if err := c.store.Create(ctx, info); err != nil {
		return "", limit, err
	}
	return key, limit, nil
}

// Get returns the counter, a read of client's.
func (c *Counters) Get(ctx context.Context, name Name, client Client) (Info, error) {
	if err := c.limits.Read(ctx, client, name, 1); err != nil {
		return Info{}, err
	}
	return c.store.Get(ctx, name)
}

// Stats returns the counter and its last days (1 or more), ending today: a read of client's
// that costs more the more months it covers.
func (c *Counters) Stats(ctx context.Context, name Name, days int, client Client) (Stats, error) {
	days = max(days, 1)
	if err := c.limits.Read(ctx, client, name, StatsCost(days)); err != nil {
		return Stats{}, err
	}
	pol, err := c.policy(ctx, name)
	if err != nil {
		return Stats{}, err
	}
	return c.store.Stats(ctx, name, days, c.now().In(pol.zone))
}

// ChangeSettings changes how the counter counts, for the holder of its admin key (or the
// operator), and returns its settings afterwards: at once on this replica, within settingsTTL
// on the others.
func (c *Counters) ChangeSettings(ctx context.Context, name Name, change SettingsChange, auth Auth, client Client) (Settings, error) {
	if err := c.limits.Read(ctx, client, name, 1); err != nil {
		return Settings{}, err
	}
	if err := change.check(); err != nil {
		return Settings{}, err
	}
	auth, err := c.resolve(ctx, name, auth)
	if err != nil {
		return Settings{}, err
	}
	s, err := c.store.ChangeSettings(ctx, name, change, auth)
	c.policies.forget(name)
	return s, err
}

// OwnerToken returns the counter's "don't count me" mark for the holder of its admin key (or
// the operator); EINVALID when the service makes none.
func (c *Counters) OwnerToken(ctx context.Context, name Name, auth Auth, client Client) (string, error) {
	if c.owners == nil {
		return "", Errorf(EINVALID, nil, "this service has no owner marks (no visitor key is configured)")
	}
	if err := c.limits.Read(ctx, client, name, 1); err != nil {
		return "", err
	}
	auth, err := c.resolve(ctx, name, auth)
	if err != nil {
		return "", err
	}
	if err := c.store.Authorize(ctx, name, auth); err != nil {
		return "", err
	}
	return c.owners.OwnerToken(name), nil
}

// IsOwner reports whether token is the counter's "don't count me" mark, in constant time.
func (c *Counters) IsOwner(name Name, token string) bool {
	if c.owners == nil || token == "" {
		return false
	}
	want := c.owners.OwnerToken(name)
	return subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1
}

// Now is the service's clock.
func (c *Counters) Now() time.Time { return c.now() }

// Set sets the counter to value, for client (a request under its read limit: each one, with
// a right key or a wrong one, is a store call).
func (c *Counters) Set(ctx context.Context, name Name, value int64, auth Auth, client Client) (int64, error) {
	if err := c.limits.Read(ctx, client, name, 1); err != nil {
		return 0, err
	}
	auth, err := c.resolve(ctx, name, auth)
	if err != nil {
		return 0, err
	}
	return c.store.Set(ctx, name, value, auth)
}

// Update adds delta (which may be negative) to the counter, for client.
func (c *Counters) Update(ctx context.Context, name Name, delta int64, auth Auth, client Client) (int64, error) {
	if err := c.limits.Read(ctx, client, name, 1); err != nil {
		return 0, err
	}
	auth, err := c.resolve(ctx, name, auth)
	if err != nil {
		return 0, err
	}
	return c.store.Update(ctx, name, delta, auth)
}

// Delete removes the counter, for client.
func (c *Counters) Delete(ctx context.Context, name Name, auth Auth, client Client) error {
	if err := c.limits.Read(ctx, client, name, 1); err != nil {
		return err
	}
	auth, err := c.resolve(ctx, name, auth)
	if err != nil {
		return err
	}
	return c.store.Delete(ctx, name, auth)
}

// AssignAdminKey gives the counter a new admin key, replacing any old one, and returns it.
func (c *Counters) AssignAdminKey(ctx context.Context, name Name) (string, error) {
	key, hash := NewAdminKey()
	if err := c.store.SetAdminKey(ctx, name, hash); err != nil {
		return "", err
	}
	return key, nil
}

// Export calls each for every counter.
func (c *Counters) Export(ctx context.Context, each func(Info) error) error {
	return c.store.Export(ctx, each)
}

// Restore makes each counter exactly as given: importing the same lines twice changes nothing.
func (c *Counters) Restore(ctx context.Context, infos []Info) (ImportResult, error) {
	return c.store.Restore(ctx, infos, c.limit)
}

// NewAdminKey returns a new random admin key (256 bits, base64url) and the hash that is stored.
func NewAdminKey() (key, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	key = base64.RawURLEncoding.EncodeToString(b)
	return key, HashAdminKey(key)
}

// RandomName is a name nobody can guess, for a counter created without one (Abacus' /create/):
// namespace and key 128 random bits each, base64url (22 characters, all valid in a name).
func RandomName() Name {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return Name{Namespace: base64.RawURLEncoding.EncodeToString(b[:16]), Key: base64.RawURLEncoding.EncodeToString(b[16:])}
}

// HashAdminKey is how a presented admin key is compared with the stored one: hex SHA-256. The key
// is 256 random bits, so a plain hash is enough; no salt or slow hash is needed.
func HashAdminKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
