//go:build unix

package synthetic

import (
	"syscall"
	"time"
)

// cpuTime is the process's user and system CPU time. Benchmarks report rates
// per CPU second too, because wall-clock rates on a shared machine measure
// the neighbours as much as the code.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
