// Package counter is the domain of hitcounter: what is counted, by whom, and under which rules,
// without Redis or HTTP. redisstore keeps what it decides, ratelimit counts clients, visitor
// names them without their address, and httpapi parses requests and renders answers.
//
//   - The visit counter (GET /, VisitCounter) and the named counters (Counters): a counter is
//     created on its first hit or on request, with an admin key (kept as its SHA-256) that sets,
//     updates and deletes it; reads, badges and statistics (Stats: the total, and per day of the
//     counter's time zone its hits, unique visitors and crawler hits, DefaultHistoryDays of them
//     by default) are public. Name is the naming rule; SeeyoufarmName maps a page's URL to one.
//   - Namespaces (namespace.go): anyone may claim an empty one and gets its key once; its owner
//     alone then creates counters in it (at most MaxNamespaceCounters), lists and exports them.
//   - Honest counts: crawlers and link previewers counted apart (IsCrawler) unless the owner
//     counts them (Settings.CountBots); a repeat window that counts a visitor once
//     (Settings.RepeatWindow); the owner's own browser left out (OwnerToken); days that follow
//     the owner's time zone (Settings.TimeZone). Settings are changed in one step per counter.
//   - Who the client is (Client, ClientRules.Identify): its address behind trusted proxies, its
//     network (an IPv6 prefix), GitHub's image proxy or not; a visitor is the day's pseudonym of
//     a client, and a client can be at most AgentBuckets visitors per counter and day.
//   - What a client may do (Limits): per-client limits of hits, creations and reads; the counter
//     limit (no counter is ever evicted), and the claimed namespaces bounded by it.
//   - Hits that are exact and cheap: the per-key coalescer (Keyed, and Coalescer for the visit
//     counter) joins concurrent hits on one counter into one write, each hit answered with its
//     own number.
//   - Live values (Live): one subscription per followed counter and process, fanned out to every
//     reader, bounded per client and in all.
//   - Imports (Import, Record, CheckDays): counters and their days from an export or another
//     service, each made as given (or, from another service, keeping the key of a counter that
//     exists here); importing the same records twice changes nothing.
//   - Errors (Error) with a code each (EUNAVAILABLE, ENOTFOUND, …), which httpapi maps to
//     statuses in one place, and a message safe to show a client.
package counter
