//go:build unix

package backupcodes

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used, user and system, so
// benchmarks can report cost per operation that does not depend on how
// busy the machine is.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
