package concord

// Layer: Operations (ARCHITECTURE.md).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Create POSTs v to the collection with an idempotency key: generated, or
// set with WithIdempotencyKey. Every transport retry resends the same key
// and bytes, so a create whose response was lost is answered with the
// original result (Result.Replayed) rather than made twice. If the server
// reports the key still in progress, Create waits and resends it.
// WithoutIdempotencyKeys sends the create once, without retries.
func (r *Resource[T]) Create(ctx context.Context, v T, opts ...CallOption) (res *Result[T], err error) {
	p := begin(r, ctx, opts)
	defer func() { p.done("Create", 0, err) }()
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("concord: encoding %T: %w", v, err)
	}
	out := p.outgoing(http.MethodPost, r.collectionURL())
	out.setQuery(p.o.query)
	out.body = body
	out.create = true
	if !p.o.noKey {
		var k idempotencyKey
		if out.key, err = r.c.keyFor(&k, p.o.key, "", body); err != nil {
			return nil, err
		}
	}
	resp, err := p.exchange(&out)
	if err != nil {
		return p.applied(&resp, v, 0, err)
	}
	res = &Result[T]{Value: v, Response: resp}
	if len(resp.Body) > 0 {
		res.Value = *new(T) // decoded afresh, not over what was sent
		if err := decode(r.c, &res.Response, out.method, out.url, &res.Value); err != nil {
			// Created all the same: say so, and give back what is known.
			res.Value = v
			return res, fmt.Errorf("%w: %w", ErrWriteApplied, err)
		}
	}
	res.Version = p.o.versioner.Version(resp.Header, resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" && len(resp.Body) > 0 {
		if u, err := url.Parse(out.url); err == nil {
			if abs, err := u.Parse(loc); err == nil {
				r.c.versions.put(itemURL(abs.String()), snapshot{version: res.Version, etag: resp.ETag, body: resp.Body})
			}
		}
	}
	return res, nil
}

// CreateAt creates the item id with a PUT carrying If-None-Match: *, so it
// never overwrites. If the item exists and equals v (members outside T and
// the body version aside), it is returned with Result.Adopted set, since
// that is most likely our own earlier create whose response was lost (a
// caller for whom any existing item is a failure checks Adopted); an item
// that differs fails with ErrAlreadyExists.
//
// It relies on the server honoring If-None-Match: * on PUT, as RFC 9110
// asks. Some do not and replace the item (Azure Table storage answers 204):
// concord cannot tell that from a create. Against such an API create with
// Create, a POST to the collection that the API answers with 409 when the
// key is taken.
func (r *Resource[T]) CreateAt(ctx context.Context, id string, v T, opts ...CallOption) (res *Result[T], err error) {
	p, err := start(r, ctx, id, opts)
	defer func() { p.done("CreateAt", 0, err) }()
	if err != nil {
		return nil, err
	}
	return p.locked(func() (*Result[T], error) { return p.createAt(v) })
}

// createAt is CreateAt of v, past its preamble, under the server's lock
// with WithLocks.
func (p *op[T]) createAt(v T) (*Result[T], error) {
	c, o := p.r.c, &p.o
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("concord: encoding %T: %w", v, err)
	}
	if p.lock.held && !p.lock.created {
		// Under the lock, a read says whether the item exists, whatever
		// the server makes of If-None-Match: several ignore it, under a
		// lock too, and would let the create overwrite the item.
		theirs, ferr := p.fetch(true)
		if ferr == nil {
			return p.adopt(&theirs, body, fmt.Errorf("concord: create %s: %w", p.url(), ErrAlreadyExists))
		}
		if !errors.Is(ferr, ErrNotFound) {
			return nil, ferr
		}
	}
	out := p.outgoing(p.at.writeMethod, p.at.write)
	q := o.query
	if qv, ok := o.versioner.(QueryVersion); ok && qv.Absent != "" {
		// The API's own "only if absent", as well as If-None-Match: *.
		q = cloneValues(o.query)
		q.Set(qv.Param, qv.Absent)
	}
	out.setQuery(q)
	out.body = body
	out.create = true
	if !p.lock.created {
		// Under a lock whose taking created the item (empty), the item is
		// known to have been absent and no one else can write it: the
		// write needs no If-None-Match, which the empty item would fail.
		out.ifNoneMatch, out.createOnly = "*", true
	}
	if !o.noKey {
		var k idempotencyKey
		if out.key, err = c.keyFor(&k, o.key, "", body); err != nil {
			return nil, err
		}
	}
	resp, err := p.exchange(&out)
	if err == nil {
		return p.written(&resp, v, body, 0), nil
	}
	if !errors.Is(err, ErrAlreadyExists) {
		return p.applied(&resp, v, 0, err)
	}
	theirs, ferr := p.fetch(true)
	if ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	return p.adopt(&theirs, body, err)
}

// adopt returns theirs, the item found where a create of body was refused
// with err, as the create's result (Adopted) when it equals what was sent:
// most likely the caller's own earlier create whose answer was lost.
// Otherwise it returns err.
func (p *op[T]) adopt(theirs *fetched, body []byte, err error) (*Result[T], error) {
	if !sameJSON(roundTrip[T](theirs.snap.body), body, versionPath(p.o.versioner)) {
		return nil, err
	}
	res, derr := p.result(theirs, 0)
	if derr != nil {
		return nil, derr
	}
	res.Adopted = true
	return res, nil
}

// roundTrip decodes body into a T and encodes it again, dropping the
// members T does not have, so that server-added members do not make two
// representations of the same T differ.
func roundTrip[T any](body []byte) []byte {
	var v T
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// versionPath returns the member path a body versioner keeps the version
// in, which equality checks leave out.
func versionPath(v Versioner) []string {
	if bv, ok := v.(BodyVersion); ok && bv.Path != "" {
		return memberPath(bv.Path)
	}
	return nil
}
