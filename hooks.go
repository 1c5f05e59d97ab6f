package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Hooks are called as a call progresses, for metrics and tracing. Any field
// may be nil. Each call's hooks run on the goroutine that makes the call:
// the caller's, or, for the requests concord makes on its own while a call
// runs (the refreshes of a lock held with WithLocks), concord's own
// goroutine, concurrently with the call they serve. Such a request is a
// call of its own, with its own InvocationID, and ends with its own
// OnCallDone, so that state kept per invocation is never shared. Hooks
// must therefore be safe for concurrent use, even on a client used by one
// goroutine; a slow hook slows its call.
type Hooks struct {
	// OnAttempt is called before each HTTP request.
	OnAttempt func(ctx context.Context, e AttemptEvent)
	// OnRetry is called when a transport failure will be retried, with the
	// reason and the wait chosen.
	OnRetry func(ctx context.Context, e RetryEvent)
	// OnConflict is called for each conflict response the conflict loop
	// handles.
	OnConflict func(ctx context.Context, e ConflictEvent)
	// OnMerge is called after each merge (or mutate) the conflict loop runs.
	OnMerge func(ctx context.Context, e MergeEvent)
	// OnAttemptDone is called when an HTTP request has its answer (or its
	// error), body read, with how long it took.
	OnAttemptDone func(ctx context.Context, e AttemptDoneEvent)
	// OnCallDone is called when a call ends (a Resource call, Client.Do or
	// a request through RoundTripper), with what it cost and how it ended:
	// one event per call, for metrics and spans.
	OnCallDone func(ctx context.Context, e CallEvent)
}

// set reports whether any hook is set.
func (h Hooks) set() bool {
	return h.OnAttempt != nil || h.OnRetry != nil || h.OnConflict != nil || h.OnMerge != nil || h.OnAttemptDone != nil || h.OnCallDone != nil
}

// and returns hooks that call h's and then o's, so that WithHooks given
// twice (tracing and metrics, say) keeps both.
func (h Hooks) and(o Hooks) Hooks {
	return Hooks{
		OnAttempt:     both(h.OnAttempt, o.OnAttempt),
		OnRetry:       both(h.OnRetry, o.OnRetry),
		OnConflict:    both(h.OnConflict, o.OnConflict),
		OnMerge:       both(h.OnMerge, o.OnMerge),
		OnAttemptDone: both(h.OnAttemptDone, o.OnAttemptDone),
		OnCallDone:    both(h.OnCallDone, o.OnCallDone),
	}
}

func both[E any](a, b func(context.Context, E)) func(context.Context, E) {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(ctx context.Context, e E) { a(ctx, e); b(ctx, e) }
}

// AttemptDoneEvent describes one HTTP request that has its answer.
type AttemptDoneEvent struct {
	InvocationID string
	Method       string
	URL          string // redacted
	Attempt      int    // 1 for the call's first request
	StatusCode   int    // 0 for a transport error
	Err          error  // the transport error, if any
	Duration     time.Duration
}

// CallEvent describes one call that ended. Its fields are low in
// cardinality except ID: label metrics with Operation and Resource.
type CallEvent struct {
	InvocationID string
	// Operation is the Resource method ("Get", "Page", "Create",
	// "CreateAt", "Replace", "Update" or "Delete"), "Do" or "RoundTrip".
	Operation string
	Resource  string // the resource's path, as given to NewResource; empty for Do and RoundTrip
	ID        string // the item, empty for collection calls
	Requests  int    // HTTP requests sent, retries and conflict rounds included
	Conflicts int    // conflict responses resolved or met
	Duration  time.Duration
	Err       error
}

// MergeOutcome is how a merge ended.
type MergeOutcome int

const (
	// MergeMerged: the merge produced a value to write.
	MergeMerged MergeOutcome = iota + 1
	// MergeUnchanged: the merge result equals the server's: nothing to
	// write.
	MergeUnchanged
	// MergeFailed: the merge function returned an error or panicked.
	MergeFailed
)

// String returns "merged", "unchanged" or "failed".
func (m MergeOutcome) String() string {
	switch m {
	case MergeMerged:
		return "merged"
	case MergeUnchanged:
		return "unchanged"
	case MergeFailed:
		return "failed"
	}
	return "unknown"
}

// AttemptEvent describes one HTTP request about to be sent.
type AttemptEvent struct {
	InvocationID string // the logical call's ID, the same on every attempt
	Method       string
	URL          string // redacted
	Attempt      int    // 1 for the call's first request
}

// RetryEvent describes a failed attempt that will be retried.
type RetryEvent struct {
	InvocationID string
	Method       string
	URL          string
	Attempt      int    // the attempt that failed
	StatusCode   int    // 0 for a transport error
	Reason       string // "status 503", or the transport error's text
	Err          error
	Delay        time.Duration // the wait before the next attempt
}

// ConflictEvent describes a conflict response met by the conflict loop.
type ConflictEvent struct {
	InvocationID string
	Method       string
	URL          string
	Kind         ConflictKind
	StatusCode   int
	Attempt      int    // the write that was rejected, from 1
	Version      string // the version that write carried
}

// MergeEvent describes one merge run by the conflict loop.
type MergeEvent struct {
	InvocationID string
	URL          string
	Attempt      int // the conflict round, from 1
	Outcome      MergeOutcome
	Err          error
}

func (a *attempts) observeAttempt(ctx context.Context, header http.Header) {
	c, cl, out := a.c, a.call, &a.out
	if c.hooks.OnAttempt != nil {
		c.hooks.OnAttempt(ctx, AttemptEvent{InvocationID: cl.id, Method: out.method, URL: c.redact.url(out.url), Attempt: cl.nextAttempt()})
	}
	if c.logger != nil && c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "concord: request",
			slog.String("invocation", cl.id), slog.String("method", out.method), slog.String("url", c.redact.url(out.url)),
			slog.Int("attempt", cl.nextAttempt()), slog.Any("header", c.redact.header(header)))
	}
}

func (a *attempts) observeRetry(ctx context.Context, resp *http.Response, err error, delay time.Duration) {
	c, n := a.c, a.n
	e := RetryEvent{InvocationID: a.call.id, Method: a.out.method, URL: c.redact.url(a.out.url), Attempt: n, Err: err, Delay: delay}
	if resp != nil {
		e.StatusCode = resp.StatusCode
		e.Reason = "status " + http.StatusText(resp.StatusCode)
	} else {
		e.Reason = err.Error()
	}
	if c.hooks.OnRetry != nil {
		c.hooks.OnRetry(ctx, e)
	}
	if c.logger != nil {
		c.logger.LogAttrs(ctx, slog.LevelInfo, "concord: retrying",
			slog.String("invocation", e.InvocationID), slog.String("method", e.Method), slog.String("url", e.URL),
			slog.Int("attempt", n), slog.String("reason", e.Reason), slog.Duration("delay", delay))
	}
}

func (c *Client) observeConflict(ctx context.Context, e ConflictEvent) {
	if c.hooks.OnConflict != nil {
		c.hooks.OnConflict(ctx, e)
	}
	if c.logger != nil {
		c.logger.LogAttrs(ctx, slog.LevelInfo, "concord: conflict",
			slog.String("invocation", e.InvocationID), slog.String("method", e.Method), slog.String("url", e.URL),
			slog.String("kind", e.Kind.String()), slog.Int("status", e.StatusCode), slog.Int("attempt", e.Attempt))
	}
}

func (c *Client) observeMerge(ctx context.Context, e MergeEvent) {
	if c.hooks.OnMerge != nil {
		c.hooks.OnMerge(ctx, e)
	}
	if c.logger != nil {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "concord: merge",
			slog.String("invocation", e.InvocationID), slog.String("url", e.URL),
			slog.Int("attempt", e.Attempt), slog.String("outcome", e.Outcome.String()))
	}
}

func (a *attempts) observeAttemptDone(ctx context.Context, status int, err error) {
	c := a.c
	if c.hooks.OnAttemptDone != nil {
		c.hooks.OnAttemptDone(ctx, AttemptDoneEvent{InvocationID: a.call.id, Method: a.out.method, URL: c.redact.url(a.out.url), Attempt: a.call.requests, StatusCode: status, Err: err, Duration: c.clock.Now().Sub(a.started)})
	}
}

// callDone reports the end of cl to OnCallDone, with e, which says what
// the call was and how it ended, completed with what the call knows.
func (c *Client) callDone(cl *call, e CallEvent) {
	if c.hooks.OnCallDone == nil {
		return
	}
	e.InvocationID, e.Requests, e.Duration = cl.id, cl.sent(), c.clock.Now().Sub(cl.started)
	c.hooks.OnCallDone(cl.ctx, e)
}
