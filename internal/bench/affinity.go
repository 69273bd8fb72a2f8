package bench

import (
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// startPinned starts cmd on the given CPUs (all, when none are given). A
// child inherits the CPU affinity of the thread that forks it, and every
// thread it makes inherits its creator's: so this goroutine's thread is
// pinned for the moment of the fork and then set back, and the node runs
// on those CPUs from its first instruction, as under taskset.
func startPinned(cmd *exec.Cmd, cpus []int) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("read CPU affinity: %w", err)
	}
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPUs %v: %w", cpus, err)
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil && err == nil {
		// The harness would share the node's CPUs: not a fair run.
		err = fmt.Errorf("restore CPU affinity: %w", rerr)
	}
	return err
}
