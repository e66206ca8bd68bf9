package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// TestNamespaceOwnershipThroughStack: namespaces with an owner through the balancer, over two
// replicas and the stack's own Redis (its ACL): each replica lists the namespaces' counters at
// start, after which a claim works; an outsider cannot create in, list or export an owned
// namespace, whichever replica answers; the owner can.
func TestNamespaceOwnershipThroughStack(t *testing.T) {
	s := newStack(t)
	s.Env = append(s.Env, "RATE_LIMIT_CREATES=100", "RATE_LIMIT_CREATES_PER_DAY=100")
	s.up("--scale", "web=2")
	token := strings.TrimSpace(string(s.webSecret("operator_token")))
	operator := bearerHeader(token)

	// A counter made before any claim: its namespace is then the operator's to claim.
	s.mustCall(200, "GET", "/hit/busy-e2e/page", nil, nil, nil)

	// The claim waits for the replicas' start-up pass over the index (503 until then).
	var claimed struct {
		Namespace string
		AdminKey  string `json:"admin_key"`
	}
	waitfor.Until(t, 30*time.Second, func() error {
		a := s.call("POST", "/namespace/mine-e2e", nil, nil)
		switch {
		case a.status == http.StatusServiceUnavailable:
			return fmt.Errorf("claim: %s", a)
		case a.err != nil || a.status != http.StatusCreated:
			return waitfor.Stop(fmt.Errorf("claim: %s", a))
		}
		return json.Unmarshal(a.body, &claimed)
	})
	if claimed.Namespace != "mine-e2e" || len(claimed.AdminKey) != 43 {
		t.Fatalf("claim answered %+v", claimed)
	}
	owner := bearerHeader(claimed.AdminKey)
	s.wantError(409, "conflict", "POST", "/namespace/mine-e2e", nil, nil)
	s.wantError(403, "forbidden", "POST", "/namespace/busy-e2e", nil, nil)

	s.mustCall(201, "POST", "/create/mine-e2e/home?initializer=5", owner, nil, nil)
	s.mustCall(201, "POST", "/create/mine-e2e/docs?initializer=50", operator, nil, nil)
	// Every request four times, so that both replicas answer each (the balancer spreads them).
	for range 4 {
		s.wantError(401, "unauthorized", "POST", "/create/mine-e2e/intruder", nil, nil)
		s.wantError(403, "forbidden", "POST", "/create/mine-e2e/intruder", bearerHeader("not-the-key"), nil)
		s.wantError(404, "not_found", "GET", "/hit/mine-e2e/intruder", nil, nil)
		for _, path := range []string{"/namespace/mine-e2e", "/namespace/mine-e2e/export", "/namespace/busy-e2e"} {
			s.wantError(401, "unauthorized", "GET", path, nil, nil)
			s.wantError(403, "forbidden", "GET", path, bearerHeader("not-the-key"), nil)
		}
		s.mustCall(200, "GET", "/hit/mine-e2e/home", nil, nil, nil)
	}
	if got := s.getValue("mine-e2e", "home"); got != 9 {
		t.Fatalf("home after 4 public hits = %d, want 9", got)
	}

	var page struct {
		Total    int
		Counters []struct {
			Key   string
			Value int64
		}
	}
	s.mustCall(200, "GET", "/namespace/mine-e2e?sort=value", owner, nil, &page)
	if page.Total != 2 || len(page.Counters) != 2 || page.Counters[0].Key != "docs" || page.Counters[1].Value != 9 {
		t.Fatalf("the owner's listing = %+v", page)
	}
	a := s.mustCall(200, "GET", "/namespace/mine-e2e/export", owner, nil, nil)
	if lines := strings.Count(string(a.body), "\n"); lines != 2 || strings.Contains(string(a.body), "intruder") {
		t.Fatalf("the owner's export = %q", a.body)
	}
	// The operator claims the busy namespace; its counter made before is the new owner's.
	var busy struct {
		AdminKey string `json:"admin_key"`
	}
	s.mustCall(201, "POST", "/namespace/busy-e2e", operator, nil, &busy)
	s.mustCall(200, "GET", "/namespace/busy-e2e", bearerHeader(busy.AdminKey), nil, &page)
	if page.Total != 1 || page.Counters[0].Key != "page" {
		t.Fatalf("the listing of a namespace claimed with a counter = %+v", page)
	}
}
