package concord

// Layer: Operations (ARCHITECTURE.md).

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
)

// Replace writes mine as the new state of item id, conditional on the
// version the client tracks for it (or WithBaseVersion). With no version
// known it first GETs the item, and creates it with If-None-Match: * when it
// does not exist. On a stale-version conflict it fetches the current
// version (theirs), calls the resource's merge (see WithMerge) with (base,
// mine, theirs) and writes the result against theirs' version, with
// backoff, until it succeeds, the merge gives up or ConflictPolicy's limit
// or the context's deadline is reached. Without a merge it returns a
// *ConflictError rather than overwrite. With WithUnconditional and no
// version known it writes blindly, and answers a 428 Precondition Required
// by fetching the version and writing once more, conditionally.
//
// Replace never overwrites a version mine was not derived from: the
// precondition is WithBaseVersion's version (pass Result.Version of the
// read mine came from), or else the version this client last read or wrote
// for the item. A failed call leaves that version where it was, so repeating a
// rejected Replace is rejected again rather than taken against whatever the
// conflict loop saw meanwhile. Another goroutine's Get through the same
// client does move it: goroutines that share a client and read the same
// item should pass WithBaseVersion.
func (r *Resource[T]) Replace(ctx context.Context, id string, mine T, opts ...CallOption) (res *Result[T], err error) {
	p, err := start(r, ctx, id, opts)
	defer func() { p.done("Replace", conflictsOf(res, err), err) }()
	if err != nil {
		return nil, err
	}
	if err := p.takeTurn(); err != nil {
		return nil, err
	}
	defer p.endTurn()
	return p.locked(func() (*Result[T], error) { return p.replace(mine) })
}

// replace is Replace past the turns, under the server's lock with
// WithLocks.
func (p *op[T]) replace(mine T) (*Result[T], error) {
	base, known := p.r.c.versions.get(p.u)
	if p.lock.missing() {
		if !known && p.o.version == "" {
			return p.createAt(mine)
		}
		// mine was derived from a version of an item that is gone now:
		// taking the lock found nothing there. Writing would bring it
		// back from a stale base, where an unlocked Replace is refused
		// (412 to its If-Match); an empty item the lock made goes.
		p.dropCreated()
		return nil, conflictError(KindStaleVersion, 1, "", fmt.Errorf("%w: the item was deleted since version %s", ErrConflict, cmp.Or(p.o.version, base.version)))
	}
	underLock := false // base was read under the server's lock
	switch {
	case p.o.version != "":
		if base.version != p.o.version {
			base = snapshot{version: p.o.version} // the base is unknown: merge from theirs
		}
	case !known && !p.o.unconditional:
		f, err := p.fetch(true)
		if errors.Is(err, ErrNotFound) {
			return p.createAt(mine)
		}
		if err != nil {
			return nil, err
		}
		base, underLock = f.snap, p.lock.held
	}
	w := &write[T]{op: p, mine: mine, base: base, underLock: underLock, merge: p.r.mergeFunc}
	return w.loop()
}

// Update applies mutate to the current value of item id and writes the
// result conditionally: a read-modify-write that never loses a concurrent
// update. It starts from the tracked copy (or GETs one), and after each
// conflict re-applies mutate to a fresh copy of the newest version. mutate
// may run several times and must depend only on its argument; returning an
// error (such as ErrMergeAborted) stops the call without writing. A mutate
// that changes nothing writes nothing. Calls on one resource through one
// client take turns (see WithConcurrentWrites), so mutate must not write
// that resource through the same client: such a write fails at once with
// ErrReentrantWrite.
func (r *Resource[T]) Update(ctx context.Context, id string, mutate func(*T) error, opts ...CallOption) (res *Result[T], err error) {
	p, err := start(r, ctx, id, opts)
	defer func() { p.done("Update", conflictsOf(res, err), err) }()
	if err != nil {
		return nil, err
	}
	if err := p.takeTurn(); err != nil {
		return nil, err
	}
	defer p.endTurn()
	return p.locked(func() (*Result[T], error) { return p.update(mutate) })
}

// update is Update past the turns, under the server's lock with WithLocks.
func (p *op[T]) update(mutate func(*T) error) (*Result[T], error) {
	if p.lock.missing() { // the item was not there when the lock was taken
		p.dropCreated()
		return nil, fmt.Errorf("concord: update %s: %w", p.url(), ErrNotFound)
	}
	base, cached := p.r.c.versions.get(p.u)
	cached = cached && base.body != nil // a version without its body: read it
	for {
		if !cached {
			f, err := p.fetch(true)
			if err != nil {
				return nil, err
			}
			base = f.snap
		}
		var mine T
		if kept, ok := base.value.(*T); ok && p.r.c.versions.claim(p.u, base.value) {
			// A copy of what the client wrote last, which nobody else
			// holds: what decoding the bytes it wrote would give, without
			// the decode. Claimed, it is this call's to change.
			mine = *kept
		} else if err := decode(p.r.c, &Response{Body: base.body}, http.MethodGet, string(p.u), &mine); err != nil {
			return nil, err
		}
		// The no-op check compares encodings of T before and after mutate.
		// The encoding before is the base's body itself when that is
		// concord's own encoding of a T (base.encoded): decoding and
		// encoding it again gives the same bytes. Otherwise T is encoded
		// once more before mutate, since the server's bytes may differ
		// from T's encoding of the same state (members T lacks, spacing).
		var before []byte
		var err error
		if !base.encoded {
			if before, err = json.Marshal(mine); err != nil {
				return nil, fmt.Errorf("concord: encoding %T: %w", mine, err)
			}
		}
		p.turn.callback(func() { err = safeMutate(mutate, &mine) })
		if err != nil {
			return nil, fmt.Errorf("concord: update %s: %w", p.url(), err)
		}
		mineBody, err := json.Marshal(mine)
		if err != nil {
			return nil, fmt.Errorf("concord: encoding %T: %w", mine, err)
		}
		if base.encoded {
			before = base.body
		}
		if !bytes.Equal(mineBody, before) {
			w := &write[T]{op: p, mine: mine, mineBody: mineBody, base: base, underLock: !cached && p.lock.held, merge: MergeMutate(mutate)}
			return w.loop()
		}
		if cached {
			// Nothing to write according to the tracked copy, which may be
			// stale: check against the server once before saying so.
			cached = false
			continue
		}
		return &Result[T]{Value: mine, Version: base.version, Unchanged: true, Response: Response{Body: base.body, ETag: etagOf(base.version), Requests: p.cl.sent()}}, nil
	}
}

// write is the state of one conditional write of a call through the
// conflict loop; each step of the loop is a method of it.
type write[T any] struct {
	*op[T]
	mine T
	// mineBody is mine encoded, the bytes each round sends (or patches
	// from); nil until known.
	mineBody []byte
	base     snapshot // body nil when the base is unknown
	// underLock: base was read while the call held the server's lock, so
	// it is current, and the lock's proof alone makes the write
	// conditional when its version cannot be sent (a weak ETag).
	underLock bool
	merge     MergeFunc[T]

	// The loop's own state, set by loop.
	round      int
	out        outgoing       // the round's request
	mark       int32          // the call's wire count before out was sent
	contention backOff        // between writes that conflicted
	waiting    backOff        // between reads that wait for a version
	key        idempotencyKey // one key state for all the call's writes
	required   bool           // a 428 was answered once already
	conflicts  int            // conflict responses and conflicts found before writing
}

// loop sends a conditional write and resolves stale-version conflicts by
// refetching (or reading the state the conflict response carried),
// merging and writing again against the new version. The reads it makes
// on its own are not remembered as the tracked version: only a write that
// succeeds moves it. Each round has three steps: build the request
// (ready), send it, and read a refusal (refused), which may need the
// current state (theirs).
func (w *write[T]) loop() (*Result[T], error) {
	w.contention, w.waiting = w.r.c.contentionBackOff(), w.r.c.waitingBackOff()
	for w.round = 1; ; w.round++ {
		step := w.ready()
		if step.again {
			continue
		}
		if step.ends() {
			return step.res, step.err
		}
		w.mark = w.cl.wireMark()
		resp, err := w.exchange(&w.out)
		if err == nil {
			return w.succeeded(&resp)
		}
		if step = w.refused(&resp, err); !step.again {
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
func (w *write[T]) ready() outcome[T] {
	err := w.build()
	if w.unsettled(err, w.underLock) {
		f, changed, ferr := w.settleBase(w.base, &w.waiting)
		if ferr != nil {
			return end[T](nil, fmt.Errorf("concord: write to %s: %w", w.url(), ferr))
		}
		if changed {
			w.conflicts++
			if w.merge == nil {
				return end[T](nil, conflictError(KindStaleVersion, w.round, f.snap.version, fmt.Errorf("%w: the item changed since version %s", ErrConflict, w.base.version)))
			}
			return w.mergeRound(f)
		}
		w.base, w.underLock = f.snap, w.lock.held
		err = w.build()
	}
	if err != nil {
		return end[T](nil, fmt.Errorf("concord: write to %s: %w", w.url(), err))
	}
	return goOn[T]()
}

// build makes the round's request, w.out: mine encoded (or as a merge
// patch), its version precondition and, unless WithoutIdempotencyKeys,
// its idempotency key, fresh whenever the bytes or the version change.
func (w *write[T]) build() error {
	if w.mineBody == nil {
		body, err := json.Marshal(w.mine)
		if err != nil {
			return fmt.Errorf("concord: encoding %T: %w", w.mine, err)
		}
		w.mineBody = body
	}
	w.out = w.outgoing(w.at.writeMethod, w.at.write)
	body := w.mineBody
	if w.o.patch && w.base.body != nil {
		var err error
		if body, err = MergePatch(roundTrip[T](w.base.body), w.mineBody); err != nil {
			return err
		}
		w.out.method, w.out.contentType = http.MethodPatch, "application/merge-patch+json"
	}
	return w.condition(&w.out, w.base.version, w.underLock, body, &w.key)
}

// succeeded returns the result of a write the server accepted, and
// remembers its version. A server that kept its ETag across the write is
// noted (its tags are no validators); outside the lock that is an error,
// since the caller may rely on the tag, while under the lock, where no
// tag is relied on, the write is the success it was.
func (w *write[T]) succeeded(resp *Response) (*Result[T], error) {
	res := w.written(resp, w.mine, w.mineBody, w.conflicts)
	if w.r.c.noteETag(w.cl.ctx, w.o.versioner, w.u, w.base, snapshot{etag: resp.ETag, body: w.mineBody}) && !w.lock.held {
		return res, fmt.Errorf("%w: %w: %s kept ETag %s across the write", ErrWriteApplied, ErrETagUnreliable, w.url(), resp.ETag)
	}
	return res, nil
}

// refused reads a write's refusal: a write that took effect all the same,
// a lost lock, a conflict to return, or one to resolve with the current
// state (theirs) in another round.
func (w *write[T]) refused(resp *Response, err error) outcome[T] {
	c := w.r.c
	if errors.Is(err, ErrWriteApplied) {
		return end(w.applied(resp, w.mine, w.conflicts, err))
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return end[T](nil, err)
	}
	if w.lock.held && (apiErr.Kind == KindLocked || w.underLock && apiErr.Kind == KindStaleVersion) {
		// Nobody could change what was read under the lock while it
		// was held: the lock was lost (it expired, or the server
		// refused its token). The write did not take effect; writing
		// again would not be under the lock (see locked).
		return end[T](nil, fmt.Errorf("concord: write to %s: %w: %w: %w", w.url(), errLockLost, ErrLocked, err))
	}
	if apiErr.Kind != KindStaleVersion && apiErr.Kind != KindPreconditionRequired {
		return end[T](nil, err)
	}
	w.conflicts++
	c.observeConflict(w.cl.ctx, ConflictEvent{InvocationID: w.cl.id, Method: w.out.method, URL: w.url(), Kind: apiErr.Kind, StatusCode: apiErr.StatusCode, Attempt: w.round, Version: w.base.version})
	switch {
	case apiErr.Kind == KindPreconditionRequired && (w.required || w.out.conditional):
		return end[T](nil, err)
	case apiErr.Kind == KindStaleVersion && w.merge == nil:
		version, resent := w.base.version, w.cl.resentSince(w.mark)
		if resent {
			// The write went out more than once (a retry, or net/http's
			// own resend): the 412 may answer our own write that took
			// effect. If the server holds exactly what we sent, it did;
			// otherwise it may have, before another write.
			res, current := w.appliedAlready()
			if res != nil {
				return end(res, nil)
			}
			if current != "" {
				version = current
			}
		}
		return end[T](nil, &ConflictError{Kind: apiErr.Kind, Attempts: w.round, Version: version, Err: err, Resent: resent})
	case c.spent(&w.cl, w.round):
		return end[T](nil, conflictError(apiErr.Kind, w.round, w.base.version, err))
	}
	theirs, ferr := w.theirs(apiErr, resp, err)
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
		return end[T](nil, conflictError(apiErr.Kind, w.round, w.base.version, fmt.Errorf("%w: %w", ErrConflictPersists, err)))
	}
	return w.mergeRound(theirs)
}

// theirs returns the current state after a conflict. After a first
// conflict, the state the conflict response carried (when the API sends
// it) is used at once: it is as fresh as it will ever be, and waiting
// would only let it go stale. A second conflict means real contention:
// then concord backs off and fetches after the wait, so that it sees what
// the other writers did meanwhile. (Retrying at once every time herds the
// writers: measured, it sent three times the requests.)
func (w *write[T]) theirs(apiErr *APIError, resp *Response, err error) (*fetched, error) {
	if w.round == 1 {
		if theirs := w.carried(resp); theirs != nil {
			return theirs, nil
		}
	}
	if apiErr.Kind == KindStaleVersion {
		if werr := w.contention.wait(&w.cl, apiErr.Header); werr != nil {
			return nil, conflictError(apiErr.Kind, w.round, w.base.version, errors.Join(werr, err))
		}
	}
	f, ferr := w.fetch(false)
	if ferr != nil {
		return nil, ferr
	}
	return &f, nil
}

// conflictError is the error of a conflict the loop gives up on.
func conflictError(kind ConflictKind, round int, version string, err error) error {
	return &ConflictError{Kind: kind, Attempts: round, Version: version, Err: err}
}

// mergeRound merges mine onto theirs. It ends the call when nothing is
// left to write or the merge gave up; otherwise w holds the merged write
// for the next round.
func (w *write[T]) mergeRound(theirs *fetched) outcome[T] {
	m, err := w.mergeOnto(theirs.snap)
	if err != nil {
		return end[T](nil, err)
	}
	if m.unchanged {
		res, err := w.result(theirs, w.conflicts)
		if err != nil {
			return end[T](nil, err)
		}
		w.r.c.versions.put(w.u, theirs.snap)
		res.Unchanged = true
		return end(res, nil)
	}
	w.base, w.mine, w.mineBody = theirs.snap, m.value, m.body
	w.underLock = w.lock.held // theirs was read during the call
	return again[T]()
}

// appliedAlready reads the item after a write that went out more than once
// was rejected as stale, and returns the result of a successful write when
// the server holds exactly what was sent; otherwise nil, and the version
// the read found (empty when it failed). For a Replace, whose value is
// absolute, that state is the write's outcome whoever made it.
func (w *write[T]) appliedAlready() (*Result[T], string) {
	f, err := w.fetch(false)
	if err != nil {
		return nil, ""
	}
	if !sameJSON(roundTrip[T](f.snap.body), w.mineBody, versionPath(w.o.versioner)) {
		return nil, f.snap.version
	}
	res, err := w.result(&f, w.conflicts)
	if err != nil {
		return nil, f.snap.version
	}
	w.r.c.versions.put(w.u, f.snap)
	return res, ""
}

// carried returns the state a conflict response carried, when it carried
// a representation with a version other than the one just rejected (a
// response echoing that version is not the current state), or nil.
func (w *write[T]) carried(resp *Response) *fetched {
	if resp == nil || !carriesState(resp) {
		return nil
	}
	v := w.o.versioner.Version(resp.Header, resp.Body)
	if v == "" || v == w.base.version {
		return nil
	}
	var probe T
	if json.Unmarshal(resp.Body, &probe) != nil {
		return nil
	}
	snap := snapshot{version: v, etag: resp.ETag, body: resp.Body}
	return &fetched{snap: snap, resp: *resp, url: w.u}
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
