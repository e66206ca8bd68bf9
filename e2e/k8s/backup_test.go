//go:build k8s

package k8s

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The chart's backups (deploy/helm/hitcounter/README.md, "Backups and restore"): the CronJob
// run once by hand writes a checked backup into its claim; and the documented restore after
// everything but the backups is gone (the release and Redis's claim) gives back the count as
// of the backup.

var backupWroteRe = regexp.MustCompile(`backup: wrote /backups/(hitcounter-\d{8}T\d{6}Z\.rdb): (\d+) bytes, (\d+) keys`)

// runBackupJob runs the backup CronJob's job now (kubectl create job --from=cronjob/...) and
// returns the name of the backup it wrote and its log.
func runBackupJob(t *testing.T, job string) (name, logs string) {
	t.Helper()
	kubectl(t, "create", "job", job, "--from=cronjob/"+fullname()+"-backup")
	failed := false
	waitFor(t, "job "+job+" to end", 3*time.Minute, func() (bool, string) {
		st := kubectl(t, "get", "job", job, "-o", `jsonpath={.status.succeeded}/{.status.failed}/{.status.conditions[?(@.type=="Failed")].status}`)
		failed = strings.HasSuffix(st, "/True")
		return strings.HasPrefix(st, "1/") || failed, "succeeded/failed/Failed: " + st
	})
	logs = kubectl(t, "logs", "job/"+job)
	if failed {
		t.Fatalf("job %s failed:\n%s", job, logs)
	}
	m := backupWroteRe.FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("job %s succeeded without a backup in its log:\n%s", job, logs)
	}
	return m[1], logs
}

func testBackup(t *testing.T) {
	at := time.Now()
	name, logs := runBackupJob(t, "backup-now")
	t.Logf("the backup job wrote %s in %.1fs: %s", name, time.Since(at).Seconds(), strings.TrimSpace(logs))
	pod := kubectl(t, "get", "pod", "-l", "job-name=backup-now", "-o", "jsonpath={.items[0].metadata.name}")
	sc := kubectl(t, "get", "pod", pod, "-o", "jsonpath="+
		"{.spec.securityContext.runAsNonRoot} {.spec.securityContext.runAsUser} {.spec.securityContext.seccompProfile.type} "+
		"{.spec.automountServiceAccountToken} {.spec.containers[0].securityContext.readOnlyRootFilesystem} "+
		"{.spec.containers[0].securityContext.allowPrivilegeEscalation} {.spec.containers[0].securityContext.capabilities.drop}")
	if sc != `true 999 RuntimeDefault false true false ["ALL"]` {
		t.Errorf("backup pod security context: %s", sc)
	}
	// The file is in the claim, and checks: a pod that mounts the claim lists and verifies it.
	out := runBackupsPod(t, "backups-list", "ls -l /backups; hitcounter-backup verify /backups/"+name)
	t.Logf("the backups' claim:\n%s", strings.TrimSpace(out))
	if !strings.Contains(out, name+": OK") {
		t.Errorf("%s is not in the claim, or does not check:\n%s", name, out)
	}
	kubectl(t, "delete", "job", "backup-now", "--wait=false")
}

// runBackupsPod runs a one-shot pod (the Redis image, uid 999) with the backups' claim at
// /backups and returns its log.
func runBackupsPod(t *testing.T, name, script string) string {
	t.Helper()
	kubectlApply(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 999, runAsGroup: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: main
    image: hitcounter/redis:%s
    imagePullPolicy: Never
    command: [/bin/sh, -c, %q]
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
    volumeMounts: [{name: backups, mountPath: /backups, readOnly: true}, {name: tmp, mountPath: /tmp}]
  volumes:
  - {name: backups, persistentVolumeClaim: {claimName: %s-backups}}
  - {name: tmp, emptyDir: {medium: Memory, sizeLimit: 1Mi}}
`, name, tagA, script, fullname()))
	defer kubectl(t, "delete", "pod", name, "--wait=false", "--ignore-not-found")
	waitFor(t, "pod "+name+" to end", 90*time.Second, func() (bool, string) {
		phase := kubectl(t, "get", "pod", name, "-o", "jsonpath={.status.phase}")
		return phase == "Succeeded" || phase == "Failed", phase
	})
	return kubectl(t, "logs", name)
}

// testBackupRestore: a backup, later visits, then everything but the backups goes (helm
// uninstall, and Redis's claim, which a StatefulSet leaves behind), and an install with
// backup.restoreFrom gives back the count as of the backup. A restart of Redis's pod later does
// not restore again. The last step: it replaces the release.
func testBackupRestore(t *testing.T) {
	url := serviceURL(t)
	mustVisit(t, url, time.Minute)
	want := redisCount(t)
	name, _ := runBackupJob(t, "backup-before-restore")
	for range 3 {
		mustVisit(t, url, time.Minute)
	}
	if got := redisCount(t); got != want+3 {
		t.Fatalf("after 3 visits the counter is %d, want %d", got, want+3)
	}

	at := time.Now()
	helm(t, 3*time.Minute, "uninstall", release, "--wait", "--timeout", "2m")
	kubectl(t, "delete", "pvc", "data-"+fullname()+"-redis-0", "--timeout=90s")
	// The backups' claim outlives the release (helm.sh/resource-policy: keep).
	if phase := kubectl(t, "get", "pvc", fullname()+"-backups", "-o", "jsonpath={.status.phase}"); phase != "Bound" {
		t.Fatalf("the backups' claim after helm uninstall: %q, want it kept and Bound", phase)
	}
	args := append([]string{"install", release, chartDir, "--wait", "--timeout", "5m", "--set", "backup.restoreFrom=" + name}, installArgs(tagA)...)
	helm(t, 6*time.Minute, args...)
	waitConverged(t, 2, 3*time.Minute)
	restoreLog := kubectl(t, "logs", fullname()+"-redis-0", "-c", "restore")
	t.Logf("gone and restored from %s in %.1fs; the init container said:\n%s", name, time.Since(at).Seconds(), restoreLog)
	if !strings.Contains(restoreLog, "restored "+name) {
		t.Errorf("the restore init container did not restore %s:\n%s", name, restoreLog)
	}
	if got := redisCount(t); got != want {
		t.Fatalf("after the restore the counter is %d, want %d (as at the backup)", got, want)
	}
	if got := mustVisit(t, serviceURL(t), time.Minute); got != want+1 {
		t.Errorf("the next visit got %d, want %d", got, want+1)
	}

	// Redis's pod starts again on its data: the restore leaves it alone.
	uid := kubectl(t, "get", "pod", fullname()+"-redis-0", "-o", "jsonpath={.metadata.uid}")
	kubectl(t, "delete", "pod", fullname()+"-redis-0")
	waitFor(t, "a new Redis pod", 2*time.Minute, func() (bool, string) {
		now := kubectl(t, "get", "pod", fullname()+"-redis-0", "--ignore-not-found", "-o", "jsonpath={.metadata.uid}")
		return now != "" && now != uid, now
	})
	waitConverged(t, 2, 3*time.Minute)
	if log := kubectl(t, "logs", fullname()+"-redis-0", "-c", "restore"); !strings.Contains(log, "not restoring") {
		t.Errorf("on a restart with data, the restore init container said:\n%s", log)
	}
	if got := redisCount(t); got != want+1 {
		t.Errorf("after Redis's restart the counter is %d, want %d", got, want+1)
	}
}
