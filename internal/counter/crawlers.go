package counter

// A crawler or link previewer fetches a page (and its badges) for a machine, not for a reader:
// search engines, AI crawlers, SEO tools, archives, and the chat and social apps that unfurl a
// link someone posted. Their hits are counted apart (Stats: Bots), not in the total, unless the
// counter's owner asks for them (Settings.CountBots).
//
// crawlerTokens is the maintained list: lower-case pieces of User-Agent headers, each matched
// anywhere in the header's first agentPrefixBytes bytes, case-insensitively. "bot", "crawl" and
// "spider" catch most crawlers by their own naming convention (Googlebot, bingbot, GPTBot,
// AhrefsBot, Baiduspider, …); the rest are the agents that do not say so. Browsers, headless
// ones included, and HTTP libraries are not on it: a person's script is a reader, and a badge
// fetched by a test browser must count. Add a token with a case in TestIsCrawler.
var crawlerTokens = []string{
	"bot", "crawl", "spider", "slurp", // most crawlers name themselves so
	"facebookexternalhit", "facebookcatalog", "meta-externalagent", // Facebook's previews
	"whatsapp", "skypeuripreview", "iframely", "embedly", "vkshare", "snapchat",
	"mastodon", "bluesky", "linkpreview", "preview", // link unfurling
	"ia_archiver", "archive.org", "heritrix", // archives
	"google-inspectiontool", "googleother", "google-read-aloud", "feedfetcher", "mediapartners-google",
	"chrome-lighthouse", "pingdom", "uptimerobot", "statuscake", "site24x7", // checkers
	"bytespider", "ccbot", "perplexity", "anthropic", "cohere-ai", "diffbot", // data and AI
	"semrush", "ahrefs", "mj12", "dataforseo", "screaming frog", "seokicks",
}

// crawlerTokensByFirst indexes crawlerTokens by their first byte, so that IsCrawler looks at each
// byte of the header once instead of once per token.
var crawlerTokensByFirst = func() (by [256][]string) {
	for _, t := range crawlerTokens {
		by[t[0]] = append(by[t[0]], t)
	}
	return by
}()

// IsCrawler reports whether a User-Agent header is a known crawler or link previewer. It reads at
// most agentPrefixBytes bytes and allocates nothing, since every hit asks.
func IsCrawler(userAgent string) bool {
	var buf [agentPrefixBytes]byte
	n := min(len(userAgent), len(buf))
	for i := range n {
		c := userAgent[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	ua := buf[:n]
	for i, c := range ua {
		for _, t := range crawlerTokensByFirst[c] {
			if len(ua)-i >= len(t) && string(ua[i:i+len(t)]) == t {
				return true
			}
		}
	}
	return false
}
