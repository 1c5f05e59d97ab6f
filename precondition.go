package concord

// Layer: Operations (ARCHITECTURE.md).

// The precondition of a write or a delete: which version it is
// conditional on, how that version is sent, and, when the version at hand
// cannot be sent or was read before the server's lock, the version found
// instead (settleBase). This is where concord decides that a write is
// safe to send.

import (
	"errors"
	"fmt"
)

// condition makes out, a write of body (nil for a delete) to the call's
// item, conditional on version in the versioner's terms (a header, a
// query parameter, a member of body), and gives it, unless
// WithoutIdempotencyKeys, its idempotency key, fresh whenever the bytes or
// the version change. With no version it fails with ErrNoVersion, unless
// the call is WithUnconditional: never a reason to send it without one.
//
// Under the server's lock (underLock: version was read while the call held
// it), an ETag is not sent: the lock's proof, on every request of the
// call, is the precondition. No writer that respects the lock can have
// changed what was read under it, and one that does not is refused by the
// server. An If-Match as well only added false refusals (Apache mod_dav
// refused 1 locked write in 6 runs of the interop suite's locked counter).
// A version in the body or the query is still sent: the API may need it to
// accept the request at all.
func (p *op[T]) condition(out *outgoing, version string, underLock bool, body []byte, key *idempotencyKey) error {
	c, o := p.r.c, &p.o
	_, tags := o.versioner.(ETagVersion)
	q := o.query
	if !tags {
		q = cloneValues(o.query) // a versioner may add to the query
	}
	var err error
	switch {
	case underLock && tags:
		out.conditional = true
	case version != "":
		if body, err = c.applyVersion(o.versioner, version, out, q, body); err != nil {
			return err
		}
		out.conditional = true
	case !o.unconditional:
		return fmt.Errorf("%w (no version known for %s)", ErrNoVersion, p.url())
	}
	out.setQuery(q)
	out.body = body
	if !o.noKey {
		// The key stands for these bytes against this version: a round
		// that changes either gets a fresh key, or the server would replay
		// the previous round's answer.
		if out.key, err = c.keyFor(key, o.key, version, body); err != nil {
			return err
		}
	}
	return nil
}

// unsettled reports whether a conditional request cannot go as built: the
// version it has cannot be sent (err wraps ErrNoVersion) and the call did
// not ask to go without one, or it was read before the call took the
// server's lock (underLock false) and must be checked under it. settleBase
// then finds the version to send.
func (p *op[T]) unsettled(err error, underLock bool) bool {
	return errors.Is(err, ErrNoVersion) && !p.o.unconditional || p.lock.held && !underLock
}

// settleBase finds the version a write or a delete of the call's item is
// to be conditional on, for the one it has (base, perhaps empty) is
// unsettled: under the server's lock it reads once, since what the server
// serves then is current; otherwise it waits for a version the versioner
// can send (a weak ETag, as Apache serves for a second after each write,
// cannot be). It reports whether the item changed since base (see
// changedSince): then what the call built on base is stale.
func (p *op[T]) settleBase(base snapshot, waiting *backOff) (*fetched, bool, error) {
	var f *fetched
	if p.lock.held {
		lf, err := p.fetch(false)
		if err != nil {
			return nil, false, err
		}
		f = &lf
	} else {
		var err error
		if f, err = p.awaitVersion(waiting); err != nil {
			return nil, false, err
		}
	}
	return f, p.changedSince(base, f.snap), nil
}

// changedSince reports whether the item changed between base, what a call
// built on, and now, a read of it. They are compared by content whenever
// base's body is known and either the call holds the server's lock (a tag
// that does not move, nginx's by the second, cannot say that a newer
// write came in) or base has no version to compare (a write answered
// without one, as Apache answers a PUT); otherwise by version. A base
// with neither is nothing to compare.
func (p *op[T]) changedSince(base, now snapshot) bool {
	if base.body != nil && (p.lock.held || base.version == "") {
		return !sameJSON(base.body, now.body, versionPath(p.o.versioner))
	}
	return base.version != "" && !sameVersion(base.version, now.version)
}

// awaitVersion reads the item until the server serves a version the
// versioner can send, backing off between reads, within the call's
// bounds (see spent). It fails with ErrNoVersion when none comes, or at
// once when the server serves no version at all, which waiting will not
// change.
func (p *op[T]) awaitVersion(waiting *backOff) (*fetched, error) {
	for tries := 1; ; tries++ {
		if tries > 1 {
			if err := waiting.wait(&p.cl, nil); err != nil {
				return nil, fmt.Errorf("%w: waiting for a usable version: %w", ErrNoVersion, err)
			}
		}
		f, err := p.fetch(false)
		if err != nil {
			return nil, err
		}
		switch {
		case usable(p.o.versioner, f.snap.version):
			return &f, nil
		case f.snap.version == "":
			return nil, fmt.Errorf("%w: the server sends none", ErrNoVersion)
		case p.r.c.spent(&p.cl, tries):
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
