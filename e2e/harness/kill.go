package harness

import (
	"fmt"
	"syscall"
	"time"
)

// Kill ends the process and its group at once with SIGKILL, the way a
// crash or the kernel's OOM killer would: nothing in the process gets to
// clean up, flush or say goodbye. It waits until the process has exited;
// the cleanup's Stop is then a no-op.
func (p *Process) Kill() error {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	if p.Exited() {
		return fmt.Errorf("%s: %w", p.Name, ErrProcessExited)
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("%s: kill: %w", p.Name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(ReadyTimeout):
		return fmt.Errorf("%w: %s still running %v after SIGKILL", ErrNotReady, p.Name, ReadyTimeout)
	}
}
