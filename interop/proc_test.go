package interop

import (
	"os/exec"
	"syscall"
)

// processGroup starts a server in its own process group, so that stopping
// it also stops the workers it forked (Apache's children, node's helpers).
func processGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
