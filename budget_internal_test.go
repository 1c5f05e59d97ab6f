package concord

import "testing"

func TestRetryBudgetBounds(t *testing.T) {
	tests := []struct {
		max, ratio float64
		ok         bool
	}{
		{1, 0.5, true}, {1, 1, true}, {2, 2, true}, {0.99, 0.5, false}, {2, 2.01, false}, {2, 0, false},
	}
	for _, tt := range tests {
		if _, err := NewRetryBudget(tt.max, tt.ratio); (err == nil) != tt.ok {
			t.Errorf("NewRetryBudget(%v, %v) = %v; want ok=%v", tt.max, tt.ratio, err, tt.ok)
		}
	}
}
