package concord

// Layer: Conflict loop and merges (ARCHITECTURE.md).

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
func (r *Resource[T]) Replace(ctx context.Context, id string, mine T, opts ...WriteOption) (res *Result[T], err error) {
	cl, o, u, err := start(r, ctx, id, opts)
	defer func() { r.c.callDone(ctx, "Replace", r.path, id, cl, conflictsOf(res, err), err) }()
	if err != nil {
		return nil, err
	}
	turn, err := r.c.writeLocks.lock(ctx, u)
	if err != nil {
		return nil, err
	}
	defer r.c.writeLocks.unlock(u)
	return locked(r, ctx, cl, u, o, func(o *callOptions) (*Result[T], error) { return r.replace(ctx, cl, u, mine, o, turn) })
}

// replace is Replace past the turns, under the server's lock with
// WithLocks.
func (r *Resource[T]) replace(ctx context.Context, cl *call, u itemURL, mine T, o *callOptions, turn *writeLock) (*Result[T], error) {
	base, known := r.c.versions.get(u)
	if o.missing() {
		if !known && o.version == "" {
			return r.createAt(ctx, cl, u, mine, o)
		}
		// mine was derived from a version of an item that is gone now:
		// taking the lock found nothing there. Writing would bring it
		// back from a stale base, where an unlocked Replace is refused
		// (412 to its If-Match); an empty item the lock made goes.
		r.dropCreated(ctx, cl, u, o)
		return nil, conflictError(KindStaleVersion, 1, "", fmt.Errorf("%w: the item was deleted since version %s", ErrConflict, cmp.Or(o.version, base.version)))
	}
	underLock := false // base was read under the server's lock
	switch {
	case o.version != "":
		if base.version != o.version {
			base = snapshot{version: o.version} // the base is unknown: merge from theirs
		}
	case !known && !o.unconditional:
		f, err := r.fetch(ctx, cl, u, o, true)
		if errors.Is(err, ErrNotFound) {
			return r.createAt(ctx, cl, u, mine, o)
		}
		if err != nil {
			return nil, err
		}
		base, underLock = f.snap, o.lockHeld
	}
	return r.writeLoop(ctx, &write[T]{url: u, mine: mine, base: base, underLock: underLock, merge: r.mergeFunc, opts: o, call: cl, turn: turn})
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
func (r *Resource[T]) Update(ctx context.Context, id string, mutate func(*T) error, opts ...WriteOption) (res *Result[T], err error) {
	cl, o, u, err := start(r, ctx, id, opts)
	defer func() { r.c.callDone(ctx, "Update", r.path, id, cl, conflictsOf(res, err), err) }()
	if err != nil {
		return nil, err
	}
	turn, err := r.c.writeLocks.lock(ctx, u)
	if err != nil {
		return nil, err
	}
	defer r.c.writeLocks.unlock(u)
	return locked(r, ctx, cl, u, o, func(o *callOptions) (*Result[T], error) { return r.update(ctx, cl, u, mutate, o, turn) })
}

// update is Update past the turns, under the server's lock with WithLocks.
func (r *Resource[T]) update(ctx context.Context, cl *call, u itemURL, mutate func(*T) error, o *callOptions, turn *writeLock) (*Result[T], error) {
	if o.missing() { // the item was not there when the lock was taken
		r.dropCreated(ctx, cl, u, o)
		return nil, fmt.Errorf("concord: update %s: %w", r.c.redact.url(string(u)), ErrNotFound)
	}
	base, cached := r.c.versions.get(u)
	cached = cached && base.body != nil // a version without its body: read it
	for {
		if !cached {
			f, err := r.fetch(ctx, cl, u, o, true)
			if err != nil {
				return nil, err
			}
			base = f.snap
		}
		var mine T
		if kept, ok := base.value.(*T); ok && r.c.versions.claim(u, base.value) {
			// A copy of what the client wrote last, which nobody else
			// holds: what decoding the bytes it wrote would give, without
			// the decode. Claimed, it is this call's to change.
			mine = *kept
		} else if err := decode(r.c, &Response{Body: base.body}, http.MethodGet, string(u), &mine); err != nil {
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
		turn.callback(func() { err = safeMutate(mutate, &mine) })
		if err != nil {
			return nil, fmt.Errorf("concord: update %s: %w", r.c.redact.url(string(u)), err)
		}
		mineBody, err := json.Marshal(mine)
		if err != nil {
			return nil, fmt.Errorf("concord: encoding %T: %w", mine, err)
		}
		if base.encoded {
			before = base.body
		}
		if !bytes.Equal(mineBody, before) {
			return r.writeLoop(ctx, &write[T]{url: u, mine: mine, mineBody: mineBody, base: base, underLock: !cached && o.lockHeld, merge: MergeMutate(mutate), opts: o, call: cl, turn: turn})
		}
		if cached {
			// Nothing to write according to the tracked copy, which may be
			// stale: check against the server once before saying so.
			cached = false
			continue
		}
		return &Result[T]{Value: mine, Version: base.version, Unchanged: true, Response: Response{Body: base.body, ETag: etagOf(base.version), Requests: cl.sent()}}, nil
	}
}
