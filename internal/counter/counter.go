// Package counter is the domain of hitcounter: a visit counter and the errors it can fail with.
// It knows nothing about Redis or HTTP; redisstore stores the total and httpapi serves it.
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
