package services

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts the process in a group of its own, so that stopping it also ends anything
// it spawned, and has the kernel kill it should its starter die without stopping it (a crash, a
// test binary killed at its timeout, a closed terminal): no orphan keeps a port.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
