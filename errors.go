package concord

// Layer: Values (ARCHITECTURE.md).

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// Sentinel errors, matched with errors.Is. The typed errors below (APIError,
// ConflictError, RetryError, MergeClashError) report Is for the sentinels
// that describe them, so callers can branch on the sentinel and reach for the
// type only when they need its data.
var (
	// ErrNotFound: the server answered 404 or 410.
	ErrNotFound = errors.New("concord: not found")
	// ErrConflict: a write was rejected as conflicting (409 or 412) and
	// concord could not, or was not asked to, resolve it.
	ErrConflict = errors.New("concord: conflict")
	// ErrAlreadyExists: a create found the resource already there and the
	// existing one was not adopted.
	ErrAlreadyExists = errors.New("concord: already exists")
	// ErrMergeAborted: a merge or mutate function gave up. Return it (or wrap
	// it) from a MergeFunc to stop the conflict loop without writing.
	ErrMergeAborted = errors.New("concord: merge aborted")
	// ErrIdempotencyKeyReused: the server saw this idempotency key before with
	// a different request. It is a bug in the caller and is never retried.
	ErrIdempotencyKeyReused = errors.New("concord: idempotency key reused with a different request")
	// ErrRetryBudgetExhausted: a retry was needed but the client's retry
	// budget is spent, so the call failed fast instead of adding load.
	ErrRetryBudgetExhausted = errors.New("concord: retry budget exhausted")
	// ErrWaitTooLong: the wait before the next attempt (a Retry-After hint
	// or a backoff) is longer than the policy's cap or would end after the
	// context's deadline, so concord stopped at once instead of sleeping.
	ErrWaitTooLong = errors.New("concord: wait before retry too long")
	// ErrInvalidETag: a value is not an RFC 9110 entity-tag.
	ErrInvalidETag = errors.New("concord: invalid entity-tag")
	// ErrNoVersion: a conditional write needs a version (a strong ETag or a
	// body version) and the server has not provided one. Pass WithBaseVersion,
	// set a Versioner that finds the API's version, or opt out with
	// WithUnconditional.
	ErrNoVersion = errors.New("concord: no usable version for a conditional write")
	// ErrResponseTooLarge: a success body is larger than Limits.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("concord: response body too large")
	// ErrDecode: a response body does not decode into the expected type.
	ErrDecode = errors.New("concord: cannot decode response")
	// ErrWriteApplied: a write took effect on the server (it was answered
	// with a 2xx status) but the call still failed: the response body was
	// cut short, too large or did not decode, or the answer showed that
	// its precondition could not be trusted (ErrETagUnreliable). Do not repeat the write
	// blindly; read the resource to see its state. Resource methods return
	// the Result they could build alongside such an error.
	ErrWriteApplied = errors.New("concord: the write took effect but its response could not be used")
	// ErrInvalidID: an item ID is empty, "." or "..", which would address
	// the collection or its parent rather than an item.
	ErrInvalidID = errors.New("concord: invalid item ID")
	// ErrReentrantWrite: a merge or mutate function wrote the resource it
	// was called for through the same client. Writes of one client to one
	// resource take turns, so it would wait for its own turn forever;
	// concord refuses it at once instead. Return the new value from the
	// function instead, or see WithConcurrentWrites.
	ErrReentrantWrite = errors.New("concord: a merge or mutate function wrote its own resource through the same client")
	// ErrConflictPersists: the server rejected a write made against the very
	// version it had just served, so the conflict is not about staleness and
	// retrying would spin.
	ErrConflictPersists = errors.New("concord: conflict persists against the current version")
	// ErrETagUnreliable: the server served one strong ETag for two
	// different contents of a resource (an ETag made of a file time with
	// one-second resolution, say), so its ETags do not identify content and
	// a condition on one cannot stop a stale write. From then on the client
	// refuses writes conditional on ETags and no longer revalidates with
	// them; the write that showed it took effect and also matches
	// ErrWriteApplied. Use a Versioner the server keeps (a body version), or
	// WithTrustedETags.
	ErrETagUnreliable = errors.New("concord: the server's ETags do not identify content")
	// ErrLocked: the resource is locked by another holder (423 Locked, an
	// Azure lease), longer than a call waits for it, or a write under a
	// lock was refused because the lock was lost. See WithLocks.
	ErrLocked = errors.New("concord: the resource is locked")
	// ErrLockUnavailable: WithLocks could not take the server's lock on
	// an item for a reason waiting will not change (a LOCK answered 404,
	// 405 or 5xx, a server that does not speak the locker's protocol):
	// the call ends without writing rather than go on unlocked.
	ErrLockUnavailable = errors.New("concord: the server's lock cannot be taken")
	// ErrPageLoop: a collection's next page is one already read (a page
	// that names itself, or a cycle of links or cursors), so following
	// it would read the same pages forever.
	ErrPageLoop = errors.New("concord: the pages loop")
)

// Problem holds the members of an RFC 9457 problem details document
// (application/problem+json). Type is the identifier to branch on; Detail is
// for people and should not be parsed.
type Problem struct {
	Type     string `json:"type,omitempty"`
	Title    string `json:"title,omitempty"`
	Status   int    `json:"status,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Extensions holds any other members of the document.
	Extensions map[string]any `json:"-"`
}

// APIError is a response that was not a success. It keeps what a caller
// needs to act on or report the failure: the request, the status, the
// server's request ID, the problem details when the body carried them, the
// conflict kind for 409/412/422/428, and a bounded prefix of the body.
type APIError struct {
	Method     string
	URL        string // credentials and sensitive query values redacted
	StatusCode int
	Header     http.Header
	// RequestID is the first of X-Request-Id, Request-Id, X-Amzn-RequestId
	// or X-Correlation-Id that the server sent, if any.
	RequestID string
	// Code is the machine-readable error code the response carried, if
	// any: a problem type, a Kubernetes Status reason, a CouchDB error, a
	// Stripe, Azure, Google, S3 or GitHub error code.
	Code string
	// Message is the server's own message, in its words: a problem's
	// title and detail, or the message member of the API's error format
	// (GitHub's "Validation Failed", Stripe's, Google's, Azure's,
	// Kubernetes', CouchDB's reason, FastAPI's detail, S3's <Message>).
	// Control characters are replaced and it is cut at 512 bytes; empty
	// when the body carried none concord can find.
	Message string
	// Dialect names the error format Code was read from: "problem+json",
	// "azure", "kubernetes", "couchdb", "stripe", "google", "github" or
	// "s3"; empty when the response was in none concord reads.
	Dialect string
	// Problem is set when the body was an RFC 9457 problem document.
	Problem *Problem
	// Kind says what a 409, 412, 422 or 428 meant; it is KindNone otherwise.
	Kind ConflictKind
	// Body is at most Limits.MaxErrorBodyBytes of the response body.
	Body []byte
	// Truncated reports whether Body is shorter than what the server sent.
	Truncated bool
}

// Error describes the request, the status, the conflict kind and the
// problem title or code.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "concord: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Kind != KindNone {
		fmt.Fprintf(&b, " (%s)", e.Kind)
	}
	switch code := printable(e.Code, 128); {
	case e.Message != "" && code != "" && code != e.Message && e.Problem == nil:
		fmt.Fprintf(&b, ": %s (%s)", e.Message, code)
	case e.Message != "":
		fmt.Fprintf(&b, ": %s", e.Message)
	case code != "":
		fmt.Fprintf(&b, ": %s", code)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request %s]", printable(e.RequestID, 128))
	}
	return b.String()
}

// truncate shortens s to at most n bytes, for error messages about
// untrusted input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// printable returns a server's text fit for one log line: control
// characters (line breaks included, which could forge log lines) become
// spaces; invisible format characters (bidi overrides and isolates, which
// can make a log line read other than it is, as in Trojan Source; zero
// width characters; the BOM) and invalid UTF-8 become U+FFFD, so that a
// reader sees something was there; and it is cut to at most n bytes.
func printable(s string, n int) string {
	s = strings.ToValidUTF8(truncate(s, n), "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return ' '
		case unicode.Is(unicode.Cf, r):
			return '\uFFFD'
		}
		return r
	}, s)
}

// Is reports whether the response matches a sentinel: ErrNotFound for 404
// and 410, ErrConflict for 409 and 412, ErrAlreadyExists,
// ErrIdempotencyKeyReused and ErrLocked by Kind.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone
	case ErrConflict:
		return e.StatusCode == http.StatusConflict || e.StatusCode == http.StatusPreconditionFailed
	case ErrAlreadyExists:
		return e.Kind == KindAlreadyExists
	case ErrIdempotencyKeyReused:
		return e.Kind == KindKeyReused
	case ErrLocked:
		return e.Kind == KindLocked
	}
	return false
}

// ConflictError reports a conditional write that concord gave up on: the
// conflict loop ran out of attempts or time, no merge function was given, or
// the conflict was not one a merge can resolve. It matches ErrConflict.
type ConflictError struct {
	// Kind is the classification of the last conflict response.
	Kind ConflictKind
	// Attempts is how many writes the loop sent.
	Attempts int
	// Version is the newest version of the resource the call knows, in
	// the versioner's terms (the ETag's text for ETag-versioned resources,
	// which ParseETag makes an ETag; the body member's raw JSON
	// otherwise): the version the server holds when the call read the
	// item after its last refusal (a Delete always reads it; a write when
	// it merged, found the item changed before writing, or checked
	// whether its own resent copy took effect), else the version its
	// refused request carried. The same for Replace, Update and Delete.
	Version string
	// Err is why the loop stopped: the last *APIError, a context error,
	// ErrConflictPersists, ErrWaitTooLong.
	Err error
	// Resent reports that the refused request went out more than once (a
	// retry after a lost answer, or net/http's own resend), and that a
	// read could not show that the server holds what was sent: an
	// earlier copy may have taken effect before the item changed again.
	// The conflict then says that the item is not at the caller's version
	// now, not that nothing was written.
	Resent bool
}

// Error describes the kind, the attempts, the last version and the reason.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("concord: conflict (%s) not resolved after %d attempt(s), last version %q: %v",
		e.Kind, e.Attempts, e.Version, e.Err)
}

// Unwrap returns the reason the loop stopped.
func (e *ConflictError) Unwrap() error { return e.Err }

// Is reports true for ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// RetryError reports a request that was retried, or needed a retry that was
// refused, and still failed. Err is the final attempt's error (usually an
// *APIError holding the final response, which is never lost); Prior holds
// the earlier attempts' errors, oldest first. errors.Is and errors.As search
// Reason, Err and then Prior.
type RetryError struct {
	// Attempts is the number of HTTP requests sent.
	Attempts int
	// Reason is why no further retry was made when that was not simply the
	// attempt limit: ErrRetryBudgetExhausted or ErrWaitTooLong. Nil when the
	// attempts ran out.
	Reason error
	// Delay is the wait that was needed when Reason is ErrWaitTooLong: the
	// server's Retry-After or the backoff.
	Delay time.Duration
	// Err is the final attempt's error.
	Err error
	// Prior are the errors of the attempts before the final one.
	Prior []error
}

// Error describes the attempts, why retrying stopped and the final error.
func (e *RetryError) Error() string {
	switch {
	case e.Reason == ErrWaitTooLong:
		return fmt.Sprintf("concord: gave up after %d attempt(s): next attempt needs a wait of %v: %v", e.Attempts, e.Delay, e.Err)
	case e.Reason != nil:
		return fmt.Sprintf("concord: gave up after %d attempt(s): %v: %v", e.Attempts, e.Reason, e.Err)
	}
	return fmt.Sprintf("concord: gave up after %d attempt(s): %v", e.Attempts, e.Err)
}

// Unwrap returns Reason (when set), Err and the prior errors, so errors.Is
// and errors.As see every attempt, the final one first.
func (e *RetryError) Unwrap() []error {
	errs := make([]error, 0, 2+len(e.Prior))
	if e.Reason != nil {
		errs = append(errs, e.Reason)
	}
	errs = append(errs, e.Err)
	return append(errs, e.Prior...)
}

// MergeClashError is returned by ThreeWay (and MergeJSON) under the Fail
// policy when both sides changed the same JSON members to different values.
// It matches ErrMergeAborted.
type MergeClashError struct {
	// Paths are the clashing members as JSON Pointers (RFC 6901), sorted.
	Paths []string
}

// Error lists the clashing JSON Pointers.
func (e *MergeClashError) Error() string {
	return "concord: merge clash at " + strings.Join(e.Paths, ", ")
}

// Is reports true for ErrMergeAborted.
func (e *MergeClashError) Is(target error) bool { return target == ErrMergeAborted }

// DecodeError reports a response body that does not decode into the
// expected type. It matches ErrDecode.
type DecodeError struct {
	Method     string
	URL        string
	StatusCode int
	Type       string // the Go type that was expected
	Err        error
}

// Error names the request, the status and the expected type.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("concord: %s %s: %d response does not decode into %s: %v", e.Method, e.URL, e.StatusCode, e.Type, e.Err)
}

// Unwrap returns the decoder's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Is reports true for ErrDecode.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// PanicError reports that a merge or mutate function panicked. The call
// stopped without writing. It is kept apart from ErrMergeAborted, which a
// function returns on purpose, because a panic is a bug to fix, not a
// decision to let a person resolve the conflict.
type PanicError struct {
	// Func is "merge" or "mutate".
	Func string
	// Value is what the function panicked with.
	Value any
	// Stack is the goroutine's stack where the panic was recovered.
	Stack []byte
}

// Error names the function and the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("concord: %s function panicked: %v", e.Func, e.Value)
}

// errPanicked marks a panic in the caller's code that concord ran on a
// goroutine of its own, recovered and turned into an error.
var errPanicked = errors.New("concord: panic in a caller's function")
