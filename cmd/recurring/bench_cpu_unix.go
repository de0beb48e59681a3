//go:build unix && !nodev

package main

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) the whole process has used so far:
// the embedded server, the worker and the stores all run in it. ok is false when the
// platform cannot say.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
