package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// infoFields are what a read of a counter asks its hash for (infoFrom reads them).
var infoFields = []string{"v", "t", "a", "b", "z", "w", "cb"}

// Get implements counter.Store.
func (s *Named) Get(ctx context.Context, name counter.Name) (counter.Info, error) {
	return call(ctx, s.store, plain, func(ctx context.Context, c rueidis.Client) (counter.Info, error) {
		vals, err := c.Do(ctx, c.B().Hmget().Key(CounterKey(name)).Field(infoFields...).Build()).ToArray()
		if err != nil {
			return counter.Info{}, err
		}
		return existingInfo(name, vals)
	})
}

// existingInfo is infoFrom, with a counter that does not exist an error.
func existingInfo(name counter.Name, vals []rueidis.RedisMessage) (counter.Info, error) {
	info, ok, err := infoFrom(name, vals)
	if err == nil && !ok {
		err = notFound(name)
	}
	return info, err
}

// notFound is the error of a counter that does not exist.
func notFound(name counter.Name) error {
	return counter.Errorf(counter.ENOTFOUND, nil, "counter %s not found", name)
}

// infoFrom reads an HMGET of infoFields; ok is false when the counter does not exist.
func infoFrom(name counter.Name, vals []rueidis.RedisMessage) (info counter.Info, ok bool, err error) {
	if len(vals) != len(infoFields) || vals[0].IsNil() {
		return counter.Info{}, false, nil
	}
	info.Name = name
	if info.Value, err = vals[0].AsInt64(); err != nil {
		return counter.Info{}, false, err
	}
	if !vals[1].IsNil() {
		created, err := vals[1].AsInt64()
		if err != nil {
			return counter.Info{}, false, err
		}
		info.Created = time.Unix(created, 0).UTC()
	}
	if !vals[2].IsNil() {
		info.AdminKeyHash, _ = vals[2].ToString()
	}
	if info.Bots, err = optionalInt(vals[3]); err != nil {
		return counter.Info{}, false, err
	}
	info.Settings, err = settingsFrom(vals[4:7])
	return info, err == nil, err
}

// optionalInt reads a hash field that may be missing (0).
func optionalInt(m rueidis.RedisMessage) (int64, error) {
	if m.IsNil() {
		return 0, nil
	}
	return m.AsInt64()
}

// Settings implements counter.Store.
func (s *Named) Settings(ctx context.Context, name counter.Name) (counter.Settings, error) {
	return call(ctx, s.store, plain, func(ctx context.Context, c rueidis.Client) (counter.Settings, error) {
		vals, err := c.Do(ctx, c.B().Hmget().Key(CounterKey(name)).Field("v", "z", "w", "cb").Build()).ToArray()
		if err != nil {
			return counter.Settings{}, err
		}
		if len(vals) != 4 || vals[0].IsNil() {
			return counter.Settings{}, notFound(name)
		}
		return settingsFrom(vals[1:])
	})
}

// settingsFrom reads the z, w and cb fields.
func settingsFrom(vals []rueidis.RedisMessage) (counter.Settings, error) {
	var st counter.Settings
	if !vals[0].IsNil() {
		st.TimeZone, _ = vals[0].ToString()
	}
	window, err := optionalInt(vals[1])
	if err != nil {
		return counter.Settings{}, err
	}
	st.RepeatWindow = time.Duration(window) * time.Second
	st.CountBots = !vals[2].IsNil()
	return st, nil
}

// Stats implements counter.Store: the counter and each month's figures of the days asked for,
// in one round trip. The window's unique visitors are the sum of the days': pseudonyms change
// every day, so the union of the days' HyperLogLogs would count the same.
func (s *Named) Stats(ctx context.Context, name counter.Name, days int, at time.Time) (counter.Stats, error) {
	days = min(days, s.historyDays)
	ck := CounterKey(name)
	first := startOfDay(at).AddDate(0, 0, -(days - 1))

	// Days grouped by month: one HMGET per month, in day order, four fields a day.
	type monthFields struct {
		key    string
		fields []string
	}
	var months []monthFields
	for i := range days {
		d := first.AddDate(0, 0, i)
		if len(months) == 0 || d.Day() == 1 {
			months = append(months, monthFields{key: monthKey(ck, d)})
		}
		m := &months[len(months)-1]
		dd := strconv.Itoa(d.Day())
		m.fields = append(m.fields, "d"+dd, "c"+dd, "u"+dd, "b"+dd)
	}
	return call(ctx, s.store, plain, func(ctx context.Context, c rueidis.Client) (counter.Stats, error) {
		cmds := make(rueidis.Commands, 0, 1+len(months))
		cmds = append(cmds, c.B().Hmget().Key(ck).Field(infoFields...).Build())
		for _, m := range months {
			cmds = append(cmds, c.B().Hmget().Key(m.key).Field(m.fields...).Build())
		}
		res := c.DoMulti(ctx, cmds...)
		vals, err := res[0].ToArray()
		if err != nil {
			return counter.Stats{}, err
		}
		info, err := existingInfo(name, vals)
		if err != nil {
			return counter.Stats{}, err
		}
		st := counter.Stats{Info: info, Days: make([]counter.Day, 0, days)}
		for i := range months {
			figures, err := res[1+i].ToArray()
			if err != nil {
				return counter.Stats{}, err
			}
			for j := 0; j+3 < len(figures); j += 4 {
				d := counter.Day{Date: first.AddDate(0, 0, len(st.Days))}
				var e1, e2, e3, e4 error
				d.Hits, e1 = optionalInt(figures[j])
				d.Unidentified, e2 = optionalInt(figures[j+1])
				d.Uniques, e3 = optionalInt(figures[j+2])
				d.Bots, e4 = optionalInt(figures[j+3])
				if err := errors.Join(e1, e2, e3, e4); err != nil {
					return counter.Stats{}, err
				}
				st.Days = append(st.Days, d)
				st.Uniques += d.Uniques
				st.BotsInDays += d.Bots
			}
		}
		return st, nil
	})
}
