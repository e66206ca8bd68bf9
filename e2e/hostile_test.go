package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rssMB reads a container's main process resident memory from this host's /proc.
func (s *stack) rssMB(service string) float64 {
	s.t.Helper()
	status := procStatus(s.t, s.inspectContainer(s.Containers(service)[0]).State.Pid)
	kb, err := strconv.ParseFloat(strings.TrimSuffix(status["VmRSS"], " kB"), 64)
	if err != nil {
		s.t.Fatalf("%s's VmRSS %q: %v", service, status["VmRSS"], err)
	}
	return kb / 1024
}

// TestHostileClients: 1,000 idle connections, slowloris clients, oversized headers and bodies
// against the load balancer, while a well-behaved client keeps being served; memory stays
// bounded and nothing restarts.
func TestHostileClients(t *testing.T) {
	s := newStack(t)
	// One source (the test, through docker-proxy) opens the 1,000 connections: what is tested
	// here is the frontend's own bounds; per-source limits are lb_limits_test.go's.
	s.asOneHeavyClient()
	s.up()
	s.mustVisit()
	addr := strings.TrimPrefix(s.base, "http://")
	webBefore, lbBefore := s.rssMB("web"), s.rssMB("lb")

	// 1,000 connections that send nothing.
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range 1000 {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("opening idle connection %d: %v", len(idle)+1, err)
		}
		idle = append(idle, c)
	}

	// Ten slowloris clients, one header byte every 100 ms, for at most 8 s each.
	var wg sync.WaitGroup
	cutOff := make(chan time.Duration, 10)
	for range 10 {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Errorf("slowloris dial: %v", err)
				return
			}
			defer c.Close()
			req := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("s", 200) + "\r\n\r\n"
			begin := time.Now()
			for i := 0; i < len(req) && time.Since(begin) < 8*time.Second; i++ {
				if _, err := c.Write([]byte{req[i]}); err != nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			reply, _ := io.ReadAll(bufio.NewReader(c))
			if strings.Contains(string(reply), "I have been seen") {
				t.Errorf("a slowloris request was served")
			}
			cutOff <- time.Since(begin)
		})
	}

	// Oversized headers and bodies get a 4xx, never a visit.
	client := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequest("GET", s.base+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("h", 64<<10))
	if resp, err := client.Do(req); err != nil {
		t.Errorf("64 KiB of headers: %v, want a 4xx answer", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("64 KiB of headers: status %d, want a 4xx", resp.StatusCode)
		}
	}
	body := strings.NewReader(strings.Repeat("b", 8<<20))
	if resp, err := client.Post(s.base+"/", "application/octet-stream", body); err != nil {
		t.Errorf("POST with 8 MiB body: %v, want a 405 answer", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST with 8 MiB body: status %d, want 405", resp.StatusCode)
		}
	}

	// Meanwhile a normal client is served.
	for i := range 50 {
		v := s.visit("/")
		if v.err != nil || v.status != 200 {
			t.Fatalf("normal request %d under hostile load: %d %v", i, v.status, v.err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	close(cutOff)
	for d := range cutOff {
		if d > 7*time.Second {
			t.Errorf("a slowloris client was still connected after %s; want it cut off by the 5 s request timeout", d.Round(time.Millisecond))
		}
	}
	webAfter, lbAfter := s.rssMB("web"), s.rssMB("lb")
	fmt.Printf("e2e: hostile clients: web RSS %.1f -> %.1f MB, lb RSS %.1f -> %.1f MB (1,000 idle connections, 10 slowloris, oversized headers and body)\n",
		webBefore, webAfter, lbBefore, lbAfter)
	if webAfter > 48 || lbAfter > 96 {
		t.Errorf("memory under hostile load: web %.1f MB, lb %.1f MB; want well inside the 64/128 MB limits", webAfter, lbAfter)
	}
	for _, service := range []string{"web", "lb", "redis"} {
		if c := s.inspectContainer(s.Containers(service)[0]); c.RestartCount != 0 {
			t.Errorf("%s restarted %d times", service, c.RestartCount)
		}
	}
}
