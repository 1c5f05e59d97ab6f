package concord

// Layer: Conflict loop and merges (ARCHITECTURE.md).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
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
func (b *backOff) wait(ctx context.Context, cl *call, h http.Header) error {
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
	return b.c.wait(ctx, d)
}

// errBackoffStopped ends a call whose ConflictPolicy backoff said stop.
var errBackoffStopped = errors.New("concord: the conflict backoff stopped")

// write is the state of one conditional write through the conflict loop.
type write[T any] struct {
	url      itemURL
	mine     T
	mineBody []byte   // mine encoded, when already known; nil otherwise
	base     snapshot // body nil when the base is unknown
	// underLock: base was read while the call held the server's lock, so
	// it is current, and the lock's proof alone makes the write
	// conditional when its version cannot be sent (a weak ETag).
	underLock bool
	merge     MergeFunc[T]
	opts      *callOptions
	call      *call
	turn      *writeLock // nil with WithConcurrentWrites

	// The loop's own state, set by writeLoop.
	contention backOff        // between writes that conflicted
	waiting    backOff        // between reads that wait for a version
	key        idempotencyKey // one key state for all the call's writes
	required   bool           // a 428 was answered once already
	conflicts  int            // conflict responses and conflicts found before writing
}

// writeLoop sends a conditional write and resolves stale-version conflicts
// by refetching (or reading the state the conflict response carried),
// merging and writing again against the new version. The reads it makes on
// its own are not remembered as the tracked version: only a write that
// succeeds moves it. Each round has three steps: build the request
// (ready), send it, and read a refusal (refused), which may need the
// current state (theirs).
func (r *Resource[T]) writeLoop(ctx context.Context, w *write[T]) (*Result[T], error) {
	w.contention, w.waiting = r.c.contentionBackOff(), r.c.waitingBackOff()
	for round := 1; ; round++ {
		out, sent, step := r.ready(ctx, w, round)
		if step.again {
			continue
		}
		if step.ends() {
			return step.res, step.err
		}
		mark := w.call.wireMark()
		resp, err := r.c.exchange(ctx, w.call, &out)
		if err == nil {
			return r.succeeded(ctx, w, &resp, sent)
		}
		if step = r.refused(ctx, w, round, &out, sent, mark, &resp, err); !step.again {
			return step.res, step.err
		}
	}
}

// outcome is how a step of the conflict loop ended: with the call's
// result or error, with w ready for another round (again), or neither,
// when the round goes on.
type outcome[T any] struct {
	res   *Result[T]
	err   error
	again bool
}

// ends reports whether the call ends here.
func (s outcome[T]) ends() bool { return s.res != nil || s.err != nil }

// goOn is the outcome of a step after which the round goes on.
func goOn[T any]() outcome[T] { return outcome[T]{} }

// again is the outcome of a step after which the loop goes round again.
func again[T any]() outcome[T] { return outcome[T]{again: true} }

// end is the outcome of a step that ends the call.
func end[T any](res *Result[T], err error) outcome[T] { return outcome[T]{res: res, err: err} }

// ready builds the round's request. A version it cannot send, or one read
// before the server's lock, is settled first (settleBase); an item that
// changed since mine's base is a conflict found before writing, merged
// (again) or returned.
func (r *Resource[T]) ready(ctx context.Context, w *write[T], round int) (outgoing, []byte, outcome[T]) {
	o := w.opts
	out, sent, err := r.buildWrite(w, &w.key)
	if r.unsettled(err, o, w.underLock) {
		f, changed, ferr := r.settleBase(ctx, w.call, w.url, o, w.base, &w.waiting)
		if ferr != nil {
			return outgoing{}, nil, end[T](nil, fmt.Errorf("concord: write to %s: %w", r.c.redact.url(string(w.url)), ferr))
		}
		if changed {
			w.conflicts++
			if w.merge == nil {
				return outgoing{}, nil, end[T](nil, conflictError(KindStaleVersion, round, f.snap.version, fmt.Errorf("%w: the item changed since version %s", ErrConflict, w.base.version)))
			}
			return outgoing{}, nil, r.mergeRound(ctx, w, w.mineBody, f, round)
		}
		w.base, w.underLock = f.snap, o.lockHeld
		out, sent, err = r.buildWrite(w, &w.key)
	}
	if err != nil {
		return outgoing{}, nil, end[T](nil, fmt.Errorf("concord: write to %s: %w", r.c.redact.url(string(w.url)), err))
	}
	return out, sent, goOn[T]()
}

// succeeded returns the result of a write the server accepted, and
// remembers its version. A server that kept its ETag across the write is
// noted (its tags are no validators); outside the lock that is an error,
// since the caller may rely on the tag, while under the lock, where no
// tag is relied on, the write is the success it was.
func (r *Resource[T]) succeeded(ctx context.Context, w *write[T], resp *Response, sent []byte) (*Result[T], error) {
	res := r.written(resp, w.url, w.mine, sent, w.opts, w.conflicts)
	if r.c.noteETag(ctx, w.opts.versioner, w.url, w.base, resp.ETag, sent) && !w.opts.lockHeld {
		return res, fmt.Errorf("%w: %w: %s kept ETag %s across the write", ErrWriteApplied, ErrETagUnreliable, r.c.redact.url(string(w.url)), resp.ETag)
	}
	return res, nil
}

// refused reads a write's refusal: a write that took effect all the same,
// a lost lock, a conflict to return, or one to resolve with the current
// state (theirs) in another round.
func (r *Resource[T]) refused(ctx context.Context, w *write[T], round int, out *outgoing, sent []byte, mark int32, resp *Response, err error) outcome[T] {
	c, o := r.c, w.opts
	if errors.Is(err, ErrWriteApplied) {
		return end(r.applied(w.url, resp, w.mine, o, w.conflicts, err))
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return end[T](nil, err)
	}
	if o.lockHeld && (apiErr.Kind == KindLocked || w.underLock && apiErr.Kind == KindStaleVersion) {
		// Nobody could change what was read under the lock while it
		// was held: the lock was lost (it expired, or the server
		// refused its token). The write did not take effect; writing
		// again would not be under the lock (see locked).
		return end[T](nil, fmt.Errorf("concord: write to %s: %w: %w: %w", r.c.redact.url(string(w.url)), errLockLost, ErrLocked, err))
	}
	if apiErr.Kind != KindStaleVersion && apiErr.Kind != KindPreconditionRequired {
		return end[T](nil, err)
	}
	w.conflicts++
	c.observeConflict(ctx, ConflictEvent{InvocationID: w.call.id, Method: out.method, URL: r.c.redact.url(string(w.url)), Kind: apiErr.Kind, StatusCode: apiErr.StatusCode, Attempt: round, Version: w.base.version})
	switch {
	case apiErr.Kind == KindPreconditionRequired && (w.required || out.conditional):
		return end[T](nil, err)
	case apiErr.Kind == KindStaleVersion && w.merge == nil:
		version, resent := w.base.version, w.call.resentSince(mark)
		if resent {
			// The write went out more than once (a retry, or net/http's
			// own resend): the 412 may answer our own write that took
			// effect. If the server holds exactly what we sent, it did;
			// otherwise it may have, before another write.
			res, current := r.appliedAlready(ctx, w, sent)
			if res != nil {
				return end(res, nil)
			}
			if current != "" {
				version = current
			}
		}
		return end[T](nil, &ConflictError{Kind: apiErr.Kind, Attempts: round, Version: version, Err: err, Resent: resent})
	case c.spent(w.call, round):
		return end[T](nil, conflictError(apiErr.Kind, round, w.base.version, err))
	}
	theirs, ferr := r.theirs(ctx, w, round, apiErr, resp, err)
	if ferr != nil {
		return end[T](nil, ferr)
	}
	if apiErr.Kind == KindPreconditionRequired {
		// The server wants a precondition: send the same value once,
		// conditional on the version it holds.
		w.required = true
		w.base = theirs.snap
		return again[T]()
	}
	if theirs.snap.version != "" && theirs.snap.version == w.base.version {
		return end[T](nil, conflictError(apiErr.Kind, round, w.base.version, fmt.Errorf("%w: %w", ErrConflictPersists, err)))
	}
	return r.mergeRound(ctx, w, sent, theirs, round)
}

// theirs returns the current state after a conflict. After a first
// conflict, the state the conflict response carried (when the API sends
// it) is used at once: it is as fresh as it will ever be, and waiting
// would only let it go stale. A second conflict means real contention:
// then concord backs off and fetches after the wait, so that it sees what
// the other writers did meanwhile. (Retrying at once every time herds the
// writers: measured, it sent three times the requests.)
func (r *Resource[T]) theirs(ctx context.Context, w *write[T], round int, apiErr *APIError, resp *Response, err error) (*fetched, error) {
	if round == 1 {
		if theirs := r.carried(w, resp); theirs != nil {
			return theirs, nil
		}
	}
	if apiErr.Kind == KindStaleVersion {
		if werr := w.contention.wait(ctx, w.call, apiErr.Header); werr != nil {
			return nil, conflictError(apiErr.Kind, round, w.base.version, errors.Join(werr, err))
		}
	}
	f, ferr := r.fetch(ctx, w.call, w.url, w.opts, false)
	if ferr != nil {
		return nil, ferr
	}
	return &f, nil
}

// conflictError is the error of a conflict the loop gives up on.
func conflictError(kind ConflictKind, round int, version string, err error) error {
	return &ConflictError{Kind: kind, Attempts: round, Version: version, Err: err}
}

// mergeRound merges mine (encoded as sent) onto theirs. It ends the call
// when nothing is left to write or the merge gave up; otherwise w holds
// the merged write for the next round.
func (r *Resource[T]) mergeRound(ctx context.Context, w *write[T], sent []byte, theirs *fetched, round int) outcome[T] {
	merged, mergedBody, unchanged, err := r.merge(ctx, w, sent, theirs.snap, round)
	if err != nil {
		return end[T](nil, err)
	}
	if unchanged {
		res, err := r.result(theirs, w.conflicts)
		if err != nil {
			return end[T](nil, err)
		}
		r.c.versions.put(w.url, theirs.snap)
		res.Unchanged = true
		return end(res, nil)
	}
	w.base, w.mine, w.mineBody = theirs.snap, merged, mergedBody
	w.underLock = w.opts.lockHeld // theirs was read during the call
	return again[T]()
}

// unsettled reports whether a conditional request cannot go as built: the
// version it has cannot be sent (err wraps ErrNoVersion) and the call did
// not ask to go without one, or it was read before the call took the
// server's lock and must be checked under it. settleBase then finds the
// version to send.
func (r *Resource[T]) unsettled(err error, o *callOptions, underLock bool) bool {
	return errors.Is(err, ErrNoVersion) && !o.unconditional || o.lockHeld && !underLock
}

// settleBase finds the version a write or a delete of u is to be
// conditional on, for the one it has (base, perhaps empty) is unsettled:
// under the server's lock it reads once, since what the server serves then
// is current; otherwise it waits for a version the versioner can send (a
// weak ETag, as Apache serves for a second after each write, cannot be). It
// reports whether the item changed since base (see changedSince): then
// what the call built on base is stale.
func (r *Resource[T]) settleBase(ctx context.Context, cl *call, u itemURL, o *callOptions, base snapshot, waiting *backOff) (*fetched, bool, error) {
	var f *fetched
	if o.lockHeld {
		lf, err := r.fetch(ctx, cl, u, o, false)
		if err != nil {
			return nil, false, err
		}
		f = &lf
	} else {
		var err error
		if f, err = r.awaitVersion(ctx, cl, u, o, waiting); err != nil {
			return nil, false, err
		}
	}
	return f, changedSince(base, f.snap, o), nil
}

// changedSince reports whether the item changed between base, what a call
// built on, and now, a read of it. They are compared by content whenever
// base's body is known and either the call holds the server's lock (a tag
// that does not move, nginx's by the second, cannot say that a newer
// write came in) or base has no version to compare (a write answered
// without one, as Apache answers a PUT); otherwise by version. A base
// with neither is nothing to compare.
func changedSince(base, now snapshot, o *callOptions) bool {
	if base.body != nil && (o.lockHeld || base.version == "") {
		return !sameJSON(base.body, now.body, versionPath(o.versioner))
	}
	return base.version != "" && !sameVersion(base.version, now.version)
}

// awaitVersion reads the item until the server serves a version the
// versioner can send, backing off between reads, within the call's
// conflict budget (limit reads when positive). It
// fails with ErrNoVersion when none comes, or at once when the server
// serves no version at all, which waiting will not change.
func (r *Resource[T]) awaitVersion(ctx context.Context, cl *call, u itemURL, o *callOptions, waiting *backOff) (*fetched, error) {
	for tries := 1; ; tries++ {
		if tries > 1 {
			if err := waiting.wait(ctx, cl, nil); err != nil {
				return nil, fmt.Errorf("%w: waiting for a usable version: %w", ErrNoVersion, err)
			}
		}
		f, err := r.fetch(ctx, cl, u, o, false)
		if err != nil {
			return nil, err
		}
		switch {
		case usable(o.versioner, f.snap.version):
			return &f, nil
		case f.snap.version == "":
			return nil, fmt.Errorf("%w: the server sends none", ErrNoVersion)
		case r.c.spent(cl, tries):
			return nil, fmt.Errorf("%w: still %s after %d reads", ErrNoVersion, f.snap.version, tries)
		}
	}
}

// usable reports whether the versioner can make a write conditional on
// version: a strong ETag (or any, when Opaque), or any body version.
func usable(v Versioner, version string) bool {
	if ev, ok := v.(ETagVersion); ok {
		tag, err := ParseETag(version)
		return err == nil && (!tag.IsWeak() || ev.Opaque)
	}
	return version != ""
}

// sameVersion reports whether two versions name the same state: ETags
// under weak comparison (Apache's W/"x" and "x" are one file state), other
// versions byte for byte.
func sameVersion(a, b string) bool {
	ta, errA := ParseETag(a)
	tb, errB := ParseETag(b)
	if errA == nil && errB == nil {
		return ta.WeakEqual(tb)
	}
	return a == b
}

// appliedAlready reads the item after a write that went out more than once
// was rejected as stale, and returns the result of a successful write when
// the server holds exactly what was sent; otherwise nil, and the version
// the read found (empty when it failed). For a Replace, whose value is
// absolute, that state is the write's outcome whoever made it.
func (r *Resource[T]) appliedAlready(ctx context.Context, w *write[T], sent []byte) (*Result[T], string) {
	f, err := r.fetch(ctx, w.call, w.url, w.opts, false)
	if err != nil {
		return nil, ""
	}
	if !sameJSON(roundTrip[T](f.snap.body), sent, versionPath(w.opts.versioner)) {
		return nil, f.snap.version
	}
	res, err := r.result(&f, w.conflicts)
	if err != nil {
		return nil, f.snap.version
	}
	r.c.versions.put(w.url, f.snap)
	return res, ""
}

// buildWrite encodes the write of one round: the body (or merge patch),
// its version precondition and, unless WithoutIdempotencyKeys, its
// idempotency key, fresh whenever the bytes or the version change.
func (r *Resource[T]) buildWrite(w *write[T], key *idempotencyKey) (outgoing, []byte, error) {
	o := w.opts
	full := w.mineBody
	if full == nil {
		var err error
		if full, err = json.Marshal(w.mine); err != nil {
			return outgoing{}, nil, fmt.Errorf("concord: encoding %T: %w", w.mine, err)
		}
		w.mineBody = full
	}
	var err error
	out := *r.outgoing(o.at.writeMethod, o.at.write, o)
	body := full
	if o.patch && w.base.body != nil {
		if body, err = MergePatch(roundTrip[T](w.base.body), full); err != nil {
			return outgoing{}, nil, err
		}
		out.method, out.contentType = http.MethodPatch, "application/merge-patch+json"
	}
	if err := r.condition(&out, o, w.url, w.base.version, w.underLock, body, key); err != nil {
		return outgoing{}, nil, err
	}
	return out, full, nil
}

// condition makes out, a write of body (nil for a delete) to its item,
// conditional on version in the versioner's terms (a header, a query
// parameter, a member of body), and gives it, unless WithoutIdempotencyKeys,
// its idempotency key, fresh whenever the bytes or the version change. With
// no version it fails with ErrNoVersion, unless the call is
// WithUnconditional: never a reason to send it without one.
//
// Under the server's lock (underLock: version was read while the call held
// it), an ETag is not sent: the lock's proof, on every request of the
// call, is the precondition. No writer that respects the lock can have
// changed what was read under it, and one that does not is refused by the
// server. An If-Match as well only added false refusals (Apache mod_dav
// refused 1 locked write in 6 runs of the interop suite's locked counter).
// A version in the body or the query is still sent: the API may need it to
// accept the request at all.
func (r *Resource[T]) condition(out *outgoing, opts *callOptions, u itemURL, version string, underLock bool, body []byte, key *idempotencyKey) error {
	_, tags := opts.versioner.(ETagVersion)
	q := opts.query
	if !tags {
		q = cloneValues(opts.query) // a versioner may add to the query
	}
	var err error
	switch {
	case underLock && tags:
		out.conditional = true
	case version != "":
		if body, err = r.c.applyVersion(opts.versioner, version, out, q, body); err != nil {
			return err
		}
		out.conditional = true
	case !opts.unconditional:
		return fmt.Errorf("%w (no version known for %s)", ErrNoVersion, r.c.redact.url(string(u)))
	}
	out.setQuery(q)
	out.body = body
	if !opts.noKey {
		// The key stands for these bytes against this version: a round
		// that changes either gets a fresh key, or the server would replay
		// the previous round's answer.
		if out.key, err = r.c.keyFor(key, opts.key, version, body); err != nil {
			return err
		}
	}
	return nil
}

// carried returns the state a conflict response carried, when it carried
// a representation with a version other than the one just rejected (a
// response echoing that version is not the current state), or nil.
func (r *Resource[T]) carried(w *write[T], resp *Response) *fetched {
	if resp == nil || !carriesState(resp) {
		return nil
	}
	v := w.opts.versioner.Version(resp.Header, resp.Body)
	if v == "" || v == w.base.version {
		return nil
	}
	var probe T
	if json.Unmarshal(resp.Body, &probe) != nil {
		return nil
	}
	snap := snapshot{version: v, etag: resp.ETag, body: resp.Body}
	return &fetched{snap: snap, resp: *resp, url: w.url}
}

// carriesState reports whether a conflict response may hold the resource's
// current representation rather than an error document: it is
// application/json (not problem+json) and not a Kubernetes Status or an
// {"error": ...} body. The caller also requires a version other than the
// one the rejected write carried.
func carriesState(resp *Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" || len(resp.Body) == 0 {
		return false
	}
	dialect, _ := errorCode(resp.Header, resp.Body, nil)
	return dialect == dialectNone
}

// etagOf returns version as an ETag when it is one.
func etagOf(version string) ETag {
	tag, err := ParseETag(version)
	if err != nil {
		return ""
	}
	return tag
}

// conflictsOf is how many conflicts a call met: from its result, or from
// the *ConflictError it ended with.
func conflictsOf[T any](res *Result[T], err error) int {
	if res != nil {
		return res.Conflicts
	}
	var ce *ConflictError // escapes: declared after the success return
	if errors.As(err, &ce) {
		return ce.Attempts
	}
	return 0
}
