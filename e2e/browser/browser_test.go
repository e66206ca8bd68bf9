package browser

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestCloseLeavesNoProcess closes a browser that has a page open, as the Cleanup of a test that
// failed half-way does, and wants the browser and every helper process it started (zygotes,
// renderer, GPU and network processes) gone when Close returns.
func TestCloseLeavesNoProcess(t *testing.T) {
	path, err := Find()
	if err != nil {
		if !MissingIsFailure() {
			t.Skipf("SKIPPED: %v; CI and HITCOUNTER_E2E=1 make this a failure", err)
		}
		t.Fatal(err)
	}
	b, err := Launch(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			b.Close()
		}
	}()
	if _, err := b.Open("data:text/html,<title>a renderer</title><p>left open", Desktop); err != nil {
		t.Fatal(err)
	}
	started := processTree(chromedp.FromContext(b.ctx).Browser.Process().Pid)
	// The browser, its zygotes and a renderer at least; fewer, and the check below proves little.
	if len(started) < 4 {
		t.Fatalf("the browser runs as %d processes, want at least 4: %v", len(started), started)
	}
	closed = true
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for pid, start := range started {
		if alive(pid, start) {
			t.Errorf("process %d of the browser still runs after Close", pid)
		}
	}
	t.Logf("%d processes, all gone after Close", len(started))
}

// processTree returns root and its descendants, each with its start time (field 22 of
// /proc/PID/stat), which tells a process from a later one given the same pid.
func processTree(root int) map[int]string {
	parent, start := map[int]int{}, map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(pid); len(f) > 19 {
			parent[pid], _ = strconv.Atoi(f[1])
			start[pid] = f[19]
		}
	}
	tree := map[int]string{root: start[root]}
	for grew := true; grew; {
		grew = false
		for pid, ppid := range parent {
			if _, in := tree[pid]; !in {
				if _, parentIn := tree[ppid]; parentIn {
					tree[pid], grew = start[pid], true
				}
			}
		}
	}
	return tree
}

// alive reports whether the process pid that started at start still runs (a zombie does not).
func alive(pid int, start string) bool {
	f := statFields(pid)
	return len(f) > 19 && f[19] == start && f[0] != "Z"
}

// statFields returns the fields of /proc/PID/stat after the command name: state, ppid, ...
func statFields(pid int) []string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

func TestMissingIsFailure(t *testing.T) {
	for _, c := range []struct {
		ci, e2e string
		want    bool
	}{{"", "", false}, {"true", "", true}, {"", "1", true}, {"", "0", false}} {
		t.Setenv("CI", c.ci)
		t.Setenv("HITCOUNTER_E2E", c.e2e)
		if got := MissingIsFailure(); got != c.want {
			t.Errorf("CI=%q HITCOUNTER_E2E=%q: MissingIsFailure() = %v, want %v", c.ci, c.e2e, got, c.want)
		}
	}
}

func TestFindHonoursHITCOUNTER_CHROMIUM(t *testing.T) {
	t.Setenv("HITCOUNTER_CHROMIUM", filepath.Join(t.TempDir(), "no-such-browser"))
	if p, err := Find(); err == nil {
		t.Errorf("Find() = %q with HITCOUNTER_CHROMIUM naming nothing; want an error", p)
	}
}
