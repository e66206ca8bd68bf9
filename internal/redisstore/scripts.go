package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// Every script runs atomically on the keys of one counter or one namespace (one slot, as Redis
// Cluster requires); none is ever sent twice for one call (the client does not retry), so none is
// applied twice. Values go back as the strings HGET reads, never through a Lua number: those are
// doubles, exact only up to 2^53, and a counter may be set anywhere in 64 bits. Those that change
// a counter's value publish it on the counter's live channel (live.go).

// Reply codes of the checking scripts.
const (
	replyOK        = 0
	replyNotFound  = 1
	replyForbidden = 2
	replyExists    = 3
)

// allowOOM is the shebang of the scripts that change what exists without making anything new:
// Redis runs them even past maxmemory. Memory is what new counters take, and a full Redis must
// refuse those (507), never a hit on a counter that exists (docs/design.md, "Redis memory").
// What such a script can still add is bounded per counter: a day's figures and a day's sketch,
// of at most AgentBuckets visitors per client.
const allowOOM = "#!lua flags=allow-oom\n"

// script is a Lua script the store runs by its SHA-1 (EVALSHA), sending the body (EVAL) only
// when Redis does not know it yet (after a restart, a failover, on a new cluster node).
type script struct {
	body, sha string
	// durable: what the script writes must be on WaitReplicas replicas' disks before its answer
	// is believed (the counts); false for what may be lost with a failover (rate-limit counts).
	durable bool
}

func newScript(body string, durable bool) *script {
	sum := sha1.Sum([]byte(body))
	return &script{body: body, sha: hex.EncodeToString(sum[:]), durable: durable}
}

// run runs sc on keys with args, on c (call's client). A script is sent at most once per call
// (the client never retries a write), so it is never applied twice; after NOSCRIPT it was not
// applied at all, and is sent with its body.
func (s *Store) run(ctx context.Context, c rueidis.Client, sc *script, keys []string, args ...string) rueidis.RedisResult {
	n := int64(len(keys))
	res := s.write(ctx, c, sc.durable, c.B().Evalsha().Sha1(sc.sha).Numkeys(n).Key(keys...).Arg(args...).Build())
	if err := res.Error(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		res = s.write(ctx, c, sc.durable, c.B().Eval().Script(sc.body).Numkeys(n).Key(keys...).Arg(args...).Build())
	}
	return res
}

// write sends a write. When the store waits for replicas (REDIS_WAIT_REPLICAS) and the write
// is durable, WAITAOF follows it on the same connection: it answers once that many replicas
// have everything the connection wrote in their append-only files, and the write's own answer
// stands only then. With fewer replicas in time the call fails (503): the write happened on the
// primary, so the hits in it may count, but a failover before the replicas have it could lose
// it, and it is not acknowledged.
//
// WAITAOF goes after the write's answer, not pipelined with it, and in short rounds. A replica
// reports what it has fsynced when the primary asks (each time a client starts waiting) or once
// a second. Asked in the same instant as the write reached it, it answers before its fsync, and
// a lone waiter would then wait for the next once-a-second report (measured: every write 1 s,
// Valkey 8.1). Each new round asks again.
func (s *Store) write(ctx context.Context, c rueidis.Client, durable bool, cmd rueidis.Completed) rueidis.RedisResult {
	if s.waitReplicas == 0 || !durable {
		return c.Do(ctx, cmd)
	}
	var res rueidis.RedisResult
	err := c.Dedicated(func(d rueidis.DedicatedClient) error {
		res = d.Do(ctx, cmd)
		if res.Error() != nil {
			return nil
		}
		var acked []int64
		for {
			budget := waitBudget(ctx)
			round := min(budget, waitRound.Milliseconds())
			var err error
			acked, err = d.Do(ctx, c.B().Waitaof().Numlocal(0).Numreplicas(int64(s.waitReplicas)).Timeout(round).Build()).AsIntSlice()
			switch {
			case err != nil:
				res = rueidis.NewErrorResult(fmt.Errorf("WAITAOF: %w", err))
				return nil
			case len(acked) == 2 && acked[1] >= int64(s.waitReplicas):
				return nil
			case round >= budget || ctx.Err() != nil:
				res = rueidis.NewErrorResult(errNotReplicated{want: s.waitReplicas, got: acked})
				return nil
			}
		}
	})
	if err != nil {
		return rueidis.NewErrorResult(err)
	}
	return res
}

// waitRound is how long one WAITAOF waits before the store asks again (see write): a replica
// that has the write answers the next round's question at once.
const waitRound = 20 * time.Millisecond

// waitBudget is what is left of the call's time, in milliseconds, at least 1 (a WAITAOF timeout
// of 0 would wait for ever).
func waitBudget(ctx context.Context) int64 {
	if deadline, ok := ctx.Deadline(); ok {
		return max(time.Until(deadline).Milliseconds(), 1)
	}
	return 1000
}

// errNotReplicated: a write reached fewer replicas' disks than it must in its time.
type errNotReplicated struct {
	want int
	got  []int64
}

func (e errNotReplicated) Error() string {
	return fmt.Sprintf("the write reached %v (local, replicas) append-only files in time; %d replicas wanted", e.got, e.want)
}
