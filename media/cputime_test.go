//go:build linux

package media

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time used by the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// LoopCPU runs body in b.Loop on a locked thread and reports the thread's
// CPU time per op as cpu-ns/op: on a shared, loaded machine wall time
// grows with other processes, CPU time does not.
func LoopCPU(b *testing.B, body func(i int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start := threadCPU()
	n := 0
	for b.Loop() {
		body(n)
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(threadCPU()-start)/float64(n), "cpu-ns/op")
	}
}
