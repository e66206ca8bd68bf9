package counter

import "context"

// Counter hands out visit numbers. Every successful Visit moves the stored total by exactly
// one and returns a number no other Visit returned, so concurrent visitors never share a count.
// Its one implementation is the Coalescer, over a store's Adder.
type Counter interface {
	Visit(ctx context.Context) (int64, error)
}

// Pinger reports whether the store behind a Counter answers right now.
type Pinger interface {
	Ping(ctx context.Context) error
}

// VisitCounter is the visit counter as GET / serves it: a Counter behind the client's read
// limit, which is all the limit a counter that anyone may bump needs (one client's visits are
// as cheap as its reads).
type VisitCounter struct {
	Counter Counter
	// Limits are the per-client limits; nil: none.
	Limits *Limits
}

// Visit counts one visit of client and returns its number.
func (v VisitCounter) Visit(ctx context.Context, client Client) (int64, error) {
	if err := v.Limits.Read(ctx, client, Name{}, 1); err != nil {
		return 0, err
	}
	return v.Counter.Visit(ctx)
}
