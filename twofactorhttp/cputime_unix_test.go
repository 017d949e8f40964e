//go:build unix

package twofactorhttp_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used, so the benchmark can
// report it next to wall time on a busy machine.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
