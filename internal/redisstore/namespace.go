package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
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
	// namespacesIndexed is the field of legacyMarkers set once every counter created before
	// namespaces had lists is in its namespace's list (IndexNamespaces).
	namespacesIndexed = "namespaces-indexed"
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

var _ counter.NamespaceStore = (*Named)(nil)

// ReserveNamespace implements counter.NamespaceStore, as Reserve does for counters.
func (s *Named) ReserveNamespace(ctx context.Context, ns string, limit int64) (bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.run(ctx, reserveScript, []string{NamespacesKey}, ns, strconv.FormatInt(limit, 10))
	if err != nil {
		return false, err
	}
	v, err := res.AsInt64()
	if err != nil {
		return false, classifyCreate(ctx, err)
	}
	if v < 0 {
		return false, counter.Errorf(counter.EFULL, nil, "the limit of claimed namespaces (%d) is reached: no namespace can be claimed", limit)
	}
	return v == 1, nil
}

// ReleaseNamespace implements counter.NamespaceStore.
func (s *Named) ReleaseNamespace(ctx context.Context, ns string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		return err
	}
	return classifyIfErr(ctx, s.write(ctx, c, true, c.B().Srem().Key(NamespacesKey).Member(ns).Build()).Error())
}

// Claim implements counter.NamespaceStore.
func (s *Named) Claim(ctx context.Context, ns counter.Namespace, operator bool) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.run(ctx, claimScript, []string{NamespaceKey(ns.Name), NamespaceListKey(ns.Name)},
		ns.AdminKeyHash, strconv.FormatInt(ns.Claimed.Unix(), 10), flag(operator))
	if err != nil {
		return err
	}
	code, err := res.AsInt64()
	if err != nil {
		return classifyCreate(ctx, err)
	}
	switch code {
	case replyExists:
		return counter.Errorf(counter.ECONFLICT, nil, "namespace %s is claimed already", ns.Name)
	case replyForbidden:
		return counter.Errorf(counter.EFORBIDDEN, nil, "namespace %s holds counters that others created: only the operator can claim it", ns.Name)
	}
	return nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Namespace implements counter.NamespaceStore.
func (s *Named) Namespace(ctx context.Context, ns string) (counter.Namespace, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		return counter.Namespace{}, err
	}
	vals, err := c.Do(ctx, c.B().Hmget().Key(NamespaceKey(ns)).Field("a", "t").Build()).ToArray()
	if err != nil {
		return counter.Namespace{}, classify(ctx, err)
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
}

// Admit implements counter.NamespaceStore.
func (s *Named) Admit(ctx context.Context, name counter.Name, auth counter.Auth, max int64) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.run(ctx, admitScript, []string{NamespaceKey(name.Namespace), NamespaceListKey(name.Namespace)},
		name.Key, auth.AdminKeyHash, flag(auth.Operator), strconv.FormatInt(max, 10))
	if err != nil {
		return err
	}
	code, err := res.AsInt64()
	if err != nil {
		return classifyCreate(ctx, err)
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
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		return err
	}
	res := c.DoMulti(ctx,
		c.B().Sismember().Key(IndexKey).Member(name.String()).Build(),
		c.B().Scard().Key(IndexKey).Build())
	there, err1 := res[0].AsBool()
	size, err2 := res[1].AsInt64()
	if err := errors.Join(err1, err2); err != nil {
		return classify(ctx, err)
	}
	if !there && size >= limit {
		return counter.Errorf(counter.EFULL, nil, "the counter limit (%d) is reached: no new counter can be created", limit)
	}
	return nil
}

// NamespaceCounters implements counter.NamespaceStore: the list's size first, so that a namespace
// over max costs one call, then the list and its counters.
func (s *Named) NamespaceCounters(ctx context.Context, ns string, max int) ([]counter.Info, error) {
	sizeCtx, cancel := s.withTimeout(ctx)
	c, err := s.get(sizeCtx)
	if err != nil {
		cancel()
		return nil, err
	}
	size, err := c.Do(sizeCtx, c.B().Scard().Key(NamespaceListKey(ns)).Build()).AsInt64()
	if err != nil {
		err = classify(sizeCtx, err)
		cancel()
		return nil, err
	}
	cancel()
	if size > int64(max) {
		return nil, counter.Errorf(counter.EINVALID, nil, "namespace %s holds %d counters, more than a listing reads (%d): export it instead", ns, size, max)
	}
	infos := make([]counter.Info, 0, size)
	err = s.scanCounters(ctx, NamespaceListKey(ns), func(member string) (counter.Name, bool) {
		return counter.Name{Namespace: ns, Key: member}, true
	}, func(info counter.Info) error {
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

// NamespacesIndexed implements counter.NamespaceStore.
func (s *Named) NamespacesIndexed(ctx context.Context) (bool, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		return false, err
	}
	err = c.Do(ctx, c.B().Hget().Key(legacyMarkers).Field(namespacesIndexed).Build()).Error()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	return err == nil, classifyIfErr(ctx, err)
}

// IndexNamespaces puts every counter in its namespace's list, once per Redis, for the counters
// that versions before namespaces had lists created, and then marks the lists complete
// (NamespacesIndexed); it reports whether this call did it. It walks the global index in steps
// and may run on several replicas at once: adding a name twice changes nothing. A counter
// deleted during the walk may leave its name in a list, which readers skip.
func (s *Store) IndexNamespaces(ctx context.Context, now time.Time) (bool, error) {
	named := &Named{Store: s}
	if done, err := named.NamespacesIndexed(ctx); err != nil || done {
		return false, err
	}
	var cursor uint64
	for {
		stepCtx, cancel := s.withTimeout(ctx)
		c, err := s.get(stepCtx)
		if err != nil {
			cancel()
			return false, err
		}
		entry, err := c.Do(stepCtx, c.B().Sscan().Key(IndexKey).Cursor(cursor).Count(exportBatch).Build()).AsScanEntry()
		if err != nil {
			err = classify(stepCtx, err)
			cancel()
			return false, err
		}
		cmds := make(rueidis.Commands, 0, len(entry.Elements))
		for _, member := range entry.Elements {
			if ns, key, ok := strings.Cut(member, "/"); ok {
				cmds = append(cmds, c.B().Sadd().Key(NamespaceListKey(ns)).Member(key).Build())
			}
		}
		for _, res := range c.DoMulti(stepCtx, cmds...) {
			if err := res.Error(); err != nil {
				err = classify(stepCtx, err)
				cancel()
				return false, err
			}
		}
		cancel()
		if cursor = entry.Cursor; cursor == 0 {
			break
		}
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	c, err := s.get(ctx)
	if err != nil {
		return false, err
	}
	err = s.write(ctx, c, true, c.B().Hset().Key(legacyMarkers).FieldValue().FieldValue(namespacesIndexed, strconv.FormatInt(now.Unix(), 10)).Build()).Error()
	return err == nil, classifyIfErr(ctx, err)
}

// scanCounters walks the set at key with SSCAN, reads each member's counter (named by name)
// with HMGET, and calls each for the counters that exist. Each counter is read atomically;
// counters changing during the walk are read at some moment of it. Each step has the store's
// timeout, and the walk ends with the set: SSCAN's cursor comes back to 0.
func (s *Named) scanCounters(ctx context.Context, key string, name func(member string) (counter.Name, bool), each func(counter.Info) error) error {
	var cursor uint64
	for {
		stepCtx, cancel := s.withTimeout(ctx)
		c, err := s.get(stepCtx)
		if err != nil {
			cancel()
			return err
		}
		entry, err := c.Do(stepCtx, c.B().Sscan().Key(key).Cursor(cursor).Count(exportBatch).Build()).AsScanEntry()
		if err != nil {
			err = classify(stepCtx, err) // before cancel: a cancelled context reads as the caller leaving
			cancel()
			return err
		}
		names := make([]counter.Name, 0, len(entry.Elements))
		cmds := make(rueidis.Commands, 0, len(entry.Elements))
		for _, member := range entry.Elements {
			n, ok := name(member)
			if !ok {
				continue
			}
			names = append(names, n)
			cmds = append(cmds, c.B().Hmget().Key(CounterKey(n)).Field(infoFields...).Build())
		}
		var infos []counter.Info
		if len(cmds) > 0 {
			for i, res := range c.DoMulti(stepCtx, cmds...) {
				vals, err := res.ToArray()
				if err == nil {
					var info counter.Info
					var ok bool
					if info, ok, err = infoFrom(names[i], vals); err == nil && ok {
						infos = append(infos, info)
					}
				}
				if err != nil {
					err = classify(stepCtx, err)
					cancel()
					return err
				}
			}
		}
		cancel()
		for _, info := range infos {
			if err := each(info); err != nil {
				return err
			}
		}
		cursor = entry.Cursor
		if cursor == 0 {
			return nil
		}
	}
}
