package concord

// Layer: Operations (ARCHITECTURE.md).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Get fetches the item id and remembers its version. When the client already
// holds a version with a strong or weak ETag, it asks with If-None-Match
// and reuses the remembered body on 304 Not Modified.
func (r *Resource[T]) Get(ctx context.Context, id string, opts ...CallOption) (res *Result[T], err error) {
	p, err := start(r, ctx, id, opts)
	defer func() { p.done("Get", 0, err) }()
	if err != nil {
		return nil, err
	}
	f, err := p.fetch(true)
	if err != nil {
		return nil, err
	}
	if torn(p.o.locker, f.snap.body) {
		// Read torn by a write in progress (a server that writes in
		// place), or the empty item that a LOCK whose answer was lost left
		// (errPlaceholder): a read under the lock, where nobody writes,
		// tells them apart, and removes such an item.
		return p.locked(func() (*Result[T], error) {
			if p.lock.missing() {
				p.dropCreated()
				return nil, fmt.Errorf("concord: GET %s: %w", p.url(), ErrNotFound)
			}
			f, err := p.fetch(true)
			if err != nil {
				return nil, err
			}
			return p.result(&f, 0)
		})
	}
	return p.result(&f, 0)
}

// torn reports whether a read, with WithLocks(l), may have been torn by a
// write in progress and is read again under the lock: its body is not
// JSON, or it is empty where a LOCK leaves empty items. (Without a lock
// such a body fails to decode, an ErrDecode.)
func torn(l Locker, body []byte) bool {
	if l == nil {
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return makesEmptyItems(l)
	}
	return !json.Valid(body)
}

// fetch GETs a resource, revalidating a remembered copy, and remembers what
// it got.
//
// remember says whether what it got becomes the tracked version: true for
// the caller's own reads, false for the reads the conflict loop makes on its
// own, so that a call that fails leaves the tracked version where the
// caller's value came from (see Replace).
func (p *op[T]) fetch(remember bool) (fetched, error) {
	c, o, u := p.r.c, &p.o, p.u
	out := p.outgoing(http.MethodGet, p.at.read)
	out.setQuery(o.query)
	cached, ok := c.versions.get(u)
	if ok && cached.body != nil && cached.etag != "" && string(cached.etag) == cached.version && c.revalidates() && !p.lock.held {
		// Revalidate only when the ETag is the version: where the version
		// lives elsewhere (a generation, a body member) an unchanged body
		// can have a new version. Never under the server's lock, where
		// the call compares what it read by content: a 304 is only the
		// server's word, and nginx's one-second ETags answer 304 for
		// changed content.
		out.ifNoneMatch = string(cached.etag)
	}
	resp, err := p.exchange(&out)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			c.versions.forget(u)
		}
		return fetched{}, err
	}
	if p.lock.held && makesEmptyItems(o.locker) && resp.StatusCode != http.StatusNotModified && len(bytes.TrimSpace(resp.Body)) == 0 {
		return fetched{}, fmt.Errorf("concord: GET %s: %w", p.url(), errPlaceholder)
	}
	if resp.StatusCode == http.StatusNotModified {
		if !ok {
			return fetched{}, fmt.Errorf("concord: GET %s: 304 Not Modified for a request concord did not make conditional", p.url())
		}
		// A 304 carries the ETag a 200 would have: a tag that was weak may
		// be strong now (Apache), so the new one is kept. The kept copy
		// of a value is not: an Update may have claimed it since this
		// read the cache, and be changing it (see versionCache.claim).
		snap := cached
		snap.value = nil
		if resp.ETag != "" {
			snap.etag = resp.ETag
			if v := o.versioner.Version(resp.Header, cached.body); v != "" {
				snap.version = v
			}
			if remember {
				c.versions.put(u, snap)
			}
		}
		resp.Body, resp.ETag = snap.body, snap.etag
		return fetched{snap: snap, resp: resp, url: u}, nil
	}
	snap := snapshot{version: o.versioner.Version(resp.Header, resp.Body), etag: resp.ETag, body: resp.Body}
	if ok {
		c.noteETag(p.cl.ctx, o.versioner, u, cached, snapshot{etag: resp.ETag, body: resp.Body})
	}
	if remember {
		c.versions.put(u, snap)
	}
	return fetched{snap: snap, resp: resp, url: u}, nil
}
