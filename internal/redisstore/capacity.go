package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/redis/rueidis"
)

// What the named counters take in Redis's used_memory, per counter, at the longest names the
// naming rule allows (64 + 64 characters), rounded up from `go run ./bench/historymem -longest
// -visitors 16` on Redis 7.0 (docs/api.md, "Memory"; measured: 787, 488, 24.7 and 290 bytes).
const (
	// BytesPerCounter is a counter made by POST /create: its hash with an admin key, its name in
	// the index (787 together), its key in its namespace's list (245 when it is alone there, the
	// most), and a tenth of a claimed namespace (counter.NamespacesPerCounter; 278 each).
	BytesPerCounter = 1100
	// BytesPerMonth is the month's hash of the counter's first day with hits, that day included.
	BytesPerMonth = 500
	// BytesPerDay is each further day with hits, the months it starts included.
	BytesPerDay = 25
	// BytesPerSketch is a day's HyperLogLog of 16 visitors (the most one client can be). A
	// counter keeps today's and yesterday's; one of thousands of visitors is 12 KB, which takes
	// hundreds of clients a day on that counter.
	BytesPerSketch = 300
	// ReserveBytes is what is not a named counter: Redis itself, the visit counter, the shared
	// rate-limit counts of the clients of two windows, and the scripts' buffers.
	ReserveBytes = 32 << 20
)

// BytesNeeded is the memory counters named counters take when every one of them was hit on
// every day of a history of historyDays days, plus ReserveBytes:
//
//	counters × (BytesPerCounter + BytesPerMonth + historyDays × BytesPerDay + 2 × BytesPerSketch)
//	+ ReserveBytes
//
// which for the defaults (100,000 counters, 400 days) is 100,000 × 12,200 + 32 MiB, 1.25 GB.
// It is the most they can take but for busy days' sketches: what Redis's maxmemory must hold so
// that a full Redis refuses only new counters.
func BytesNeeded(counters int64, historyDays int) int64 {
	perCounter := BytesPerCounter + BytesPerMonth + int64(historyDays)*BytesPerDay + 2*BytesPerSketch
	return counters*perCounter + ReserveBytes
}

// Capacity is what Redis says about its memory against what the configured counters need.
type Capacity struct {
	// MaxMemory is Redis's maxmemory (0: none set), UsedMemory its used_memory now.
	MaxMemory, UsedMemory int64
	// Needed is BytesNeeded for the configured counter limit and history.
	Needed int64
	// Fits: maxmemory holds Needed. Without a counter limit nothing fits for certain.
	Fits bool
}

// Full reports whether Redis was at its maxmemory when last read (WatchMemory). Hits then leave
// the visitor sketches alone, so that nothing past maxmemory grows with the number of visitors.
func (s *Store) Full() bool { return s.full.Load() }

// WatchMemory reads Redis's memory figures every interval until ctx ends, and keeps Full up to
// date. report is called once: with the first reading, or with the error of a Redis that
// answered but refused (an ACL without INFO, say), after which Full stays false. While Redis
// does not answer at all it tries again.
func (s *Store) WatchMemory(ctx context.Context, interval time.Duration, counterLimit int64, historyDays int, report func(Capacity, error)) {
	reported := false
	poll(ctx, interval, func() bool {
		c, err := s.Capacity(ctx, counterLimit, historyDays)
		switch {
		case err == nil:
			s.full.Store(c.MaxMemory > 0 && c.UsedMemory >= c.MaxMemory)
			if !reported {
				report(c, nil)
				reported = true
			}
		case Refused(err):
			if !reported {
				report(c, err)
			}
			return false
		}
		return true
	})
}

// Refused reports whether err is an answer (an error reply from Redis, or one the caller
// cannot read) rather than Redis not answering, which is worth trying again.
func Refused(err error) bool {
	var re *rueidis.RedisError
	return errors.As(err, &re) || counter.ErrorCode(err) != counter.EUNAVAILABLE
}

// Capacity reads Redis's memory figures (INFO memory) and says whether counterLimit counters
// with historyDays of history fit in them.
func (s *Store) Capacity(ctx context.Context, counterLimit int64, historyDays int) (Capacity, error) {
	info, err := call(ctx, s, plain, func(ctx context.Context, c rueidis.Client) (string, error) {
		return c.Do(ctx, c.B().Info().Section("memory").Build()).ToString()
	})
	if err != nil {
		return Capacity{}, err
	}
	// What cannot be read of the answer is no error of Redis's, not classified: Refused, and
	// WatchMemory stops.
	capa := Capacity{Needed: BytesNeeded(counterLimit, historyDays)}
	var found int
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch name {
		case "maxmemory":
			capa.MaxMemory, err = strconv.ParseInt(value, 10, 64)
			found++
		case "used_memory":
			capa.UsedMemory, err = strconv.ParseInt(value, 10, 64)
			found++
		}
		if err != nil {
			return Capacity{}, fmt.Errorf("INFO memory: %s: %w", name, err)
		}
	}
	if found != 2 {
		return Capacity{}, fmt.Errorf("INFO memory: no maxmemory or used_memory in the answer")
	}
	capa.Fits = counterLimit > 0 && capa.MaxMemory > 0 && capa.Needed <= capa.MaxMemory
	return capa, nil
}
