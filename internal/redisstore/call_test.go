package redisstore

import (
	"context"
	"io"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/redis/rueidis"
)

// What each way of failing becomes, for each kind of call, on a real server: Redis's refusals
// (error replies, which a script makes here as Redis itself would word them) by their prefix and
// the call's kind; the store's timeout; a connection that breaks; the caller leaving; and an
// error that is the domain's already, which stays as it is.
func TestCallClassifies(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	reply := func(msg string) func(context.Context, rueidis.Client) error {
		return func(ctx context.Context, c rueidis.Client) error {
			return c.Do(ctx, c.B().Eval().Script("return redis.error_reply(ARGV[1])").Numkeys(0).Arg(msg).Build()).Error()
		}
	}
	ping := func(ctx context.Context, c rueidis.Client) error { return c.Do(ctx, c.B().Ping().Build()).Error() }
	oom := reply("OOM command not allowed when used memory > 'maxmemory'.")
	overflow := reply("ERR increment or decrement would overflow")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		ctx  context.Context // the caller's; nil: Background
		kind callKind
		fn   func(context.Context, rueidis.Client) error
		want string
	}{
		{"an answer", nil, plain, ping, ""},
		{"OOM, any call", nil, plain, oom, counter.EUNAVAILABLE},
		{"OOM, a creation", nil, creates, oom, counter.EFULL},
		{"OOM, an addition", nil, changesValue, oom, counter.EUNAVAILABLE},
		{"overflow, an addition", nil, changesValue, overflow, counter.EINVALID},
		{"overflow, any call", nil, plain, overflow, counter.EINTERNAL},
		{"overflow, a creation", nil, creates, overflow, counter.EINTERNAL},
		{"no permission", nil, plain, reply("NOPERM User hitcounter has no permissions to run the 'keys' command"), counter.EUNAVAILABLE},
		{"loading", nil, creates, reply("LOADING Redis is loading the dataset in memory"), counter.EUNAVAILABLE},
		{"a replica", nil, changesValue, reply("READONLY You can't write against a read only replica."), counter.EUNAVAILABLE},
		{"another refusal", nil, plain, reply("ERR value is not an integer or out of range"), counter.EINTERNAL},
		{"the domain's error", nil, creates, func(context.Context, rueidis.Client) error {
			return counter.Errorf(counter.ENOTFOUND, nil, "counter example.com/x not found")
		}, counter.ENOTFOUND},
		{"no answer within the store's timeout", nil, plain, func(ctx context.Context, _ rueidis.Client) error {
			<-ctx.Done()
			return ctx.Err()
		}, counter.EUNAVAILABLE},
		{"a broken connection", nil, plain, func(context.Context, rueidis.Client) error { return io.EOF }, counter.EUNAVAILABLE},
		{"the caller left", cancelled, changesValue, ping, counter.ECANCELED},
	}
	for _, tt := range tests {
		ctx := tt.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		err := do(ctx, s, tt.kind, tt.fn)
		if got := counter.ErrorCode(err); got != tt.want {
			t.Errorf("%s: error %v, code %q; want code %q", tt.name, err, got, tt.want)
		}
	}

	// A call says what it has even when it fails (PurgeLegacySalts: the purge was this call's).
	got, err := call(context.Background(), s, plain, func(ctx context.Context, c rueidis.Client) (bool, error) {
		return true, reply("MISCONF Errors writing to the AOF file")(ctx, c)
	})
	if !got || counter.ErrorCode(err) != counter.EUNAVAILABLE {
		t.Errorf("a failing call's value and error: %v, %v; want true and code %q", got, err, counter.EUNAVAILABLE)
	}
}
