package concord

// Layer: Transport and retry (ARCHITECTURE.md).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"time"
)

// attemptTransport is the RoundTripper under go-retryablehttp. It bounds
// each attempt in time, body included, and counts the requests that really
// went on the wire. It also hides the next transport's
// CloseIdleConnections: go-retryablehttp calls it whenever it gives up on a
// request, which would drop the pooled connections of every other call
// sharing the transport.
type attemptTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

// RoundTrip sends one attempt under its own deadline, which ends when its
// body is closed. The deadline covers the whole attempt, so a server that
// sends headers and then drips the body one byte at a time cannot hold the
// call (and the resource's write turn) for longer than the timeout.
func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	timeout := t.timeout
	a, ok := req.Context().Value(attemptsKey{}).(*attempts)
	if ok {
		timeout = a.call.retry.AttemptTimeout
	}
	ctx := req.Context()
	if ok && !readOnly(req.Method) && a.call.trace.WroteRequest != nil {
		// net/http's Transport itself resends a request that carries an
		// Idempotency-Key when a reused connection breaks, so concord's
		// own count of attempts can be short: count what was written.
		// (Only for writes: a read resent does no harm.)
		ctx = httptrace.WithClientTrace(ctx, &a.call.trace)
	}
	if deadline, set := ctx.Deadline(); set && time.Until(deadline) <= timeout {
		// The caller's deadline comes first and bounds the attempt, body
		// included: an attempt deadline of its own would change nothing
		// but cost a context, a timer and a body wrapper.
		if ctx != req.Context() {
			req = req.WithContext(ctx)
		}
		return t.next.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errAttemptTimedOut)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		err = attemptError(ctx, timeout, err)
		cancel()
		return nil, err
	}
	resp.Body = &attemptBody{ReadCloser: resp.Body, ctx: ctx, cancel: cancel, timeout: timeout}
	return resp, nil
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
func attemptError(ctx context.Context, limit time.Duration, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errAttemptTimedOut) {
		return &AttemptTimeoutError{Limit: limit}
	}
	return err
}

// attemptBody ends its attempt's deadline when it is closed.
type attemptBody struct {
	io.ReadCloser
	ctx     context.Context
	cancel  context.CancelFunc
	timeout time.Duration
}

func (b *attemptBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = attemptError(b.ctx, b.timeout, err)
	}
	return n, err
}

func (b *attemptBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
