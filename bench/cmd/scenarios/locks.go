package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// lockingClient is the contention scenario's client in lock mode.
const lockingClient = "concord, client per writer, WithLocks"

// lockCost compares the lock mode with optimistic writes on a server that
// supports both (concordtest with WebDAV locks and If-Match): runs runs of
// each per writer count, interleaved, each writer making increments
// updates of one counter. It reports lost and failed updates, requests per
// update, and the medians over runs of each run's p50 and p99.
func lockCost(writerCounts []int, increments, runs int) {
	fmt.Printf("## Lock mode against optimistic writes: N writers x %d increments, %d interleaved runs each\n\n", increments, runs)
	fmt.Println("| writers | client | lost or failed updates | requests per update | p50 per update (median of runs) | p99 per update (median of runs) |")
	fmt.Println("|---:|---|---:|---:|---:|---:|")
	clients := []string{"concord, client per writer", lockingClient}
	for _, n := range writerCounts {
		type agg struct {
			bad        int64
			perUpdate  []float64
			p50s, p99s []time.Duration
		}
		results := map[string]*agg{}
		for run := range runs {
			order := clients
			if run%2 == 1 {
				order = []string{clients[1], clients[0]}
			}
			for _, client := range order {
				r := runContention([]concordtest.Option{concordtest.Locks()}, client, n, increments, concord.ConflictPolicy{})
				a := results[client]
				if a == nil {
					a = &agg{}
					results[client] = a
				}
				a.bad += int64(n*increments) - r.final // failed calls and lost updates alike
				a.perUpdate = append(a.perUpdate, r.perUpdate)
				a.p50s = append(a.p50s, at(r.latencies, 50))
				a.p99s = append(a.p99s, at(r.latencies, 99))
			}
		}
		for _, client := range clients {
			a := results[client]
			fmt.Printf("| %d | %s | %d | %.2f | %v | %v |\n", n, client, a.bad, median(a.perUpdate),
				medianDuration(a.p50s).Round(100*time.Microsecond), medianDuration(a.p99s).Round(100*time.Microsecond))
		}
	}
	fmt.Println()
}

// at is the p-th percentile of sorted durations, 0 when there are none.
func at(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
