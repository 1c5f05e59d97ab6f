package concord

// Layer: Operations (ARCHITECTURE.md).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Delete deletes the item id, conditionally on the version the client
// tracks for it (or WithBaseVersion). A Delete is never sent without a
// precondition unless the call says WithUnconditional: with no version
// known, or only one the versioner cannot send (a weak ETag), it reads the
// item first, and waits and reads again within the conflict policy until
// the server serves a usable version; if none comes, it fails with
// ErrNoVersion. A stale version returns a *ConflictError (a delete has
// nothing to merge), after a read has made sure the item is still there: a
// version mismatch because the item is gone, our own delete having taken
// effect on an attempt whose response was lost, is the success it was. A
// missing item returns an error matching ErrNotFound.
func (r *Resource[T]) Delete(ctx context.Context, id string, opts ...CallOption) (err error) {
	p, err := start(r, ctx, id, opts)
	defer func() { p.done("Delete", 0, err) }()
	if err != nil {
		return err
	}
	if err := p.takeTurn(); err != nil {
		return err
	}
	defer p.endTurn()
	_, err = p.locked(func() (*Result[T], error) {
		if p.lock.missing() { // the item was not there when the lock was taken
			p.dropCreated()
			return nil, fmt.Errorf("concord: delete %s: %w", p.url(), ErrNotFound)
		}
		d := &deletion[T]{op: p, version: p.o.version}
		if snap, ok := r.c.versions.get(p.u); ok && (d.version == "" || d.version == snap.version) {
			d.version, d.base = snap.version, snap
		}
		return nil, d.run()
	})
	return err
}

// deletion is the state of one Delete call: one idempotency key state for
// all its requests, so a key is never sent with two different requests.
type deletion[T any] struct {
	*op[T]
	version   string
	base      snapshot // what the caller saw of the item, when known
	underLock bool     // version was read while the call held the server's lock
	key       idempotencyKey
}

// run sends the delete, conditional like a write (request, settleBase), and
// reads what a refusal means: a delete has no merge, so a stale version is
// a conflict, unless the item is gone, which an earlier copy of this delete
// may have done.
func (d *deletion[T]) run() error {
	c := d.r.c
	out, err := d.request()
	if d.unsettled(err, d.underLock) {
		// If the item changed since the version the caller saw, deleting
		// it would delete a state nobody here has seen: that is a
		// conflict, not a delete.
		waiting := c.waitingBackOff()
		f, changed, ferr := d.settleBase(d.base, &waiting)
		if ferr != nil {
			return fmt.Errorf("concord: delete %s: %w", d.url(), ferr)
		}
		if changed {
			return &ConflictError{Kind: KindStaleVersion, Attempts: 0, Version: f.snap.version,
				Err: fmt.Errorf("%w: the item changed since version %s", ErrConflict, d.version)}
		}
		c.versions.put(d.u, f.snap)
		d.version, d.base, d.underLock = f.snap.version, f.snap, d.lock.held
		out, err = d.request()
	}
	if err != nil {
		return err
	}
	mark := d.cl.wireMark()
	_, err = d.exchange(&out)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Kind == KindPreconditionRequired && !out.conditional {
		// Unconditional by the caller's choice, but the server wants the
		// version: fetch it and delete once more, conditionally.
		f, ferr := d.fetch(true)
		if ferr != nil {
			return errors.Join(err, ferr)
		}
		d.version = f.snap.version
		if out, err = d.request(); err != nil {
			return err
		}
		mark = d.cl.wireMark()
		_, err = d.exchange(&out)
	}
	if err == nil {
		c.versions.forget(d.u)
		return nil
	}
	if !errors.As(err, &apiErr) {
		return err
	}
	return d.refused(err, apiErr, out.conditional, d.cl.resentSince(mark) || d.cl.retries > 0)
}

// refused returns what a refused delete means; err is the call's error,
// apiErr the refusal in it. resent: the delete went out more than once, so
// an earlier copy may have deleted the item.
func (d *deletion[T]) refused(err error, apiErr *APIError, conditional, resent bool) error {
	switch {
	case apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusGone:
		if conditional {
			// Some servers answer a stale version with 404 (pouchdb-server:
			// "missing" revision). Look before saying the item is gone.
			if f, gerr := d.fetch(true); gerr == nil {
				return &ConflictError{Kind: KindStaleVersion, Attempts: 1, Version: f.snap.version, Err: err, Resent: resent}
			}
		}
		d.r.c.versions.forget(d.u)
		if resent {
			// An earlier send of this delete found the item: it was ours.
			return nil
		}
		return err
	case apiErr.Kind == KindStaleVersion:
		// Never trust a count of our own attempts to say whether a 412 may
		// answer our own delete: net/http resends on its own. Look.
		f, gerr := d.fetch(true)
		if errors.Is(gerr, ErrNotFound) {
			return nil
		}
		current := d.version
		if gerr == nil {
			current = f.snap.version
		}
		return &ConflictError{Kind: apiErr.Kind, Attempts: 1, Version: current, Err: errors.Join(err, gerr), Resent: resent}
	}
	return err
}

// request builds the DELETE, conditional like a write (see condition).
func (d *deletion[T]) request() (outgoing, error) {
	out := d.outgoing(http.MethodDelete, d.at.del)
	err := d.condition(&out, d.version, d.underLock, nil, &d.key)
	return out, err
}
