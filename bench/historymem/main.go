// Command historymem measures what a named counter's daily history costs in Redis: it writes a
// year of hits into a fresh redis-server through the service's own store, with a clock moved a
// day at a time, and reads used_memory. Used for the figures in docs/api.md ("Memory").
//
//	go run ./bench/historymem [-counters 1000] [-days 400]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redisstore"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

func main() {
	counters := flag.Int("counters", 1000, "counters to create")
	days := flag.Int("days", 400, "days of hits, one visitor a day per counter")
	flag.Parse()

	dir, err := os.MkdirTemp("", "historymem")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	srv.Stdout, srv.Stderr = nil, nil
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	defer srv.Process.Kill()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitfor.Poll(10*time.Second, func() error { _, err := redistest.Do(addr, "PING"); return err }); err != nil {
		log.Fatal(err)
	}

	store := redisstore.New(redisstore.Options{Addr: addr, Timeout: 5 * time.Second})
	defer store.Close()
	clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := counter.NewCounters(store.Named(*days), 4, 5*time.Second, 0, func() time.Time { return clock })
	ctx := context.Background()
	used := func() int64 {
		out, err := exec.Command("redis-cli", "-p", strconv.Itoa(port), "INFO", "memory").Output()
		if err != nil {
			log.Fatal(err)
		}
		m := regexp.MustCompile(`used_memory:(\d+)`).FindSubmatch(out)
		n, _ := strconv.ParseInt(string(m[1]), 10, 64)
		return n
	}
	name := func(i int) counter.Name {
		return counter.Name{Namespace: "benchmark-ns", Key: fmt.Sprintf("counter-key-%09d", i)}
	}
	hitAll := func(day int) {
		sem := make(chan struct{}, 64)
		for i := range *counters {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				v := fmt.Sprintf("visitor-%d-%d", i, day)
				if _, err := c.Hit(ctx, name(i), counter.Hit{Visitor: v}, func() error { return nil }); err != nil {
					log.Fatal(err)
				}
			}()
		}
		for range cap(sem) {
			sem <- struct{}{}
		}
	}
	base := used()
	hitAll(0)
	first := used()
	fmt.Printf("day 1 (counter, month hash, the day's sketch): %d bytes per counter\n", (first-base)/int64(*counters))
	for d := 1; d < *days; d++ {
		clock = clock.AddDate(0, 0, 1)
		hitAll(d)
	}
	// The day sketches expire by TTL in real time; drop them as their expiry would.
	if out, err := exec.Command("sh", "-c", fmt.Sprintf("redis-cli -p %d --scan --pattern '*:u:*' | xargs -r -n 500 redis-cli -p %d DEL >/dev/null", port, port)).CombinedOutput(); err != nil {
		log.Fatalf("dropping the day sketches: %v %s", err, out)
	}
	year := used()
	fmt.Printf("after %d days with hits (counter and month hashes): %d bytes per counter, %.1f bytes per day\n",
		*days, (year-base)/int64(*counters), float64(year-first)/float64(*counters)/float64(*days-1))
}
