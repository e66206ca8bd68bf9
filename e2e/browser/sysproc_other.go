//go:build !linux

package browser

import (
	"os/exec"
	"time"
)

// Elsewhere than Linux the browser is ended alone; these tests run on Linux machines.

func setProcessGroup(*exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func waitProcessGroupGone(*exec.Cmd, time.Duration) error { return nil }
