package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Names of the stack-level rows the report refers to.
const (
	rowStack1          = "lb -> 1 web replica"
	rowStack1Direct    = "lb address -> 1 web replica"
	rowStack3          = "lb -> 3 web replicas"
	rowStack3Direct    = "lb address -> 3 web replicas"
	stackCounterScript = `REDISCLI_AUTH="$(cat /run/secrets/redis_app_password)" redis-cli --user hitcounter INCRBY hitcounter:visits 0`
)

type latencyResult struct {
	Rate                int
	Requests, OK        int
	Delta               int64
	P50, P99, P999, Max float64 // ms
}

type cpuShare struct {
	Name  string
	Share float64
}

// compose runs docker compose on the harness' own project, publishing on loopback only. wrk
// and vegeta are one client, arriving from one address (docker-proxy's): the per-client read
// limit (GET /) and the balancer's per-source limits, which would refuse them as a flood, are
// lifted; every other setting is as shipped.
func (b *bench) compose(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	env := []string{"HTTP_BIND=127.0.0.1", "HTTP_PORT=0", "RATE_LIMIT_READS=0",
		"LB_CONN_PER_SOURCE=0", "LB_CONN_RATE_PER_SOURCE=0", "LB_REQ_RATE_PER_SOURCE=0"}
	all := append([]string{"compose", "-p", b.project(), "-f", "compose.yaml"}, args...)
	return output(ctx, timeout, b.root, env, "docker", all...)
}

func (b *bench) project() string { return fmt.Sprintf("hcbench-%d", os.Getpid()) }

// composeDown removes this run's project (and only it); it runs even when ctx has ended.
func (b *bench) composeDown() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := b.compose(ctx, 2*time.Minute, "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
		logf("clean-up of %s: %v", b.project(), err)
	}
}

func (b *bench) stackCounter(ctx context.Context) (int64, error) {
	out, err := b.compose(ctx, 30*time.Second, "exec", "-T", "redis", "sh", "-c", stackCounterScript)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(out), 10, 64)
}

func (b *bench) imageMB(ctx context.Context, image string) (float64, error) {
	out, err := output(ctx, 30*time.Second, "", nil, "docker", "image", "inspect", "-f", "{{.Size}}", image)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	return v / 1e6, err
}

func (b *bench) stackLevel(ctx context.Context) error {
	logf("stack: building the images (project %s)", b.project())
	defer b.composeDown()
	if _, err := b.compose(ctx, 20*time.Minute, "build", "-q"); err != nil {
		return err
	}
	for _, img := range []string{"web", "redis", "lb"} {
		mb, err := b.imageMB(ctx, "hitcounter/"+img+":local")
		if err != nil {
			return err
		}
		b.Metrics[img+"_image_mb"] = mb
	}
	_, _ = b.compose(ctx, 2*time.Minute, "down", "-v", "--remove-orphans", "-t", "5")
	begin := time.Now()
	if _, err := b.compose(ctx, 3*time.Minute, "up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
		return err
	}
	b.Metrics["compose_up_seconds"] = time.Since(begin).Seconds()
	port, err := b.compose(ctx, 30*time.Second, "port", "lb", "8080")
	if err != nil {
		return err
	}
	lb := "http://" + strings.TrimSpace(port) + "/"
	if err := waitHTTP(ctx, lb+"healthz"); err != nil {
		return err
	}

	webIDs, err := b.compose(ctx, 30*time.Second, "ps", "-q", "web")
	if err != nil {
		return err
	}
	pidOut, err := output(ctx, 30*time.Second, "", nil, "docker", "inspect", "-f", "{{.State.Pid}}", strings.TrimSpace(webIDs))
	if err != nil {
		return err
	}
	webPID, err := strconv.Atoi(strings.TrimSpace(pidOut))
	if err != nil {
		return fmt.Errorf("web pid %q: %w", pidOut, err)
	}
	if b.Metrics["web_rss_idle_mb"], err = procStatusMB(webPID, "VmRSS"); err != nil {
		return err
	}
	_, ticksBefore, _ := procStat(strconv.Itoa(webPID))
	r1, err := b.wrkRun(ctx, "stack", rowStack1, lb, 64, b.stackCounter)
	if err != nil {
		return err
	}
	_, ticksAfter, _ := procStat(strconv.Itoa(webPID))
	if ok := countOK(r1.Check); ok > 0 {
		b.Metrics["web_cpu_ms_per_1000"] = float64(ticksAfter-ticksBefore) / clockTicks(ctx) / float64(ok) * 1000 * 1000
	}
	if _, err := b.wrkRun(ctx, "stack", rowStack1, lb, 256, b.stackCounter); err != nil {
		return err
	}
	if b.Metrics["web_rss_load_mb"], err = procStatusMB(webPID, "VmHWM"); err != nil {
		return err
	}

	// The published port goes through Docker's userland proxy (docker-proxy) for loopback
	// clients; the load balancer's own address on the frontend network does not.
	lbID, err := b.compose(ctx, 30*time.Second, "ps", "-q", "lb")
	if err != nil {
		return err
	}
	ips, err := output(ctx, 30*time.Second, "", nil,
		"docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", strings.TrimSpace(lbID))
	if err != nil {
		return fmt.Errorf("lb address: %q %w", ips, err)
	}
	if len(strings.Fields(ips)) == 0 {
		return fmt.Errorf("lb address: %q", ips)
	}
	lbDirect := "http://" + strings.Fields(ips)[0] + ":8080/"
	if err := waitHTTP(ctx, lbDirect+"healthz"); err != nil {
		return err
	}
	if _, err := b.wrkRun(ctx, "stack", rowStack1Direct, lbDirect, 64, b.stackCounter); err != nil {
		return err
	}

	if _, err := b.compose(ctx, 3*time.Minute, "up", "-d", "--wait", "--wait-timeout", "120", "--no-recreate", "--scale", "web=3"); err != nil {
		return err
	}
	// The load balancer picks new replicas up within about a second.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(3 * time.Second):
	}
	before := takeCPUSnapshot()
	if _, err := b.wrkRun(ctx, "stack", rowStack3, lb, 64, b.stackCounter); err != nil {
		return err
	}
	b.CPUShare = cpuShares(before, takeCPUSnapshot())
	for _, c := range levels {
		if _, err := b.wrkRun(ctx, "stack", rowStack3Direct, lbDirect, c, b.stackCounter); err != nil {
			return err
		}
	}

	peak := 0.0
	for _, r := range b.Rows {
		if r.Level == "stack" && r.Name == rowStack3 {
			peak = max(peak, r.RPS)
		}
	}
	rate := int(peak / 2)
	if rate < 1 {
		return fmt.Errorf("no 3-replica peak to derive the open-loop rate from")
	}
	return b.openLoop(ctx, lb, rate)
}

func (b *bench) openLoop(ctx context.Context, lb string, rate int) error {
	logf("latency at a fixed %d req/s (half the 3-replica peak on the published port), %s, open loop", rate, b.VegetaDuration)
	before, err := b.stackCounter(ctx)
	if err != nil {
		return err
	}
	results := filepath.Join(b.work, "attack.bin")
	f, err := os.Create(results)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, b.VegetaDuration+time.Minute)
	defer cancel()
	attack := exec.CommandContext(actx, b.vegeta, "attack", "-rate="+strconv.Itoa(rate), "-duration="+b.VegetaDuration.String(),
		"-timeout=5s", "-max-workers=2000")
	attack.Stdin = strings.NewReader("GET " + lb + "\n")
	attack.Stdout = f
	var stderr strings.Builder
	attack.Stderr = &stderr
	err = attack.Run()
	f.Close()
	if err != nil {
		return fmt.Errorf("vegeta attack: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	after, err := settled(ctx, b.stackCounter)
	if err != nil {
		return err
	}
	enc := exec.CommandContext(actx, b.vegeta, "encode", "-to", "csv", results)
	out, err := enc.Output()
	if err != nil {
		return fmt.Errorf("vegeta encode: %w", err)
	}
	l, err := parseVegetaCSV(strings.NewReader(string(out)))
	if err != nil {
		return err
	}
	l.Rate, l.Delta = rate, after-before
	b.Latency = &l
	logf("vegeta: %d requests, %d 2xx, counter +%d, p50 %.2f ms p99 %.2f ms p99.9 %.2f ms", l.Requests, l.OK, l.Delta, l.P50, l.P99, l.P999)
	if l.Delta < int64(l.OK) || l.Delta > int64(l.Requests) {
		b.fail("open loop: %d 2xx of %d requests, counter +%d", l.OK, l.Requests, l.Delta)
	}
	return nil
}

// parseVegetaCSV reads vegeta's CSV encoding: timestamp, status code, latency (ns), ...
func parseVegetaCSV(r io.Reader) (latencyResult, error) {
	var l latencyResult
	rd := csv.NewReader(r)
	rd.FieldsPerRecord = -1
	var lat []int64
	for i := 0; i < 100_000_000; i++ {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return l, fmt.Errorf("vegeta csv: %w", err)
		}
		if len(rec) < 3 {
			return l, fmt.Errorf("vegeta csv: short record %q", rec)
		}
		ns, err := strconv.ParseInt(rec[2], 10, 64)
		if err != nil {
			return l, fmt.Errorf("vegeta csv: latency %q", rec[2])
		}
		lat = append(lat, ns)
		if rec[1] == "200" {
			l.OK++
		}
	}
	if len(lat) == 0 {
		return l, fmt.Errorf("vegeta sent no requests")
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat)-1)))]) / 1e6
	}
	l.Requests = len(lat)
	l.P50, l.P99, l.P999, l.Max = pct(.5), pct(.99), pct(.999), float64(lat[len(lat)-1])/1e6
	return l, nil
}

// cpuShares splits the machine's CPU time between two snapshots by process name, plus the
// kernel's softirq time and idle time.
func cpuShares(before, after cpuSnapshot) []cpuShare {
	if len(before.stat) < 7 || len(after.stat) < 7 {
		return nil
	}
	var total int64
	for i := range after.stat {
		if i < len(before.stat) {
			total += after.stat[i] - before.stat[i]
		}
	}
	if total <= 0 {
		return nil
	}
	byComm := map[string]int64{}
	for pid, a := range after.procs {
		// By pid, not by name: a kernel worker's name changes with the work it does. A pid
		// reused between the two readings (fewer ticks than before) counts from zero.
		d := a.ticks
		if p, ok := before.procs[pid]; ok && p.ticks <= a.ticks {
			d -= p.ticks
		}
		if d > 0 {
			byComm[groupName(a.comm)] += d
		}
	}
	var shares []cpuShare
	for comm, t := range byComm {
		shares = append(shares, cpuShare{comm, float64(t) / float64(total)})
	}
	slices.SortFunc(shares, func(x, y cpuShare) int {
		if x.Share != y.Share {
			if x.Share > y.Share {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Name, y.Name)
	})
	if len(shares) > 10 {
		shares = shares[:10]
	}
	shares = append(shares,
		cpuShare{"kernel: softirq (network stack, Docker bridge)", float64(after.stat[6]-before.stat[6]) / float64(total)},
		cpuShare{"idle", float64(after.stat[3]-before.stat[3]) / float64(total)})
	return shares
}

// groupName puts the kernel's worker threads under one name.
func groupName(comm string) string {
	if strings.HasPrefix(comm, "kworker/") {
		return "kworker (kernel work queues: disk flushes, network)"
	}
	return comm
}

func clockTicks(ctx context.Context) float64 {
	out, err := output(ctx, 10*time.Second, "", nil, "getconf", "CLK_TCK")
	if err != nil {
		return 100
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil || v <= 0 {
		return 100
	}
	return v
}

// countOK reads the 2xx count from a row's check ("N 2xx, counter +M").
func countOK(check string) int64 {
	f := strings.Fields(check)
	if len(f) < 2 || f[1] != "2xx," {
		return 0
	}
	v, _ := strconv.ParseInt(f[0], 10, 64)
	return v
}
