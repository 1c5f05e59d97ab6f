package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Backoff chooses the waits between the tries of one call: the
// transport's retries (RetryPolicy.NewBackoff) and the conflict loop's
// rounds (ConflictPolicy.NewBackoff) take the same type. Next returns the
// wait before retry number n (0 for the first), or false to stop, and the
// call then gives up. concord makes a Backoff for each call that waits,
// and asks it from one goroutine, so it may keep state (DecorrelatedJitter
// keeps the previous wait).
type Backoff interface {
	Next(n int) (time.Duration, bool)
}

// BackoffFunc is a Backoff without state: the wait before retry n.
type BackoffFunc func(n int) (time.Duration, bool)

// Next returns f(n).
func (f BackoffFunc) Next(n int) (time.Duration, bool) { return f(n) }

// FullJitter returns a Backoff whose wait before retry n is drawn
// uniformly from [0, min(max, base·2ⁿ)): "full jitter", which AWS measured
// to do less than half the work of unjittered backoff under contention,
// because it spreads the retries of clients that failed together. It is
// the transport's default, with RetryPolicy's BaseDelay and MaxDelay.
func FullJitter(base, max time.Duration) Backoff {
	return BackoffFunc(func(n int) (time.Duration, bool) { return fullJitter(base, max, n, rand.Float64), true })
}

func fullJitter(base, max time.Duration, n int, rnd func() float64) time.Duration {
	ceil := max
	if n < 32 {
		if d := base << n; d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(rnd() * float64(ceil))
}

// DecorrelatedJitter returns a Backoff of "decorrelated jitter" (Marc
// Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015):
// each wait is drawn uniformly from [base, 3 × the previous wait], at most
// max. Waits grow like exponential backoff's, while two writers that
// collided draw far apart. It is the default between conflicting writes.
func DecorrelatedJitter(base, max time.Duration) Backoff {
	return &decorrelatedJitter{base: base, limit: max, rand: rand.Float64}
}

type decorrelatedJitter struct {
	base, limit, last time.Duration
	rand              func() float64 // in [0, 1)
}

// Next returns the next wait; it never stops.
func (d *decorrelatedJitter) Next(int) (time.Duration, bool) {
	prev := max(d.last, d.base)
	d.last = min(d.limit, d.base+time.Duration(d.rand()*float64(3*prev-d.base)))
	return d.last, true
}

// Exponential returns a Backoff whose waits double from initial, each
// within ±jitter of its value (0.5: ±50%), at most max; it never stops. It
// is the default of waits for a state to pass (a weak ETag to turn strong,
// a key in progress): they wait out a time, not other writers, and waits
// that can shrink would give up early.
func Exponential(initial, max time.Duration, jitter float64) Backoff {
	e := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(initial),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(jitter),
		backoff.WithMaxInterval(max),
		backoff.WithMaxElapsedTime(0),
	)
	return BackoffFunc(func(int) (time.Duration, bool) { return e.NextBackOff(), true })
}

// delay is the one rule for how long any loop of concord waits before it
// goes round again (a transport retry, a key in progress, a conflict, a
// version or a lock not yet to be had): the server's hint in h
// (Retry-After, or a rate limit's reset: retryHint) when it gave one, and
// never less than the loop's own backoff, own. The floor is what keeps a
// server answering "Retry-After: 0", or a date in the past, from making a
// loop spin (one did at 6,000 requests a second). A hint longer than
// maxHint is not waited out: tooLong reports it, with d the hint.
func delay(h http.Header, now time.Time, own, maxHint time.Duration) (d time.Duration, tooLong bool) {
	hint, hinted := retryHint(h, now)
	if hinted && hint > maxHint {
		return hint, true
	}
	return max(hint, own), false
}
