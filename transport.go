package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// attemptTransport is the RoundTripper under go-retryablehttp. It bounds
// each attempt in time, body included, and counts the requests of a write
// that may have reached the server. It also hides the next transport's
// CloseIdleConnections: go-retryablehttp calls it whenever it gives up on a
// request, which would drop the pooled connections of every other call
// sharing the transport.
type attemptTransport struct {
	next http.RoundTripper
	// deadlines serves the attempts of calls whose context has no
	// cancellation of its own, with the client's attempt timeout.
	deadlines *sharedDeadlines
}

// RoundTrip sends one attempt under its deadline. The deadline covers the
// whole attempt, body included (checkRetry reads the body, then ends the
// attempt), so a server that sends headers and then drips the body one
// byte at a time cannot hold the call (and the resource's write turn) for
// longer than the timeout. A redirect's next request is part of the same
// attempt, under the same deadline: the attempt timeout bounds the
// attempt, every hop included.
//
// The deadline costs nothing when the caller's comes first, as a server
// handler's usually does: the attempt then runs under the caller's alone.
// A caller without cancellation (context.Background()) shares a deadline
// with the client's other attempts of the same moment (sharedDeadlines),
// which costs no timer. Only a caller whose context can be cancelled but
// ends later than the attempt gets a context.WithTimeout of its own.
func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a := attemptsOf(req.Context())
	hop := req.Response != nil && a.attemptCtx != nil // a redirect's next request, in the attempt's deadline
	if !hop {
		a.endAttempt()
	}
	ctx := req.Context()
	if !readOnly(req.Method) {
		a.call.onWire()
		if req.Body == nil && req.Header.Get(a.c.keys.Header) != "" {
			// net/http's Transport itself resends a request without a body
			// that carries an Idempotency-Key when a reused connection
			// breaks: count what was written. (A write with a body is
			// counted by its GetBody, which such a resend calls; see
			// call.resendBody.)
			a.call.resentOnce.Store(false)
			ctx = httptrace.WithClientTrace(ctx, a.call.traceResends())
		}
	}
	timeout := a.call.retry.AttemptTimeout
	if deadline, set := ctx.Deadline(); !hop && set && time.Until(deadline) <= timeout {
		// The caller's deadline comes first and bounds the attempt, body
		// included: an attempt deadline of its own would change nothing.
		if ctx != req.Context() {
			req = req.WithContext(ctx)
		}
		return t.send(a, req)
	}
	switch {
	case hop:
	case ctx.Done() == nil && timeout == t.deadlines.timeout:
		a.attemptCtx = t.deadlines.attach(ctx)
	default:
		a.attemptCtx, a.cancel = context.WithTimeoutCause(ctx, timeout, errAttemptTimedOut)
	}
	resp, err := t.send(a, req.WithContext(a.attemptCtx))
	if err != nil {
		err = a.attemptError(err)
		a.endAttempt()
		return nil, err
	}
	return resp, nil
}

// send hands req to the next transport, inside which a GetBody call is
// one of net/http's own resends (see call.resendBody).
func (t *attemptTransport) send(a *attempts, req *http.Request) (*http.Response, error) {
	a.call.inTransport.Store(true)
	defer a.call.inTransport.Store(false)
	return t.next.RoundTrip(req)
}

// errAttemptTimedOut is the cause an attempt's context ends with when its
// timeout passes, which tells it apart from the caller's own deadline.
var errAttemptTimedOut = errors.New("concord: attempt timed out")

// AttemptTimeoutError reports an attempt that took longer than
// RetryPolicy.AttemptTimeout, headers and body included. It is retried like
// any other transport failure when the request is safe to repeat. Its
// Timeout method reports true, as net.Error's does.
type AttemptTimeoutError struct {
	// Limit is the attempt timeout that was passed.
	Limit time.Duration
}

// Error names the limit.
func (e *AttemptTimeoutError) Error() string {
	return fmt.Sprintf("concord: attempt took longer than %v (RetryPolicy.AttemptTimeout)", e.Limit)
}

// Timeout reports true.
func (e *AttemptTimeoutError) Timeout() bool { return true }

// attemptError replaces the error of an attempt whose own deadline ended
// it, so that it does not read as the caller's context.DeadlineExceeded.
func (a *attempts) attemptError(err error) error {
	if err != nil && a.attemptCtx != nil && errors.Is(context.Cause(a.attemptCtx), errAttemptTimedOut) {
		return &AttemptTimeoutError{Limit: a.call.retry.AttemptTimeout}
	}
	return err
}

// endAttempt releases the attempt's own deadline, if it has one, once its
// response is read (or it failed).
func (a *attempts) endAttempt() {
	if a.cancel != nil {
		a.cancel()
	}
	a.attemptCtx, a.cancel = nil, nil
}

// sharedDeadlines hands the attempts of calls without cancellation a
// deadline shared with the attempts that start at about the same time,
// instead of a timer each: an attempt that starts at t ends between
// t+timeout and t+timeout+timeout/deadlineSlices. A new shared deadline is
// made when the current one would end too soon for a new attempt, so at
// most deadlineSlices+1 are pending at once; each ends, and frees its
// timer, by itself.
type sharedDeadlines struct {
	timeout time.Duration
	current atomic.Pointer[sharedDeadline]
	mu      sync.Mutex // held to replace current
}

// deadlineSlices is how many shared deadlines an attempt timeout is cut
// into: an attempt may run up to 1/16 longer than its timeout (at most
// 1.9 s over the default 30 s).
const deadlineSlices = 16

type sharedDeadline struct {
	context.Context
	until  time.Time
	cancel context.CancelFunc // kept for vet; the deadline ends it
}

// attach returns a context with the values of ctx, which has no Done
// channel, and a shared deadline at least the timeout away.
func (s *sharedDeadlines) attach(ctx context.Context) context.Context {
	now := time.Now()
	d := s.current.Load()
	if d == nil || d.until.Sub(now) < s.timeout {
		s.mu.Lock()
		if d = s.current.Load(); d == nil || d.until.Sub(now) < s.timeout {
			d = &sharedDeadline{until: now.Add(s.timeout + s.timeout/deadlineSlices)}
			d.Context, d.cancel = context.WithDeadlineCause(context.Background(), d.until, errAttemptTimedOut)
			s.current.Store(d)
		}
		s.mu.Unlock()
	}
	return &sharedDeadlineContext{Context: d, values: ctx}
}

// sharedDeadlineContext is a shared deadline with one call's values. The
// deadline's own context answers the lookups the call's values do not
// (the standard library's own key among them, through which net/http
// registers its request under the shared deadline without a goroutine).
type sharedDeadlineContext struct {
	context.Context
	values context.Context
}

func (c *sharedDeadlineContext) Value(key any) any {
	if v := c.values.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

// readOnly reports whether a method only reads.
func readOnly(method string) bool { return method == http.MethodGet || method == http.MethodHead }

// is2xx reports whether a status says the request succeeded: 2xx
// only. A 1xx that reaches concord as a final answer (101 Switching
// Protocols to a PUT) is no success, though it is under 300.
func is2xx(status int) bool { return status >= 200 && status < 300 }
