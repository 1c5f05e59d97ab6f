package main

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/concord-go/concord"
)

// crowdRuns runs the contention scenario (writers clients, each making
// increments updates of one counter, default settings) runs times idle and
// runs times with a CPU hog spinning on one core, and prints each run:
// the conflict loop's default must end every run with no failed call and
// no lost update, and its slowest update says how much time budget it
// needs.
func crowdRuns(writers, increments, runs int) {
	fmt.Printf("## %d writers x %d increments of one counter, default conflict policy (MaxElapsed %v), %d runs idle and %d with a CPU hog\n\n",
		writers, increments, concord.DefaultConflictMaxElapsed, runs, runs)
	fmt.Println("| condition | run | failed calls | lost updates | requests per update | p50 | p99 | slowest update |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, loaded := range []bool{false, true} {
		underLoad(loaded, func() {
			for run := 1; run <= runs; run++ {
				r := runContention(nil, "concord, client per writer", writers, increments, concord.ConflictPolicy{})
				lost := r.succeeded - r.final
				fmt.Printf("| %s | %d | %d | %d | %.2f | %s | %s | %s |\n", conditions[loaded], run, r.failed, lost, r.perUpdate,
					pct(r.latencies, 50), pct(r.latencies, 99), r.latencies[len(r.latencies)-1].Round(time.Millisecond))
			}
		})
	}
	fmt.Println()
}

// conditions names the two conditions of the studies.
var conditions = map[bool]string{false: "idle", true: "CPU hog"}

// underLoad runs f, with one core kept busy by a spinning goroutine, as
// other work on a shared machine does, when loaded.
func underLoad(loaded bool, f func()) {
	var stop atomic.Bool
	if loaded {
		go func() {
			runtime.LockOSThread()
			for !stop.Load() {
			}
		}()
	}
	f()
	stop.Store(true)
}
