// Command hitload sends exactly -n GET requests from -c keep-alive connections and checks the
// counter's promise: every 200 carries a count no other response carried. It prints one JSON
// line: requests, 2xx, other statuses, errors, duplicates, the lowest and highest count, and
// latency percentiles. Loopback targets only.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"
)

var countRe = regexp.MustCompile(`seen (\d+) times`)

type result struct {
	Requests   int     `json:"requests"`
	OK         int     `json:"ok"`
	Other      int     `json:"other_status"`
	Errors     int     `json:"errors"`
	Duplicates int     `json:"duplicates"`
	MinCount   int64   `json:"min_count"`
	MaxCount   int64   `json:"max_count"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
}

func main() {
	target := flag.String("url", "http://127.0.0.1:5000/", "URL to GET")
	n := flag.Int("n", 20000, "requests in all")
	c := flag.Int("c", 64, "concurrent connections")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	flag.Parse()
	if u, err := url.Parse(*target); err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1") {
		log.Fatalf("hitload: %q: only loopback targets", *target)
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c}}
	jobs := make(chan struct{}, *n)
	for range *n {
		jobs <- struct{}{}
	}
	close(jobs)
	deadline := time.Now().Add(*timeout)

	var mu sync.Mutex
	var res result
	var counts []int64
	var latencies []time.Duration
	var wg sync.WaitGroup
	begin := time.Now()
	for range *c {
		wg.Go(func() {
			for range jobs {
				if time.Now().After(deadline) {
					return
				}
				t0 := time.Now()
				resp, err := client.Get(*target)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				took := time.Since(t0)
				mu.Lock()
				res.Requests++
				latencies = append(latencies, took)
				switch {
				case err != nil:
					res.Errors++
				case resp.StatusCode != 200:
					res.Other++
				default:
					res.OK++
					if m := countRe.FindSubmatch(body); m != nil {
						v, _ := strconv.ParseInt(string(m[1]), 10, 64)
						counts = append(counts, v)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(begin).Seconds()
	res.RPS = float64(res.Requests) / res.Seconds
	slices.Sort(counts)
	for i := 1; i < len(counts); i++ {
		if counts[i] == counts[i-1] {
			res.Duplicates++
		}
	}
	if len(counts) > 0 {
		res.MinCount, res.MaxCount = counts[0], counts[len(counts)-1]
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	res.P50ms, res.P99ms = pct(0.50), pct(0.99)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
