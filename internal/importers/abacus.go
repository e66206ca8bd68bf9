package importers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Instance is a live Abacus or CountAPI instance to read counters from.
type Instance struct {
	// Base is its URL, under which GET /get/{namespace}/{key} answers {"value":N}
	// (https://abacus.jasoncameron.dev; CountAPI's was https://api.countapi.xyz).
	Base string
	// Client makes the requests (nil: a client of its own).
	Client *http.Client
	// Concurrency is how many requests are in flight at once (1 to MaxConcurrency).
	Concurrency int
	// Timeout bounds each request.
	Timeout time.Duration
	// Progress, if set, is told how many counters are read, after each.
	Progress func(done, total int)
}

// MaxConcurrency bounds Instance.Concurrency: the instance is someone's service, with rate
// limits of its own.
const MaxConcurrency = 32

// maxAnswer bounds one answer of the instance: {"value":N} is a few dozen bytes.
const maxAnswer = 4 << 10

// Abacus reads the counters named in list, one "namespace/key" a line (blank lines and lines
// starting with # are skipped), from a live instance: every name is checked before the first
// request, and any counter that cannot be read (missing, an error, an answer that is not
// {"value":N}) fails the whole import with its line, so nothing is half imported. The names stay
// as they are: Abacus' naming rule is hitcounter's. Neither service tells when a counter was
// created, and there is no history.
func Abacus(ctx context.Context, list []byte, in Instance) (Parsed, error) {
	base, err := url.Parse(strings.TrimRight(in.Base, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return Parsed{}, counter.Errorf(counter.EINVALID, err, "abacus: --base-url must be an http or https URL (example: https://abacus.jasoncameron.dev)")
	}
	if in.Concurrency < 1 || in.Concurrency > MaxConcurrency {
		return Parsed{}, counter.Errorf(counter.EINVALID, nil, "abacus: concurrency %d: want 1 to %d", in.Concurrency, MaxConcurrency)
	}
	if in.Timeout <= 0 {
		return Parsed{}, counter.Errorf(counter.EINVALID, nil, "abacus: the request timeout must be positive")
	}
	client := in.Client
	if client == nil {
		client = &http.Client{Timeout: in.Timeout}
	}

	var p Parsed
	sc := bufio.NewScanner(bytes.NewReader(list))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		ns, key, _ := strings.Cut(s, "/")
		name, err := counter.ParseName(ns, key)
		if err != nil {
			return Parsed{}, &LineError{Line: line, Err: err}
		}
		p.Records = append(p.Records, Record{Name: name, Line: line})
	}
	if err := sc.Err(); err != nil {
		return Parsed{}, counter.Errorf(counter.EINVALID, err, "abacus: a line is too long for namespace/key")
	}
	if len(p.Records) == 0 {
		return Parsed{}, counter.Errorf(counter.EINVALID, errEmpty, "abacus: no namespace/key lines")
	}
	if _, err := check(p, time.Time{}); err != nil { // two lines of one counter, before any request
		return Parsed{}, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
		done     int
		next     = make(chan int)
	)
	for range min(in.Concurrency, len(p.Records)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := &p.Records[i]
				value, err := getValue(ctx, client, base, r.Name, in.Timeout)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = &LineError{Line: r.Line, Err: counter.Errorf(counter.EINVALID, err, "%s: %v", r.Name, err)}
					cancel()
				}
				r.Total = value
				done++
				if in.Progress != nil {
					in.Progress(done, len(p.Records))
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range p.Records {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return Parsed{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Parsed{}, err
	}
	return check(p, time.Time{}) // a negative value, which Abacus allows and an import does not
}

// getValue reads one counter's value from the instance.
func getValue(ctx context.Context, client *http.Client, base *url.URL, name counter.Name, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := base.JoinPath("get", name.Namespace, name.Key)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	switch {
	case err != nil:
		return 0, fmt.Errorf("GET %s: reading the answer: %w", u.Redacted(), err)
	case resp.StatusCode == http.StatusNotFound:
		return 0, fmt.Errorf("not found at %s", base.Redacted())
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Errorf("GET %s: %s (a rate limit? lower --concurrency)", u.Redacted(), resp.Status)
	case len(body) > maxAnswer:
		return 0, fmt.Errorf("GET %s: an answer over %d bytes is not {\"value\":N}", u.Redacted(), maxAnswer)
	}
	var a struct {
		Value *int64 `json:"value"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Value == nil {
		return 0, fmt.Errorf("GET %s: the answer is not {\"value\":N}", u.Redacted())
	}
	return *a.Value, nil
}
