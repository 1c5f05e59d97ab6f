package concord_test

import (
	"testing"
	"time"

	"github.com/concord-go/concord"
)

// TestBackoffShapes: each of concord's Backoffs keeps its waits where its
// doc says, and never stops.
func TestBackoffShapes(t *testing.T) {
	const base, ceil = 10 * time.Millisecond, 500 * time.Millisecond
	tests := []struct {
		name   string
		b      concord.Backoff
		bounds func(n int, prev time.Duration) (lo, hi time.Duration)
	}{
		{"FullJitter", concord.FullJitter(base, ceil), func(n int, _ time.Duration) (time.Duration, time.Duration) {
			return 0, min(ceil, base<<n)
		}},
		{"DecorrelatedJitter", concord.DecorrelatedJitter(base, ceil), func(_ int, prev time.Duration) (time.Duration, time.Duration) {
			return base, min(ceil, 3*prev)
		}},
		{"Exponential ±50%", concord.Exponential(base, ceil, 0.5), func(n int, _ time.Duration) (time.Duration, time.Duration) {
			d := min(ceil, base<<n)
			return d / 2, d * 3 / 2
		}},
	}
	for _, tt := range tests {
		prev := base
		for n := range 12 {
			d, more := tt.b.Next(n)
			lo, hi := tt.bounds(n, prev)
			if !more || d < lo || d > hi {
				t.Errorf("%s.Next(%d) = %v, %v; want between %v and %v, and more", tt.name, n, d, more, lo, hi)
			}
			prev = max(d, base)
		}
	}
}
