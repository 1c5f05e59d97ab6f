package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// RetryPolicy decides how transport failures are retried: connection errors,
// timeouts, 408, 429, 500, 502, 503 and 504. Conflicts (409, 412, 422, 428)
// are never retried here; the conflict loop handles them.
//
// Only requests that are safe to repeat are retried: GET, HEAD, OPTIONS,
// TRACE, PUT and DELETE, requests carrying an idempotency key, and
// conditional writes (If-Match, If-None-Match or a body version). Anything
// else, such as a POST without a key, is sent exactly once.
//
// The zero value means the defaults in the field comments.
type RetryPolicy struct {
	// MaxAttempts bounds the HTTP requests one request may take, the first
	// included; 1 turns retries off. The retries are counted per call, so
	// the conflict loop's rounds share them rather than multiplying them.
	// Default 4.
	MaxAttempts int
	// BaseDelay is the first backoff's ceiling. Default 100ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling, which doubles on every retry.
	// Default 5s.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After hint concord will wait for;
	// a longer one fails fast with a *RetryError whose Reason is
	// ErrWaitTooLong and whose Delay is the hint. Default 30s.
	MaxRetryAfter time.Duration
	// AttemptTimeout bounds one attempt, from sending the request to the
	// last byte of the response body, so that a server that stops
	// answering, or drips its body, costs a retry rather than a hang. An
	// attempt that passes it fails with an *AttemptTimeoutError and is
	// retried when the request is safe to repeat. It applies to any
	// transport, yours included. A caller's deadline that comes first
	// bounds the attempt alone; under a context that cannot be cancelled
	// (context.Background()), attempts that start together share one
	// deadline, which may end an attempt up to 1/16 of the timeout late.
	// Default 30s.
	AttemptTimeout time.Duration
	// NewBackoff, when set, replaces full jitter from BaseDelay to
	// MaxDelay (FullJitter): it returns a fresh Backoff for each call that
	// retries, whose Next gives the wait before each retry, or stops the
	// retries. Retry-After hints still take precedence.
	NewBackoff func() Backoff
	// Retryable, when set, decides whether a failed attempt is worth
	// another: it sees the response (body already read) or the transport
	// error, and replaces DefaultRetryable. Call DefaultRetryable from it
	// to extend the default rather than restate it:
	//
	//	Retryable: func(resp *http.Response, err error) bool {
	//		return concord.DefaultRetryable(resp, err) || concord.RateLimited(resp)
	//	},
	//
	// It cannot make an unsafe request retryable: a POST without a key is
	// still sent once. It is not asked about successes, conflicts or a
	// context that ended.
	Retryable func(resp *http.Response, err error) bool
}

// Default retry settings, applied to the zero fields of a RetryPolicy.
const (
	DefaultMaxAttempts    = 4
	DefaultBaseDelay      = 100 * time.Millisecond
	DefaultMaxDelay       = 5 * time.Second
	DefaultMaxRetryAfter  = 30 * time.Second
	DefaultAttemptTimeout = 30 * time.Second
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = DefaultAttemptTimeout
	}
	return p
}

// safeToRepeat reports whether sending a request twice cannot apply its side
// effect twice: the method is idempotent, or an idempotency key lets the
// server deduplicate, or a precondition makes a repeat fail instead of
// applying again.
func safeToRepeat(method string, keyed, conditional bool) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return keyed || conditional
}

// DefaultRetryable is the default decision on a failed attempt: a
// transport error that may pass on a new attempt (not a certificate
// problem, a bad URL or a redirect loop; an attempt's own timeout is one
// that may pass), or a status that says "try again later" (408, 429, 500,
// 502, 503, 504, or Stripe-Should-Retry: true). It is what a nil
// RetryPolicy.Retryable means, and what a Retryable of your own can call
// and extend. Whatever it says, concord retries only requests that are
// safe to repeat.
func DefaultRetryable(resp *http.Response, err error) bool {
	if err != nil {
		return transientError(err)
	}
	return resp != nil && transientStatus(resp)
}

// RateLimited reports whether resp says the client is being rate limited:
// 429, or a 403 with Retry-After, or X-RateLimit-Remaining or
// RateLimit-Remaining at 0 (GitHub answers its rate limits with 403). Add
// it to a Retryable to retry them; the wait is then the hint the response
// gives (Retry-After, else the reset the rate-limit headers name), capped
// by MaxRetryAfter like any Retry-After.
func RateLimited(resp *http.Response) bool {
	if resp == nil {
		return false
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return true
	case resp.StatusCode == http.StatusForbidden && resp.Header.Get("Retry-After") != "":
		return true
	}
	return resp.StatusCode >= 400 && exhausted(resp.Header)
}

// exhausted reports whether rate-limit headers say no request is left.
func exhausted(h http.Header) bool {
	return strings.TrimSpace(h.Get("X-RateLimit-Remaining")) == "0" || strings.TrimSpace(h.Get("RateLimit-Remaining")) == "0"
}

// retryHint is how long a response asks the client to wait: Retry-After,
// else, when the rate-limit headers say none is left, the reset they
// name: RateLimit-Reset in seconds from now (the IETF draft), or
// X-RateLimit-Reset as a Unix time (GitHub) or, when small, in seconds.
func retryHint(h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		return d, true
	}
	if !exhausted(h) {
		return 0, false
	}
	if d, ok := parseRetryAfter(h.Get("RateLimit-Reset"), now); ok {
		return d, true
	}
	v := strings.TrimSpace(h.Get("X-RateLimit-Reset"))
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil || n > 1<<40: // beyond any date: fails the cap
		return time.Duration(maxHintSeconds) * time.Second, true
	case n > 1_000_000_000: // a Unix time, not a delta
		return max(time.Unix(n, 0).Sub(now), 0), true
	}
	return time.Duration(n) * time.Second, true
}

// transientStatus reports whether a status says "try again later" rather
// than "this request is wrong". Stripe-Should-Retry, when present, overrides
// the guess, as Stripe documents.
// It is asked only of error statuses: a success is never repeated, whatever
// a header says (a keyed create answered 201 with Stripe-Should-Retry: true
// would otherwise be sent again and drain the budget).
func transientStatus(resp *http.Response) bool {
	if resp.StatusCode < 400 {
		return false
	}
	switch resp.Header.Get("Stripe-Should-Retry") {
	case "true":
		return true
	case "false":
		return false
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// transientError reports whether a transport error may pass on a new
// attempt: not a certificate problem, a bad URL or a redirect loop. An
// attempt's own timeout is transient; the caller's context ending is
// checked before this is asked.
func transientError(err error) bool {
	if errors.Is(err, ErrResponseTooLarge) {
		return false
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		invalidCert      x509.CertificateInvalidError
		hostname         x509.HostnameError
		verify           *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &invalidCert) || errors.As(err, &hostname) || errors.As(err, &verify) {
		return false
	}
	msg := err.Error()
	// A malformed answer (a header line net/http refuses, another
	// protocol) would be sent the same way again.
	return !strings.Contains(msg, "unsupported protocol scheme") && !strings.Contains(msg, "stopped after") && !strings.Contains(msg, "invalid header") &&
		!strings.Contains(msg, "malformed")
}

// maxHintSeconds bounds a delta-seconds Retry-After so that a huge value
// still converts to a time.Duration (about 31 years) and then fails the cap.
const maxHintSeconds = 1_000_000_000

// parseRetryAfter reads a Retry-After value: delta-seconds, or an HTTP-date
// in any of the three formats RFC 9110 allows (IMF-fixdate, RFC 850, asctime).
// A date in the past means "now". ok is false for an absent, negative or
// garbled value, which is then ignored in favor of the backoff.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > maxHintSeconds {
			n = maxHintSeconds
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Clock tells the time and waits. concord never calls time.Sleep: every wait
// goes through a Clock so that it ends when the context does, and so that
// tests can record the schedule instead of sleeping through it.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx is done, in which case it returns
	// ctx.Err() at once.
	Sleep(ctx context.Context, d time.Duration) error
}

// realClock is the wall clock with timer-based, cancellable sleeps.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// beyondDeadline reports whether a wait of d starting now would end after
// ctx's deadline, in which case concord does not start it.
func (c *Client) beyondDeadline(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && c.clock.Now().Add(d).After(deadline)
}

// newTransport returns the go-retryablehttp client a Client shares between
// its calls. Its hooks are plain functions that find the state of the
// request they serve (an *attempts) in the request's context, so one
// client serves every call without a per-call copy. RetryMax is only an
// upper bound: checkRetry decides, with the call's own count.
func newTransport(hc *http.Client, retryMax int) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient: hc,
		RetryMax:   retryMax,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			return attemptsOf(ctx).checkRetry(ctx, resp, err)
		},
		// concord waits in PrepareRetry instead, through its Clock.
		Backoff: func(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return 0 },
		PrepareRetry: func(req *http.Request) error {
			return attemptsOf(req.Context()).prepareRetry(req)
		},
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, retry int) {
			attemptsOf(req.Context()).beforeAttempt(req, retry)
		},
		// Hand back the response and the error untouched, so the final
		// response is never dropped and the error is not rewritten.
		ErrorHandler: func(resp *http.Response, err error, _ int) (*http.Response, error) { return resp, err },
	}
}

// attemptsKey is the context key of a request's *attempts.
type attemptsKey struct{}

func attemptsOf(ctx context.Context) *attempts { return ctx.Value(attemptsKey{}).(*attempts) }

// attempts runs one request through go-retryablehttp. go-retryablehttp owns
// the loop (attempt, check, rewind the body, attempt again); concord owns
// every decision in it through the hooks below: what is retried, how long to
// wait, whether the budget and the deadline allow it. It also reads each
// response's body inside the loop, so a connection that drops mid-body is
// retried like any other transport failure and the final body is never lost.
type attempts struct {
	c    *Client
	call *call
	out  outgoing

	n         int           // attempts made
	delay     time.Duration // the wait chosen for the next retry
	stop      error         // why a wanted retry was refused, if it was
	stopDelay time.Duration // the wait that was refused
	prior     []error       // errors of the attempts that were retried

	// attemptCtx is the context of the attempt in flight, when it has a
	// deadline of its own; cancel ends it, when the deadline is its alone
	// (see attemptTransport).
	attemptCtx context.Context
	cancel     context.CancelFunc

	body      []byte // the final response's body (or its bounded prefix)
	truncated bool
	bodyErr   error     // reading the final body failed
	wrote     bool      // an attempt of a write was answered 2xx: it took effect
	started   time.Time // when the current attempt was sent, for OnAttemptDone
}

// finish counts the attempt, reads its body (which ends its deadline),
// and tells the hooks; it returns the attempt's error, redacted: the
// transport's, or the body's.
func (a *attempts) finish(ctx context.Context, resp *http.Response, err error) error {
	a.n++
	a.call.attempted(!readOnly(a.out.method))
	a.body, a.truncated, a.bodyErr = nil, false, nil
	if err == nil {
		if is2xx(resp.StatusCode) && !readOnly(a.out.method) {
			a.wrote = true
		}
		a.body, a.truncated, a.bodyErr = a.readBody(resp)
		err = a.bodyErr
	}
	a.endAttempt()
	err = a.c.redact.err(err)
	if a.c.hooks.OnAttemptDone != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		a.observeAttemptDone(ctx, status, err)
	}
	return err
}

// checkRetry is go-retryablehttp's CheckRetry: it reads the body, classifies
// the outcome, settles the budget and decides on a retry and its wait.
func (a *attempts) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	err = a.finish(ctx, resp, err)
	if ctx.Err() != nil {
		return false, nil
	}
	if a.wrote {
		// A write answered 2xx took effect, whatever became of its body:
		// sending it again could apply it twice (a server that ignores
		// keys would make a second record).
		if b := a.c.budget; b != nil {
			b.success()
		}
		return false, nil
	}
	if err == nil && resp.StatusCode == http.StatusUnauthorized && a.c.tokens != nil && a.call.refusedToken == "" {
		// The token was refused: a 401 was not processed, so the request
		// goes again, once, with a new token. That resend is an allowance
		// of its own, not one of the call's retries, so that a call with
		// no retries (MaxAttempts 1) still survives a token that expired.
		a.call.refusedToken = a.call.token
		a.prior = append(a.prior, a.apiError(resp))
		a.delay = 0
		return true, nil
	}
	var failed bool
	switch {
	case a.call.retry.Retryable != nil && (err != nil || resp.StatusCode >= 400 && !isConflictStatus(resp.StatusCode)):
		failed = a.call.retry.Retryable(resp, err)
	default:
		failed = DefaultRetryable(resp, err)
	}
	allowed := true
	if b := a.c.budget; b != nil {
		if failed {
			allowed = b.failure()
		} else {
			b.success()
		}
	}
	if !failed || !safeToRepeat(a.out.method, a.out.key != "", a.out.conditional) {
		return false, nil
	}
	if a.call.retriesLeft() <= 0 {
		return false, nil
	}
	own, more := a.call.retryDelay()
	if !more {
		return false, nil
	}
	var h http.Header
	if resp != nil {
		h = resp.Header
	}
	wait, tooLong := delay(h, a.c.clock.Now(), own, a.call.retry.MaxRetryAfter)
	switch {
	case tooLong, a.c.beyondDeadline(ctx, wait):
		a.stop, a.stopDelay = ErrWaitTooLong, wait
		return false, nil
	case !allowed:
		a.stop = ErrRetryBudgetExhausted
		return false, nil
	}
	attemptErr := err
	if attemptErr == nil {
		attemptErr = a.apiError(resp)
	}
	a.prior = append(a.prior, attemptErr)
	a.call.retried()
	a.delay = wait
	a.observeRetry(ctx, resp, attemptErr, wait)
	return true, nil
}

// prepareRetry is go-retryablehttp's PrepareRetry, called after its own
// (zero) backoff: concord waits here, through its Clock, so the wait is
// cancellable and testable.
func (a *attempts) prepareRetry(req *http.Request) error {
	if err := a.c.clock.Sleep(a.call.ctx, a.delay); err != nil {
		return err
	}
	// A fresh header: the shallow copy go-retryablehttp made shares the
	// last attempt's, signature and token included.
	req.Header = make(http.Header, len(a.c.header)+len(a.out.header)+concordHeaders)
	a.c.setHeader(req.Header, a.call, &a.out)
	a.setBody(req)
	return a.c.authorize(a.call.ctx, req, a.call)
}

// setBody gives an attempt of a write its body, a reader of its own, and
// the GetBody through which net/http sends it again.
func (a *attempts) setBody(req *http.Request) {
	if len(a.out.body) == 0 {
		return
	}
	req.Body, req.GetBody = bodyReader(a.out.body), a.call.resendBody()
	req.ContentLength = int64(len(a.out.body))
}

// beforeAttempt is go-retryablehttp's RequestLogHook: it tells the hooks.
// It changes no header, since the attempt is signed already.
func (a *attempts) beforeAttempt(req *http.Request, _ int) {
	if a.c.hooks.OnAttemptDone != nil {
		a.started = a.c.clock.Now()
	}
	a.observeAttempt(req.Context(), req.Header)
}

// wrap returns err as the call's error: bare when one attempt was made and
// nothing was refused, otherwise inside a *RetryError that keeps every
// attempt.
func (a *attempts) wrap(err error) error {
	if a.n <= 1 && a.stop == nil {
		return err
	}
	return &RetryError{Attempts: a.n, Reason: a.stop, Delay: a.stopDelay, Err: err, Prior: a.prior}
}

// initialBodyBuffer is the largest announced Content-Length that is
// allocated up front; a longer body grows its buffer as its bytes arrive.
const initialBodyBuffer = 64 << 10

// applied marks err as the end of a write that took effect: an attempt was
// answered with a success status, even though its body could not be read or
// a later attempt failed.
func (a *attempts) applied(err error) error {
	if !a.wrote {
		return err
	}
	return fmt.Errorf("%w: %w", ErrWriteApplied, err)
}

// readBody reads a response body and closes it. A success body is read in
// full up to the client's limit; an error body is read up to a bounded
// prefix, so a huge error page costs a few kilobytes.
func (a *attempts) readBody(resp *http.Response) (body []byte, truncated bool, err error) {
	c := a.c
	defer resp.Body.Close()
	limit := c.limits.MaxErrorBodyBytes
	success := is2xx(resp.StatusCode) || resp.StatusCode == http.StatusNotModified
	if success || resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusPreconditionFailed {
		// A conflict response may carry the current representation, which
		// the merge can use instead of refetching it.
		limit = c.limits.MaxResponseBytes
	}
	body, err = readAll(resp.Body, resp.ContentLength, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("concord: reading the %d response body: %w", resp.StatusCode, a.attemptError(err))
	}
	if int64(len(body)) > limit {
		if success {
			return nil, false, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
		}
		return body[:limit], true, nil
	}
	return body, false, nil
}

// readAll is io.ReadAll stopping after limit bytes (io.LimitReader
// without its allocation), with a buffer sized for a body of the announced
// length (-1 when unknown).
//
// The buffer grows with what arrives, never with what Content-Length
// announces alone: a server that claims 64 MiB and sends nothing costs a
// small buffer, not 64 MiB. A small announced length is used at once, so
// that the common case reads into one buffer of the right size; a large one
// once a quarter of it has arrived, so that the buffer is never more than
// four times what was sent. Until then the buffer doubles, as
// json.Decoder's does (append's growth of a quarter would copy a large
// body over and over).
func readAll(r io.Reader, announced, limit int64) ([]byte, error) {
	want := limit
	if announced >= 0 {
		want = min(announced+1, limit) // +1: reading to EOF needs no second buffer
	}
	size := min(512, limit)
	if announced >= 0 && want <= initialBodyBuffer {
		size = want
	}
	b := make([]byte, 0, size)
	for int64(len(b)) < limit {
		if len(b) == cap(b) {
			next := min(2*int64(cap(b)), limit)
			if announced >= 0 && int64(len(b)) >= want/4 && want > int64(cap(b)) {
				next = want
			}
			b = append(make([]byte, 0, next), b...)
		}
		n, err := r.Read(b[len(b):min(int64(cap(b)), limit)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}
