package bench

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

// TestAllocationBudget holds concord to its allocations per call beyond
// hand-written net/http's, on the happy path, with and without a caller's
// deadline (one sooner than RetryPolicy.AttemptTimeout spares concord the
// attempt's own). Allocation counts are exact, unlike timings, so this is a
// test and not a benchmark: a change that adds an allocation to every call
// fails here. The budgets are what concord costs today; BENCHMARKS.md says
// what each allocation beyond net/http's pays for, and what stands in the
// way of the goal (at most 3 on a GET, 6 on a PUT).
func TestAllocationBudget(t *testing.T) {
	tests := []struct {
		name     string
		call     func(client, url string) (Call, func())
		deadline bool
		budget   float64
	}{
		{"GET", Get, false, 13},
		{"conditional PUT", Put, false, 22},
		{"GET under a deadline", Get, true, 4},
		{"conditional PUT under a deadline", Put, true, 14},
	}
	srv := NewHappyServer()
	defer srv.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 10*time.Second) // sooner than AttemptTimeout
				defer cancel()
			}
			base, concord := allocsPerCall(ctx, t, srv, tt.call, Baseline), allocsPerCall(ctx, t, srv, tt.call, "concord")
			extra := concord - base
			t.Logf("%s: concord %.0f, net/http %.0f: %.0f more (budget %.0f)", tt.name, concord, base, extra, tt.budget)
			if extra > tt.budget {
				t.Errorf("%s: concord makes %.0f allocations a call, net/http %.0f: %.0f more; want at most %.0f more", tt.name, concord, base, extra, tt.budget)
			}
		})
	}
}

func allocsPerCall(ctx context.Context, t *testing.T, srv *httptest.Server, newCall func(client, url string) (Call, func()), client string) float64 {
	call, done := newCall(client, srv.URL)
	defer done()
	for range 10 { // warm: connections, caches
		if err := call(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var failed error
	n := testing.AllocsPerRun(500, func() {
		if err := call(ctx); err != nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	return n
}
