package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ConflictPolicy sets how the conflict loop retries a write after a
// stale-version conflict, and how long a call waits for a state to pass (a
// weak ETag to turn strong, a key that is in progress). The zero value
// means the defaults below.
type ConflictPolicy struct {
	// MaxElapsed bounds how long, from its start, a call keeps going
	// round: writing again after a stale-version conflict, reading again
	// for a usable version, resending a key in progress, taking a lost
	// lock again. A conflict proves the server is up: a writer losing a
	// race keeps its place in line until this passes or its context ends,
	// rather than give up after a count that depends on how many others
	// write. Default DefaultConflictMaxElapsed.
	MaxElapsed time.Duration
	// MaxAttempts, when positive, also bounds the rounds by count, each
	// kind on its own: the writes one call makes, the first included; the
	// reads it makes waiting for a usable version; the sends of a key in
	// progress; the lost locks it takes again. WithMaxConflicts overrides
	// it for one call, for all four. Default 0: no count, only MaxElapsed
	// and the context.
	MaxAttempts int
	// NewBackoff, when set, returns a fresh Backoff for each call's waits;
	// one that stops ends the call. By default the waits between
	// conflicting writes are DecorrelatedJitter(
	// DefaultConflictInitialInterval, DefaultConflictMaxInterval), which
	// spreads writers that collided further apart than exponential backoff
	// does (BENCHMARKS.md compares them), and waits for a state to pass
	// are Exponential(DefaultConflictInitialInterval,
	// DefaultWaitMaxInterval, 0.5): they wait out a time (Apache's weak
	// tags last a second), not other writers. MaxElapsed and the
	// context's deadline bound them.
	NewBackoff func() Backoff
}

// Default conflict settings. DefaultConflictMaxElapsed is a minute: with
// 128 writers each making 5 increments of one counter, the slowest of the
// 640 updates took at most about a second, idle or with a CPU hog
// (BENCHMARKS.md, section 4), and none failed, so a minute leaves a wide
// margin for busier machines and servers while still ending a call that
// cannot win.
const (
	DefaultConflictMaxElapsed      = time.Minute
	DefaultConflictInitialInterval = 10 * time.Millisecond
	DefaultConflictMaxInterval     = 500 * time.Millisecond
	DefaultWaitMaxInterval         = time.Second
)

func (p ConflictPolicy) withDefaults() ConflictPolicy {
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = DefaultConflictMaxElapsed
	}
	return p
}

// spent reports whether a call that has gone round rounds times (writing
// again after a conflict, reading again for a usable version, resending a
// key in progress, taking a lost lock again) may not go round again: the
// call's maxRounds when set (WithMaxConflicts, else
// ConflictPolicy.MaxAttempts), or the policy's MaxElapsed since the call
// began. It is the one bound of all four.
func (c *Client) spent(cl *call, rounds int) bool {
	return cl.maxRounds > 0 && rounds >= cl.maxRounds || c.clock.Now().Sub(cl.started) >= c.conflict.MaxElapsed
}

// backOff waits between the rounds of one call, with a Backoff of its
// own made at the first wait: most calls never wait, and a Backoff holds
// per-call state, never shared between goroutines.
type backOff struct {
	c    *Client
	make func() Backoff
	bo   Backoff
	n    int // waits so far
	// until, when set, bounds this loop's waits beyond the call's own
	// bounds: the wait for a lock ends within lockWaitTTLs.
	until time.Time
}

// contentionBackOff is the backoff between writes that conflicted.
func (c *Client) contentionBackOff() backOff {
	return c.newBackOff(func() Backoff { return DecorrelatedJitter(DefaultConflictInitialInterval, DefaultConflictMaxInterval) })
}

// waitingBackOff is the backoff of a call waiting for a state to pass.
func (c *Client) waitingBackOff() backOff {
	return c.newBackOff(func() Backoff { return Exponential(DefaultConflictInitialInterval, DefaultWaitMaxInterval, 0.5) })
}

// newBackOff is a backoff made by ConflictPolicy.NewBackoff when the
// caller set one, else by def.
func (c *Client) newBackOff(def func() Backoff) backOff {
	if c.conflict.NewBackoff != nil {
		def = c.conflict.NewBackoff
	}
	return backOff{c: c, make: def}
}

// next returns the next wait, or false when the backoff stopped.
func (b *backOff) next() (time.Duration, bool) {
	if b.bo == nil {
		b.bo = b.make()
	}
	d, ok := b.bo.Next(b.n)
	b.n++
	return max(d, 0), ok
}

// wait is the one wait of every loop of a call above the transport (a key
// in progress, a conflict, a version or a lock not yet to be had): delay's
// rule, the server's hint in h (nil when there is none) but never less
// than the backoff's next wait; no wait at all when the backoff stopped,
// the hint passes MaxRetryAfter, or the wait would pass the context's
// deadline or the call's MaxElapsed (each an error: the call ends).
func (b *backOff) wait(cl *call, h http.Header) error {
	own, ok := b.next()
	if !ok {
		return errBackoffStopped
	}
	d, tooLong := delay(h, b.c.clock.Now(), own, cl.retry.MaxRetryAfter)
	if tooLong {
		return fmt.Errorf("%w: the server asked for %v, more than MaxRetryAfter (%v)", ErrWaitTooLong, d, cl.retry.MaxRetryAfter)
	}
	end := b.c.clock.Now().Add(d)
	if end.After(cl.started.Add(b.c.conflict.MaxElapsed)) {
		return fmt.Errorf("%w: %v would pass the call's MaxElapsed (%v)", ErrWaitTooLong, d, b.c.conflict.MaxElapsed)
	}
	if !b.until.IsZero() && end.After(b.until) {
		return fmt.Errorf("%w: %v would pass the loop's bound", ErrWaitTooLong, d)
	}
	return b.c.wait(cl.ctx, d)
}

// errBackoffStopped ends a call whose ConflictPolicy backoff said stop.
var errBackoffStopped = errors.New("concord: the conflict backoff stopped")
