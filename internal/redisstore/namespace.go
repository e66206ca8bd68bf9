package redisstore

import (
	"context"
	"errors"
	"strconv"

	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// Key layout of namespaces. A namespace's owner and its list of counters carry the namespace as
// their hash tag ({ns}: no slash, so never a counter's tag), so one script checks the owner and
// changes the list atomically, in one slot even in a cluster. A counter's own keys are in
// another slot: the list is written before the counter is created, and a creation that then
// fails leaves a name without a counter, which readers skip (as the global index does, Delete).
const (
	// namespacePrefix + "{ns}" is a hash: a (hex SHA-256 of the namespace's key), t (claimed,
	// Unix seconds). It exists only for a claimed namespace.
	namespacePrefix = "hitcounter:n:"
	// namespaceListSuffix follows the owner's key: the set of the keys (not "ns/key") of the
	// namespace's counters, kept for every namespace, owned or not, so that a claim knows
	// whether a namespace is empty and an owner's listing is exact from its first counter on.
	namespaceListSuffix = ":k"
	// NamespacesKey is the set of the claimed namespaces: it bounds them by the counter limit.
	NamespacesKey = "hitcounter:namespaces"
)

// NamespaceKey is the Redis key of a claimed namespace's hash.
func NamespaceKey(ns string) string { return namespacePrefix + "{" + ns + "}" }

// NamespaceListKey is the Redis key of the set of a namespace's counters.
func NamespaceListKey(ns string) string { return NamespaceKey(ns) + namespaceListSuffix }

// claimScript makes the namespace (KEYS[1]) owned by ARGV[1], claimed at ARGV[2]: 0 done, 3 when
// it is owned already, 2 when its list (KEYS[2]) holds counters and the claimer is not the
// operator (ARGV[3] "1"). A claim makes something new, so it is refused at maxmemory.
var claimScript = newScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 3 end
if ARGV[3] ~= '1' and redis.call('SCARD', KEYS[2]) > 0 then return 2 end
redis.call('HSET', KEYS[1], 'a', ARGV[1], 't', ARGV[2])
return 0`, true)

// admitScript enters ARGV[1] in the namespace's list (KEYS[2]) if the namespace (KEYS[1]) is
// unowned, or the caller is the operator (ARGV[3] "1") or presents the owner's key hash
// (ARGV[2]); an owned namespace takes at most ARGV[4] counters (0: no cap) but from the
// operator. Replies 1 added, 0 already there, -1 the cap is reached, -2 no key, -3 another key.
// The owner check and the addition are one step: a claim cannot slip between them.
var admitScript = newScript(`
local owner = redis.call('HGET', KEYS[1], 'a')
if owner and ARGV[3] ~= '1' then
	if ARGV[2] == '' then return -2 end
	if ARGV[2] ~= owner then return -3 end
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
local cap = tonumber(ARGV[4])
if owner and ARGV[3] ~= '1' and cap > 0 and redis.call('SCARD', KEYS[2]) >= cap then return -1 end
return redis.call('SADD', KEYS[2], ARGV[1])`, true)

// ReserveNamespace implements counter.NamespaceStore, as Reserve does for counters.
func (s *Named) ReserveNamespace(ctx context.Context, ns string, limit int64) (bool, error) {
	v, err := s.reserve(ctx, NamespacesKey, ns, limit)
	if err != nil {
		return false, err
	}
	if v < 0 {
		return false, counter.Errorf(counter.EFULL, nil, "the limit of claimed namespaces (%d) is reached: no namespace can be claimed", limit)
	}
	return v == 1, nil
}

// ReleaseNamespace implements counter.NamespaceStore.
func (s *Named) ReleaseNamespace(ctx context.Context, ns string) error {
	return do(ctx, s.store, plain, func(ctx context.Context, c rueidis.Client) error {
		return s.store.write(ctx, c, true, c.B().Srem().Key(NamespacesKey).Member(ns).Build()).Error()
	})
}

// Claim implements counter.NamespaceStore.
func (s *Named) Claim(ctx context.Context, ns counter.Namespace, operator bool) error {
	code, err := call(ctx, s.store, creates, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return s.store.run(ctx, c, claimScript, []string{NamespaceKey(ns.Name), NamespaceListKey(ns.Name)},
			ns.AdminKeyHash, strconv.FormatInt(ns.Claimed.Unix(), 10), flag(operator)).AsInt64()
	})
	if err != nil {
		return err
	}
	switch code {
	case replyExists:
		return counter.Errorf(counter.ECONFLICT, nil, "namespace %s is claimed already", ns.Name)
	case replyForbidden:
		return counter.Errorf(counter.EFORBIDDEN, nil, "namespace %s holds counters that others created: only the operator can claim it", ns.Name)
	}
	return nil
}

// flag is a boolean as the scripts take it.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Namespace implements counter.NamespaceStore.
func (s *Named) Namespace(ctx context.Context, ns string) (counter.Namespace, error) {
	return call(ctx, s.store, plain, func(ctx context.Context, c rueidis.Client) (counter.Namespace, error) {
		vals, err := c.Do(ctx, c.B().Hmget().Key(NamespaceKey(ns)).Field("a", "t").Build()).ToArray()
		if err != nil {
			return counter.Namespace{}, err
		}
		if len(vals) != 2 || vals[0].IsNil() {
			return counter.Namespace{}, counter.Errorf(counter.ENOTFOUND, nil, "namespace %s is not claimed", ns)
		}
		out := counter.Namespace{Name: ns}
		out.AdminKeyHash, _ = vals[0].ToString()
		if claimed, err := optionalInt(vals[1]); err == nil && claimed > 0 {
			out.Claimed = time.Unix(claimed, 0).UTC()
		}
		return out, nil
	})
}

// Admit implements counter.NamespaceStore.
func (s *Named) Admit(ctx context.Context, name counter.Name, auth counter.Auth, max int64) error {
	code, err := call(ctx, s.store, creates, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return s.store.run(ctx, c, admitScript, []string{NamespaceKey(name.Namespace), NamespaceListKey(name.Namespace)},
			name.Key, auth.AdminKeyHash, flag(auth.Operator), strconv.FormatInt(max, 10)).AsInt64()
	})
	if err != nil {
		return err
	}
	switch code {
	case -1:
		return counter.Errorf(counter.EFULL, nil, "namespace %s holds its most counters (%d): delete one to create another", name.Namespace, max)
	case -2:
		return counter.Errorf(counter.EUNAUTHORIZED, nil, "namespace %s has an owner: creating a counter in it needs the namespace's key", name.Namespace)
	case -3:
		return counter.Errorf(counter.EFORBIDDEN, nil, "namespace %s has an owner, and the key given is not the namespace's key", name.Namespace)
	}
	return nil
}

// HasRoom implements counter.NamespaceStore: one round trip, two reads of the index.
func (s *Named) HasRoom(ctx context.Context, name counter.Name, limit int64) error {
	return do(ctx, s.store, plain, func(ctx context.Context, c rueidis.Client) error {
		res := c.DoMulti(ctx,
			c.B().Sismember().Key(IndexKey).Member(name.String()).Build(),
			c.B().Scard().Key(IndexKey).Build())
		there, err1 := res[0].AsBool()
		size, err2 := res[1].AsInt64()
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if !there && size >= limit {
			return counter.Errorf(counter.EFULL, nil, "the counter limit (%d) is reached: no new counter can be created", limit)
		}
		return nil
	})
}

// NamespaceCounters implements counter.NamespaceStore: the list's size first, so that a namespace
// over max costs one call, then the list and its counters.
func (s *Named) NamespaceCounters(ctx context.Context, ns string, max int) ([]counter.Info, error) {
	size, err := call(ctx, s.store, plain, func(ctx context.Context, c rueidis.Client) (int64, error) {
		return c.Do(ctx, c.B().Scard().Key(NamespaceListKey(ns)).Build()).AsInt64()
	})
	if err != nil {
		return nil, err
	}
	if size > int64(max) {
		return nil, counter.Errorf(counter.EINVALID, nil, "namespace %s holds %d counters, more than a listing reads (%d): export it instead", ns, size, max)
	}
	infos := make([]counter.Info, 0, size)
	err = s.ExportNamespace(ctx, ns, func(info counter.Info) error {
		infos = append(infos, info)
		return nil
	})
	return infos, err
}

// ExportNamespace implements counter.NamespaceStore.
func (s *Named) ExportNamespace(ctx context.Context, ns string, each func(counter.Info) error) error {
	return s.scanCounters(ctx, NamespaceListKey(ns), func(member string) (counter.Name, bool) {
		return counter.Name{Namespace: ns, Key: member}, true
	}, each)
}
