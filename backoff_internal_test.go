package concord

import (
	"testing"
	"time"
)

// TestDecorrelatedJitter: each wait lies in [base, 3 × the previous], at
// most the limit, and each one starts again from base.
func TestDecorrelatedJitter(t *testing.T) {
	const base, limit = 10 * time.Millisecond, 500 * time.Millisecond
	tests := []struct {
		name string
		rand float64
		want []time.Duration
	}{
		{"lowest draws", 0, []time.Duration{base, base, base}},
		{"highest draws", 1, []time.Duration{30 * time.Millisecond, 90 * time.Millisecond, 270 * time.Millisecond, limit, limit}},
		{"middle draws", 0.5, []time.Duration{20 * time.Millisecond, 35 * time.Millisecond, 57500 * time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for round := range 2 {
				d := &decorrelatedJitter{base: base, limit: limit, rand: func() float64 { return tt.rand }}
				for i, want := range tt.want {
					if got, ok := d.Next(i); got != want || !ok {
						t.Fatalf("round %d: wait %d = %v, %v; want %v", round, i, got, ok, want)
					}
				}
			}
		})
	}
}
