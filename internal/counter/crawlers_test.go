package counter

import (
	"strings"
	"testing"
)

func TestIsCrawler(t *testing.T) {
	tests := []struct {
		agent string
		want  bool
	}{
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true},
		{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", true},
		{"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", true},
		{"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", true},
		{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true},
		{"Twitterbot/1.0", true},
		{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", true},
		{"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", true},
		{"TelegramBot (like TwitterBot)", true},
		{"WhatsApp/2.23.20.0", true},
		{"http.rb/5.1.1 (Mastodon/4.2.0; +https://mastodon.social/) Bot", true},
		{"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", true},
		{"CCBot/2.0 (https://commoncrawl.org/faq/)", true},
		{"Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 " +
			"(compatible; Bytespider; spider-feedback@bytedance.com)", true},
		{"Mozilla/5.0 (compatible; archive.org_bot +http://archive.org/details/archive.org_bot)", true},
		{"ia_archiver (+http://www.alexa.com/site/help/webmasters; crawler@alexa.com)", true},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15 (Applebot/0.1)", true},
		{"SKYPEURIPREVIEW", true}, // case does not matter

		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", false},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", false},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", false},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0", false},
		{"github-camo (876de43e)", false}, // GitHub's image proxy fetches for readers
		{"curl/8.5.0", false},
		{"", false},
		// A token past the bytes read is not seen: the header's size cannot buy work.
		{strings.Repeat("a", agentPrefixBytes) + "Googlebot", false},
	}
	for _, tt := range tests {
		if got := IsCrawler(tt.agent); got != tt.want {
			t.Errorf("IsCrawler(%.60q) = %v, want %v", tt.agent, got, tt.want)
		}
	}
}

func BenchmarkIsCrawler(b *testing.B) {
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	for b.Loop() {
		IsCrawler(ua)
	}
}
