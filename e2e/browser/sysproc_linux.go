package browser

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// setProcessGroup puts the browser in a process group of its own, so that Close can end its
// helper processes with it, and has the kernel kill it if the test process dies first (a test
// binary killed by go test's -timeout runs no Cleanup).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killProcessGroup kills the browser and every process of its group. The group's id is the
// browser's pid, which is ours to signal until Wait has reaped it; helpers stay in the group.
func killProcessGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// waitProcessGroupGone waits, at most within, until no process of the browser's group is left.
func waitProcessGroupGone(cmd *exec.Cmd, within time.Duration) error {
	deadline := time.Now().Add(within)
	interval := time.Millisecond
	for {
		err := syscall.Kill(-cmd.Process.Pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes of the browser's group %d still there %s after SIGKILL", cmd.Process.Pid, within)
		}
		time.Sleep(interval)
		interval = min(2*interval, 100*time.Millisecond)
	}
}
