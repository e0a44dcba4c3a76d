package services

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts the process in a group of its own, so that Stop also ends anything it
// spawned, and has the kernel kill the process itself should its starter die without stopping it
// (a crash, a test binary killed at its timeout). The kernel's signal reaches that process only:
// what it spawned (the host an npm launcher starts, say) outlives a starter that dies unstopped.
// Nothing here locks an OS thread, so the signal, which is tied to the forking thread, fires only
// when the starter itself goes.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
