package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// changeScript checks the caller against the admin key (ARGV[1]: its hash, or "" for the
// operator) and then sets (ARGV[2] "set") or adds (ARGV[2] "add") ARGV[3], replaces the admin
// key ("admin") or some of the settings ("settings": zone, window seconds, count bots; "-"
// leaves one as it is), or only checks ("check"). Replies {code, value}. The check and the
// change are one step: a key replaced in between cannot authorise a change. A change makes
// nothing new, so it runs past maxmemory.
var changeScript = newScript(allowOOM+`
if redis.call('EXISTS', KEYS[1]) == 0 then return {1, '0'} end
if ARGV[1] ~= '' then
	local a = redis.call('HGET', KEYS[1], 'a')
	if not a or a ~= ARGV[1] then return {2, '0'} end
end
if ARGV[2] == 'set' then
	redis.call('HSET', KEYS[1], 'v', ARGV[3])
elseif ARGV[2] == 'add' then
	redis.call('HINCRBY', KEYS[1], 'v', ARGV[3])
elseif ARGV[2] == 'admin' then
	redis.call('HSET', KEYS[1], 'a', ARGV[3])
elseif ARGV[2] == 'settings' then
	-- Each of zone, window and count-bots: '-' leaves it; the default ('', '0', '0') removes it.
	for i, field in ipairs({'z', 'w', 'cb'}) do
		local v = ARGV[2 + i]
		if v == '' or v == '0' then
			redis.call('HDEL', KEYS[1], field)
		elseif v ~= '-' then
			redis.call('HSET', KEYS[1], field, v)
		end
	end
end
local v = redis.call('HGET', KEYS[1], 'v')
if ARGV[2] == 'set' or ARGV[2] == 'add' then redis.call('SPUBLISH', KEYS[1] .. ':live', v) end
return {0, v}`, true)

// Set implements counter.Store.
func (s *Named) Set(ctx context.Context, name counter.Name, value int64, auth counter.Auth) (int64, error) {
	return s.change(ctx, name, auth, "set", strconv.FormatInt(value, 10))
}

// Update implements counter.Store.
func (s *Named) Update(ctx context.Context, name counter.Name, delta int64, auth counter.Auth) (int64, error) {
	return s.change(ctx, name, auth, "add", strconv.FormatInt(delta, 10))
}

// SetAdminKey implements counter.Store.
func (s *Named) SetAdminKey(ctx context.Context, name counter.Name, hash string) error {
	_, err := s.change(ctx, name, counter.Auth{Operator: true}, "admin", hash)
	return err
}

// Authorize implements counter.Store.
func (s *Named) Authorize(ctx context.Context, name counter.Name, auth counter.Auth) error {
	_, err := s.change(ctx, name, auth, "check")
	return err
}

// ChangeSettings implements counter.Store: the fields given replace the counter's, in the
// change script's one step; a field not given is sent as "-", which it leaves alone.
func (s *Named) ChangeSettings(ctx context.Context, name counter.Name, ch counter.SettingsChange, auth counter.Auth) (counter.Settings, error) {
	zone, window, countBots := "-", "-", "-"
	if ch.TimeZone != nil {
		zone = *ch.TimeZone
		if zone == "UTC" {
			zone = ""
		}
	}
	if ch.RepeatWindow != nil {
		window = strconv.FormatInt(int64(*ch.RepeatWindow/time.Second), 10)
	}
	if ch.CountBots != nil {
		countBots = flag(*ch.CountBots)
	}
	if _, err := s.change(ctx, name, auth, "settings", zone, window, countBots); err != nil {
		return counter.Settings{}, err
	}
	return s.Settings(ctx, name)
}

// change runs changeScript and maps its reply code.
func (s *Named) change(ctx context.Context, name counter.Name, auth counter.Auth, op string, args ...string) (int64, error) {
	presented := auth.AdminKeyHash
	if auth.Operator || auth.NamespaceOwner {
		presented = ""
	} else if presented == "" {
		return 0, counter.Errorf(counter.EUNAUTHORIZED, nil, "this needs the counter's admin key")
	}
	return call(ctx, s.store, changesValue, func(ctx context.Context, c rueidis.Client) (int64, error) {
		reply, err := s.store.run(ctx, c, changeScript, []string{CounterKey(name)}, append([]string{presented, op}, args...)...).ToArray()
		if err != nil {
			return 0, err
		}
		if len(reply) != 2 {
			return 0, counter.Errorf(counter.EINTERNAL, nil, "storage error")
		}
		code, err1 := reply[0].AsInt64()
		value, err2 := reply[1].AsInt64()
		if err1 != nil || err2 != nil {
			return 0, counter.Errorf(counter.EINTERNAL, nil, "storage error")
		}
		switch code {
		case replyNotFound:
			return 0, notFound(name)
		case replyForbidden:
			return 0, counter.Errorf(counter.EFORBIDDEN, nil, "the key given is not this counter's admin key")
		}
		return value, nil
	})
}
