package counter

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Namespaces with an owner. Anyone may claim a namespace that holds no counter yet and receives
// its key once; from then on only the key's holder (or the operator) creates counters in it,
// the key opens every counter in it as its admin key would, and it lists and exports them. Hits
// and reads of its counters stay public. A namespace nobody claimed works as it always has.

const (
	// MaxNamespaceCounters caps the counters an owner creates in its namespace, and is the most
	// a listing reads: a listing sorted by value reads every counter of the namespace, and that
	// must stay one bounded request. The operator may pass it (a claim of a busy namespace, an
	// import); such a namespace is exported, not listed.
	MaxNamespaceCounters = 10_000
	// MaxNamespacePage is the most counters one page of a listing holds; DefaultNamespacePage
	// when the request does not say.
	MaxNamespacePage     = 1000
	DefaultNamespacePage = 100
	// namespaceReadBatch: a listing or export costs one read, plus one per this many counters.
	namespaceReadBatch = 1000
	// NamespacesPerCounter: the claimed namespaces are bounded by the counter limit divided by
	// this (rounded up). A claimed namespace takes about as much memory as a counter's hash
	// (redisstore.BytesPerCounter counts a tenth of one per counter), and a claim is worth
	// something only with counters in it.
	NamespacesPerCounter = 10
)

// NamespaceLimit is the most namespaces that may be claimed under a counter limit (0: none).
func NamespaceLimit(counterLimit int64) int64 {
	return (counterLimit + NamespacesPerCounter - 1) / NamespacesPerCounter
}

// Namespace is a claimed namespace.
type Namespace struct {
	Name    string
	Claimed time.Time
	// AdminKeyHash is the hex SHA-256 of the namespace's key.
	AdminKeyHash string
}

// NamespaceStore keeps who owns a namespace and, for every namespace, the names of its
// counters. A Store that also implements it turns namespaces with an owner on (NewCounters).
type NamespaceStore interface {
	// ReserveNamespace makes room for ns among the claimed namespaces: EFULL when that would
	// pass limit (0: no limit). added is false when ns was there already.
	ReserveNamespace(ctx context.Context, ns string, limit int64) (added bool, err error)
	// ReleaseNamespace gives back the room of a claim that failed.
	ReleaseNamespace(ctx context.Context, ns string) error
	// Claim makes ns owned by the key whose hash it holds: ECONFLICT when ns is owned already,
	// EFORBIDDEN when it holds counters and operator is false. One atomic step with Admit.
	Claim(ctx context.Context, ns Namespace, operator bool) error
	// Namespace returns the claimed namespace; ENOTFOUND when nobody claimed it.
	Namespace(ctx context.Context, ns string) (Namespace, error)
	// Admit enters name in its namespace's list of counters, before the counter is created:
	// EUNAUTHORIZED (no key) or EFORBIDDEN (another key) when the namespace is owned and auth
	// is neither its owner's nor the operator's; EFULL when an owned namespace already holds
	// max counters (0: no cap; the operator is never capped). A name already there passes.
	Admit(ctx context.Context, name Name, auth Auth, max int64) error
	// HasRoom is Reserve's check without the reservation: EFULL when name is not in the counter
	// index and the index holds limit names (0: no limit).
	HasRoom(ctx context.Context, name Name, limit int64) error
	// NamespaceCounters returns every counter of ns, in no order; EINVALID when it holds more
	// than max.
	NamespaceCounters(ctx context.Context, ns string, max int) ([]Info, error)
	// ExportNamespace calls each for every counter of ns, one at a time.
	ExportNamespace(ctx context.Context, ns string, each func(Info) error) error
	// NamespacesIndexed reports whether every counter is in its namespace's list, those
	// created by versions before namespaces had lists included. Until then nobody but the
	// operator may claim: a namespace would look empty while holding counters.
	NamespacesIndexed(ctx context.Context) (bool, error)
}

// ParseNamespace checks a namespace on its own, by the rule of ParseName.
func ParseNamespace(ns string) (string, error) {
	if !ValidPart(ns) {
		return "", Errorf(EINVALID, nil, "namespace %q is invalid: want 3 to 64 characters of A-Z a-z 0-9 _ . -", clip(ns))
	}
	return ns, nil
}

// errNamespacesOff answers the namespace routes of a service whose store keeps no namespaces.
func errNamespacesOff() error {
	return Errorf(ENOTFOUND, nil, "namespaces with an owner are not available on this server")
}

// ClaimNamespace makes ns the client's, or the operator's for auth.Operator, and returns its key
// (the only time it is seen: only its hash is stored). A claim is a creation: it spends one of
// the client's creates, and claimed namespaces are bounded (NamespaceLimit). Nobody but the
// operator claims a namespace that holds counters: their creators did not agree to an owner.
func (c *Counters) ClaimNamespace(ctx context.Context, ns string, auth Auth, client Client) (key string, limit Allowance, err error) {
	if c.namespaces == nil {
		return "", Allowance{}, errNamespacesOff()
	}
	limit, err = c.limits.create(ctx, client)
	if err != nil {
		return "", limit, err
	}
	if !auth.Operator {
		indexed, err := c.namespaces.NamespacesIndexed(ctx)
		if err != nil {
			return "", limit, err
		}
		if !indexed {
			return "", limit, Errorf(EUNAVAILABLE, nil, "namespaces are being indexed after an upgrade: try again in a minute")
		}
	}
	added, err := c.namespaces.ReserveNamespace(ctx, ns, NamespaceLimit(c.limit))
	if err != nil {
		return "", limit, err
	}
	key, hash := NewAdminKey()
	err = c.namespaces.Claim(ctx, Namespace{Name: ns, Claimed: c.now(), AdminKeyHash: hash}, auth.Operator)
	if err != nil {
		// A refused claim gives its room back, unless the room was someone else's (ns is
		// owned: ECONFLICT, and then added is false anyway).
		if added && ErrorCode(err) != ECONFLICT {
			_ = c.namespaces.ReleaseNamespace(context.WithoutCancel(ctx), ns)
		}
		return "", limit, err
	}
	return key, limit, nil
}

// admit is the namespace's say on a new counter: nil in an unowned namespace, or for its owner
// or the operator. It enters the name in the namespace's list, so call it just before creating.
// The list is written before the counter index (Reserve), so that a name refused by an owner
// never takes a place under the counter limit; a counter limit already reached is checked first,
// or every made-up name hit while the service is full would stay in a list for good.
func (c *Counters) admit(ctx context.Context, name Name, auth Auth) error {
	if c.namespaces == nil {
		return nil
	}
	if c.limit > 0 {
		if err := c.namespaces.HasRoom(ctx, name, c.limit); err != nil {
			return err
		}
	}
	return c.namespaces.Admit(ctx, name, auth, MaxNamespaceCounters)
}

// admitFirstHit is admit for a counter's first hit, which carries no key: in an owned namespace
// the hit finds no counter, as if the namespace were not there, and creates nothing.
func (c *Counters) admitFirstHit(ctx context.Context, name Name) error {
	err := c.admit(ctx, name, Auth{})
	switch ErrorCode(err) {
	case EUNAUTHORIZED, EFORBIDDEN:
		return Errorf(ENOTFOUND, err, "counter %s not found (namespace %s has an owner, and only the owner creates counters in it)", name, name.Namespace)
	}
	return err
}

// resolve turns a key that may be the namespace's into the authority it carries: the key of an
// owned namespace opens every counter in it (Auth.NamespaceOwner). Any other key stays what it
// was, a candidate for the counter's own admin key, which the store checks.
func (c *Counters) resolve(ctx context.Context, name Name, auth Auth) (Auth, error) {
	if c.namespaces == nil || auth.Operator || auth.AdminKeyHash == "" {
		return auth, nil
	}
	ns, err := c.namespaces.Namespace(ctx, name.Namespace)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return auth, nil
	case err != nil:
		return Auth{}, err
	}
	auth.NamespaceOwner = ns.AdminKeyHash == auth.AdminKeyHash
	return auth, nil
}

// errNotNamespaceKey is the one answer to every key that does not open a namespace, whether the
// namespace is unclaimed, claimed by another, or empty: an outsider learns nothing from it.
func errNotNamespaceKey(ns string) error {
	return Errorf(EFORBIDDEN, nil, "the key given is not the key of namespace %s", ns)
}

// owns checks that auth opens ns: the operator, or the holder of its key. It is one read of
// client's whatever the answer, so that guessing keys costs as much as reading.
func (c *Counters) owns(ctx context.Context, ns string, auth Auth, client Client) error {
	if c.namespaces == nil {
		return errNamespacesOff()
	}
	if err := c.limits.Read(ctx, client, Name{}, 1); err != nil {
		return err
	}
	if auth.Operator {
		return nil
	}
	if auth.AdminKeyHash == "" {
		return Errorf(EUNAUTHORIZED, nil, "this needs the namespace's key")
	}
	owner, err := c.namespaces.Namespace(ctx, ns)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return errNotNamespaceKey(ns)
	case err != nil:
		return err
	case owner.AdminKeyHash != auth.AdminKeyHash:
		return errNotNamespaceKey(ns)
	}
	return nil
}

// Sort orders of a namespace's listing.
const (
	SortByName  = "name"
	SortByValue = "value"
)

// ListOptions say which page of a namespace's listing to answer.
type ListOptions struct {
	Sort   string // SortByName (the default) or SortByValue (highest first, then by name)
	Limit  int    // 1 to MaxNamespacePage; 0: DefaultNamespacePage
	Offset int    // counters to skip, 0 or more
}

// NamespacePage is one page of a namespace's counters.
type NamespacePage struct {
	Namespace string
	// Total is how many counters the namespace holds.
	Total    int
	Counters []Info
	// Next is the Offset of the next page, 0 when this is the last.
	Next int
}

// checked fills in the defaults, or says what is wrong.
func (o ListOptions) checked() (ListOptions, error) {
	switch o.Sort {
	case "":
		o.Sort = SortByName
	case SortByName, SortByValue:
	default:
		return o, Errorf(EINVALID, nil, "sort must be %q or %q", SortByName, SortByValue)
	}
	if o.Limit == 0 {
		o.Limit = DefaultNamespacePage
	}
	if o.Limit < 1 || o.Limit > MaxNamespacePage {
		return o, Errorf(EINVALID, nil, "limit must be between 1 and %d", MaxNamespacePage)
	}
	if o.Offset < 0 {
		return o, Errorf(EINVALID, nil, "offset must be 0 or more")
	}
	return o, nil
}

// ListNamespace answers a page of ns's counters with their values, for its owner or the
// operator. Every page reads the whole namespace (at most MaxNamespaceCounters), so that a
// listing by value is exact; a page costs client one read per namespaceReadBatch counters.
func (c *Counters) ListNamespace(ctx context.Context, ns string, o ListOptions, auth Auth, client Client) (NamespacePage, error) {
	o, err := o.checked()
	if err != nil {
		return NamespacePage{}, err
	}
	if err := c.owns(ctx, ns, auth, client); err != nil {
		return NamespacePage{}, err
	}
	all, err := c.namespaces.NamespaceCounters(ctx, ns, MaxNamespaceCounters)
	if err != nil {
		return NamespacePage{}, err
	}
	if err := c.limits.Read(ctx, client, Name{}, int64(len(all)/namespaceReadBatch)); err != nil {
		return NamespacePage{}, err
	}
	byName := func(a, b Info) int { return cmp.Compare(a.Name.Key, b.Name.Key) }
	if o.Sort == SortByValue {
		slices.SortFunc(all, func(a, b Info) int { return cmp.Or(cmp.Compare(b.Value, a.Value), byName(a, b)) })
	} else {
		slices.SortFunc(all, byName)
	}
	page := NamespacePage{Namespace: ns, Total: len(all)}
	from := min(o.Offset, len(all))
	to := min(from+o.Limit, len(all))
	page.Counters = all[from:to]
	if to < len(all) {
		page.Next = to
	}
	return page, nil
}

// ExportNamespace calls each for every counter of ns, for its owner or the operator.
func (c *Counters) ExportNamespace(ctx context.Context, ns string, auth Auth, client Client, each func(Info) error) error {
	if err := c.owns(ctx, ns, auth, client); err != nil {
		return err
	}
	n := 0
	err := c.namespaces.ExportNamespace(ctx, ns, func(info Info) error {
		n++
		return each(info)
	})
	// Charged once the export is over, not as it goes: a limit reached half way would cut an
	// export short, and the owner would hold a file that looks whole. The next request pays.
	_ = c.limits.Read(context.WithoutCancel(ctx), client, Name{}, int64(n/namespaceReadBatch))
	return err
}
