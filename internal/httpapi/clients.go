package httpapi

import (
	"net/http"
	"net/netip"
	"strconv"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Who sent a request and what it may still do: the domain decides both (counter.ClientRules,
// counter.Limits); this file reads the request for the one and writes the other's headers.

// clientOf is who sent the request.
func (d CounterDeps) clientOf(r *http.Request) counter.Client { return identify(d.Clients, r) }

// identify is who sent the request, by the domain's rules: the connection's peer, the
// X-Forwarded-For lines (believed only from trusted proxies) and the user agent.
func identify(rules counter.ClientRules, r *http.Request) counter.Client {
	return rules.Identify(peerAddr(r.RemoteAddr), r.Header.Values("X-Forwarded-For"), r.UserAgent())
}

// peerAddr is the address of an http.Request's RemoteAddr ("ip:port"); invalid if it is not one.
func peerAddr(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// setRateLimitHeaders describes a limit in the RateLimit-* headers; nothing when there is none.
func setRateLimitHeaders(h http.Header, a counter.Allowance) {
	if a.Limit == 0 {
		return
	}
	h.Set("RateLimit-Limit", strconv.FormatInt(a.Limit, 10))
	h.Set("RateLimit-Remaining", strconv.FormatInt(a.Remaining, 10))
	h.Set("RateLimit-Reset", a.RetryAfter())
}
