package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
	"github.com/hitcounter/hitcounter/internal/waitfor"
)

// Backups (docs/backups.md) through the real stack: the backup service's snapshots; a restore
// after `docker compose down -v` that gives back every counter, its admin key, its history and
// the index as of the backup; rotation; the health check; and that no incomplete file ever
// carries a backup's name.

var (
	backupNameRe  = regexp.MustCompile(`^hitcounter-\d{8}T\d{6}Z\.rdb$`)
	backupWroteRe = regexp.MustCompile(`backup: wrote /backups/(hitcounter-\d{8}T\d{6}Z\.rdb): (\d+) bytes, (\d+) keys`)
)

// backupFiles lists the backups volume: the backups, oldest first (their names sort by time),
// and whatever else is there.
func (s *stack) backupFiles() (backups, other []string) {
	s.t.Helper()
	for _, f := range strings.Fields(s.MustCompose(30*time.Second, "exec", "-T", "backup", "ls", "-A", "/backups")) {
		if backupNameRe.MatchString(f) {
			backups = append(backups, f)
		} else {
			other = append(other, f)
		}
	}
	slices.Sort(backups)
	return backups, other
}

// backupsWritten lists the backups the service's log says it wrote, in order.
func (s *stack) backupsWritten() []string {
	s.t.Helper()
	var names []string
	for _, m := range backupWroteRe.FindAllStringSubmatch(s.MustCompose(30*time.Second, "logs", "--no-color", "backup"), -1) {
		names = append(names, m[1])
	}
	return names
}

// backupNow takes a backup in the running backup container (what an operator does before an
// upgrade) and returns its name, size and number of keys.
func (s *stack) backupNow() (name string, bytes, keys int) {
	s.t.Helper()
	out := s.MustCompose(2*time.Minute, "exec", "-T", "backup", "hitcounter-backup", "once")
	m := backupWroteRe.FindStringSubmatch(out)
	if m == nil {
		s.t.Fatalf("hitcounter-backup once said %q, want the line of a backup written", out)
	}
	bytes, _ = strconv.Atoi(m[2])
	keys, _ = strconv.Atoi(m[3])
	return m[1], bytes, keys
}

// counterDay is one day of a counter's history, as GET /stats answers it.
type counterDay struct {
	Date             string
	Hits, Uniques    int64
	UnidentifiedHits int64 `json:"unidentified_hits"`
}

// counterSnapshot is everything a client and the operator can see of the named counters:
// the export (every counter in the index, with its value, creation time and admin key hash),
// and each counter's /info and daily history.
type counterSnapshot struct {
	export []string                         // the export's lines, sorted
	info   map[string]string                // name: status and body of GET /info
	days   map[string]map[string]counterDay // name: date: that day of GET /stats
}

func (s *stack) counterSnapshot(ns string, names []string) counterSnapshot {
	s.t.Helper()
	out := s.MustCompose(2*time.Minute, "exec", "-T", "web", "/hitcounter", "export")
	snap := counterSnapshot{export: strings.Split(strings.TrimSpace(out), "\n"), info: map[string]string{}, days: map[string]map[string]counterDay{}}
	slices.Sort(snap.export)
	for _, name := range names {
		a := s.call("GET", "/info/"+ns+"/"+name, nil, nil)
		if a.err != nil || (a.status != 200 && a.status != 404) {
			s.t.Fatalf("GET /info/%s/%s = %s", ns, name, a)
		}
		snap.info[name] = fmt.Sprintf("%d %s", a.status, strings.TrimSpace(string(a.body)))
		if a.status != 200 {
			continue
		}
		var st struct{ Days []counterDay }
		s.mustCall(200, "GET", "/stats/"+ns+"/"+name+"?days=7", nil, nil, &st)
		snap.days[name] = map[string]counterDay{}
		for _, d := range st.Days {
			snap.days[name][d.Date] = d
		}
	}
	return snap
}

// differences lists how after differs from before. Days are compared where both have them, so
// that a run across midnight (UTC), which shifts the window by a day, still compares the
// backup's day.
func (before counterSnapshot) differences(after counterSnapshot, backupDay string) []string {
	var diffs []string
	if !slices.Equal(before.export, after.export) {
		diffs = append(diffs, fmt.Sprintf("export:\n  before %q\n  after  %q", before.export, after.export))
	}
	for name, info := range before.info {
		if after.info[name] != info {
			diffs = append(diffs, fmt.Sprintf("%s /info: before %s, after %s", name, info, after.info[name]))
		}
	}
	for name, days := range before.days {
		if _, ok := after.days[name][backupDay]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s /stats: no %s after", name, backupDay))
		}
		for date, d := range days {
			if a, ok := after.days[name][date]; ok && a != d {
				diffs = append(diffs, fmt.Sprintf("%s /stats %s: before %+v, after %+v", name, date, d, a))
			}
		}
	}
	slices.Sort(diffs)
	return diffs
}

// TestBackupRestore: counters with admin keys, changes by their owners and today's history
// (hits, three unique visitors from three source addresses, a counter made by a hit); a backup;
// later changes; `docker compose down -v`; the documented restore from the backup file; and
// everything is as it was at the backup, the later changes gone.
func TestBackupRestore(t *testing.T) {
	const ns = "backup-e2e"
	s := newStack(t)
	s.Env = append(s.Env, "RATE_LIMIT_CREATES=100", "RATE_LIMIT_CREATES_PER_DAY=100")
	s.up()

	owned := []string{"alpha", "bravo", "charlie", "delta"}
	adminKeys := map[string]string{}
	for i, name := range owned {
		var c struct {
			AdminKey string `json:"admin_key"`
		}
		s.mustCall(201, "POST", fmt.Sprintf("/create/%s/%s?initializer=%d", ns, name, 100*(i+1)), nil, nil, &c)
		adminKeys[name] = c.AdminKey
	}
	src := s.sources(3)
	hit := func(client int, name string) {
		t.Helper()
		resp, err := src.client(client, false).Get(src.url("/hit/" + ns + "/" + name))
		if err != nil {
			t.Fatalf("hit on %s from %v: %v", name, src.addrs[client], err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("hit on %s from %v: %d", name, src.addrs[client], resp.StatusCode)
		}
	}
	for c := range 3 {
		hit(c, "alpha")
	}
	hit(0, "bravo")
	hit(0, "bravo")
	hit(1, "charlie")
	s.mustCall(200, "POST", "/set/"+ns+"/bravo?value=500", bearerHeader(adminKeys["bravo"]), nil, nil)
	s.mustCall(200, "POST", "/update/"+ns+"/charlie?value=-7", bearerHeader(adminKeys["charlie"]), nil, nil)
	// A counter made by its first hit: no admin key.
	s.mustCall(200, "GET", "/hit/"+ns+"/echo", nil, nil, nil)
	var visits int64
	for range 3 {
		visits = s.mustVisit().count
	}

	// foxtrot exists only after the backup.
	names := append(slices.Clone(owned), "echo", "foxtrot")
	before := s.counterSnapshot(ns, names)
	backupDay := time.Now().UTC().Format("2006-01-02")
	if d := before.days["alpha"][backupDay]; d.Hits != 3 || d.Uniques != 3 {
		t.Fatalf("alpha's %s before the backup: %+v, want 3 hits from 3 unique visitors", backupDay, d)
	}
	begin := time.Now()
	name, size, keys := s.backupNow()
	took := time.Since(begin)

	// Later changes, which the restore must undo.
	hit(0, "alpha")
	hit(2, "alpha")
	s.mustCall(200, "POST", "/delete/"+ns+"/bravo", bearerHeader(adminKeys["bravo"]), nil, nil)
	s.mustCall(200, "POST", "/set/"+ns+"/charlie?value=1", bearerHeader(adminKeys["charlie"]), nil, nil)
	s.mustCall(201, "POST", "/create/"+ns+"/foxtrot", nil, nil, nil)
	s.mustVisit()
	s.mustVisit()
	if len(before.differences(s.counterSnapshot(ns, names), backupDay)) == 0 {
		t.Fatal("the changes after the backup changed nothing the test can see")
	}

	// The backup leaves the machine, as docs/backups.md says it must: `down -v` deletes the
	// backups volume with the rest.
	file := filepath.Join(t.TempDir(), name)
	s.MustCompose(time.Minute, "cp", "backup:/backups/"+name, file)
	data, err := os.ReadFile(file)
	if err != nil || len(data) != size {
		t.Fatalf("the copied backup: %d bytes, %v; the service wrote %d", len(data), err, size)
	}

	// While Redis runs, a restore refuses and changes nothing.
	out, err := s.ComposeInput(2*time.Minute, data, "run", "--rm", "-T", "restore", "-")
	if err == nil || !strings.Contains(out, "Redis answers") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("restore while Redis runs: %v\n%s\nwant a refusal", err, out)
	}
	if got := s.getValue(ns, "charlie"); got != 1 {
		t.Fatalf("after the refused restore charlie = %d, want 1 (unchanged)", got)
	}

	s.MustCompose(3*time.Minute, "down", "-v")
	left := strings.TrimSpace(s.mustRunHost(30*time.Second, "docker", "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+s.Name))
	if left != "" {
		t.Fatalf("after down -v these volumes are left: %s", left)
	}

	// The restore, as documented: from the file, before the stack starts.
	begin = time.Now()
	out, err = s.ComposeInput(5*time.Minute, data, "run", "--rm", "-T", "restore", "-")
	if err != nil || !strings.Contains(out, "restored standard input") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	restoreTook := time.Since(begin)
	s.up()

	after := s.counterSnapshot(ns, names)
	if diffs := before.differences(after, backupDay); len(diffs) > 0 {
		t.Fatalf("after the restore, not as at the backup:\n%s", strings.Join(diffs, "\n"))
	}
	if !strings.HasPrefix(after.info["bravo"], "200 ") || !strings.HasPrefix(after.info["foxtrot"], "404 ") {
		t.Fatalf("bravo (deleted after the backup) %q, foxtrot (created after it) %q; want 200 and 404", after.info["bravo"], after.info["foxtrot"])
	}
	// The owners' keys still open their counters (Redis kept their hashes); a wrong one does not.
	for name, key := range adminKeys {
		want := s.getValue(ns, name)
		var v struct{ Value int64 }
		s.mustCall(200, "POST", "/update/"+ns+"/"+name+"?value=0", bearerHeader(key), nil, &v)
		if v.Value != want {
			t.Errorf("update +0 on %s with its owner's key = %d, want %d", name, v.Value, want)
		}
	}
	s.wantError(403, "forbidden", "POST", "/update/"+ns+"/alpha?value=0", bearerHeader("not-the-key-"+adminKeys["alpha"][:12]), nil)
	// The visit counter goes on from the backup's count.
	if got := s.mustVisit().count; got != visits+1 {
		t.Errorf("GET / after the restore = %d, want %d (the backup's %d, plus this one)", got, visits+1, visits)
	}
	fmt.Printf("e2e: backup of %d keys: %d bytes, %.1f s (hitcounter-backup once); restore from it: %.1f s\n",
		keys, size, took.Seconds(), restoreTook.Seconds())
}

// TestBackupRotation: the scheduled backups at a short interval, more of them than
// BACKUP_KEEP, and only the newest kept; each one checks; a backup that fails (Redis stopped)
// shows in the health check until one succeeds; and a backup that fails half-way through its
// file (a full disk) leaves nothing behind, under a backup's name or any other.
func TestBackupRotation(t *testing.T) {
	const keep = 2
	s := newStack(t)
	s.Env = append(s.Env, "BACKUP_INTERVAL=1s", "BACKUP_KEEP="+strconv.Itoa(keep),
		"RATE_LIMIT_CREATES=0", "RATE_LIMIT_CREATES_PER_DAY=0", "RATE_LIMIT_HITS=0")
	s.up()

	// Some data: 150 counters, each made by a hit, so that a backup is several pages long.
	for i := range 150 {
		s.mustCall(200, "GET", fmt.Sprintf("/hit/rotation-e2e/counter-%03d", i), nil, nil, nil)
	}

	// More backups than BACKUP_KEEP, and the volume holds the newest of them. A listing taken
	// between a backup's rename and its rotation holds one more: the wait passes over it.
	var written, kept, other []string
	waitfor.Until(t, 3*time.Minute, func() error {
		written = s.backupsWritten()
		kept, other = s.backupFiles()
		if len(written) < keep+3 {
			return fmt.Errorf("%d backups written so far, want at least %d", len(written), keep+3)
		}
		if want := written[len(written)-keep:]; !slices.Equal(kept, want) {
			return fmt.Errorf("the volume holds %v, want the newest %d of %v", kept, keep, written)
		}
		return nil
	})
	// Besides the backups, at most the hidden temporary file of the backup under way.
	for _, f := range other {
		if !strings.HasPrefix(f, ".partial-") {
			t.Errorf("the backups volume holds %q", f)
		}
	}
	for _, f := range kept {
		if out, err := s.Compose(time.Minute, "exec", "-T", "backup", "hitcounter-backup", "verify", "/backups/"+f); err != nil {
			t.Errorf("backup %s does not verify: %v\n%s", f, err, out)
		}
	}
	logs := s.MustCompose(30*time.Second, "logs", "--no-color", "backup")
	var size int
	for _, m := range backupWroteRe.FindAllStringSubmatch(logs, -1) {
		size, _ = strconv.Atoi(m[2])
	}
	s.waitHealthy("backup", 30*time.Second)

	// Redis stops: the backups fail, and the health check says so; Redis is back: the next
	// backup succeeds and the service is healthy again.
	// A backup fails after three tries of the fetch, 2 s and 4 s apart; on this engine (Docker
	// 20.10) each try can spend 20 s in a look-up of the stopped container's name, which
	// Docker's DNS does not answer on an internal network: over a minute in all. 3 min bounds
	// it with room for a busy machine.
	s.MustCompose(time.Minute, "stop", "redis")
	waitfor.Until(t, 3*time.Minute, func() error {
		c := s.inspectContainer(s.Containers("backup")[0])
		if c.State.Health == nil || c.State.Health.Status != "unhealthy" {
			return fmt.Errorf("backup's health is %+v with Redis stopped, want unhealthy", c.State.Health)
		}
		return nil
	})
	if logs := s.MustCompose(30*time.Second, "logs", "--no-color", "backup"); !strings.Contains(logs, "backup: FAILED: fetching the snapshot") {
		t.Errorf("no failed backup in the log:\n%s", logs)
	}
	failedWith := len(s.backupsWritten())
	s.MustCompose(time.Minute, "start", "redis")
	s.waitHealthy("redis", time.Minute)
	s.waitHealthy("backup", time.Minute)
	if n := len(s.backupsWritten()); n <= failedWith {
		t.Errorf("healthy again with %d backups written, as many as when it failed", n)
	}

	// A full disk half-way through the file: the backups directory is a tmpfs of 4 KiB, smaller
	// than a snapshot. The backup fails, and leaves no file, under a backup's name or any other.
	if size <= 8192 {
		t.Fatalf("a snapshot is %d bytes, want more than twice the 4 KiB of the full disk", size)
	}
	full := s.Name + "-full"
	s.mustRunHost(30*time.Second, "docker", "volume", "create", "--driver", "local",
		"--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=4k,uid=999,mode=0700", full)
	t.Cleanup(func() { _, _ = testkit.Run(time.Minute, nil, "docker", "volume", "rm", "-f", full) })
	// A tmpfs volume is empty each time it is mounted: the listing runs in the same container.
	out, _ := s.Compose(2*time.Minute, "run", "--rm", "--no-deps", "-T", "-v", full+":/full", "-e", "BACKUP_DIR=/full",
		"--entrypoint", "sh", "backup", "-c", `hitcounter-backup once; echo "status $?"; echo listing; ls -A /full; echo end`)
	if !strings.Contains(out, "status 1") || !strings.Contains(out, "FAILED") {
		t.Fatalf("a backup onto a full disk: %q, want it to fail", out)
	}
	_, listing, _ := strings.Cut(out, "listing\n")
	if listing, _, _ = strings.Cut(listing, "end"); strings.TrimSpace(listing) != "" {
		t.Errorf("after the failed backup the directory holds %q, want nothing", listing)
	}
	if !strings.Contains(out, "No space left on device") {
		t.Logf("the failed backup said %q (not \"No space left on device\")", out)
	}
}
