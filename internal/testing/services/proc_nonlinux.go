//go:build unix && !linux

package services

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts the process in a group of its own, so that stopping it also ends anything
// it spawned.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
