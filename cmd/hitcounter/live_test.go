package main

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/redistest"
)

// Live streams through the whole program: wired with the configured caps, and ended by the
// shutdown at once, so that run returns long before SHUTDOWN_TIMEOUT although every stream
// would otherwise last an hour.
func TestStreamsWiredAndEndedByShutdown(t *testing.T) {
	srv := redistest.Start(t)
	in := start(t, redisEnv(srv, "STREAM_MAX_PER_CLIENT", "2", "SHUTDOWN_DRAIN_DELAY", "300ms", "SHUTDOWN_TIMEOUT", "8s"))
	resp, err := http.Post(in.base+"/create/site/live?initializer=7", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /create: %d", resp.StatusCode)
	}

	ended := make(chan string, 2)
	for range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", in.base+"/stream/site/live", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /stream: %d", resp.StatusCode)
		}
		first := make(chan string, 1)
		go func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			var last string
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					last = sc.Text()
					select {
					case first <- last:
					default:
					}
				}
			}
			ended <- last
		}()
		select {
		case got := <-first:
			if got != `data: {"value":7}` {
				t.Fatalf("first event %q, want the value 7", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no first value within 5s")
		}
	}
	if status, body, _ := get(t, in.base+"/stream/site/live"); status != http.StatusTooManyRequests {
		t.Fatalf("a third stream with STREAM_MAX_PER_CLIENT=2: %d %q, want 429", status, body)
	}

	begin := time.Now()
	if err := in.stop(t); err != nil {
		t.Fatalf("run() = %v, want nil", err)
	}
	// The drain delay, and no more than a moment after it.
	if took := time.Since(begin); took > 3*time.Second {
		t.Fatalf("shutdown took %s with two streams open, want about the drain delay (300ms)", took)
	}
	for range 2 {
		select {
		case <-ended:
		case <-time.After(2 * time.Second):
			t.Fatal("a stream was still open after run returned")
		}
	}
}
