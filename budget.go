package concord

// Layer: Values (ARCHITECTURE.md).

import (
	"fmt"
	"sync"
)

// RetryBudget limits the retries of every call that shares it, so that
// during an outage retries add a bounded amount of load instead of
// multiplying it. It follows gRPC's retry throttling: the budget holds up to
// Max tokens and starts full; each attempt that fails in a retryable way
// costs one token, each response that is not such a failure returns Ratio
// tokens, and a retry is allowed only while more than Max/2 tokens remain.
//
// The bound: however many calls fail, retries stop after at most Max/2
// retryable failures in a row, and from then on each call makes exactly one
// attempt until (Max/2+1)/Ratio successes have refilled the budget. With the
// defaults (Max 20, Ratio 0.2) a total outage costs at most 10 retries
// client-wide, so the server sees at most calls+10 requests, and about 55
// successes re-enable retries.
//
// A RetryBudget is safe for concurrent use and may be shared by clients. The
// zero value is not usable: create one with NewRetryBudget.
type RetryBudget struct {
	max, ratio float64

	mu     sync.Mutex
	tokens float64
}

// Default retry budget parameters, used by New unless WithRetryBudget says
// otherwise.
const (
	DefaultBudgetMax   = 20
	DefaultBudgetRatio = 0.2
)

// NewRetryBudget returns a full budget of max tokens that refills by ratio
// tokens per success. It returns an error unless max >= 1 and 0 < ratio <= max.
func NewRetryBudget(max, ratio float64) (*RetryBudget, error) {
	if !(max >= 1) || !(ratio > 0) || ratio > max {
		return nil, fmt.Errorf("concord: retry budget needs max >= 1 and 0 < ratio <= max; got max=%v ratio=%v", max, ratio)
	}
	return &RetryBudget{max: max, ratio: ratio, tokens: max}, nil
}

// Tokens returns the tokens left, for metrics and tests.
func (b *RetryBudget) Tokens() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens
}

// failure records an attempt that failed in a retryable way and reports
// whether a retry is still allowed.
func (b *RetryBudget) failure() (allowed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = max(b.tokens-1, 0)
	return b.tokens > b.max/2
}

// success records a response that was not a retryable failure.
func (b *RetryBudget) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.tokens+b.ratio, b.max)
}
