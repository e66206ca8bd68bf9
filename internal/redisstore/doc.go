// Package redisstore keeps hitcounter's counters in Redis (or Valkey): a standalone server, one
// behind Sentinel, or a Redis Cluster, all through one rueidis client with auto-pipelining.
//
// The visit counter (Store.Add) is one key. The named counters (Named, the counter.Store) are a
// hash each, with their daily figures in a hash per month, a day's unique visitors in a
// HyperLogLog and the repeat window's marks beside them, all under the counter's hash tag, so
// that one script changes one counter atomically, in one slot even in a cluster (keys.go). An index of every
// name bounds their number and lists them for export; a namespace's own list and its owner
// (namespace.go) let its owner create, list and export alone. Hits on different counters that
// arrive together share one script run (hits.go); crawler hits are counted apart (uncounted.go);
// each change is published on the counter's live channel (live.go); imports make counters and
// their days exactly as given (restore.go, restore_days.go). The shared rate-limit counts are
// leases on Redis (lease.go), and one-time clean-ups of what earlier versions stored run once
// per Redis (legacy.go).
//
// Every call goes through call (call.go): the store's timeout, a lazy connection, and one
// classification of what fails into the domain's error codes, by what the call does (a creation
// refused at maxmemory is "full", an addition past 64 bits is the caller's mistake, anything
// else Redis refuses is "unavailable" or "internal"). Writes are never resent: a script sent
// twice would count twice; reads are retried on a new connection. With REDIS_WAIT_REPLICAS a
// write is acknowledged only once that many replicas have it on disk (scripts.go).
//
// Redis's memory is watched (capacity.go): at maxmemory only new counters are refused, and hits
// leave the visitor sketches alone. The number of counters is counted off the request path
// (census.go).
package redisstore
