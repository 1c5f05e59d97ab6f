package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake clock for concord.WithClock: Sleep records the wait,
// moves the clock forward and returns at once (or with the context's
// error), so a test can check an exact retry or backoff schedule without
// sleeping. It is safe for concurrent use. Pass Clock.Now to the Now
// option too, and the fake API's weak-ETag windows and key expiries follow
// the same time.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

// NewClock returns a clock that starts at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep records d, advances the clock by d and returns ctx.Err().
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// Sleeps returns the waits asked of the clock so far, oldest first.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
