// Command historymem measures what a named counter costs in Redis, for the memory formula
// (redisstore.BytesNeeded) and the figures in docs/api.md ("Memory"): it creates counters in a
// fresh redis-server through the service's own store, writes hits day after day with a clock
// moved a day at a time, and reads used_memory after each step.
//
//	go run ./bench/historymem [-counters 1000] [-days 400] [-visitors 16] [-longest]
//
// -longest names every counter with the longest namespace and key the naming rule allows
// (64 + 64 characters), which is what the formula assumes; -visitors is how many distinct
// visitors each counter has a day (16 is the most one client can be, counter.AgentBuckets).
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
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/redisstore"
	"github.com/hitcounter/hitcounter/internal/redistest"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

func main() {
	counters := flag.Int("counters", 1000, "counters to create")
	days := flag.Int("days", counter.DefaultHistoryDays, "days with hits")
	visitors := flag.Int("visitors", 1, "distinct visitors per counter and day")
	longest := flag.Bool("longest", false, "64-character namespaces and keys")
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
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := srv.Process.Kill(); err != nil {
			log.Printf("stopping redis-server: %v", err)
		}
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitfor.Poll(10*time.Second, func() error { _, err := redistest.Do(addr, "PING"); return err }); err != nil {
		log.Fatal(err)
	}

	store := redisstore.New(redisstore.Options{Addr: addr, Timeout: 5 * time.Second})
	defer store.Close()
	named := store.Named(*days)
	clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
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
		if *longest {
			return counter.Name{Namespace: strings.Repeat("n", 55) + fmt.Sprintf("%09d", i), Key: strings.Repeat("k", 64)}
		}
		return counter.Name{Namespace: "benchmark-ns", Key: fmt.Sprintf("counter-key-%09d", i)}
	}
	parallel := func(each func(i int)) {
		sem := make(chan struct{}, 64)
		for i := range *counters {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				each(i)
			}()
		}
		for range cap(sem) {
			sem <- struct{}{}
		}
	}
	hitAll := func(day int) {
		parallel(func(i int) {
			hits := make([]counter.Hit, *visitors)
			for v := range hits {
				// Pseudonyms are 22 characters of base64url, like the service's.
				hits[v].Visitor = fmt.Sprintf("%010d%06d%06d", i, day, v)
			}
			if _, err := named.Add(ctx, name(i), hits, clock, 0); err != nil {
				log.Fatal(err)
			}
		})
	}
	dropSketches := func() {
		// The day sketches expire by TTL in real time; drop them as their expiry would.
		script := fmt.Sprintf("redis-cli -p %d --scan --pattern '*:u:*' | xargs -r -n 500 redis-cli -p %d DEL >/dev/null", port, port)
		if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
			log.Fatalf("dropping the day sketches: %v %s", err, out)
		}
	}
	per := func(bytes int64) float64 { return float64(bytes) / float64(*counters) }

	base := used()
	parallel(func(i int) {
		_, hash := counter.NewAdminKey()
		if err := named.Reserve(ctx, name(i), 0); err != nil {
			log.Fatal(err)
		}
		if err := named.Create(ctx, counter.Info{Name: name(i), Created: clock, AdminKeyHash: hash}); err != nil {
			log.Fatal(err)
		}
	})
	created := used()
	hitAll(0)
	firstDay := used()
	dropSketches()
	firstDayNoSketch := used()
	for d := 1; d < *days; d++ {
		clock = clock.AddDate(0, 0, 1)
		hitAll(d)
	}
	dropSketches()
	full := used()
	fmt.Printf("names: %s (%d+%d characters); %d counters, %d visitors a day each\n",
		name(0), len(name(0).Namespace), len(name(0).Key), *counters, *visitors)
	fmt.Printf("a counter made by create (hash with admin key, index entry): %.0f bytes\n", per(created-base))
	fmt.Printf("its first day (the month's hash with one day): %.0f bytes\n", per(firstDayNoSketch-created))
	fmt.Printf("a day's sketch of %d visitors: %.0f bytes\n", *visitors, per(firstDay-firstDayNoSketch))
	if *days > 1 {
		fmt.Printf("each further day with hits, new months included: %.1f bytes\n", per(full-firstDayNoSketch)/float64(*days-1))
	}
	fmt.Printf("after %d days (no sketch): %.0f bytes per counter\n", *days, per(full-base))
}
