package concord

// Layer: Resources and pages (ARCHITECTURE.md).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

// Resource is a typed handle on one REST collection: items of type T at
// {base}/{path} and {base}/{path}/{id}, exchanged as JSON. It tracks each
// item's version so that writes are conditional, creates with an
// idempotency key, and resolves conflicts with a merge. A Resource is
// cheap, safe for concurrent use, and shares its client's version cache.
type Resource[T any] struct {
	c         *Client
	path      string
	base      callOptions  // the resource's options, under each call's own
	mergeFunc MergeFunc[T] // nil: a conflict is returned, not merged
	copier    copier       // whether a T can be copied without JSON
}

// NewResource returns a handle on the collection at path (such as "widgets"
// or "/v2/orders"), relative to the client's base URL, configured by opts
// (see ResourceOption; a CallOption given here applies to every call).
func NewResource[T any](c *Client, path string, opts ...ResourceOption) *Resource[T] {
	r := &Resource[T]{c: c, path: strings.Trim(path, "/"), copier: newCopier(reflect.TypeFor[T]())}
	r.base = callOptions{versioner: ETagVersion{}}
	applyOptions(&r.base, opts)
	return r
}

// WithMerge returns a copy of the resource whose Replace calls resolve a
// stale-version conflict with merge; nil means none. Without one, Replace
// returns a *ConflictError instead of overwriting. The copy shares
// everything else, the client's version cache included, so it is cheap
// enough to make for one call: widgets.WithMerge(fn).Replace(...). Update
// needs none: it merges by applying its mutate function again.
func (r *Resource[T]) WithMerge(merge MergeFunc[T]) *Resource[T] {
	cp := *r
	cp.mergeFunc = merge
	return &cp
}

// Result is a typed response: the decoded value, its version, and the raw
// response for those who need the status or headers.
type Result[T any] struct {
	// Value is the decoded body, or for a write answered without a body,
	// or with exactly the bytes it sent, the value that was written.
	Value T
	// Version is the version of Value in the versioner's terms: the ETag
	// text for ETag-versioned APIs, the body member's raw JSON otherwise.
	// Empty when the server gave none. It is the one to pass back, with
	// WithBaseVersion; Response.ETag is only the header as the server sent
	// it, whatever the versioner.
	Version string
	// Conflicts is how many conflict responses the call resolved.
	Conflicts int
	// Unchanged reports that nothing was written because the resource
	// already held what the write (after merging) would have produced.
	Unchanged bool
	// Adopted reports that CreateAt found the resource already there,
	// equal to what was sent (a create whose response was lost), and
	// returned it instead of failing.
	Adopted bool
	// Response is the last HTTP response of the call. Its Body is shared
	// with the client's version cache: do not modify it.
	Response
}

// outgoing starts a request with the call's headers; setQuery adds the
// query.
func (r *Resource[T]) outgoing(method, u string, o *callOptions) *outgoing {
	return &outgoing{method: method, url: u, header: o.header}
}

func (o *outgoing) setQuery(q url.Values) {
	if len(q) > 0 {
		o.url = appendQuery(o.url, q.Encode())
	}
}

// ensureHeader returns the request's own header map to add to: the call's
// headers are shared with every request of the resource, so they are
// copied first.
func (o *outgoing) ensureHeader() http.Header {
	if !o.ownHeader {
		o.header, o.ownHeader = o.header.Clone(), true
	}
	if o.header == nil {
		o.header = make(http.Header)
	}
	return o.header
}

// collectionURL is the URL of the resource's collection.
func (r *Resource[T]) collectionURL() string { return r.c.resolve(r.path, nil) }

// address returns the URL of item id, {path}/{id} with the ID escaped or
// what WithItemPath builds, and its route. An ID of "", "." or ".." would
// name the collection or its parent once a proxy normalizes the path (a
// Delete of "widgets/.." reaching "/"), so it is refused before anything
// is sent.
func (r *Resource[T]) address(id string, o *callOptions) (itemURL, route, error) {
	switch id {
	case "", ".", "..":
		return "", route{}, fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	u := r.c.base + "/" + r.path + "/" + url.PathEscape(id)
	if o.itemPath != nil {
		u = r.c.resolve(o.itemPath(id), nil)
	}
	at := route{read: u, write: u, del: u, writeMethod: http.MethodPut}
	if p := o.routes.Read; p != nil {
		at.read = r.c.resolve(p(id), nil)
	}
	if p := o.routes.Write; p != nil {
		at.write = r.c.resolve(p(id), nil)
	}
	if p := o.routes.Delete; p != nil {
		at.del = r.c.resolve(p(id), nil)
	}
	if m := o.routes.WriteMethod; m != "" {
		at.writeMethod = m
	}
	return itemURL(u), at, nil
}

// begin starts a call of r under ctx: its state, and its options (the
// resource's, under the call's own opts), kept in the call so that both
// take one allocation, with the call's retry policy in force. Every
// Resource call starts here (or in start).
func begin[T any, O interface{ apply(*callOptions) }](r *Resource[T], ctx context.Context, opts []O) (*call, *callOptions) {
	cl := r.c.newCall(ctx)
	cl.opts = r.base
	applyOptions(&cl.opts, opts)
	cl.override(cl.opts.retry)
	if cl.opts.maxConflicts > 0 {
		cl.maxRounds = cl.opts.maxConflicts
	}
	return cl, &cl.opts
}

// start is begin for a call on item id: it also returns the item's URL,
// which keys its tracked version, with the options routed to the item
// (callOptions.at: set here and nowhere else), or an error for an invalid
// ID. The call is returned either way, for callDone.
func start[T any, O interface{ apply(*callOptions) }](r *Resource[T], ctx context.Context, id string, opts []O) (*call, *callOptions, itemURL, error) {
	cl, o := begin(r, ctx, opts)
	u, at, err := r.address(id, o)
	o.at = at
	return cl, o, u, err
}

// Routes says where each operation on an item goes, for APIs that read,
// write and delete an item at different URLs, or write it with another
// method than PUT: Google Cloud Storage reads an object's media at
// ".../o/{id}?alt=media" and writes it with a POST to
// "upload/.../o?uploadType=media&name={id}"; Stripe updates with a POST to
// the item. Paths are joined to the base URL like resource paths and used
// as they are: escape what the ID puts in them. A nil path means the item
// path ({path}/{id}, or WithItemPath's); an empty WriteMethod means PUT.
// Versions are tracked per item whatever the routes.
type Routes struct {
	Read        func(id string) string // Get, and the reads writes make
	Write       func(id string) string // Replace, Update, CreateAt
	WriteMethod string
	Delete      func(id string) string
}

// route is one item's URLs, resolved.
type route struct {
	read, write, del string
	writeMethod      string
}

// Get fetches the item id and remembers its version. When the client already
// holds a version with a strong or weak ETag, it asks with If-None-Match
// and reuses the remembered body on 304 Not Modified.
func (r *Resource[T]) Get(ctx context.Context, id string, opts ...CallOption) (res *Result[T], err error) {
	cl, o, u, err := start(r, ctx, id, opts)
	defer func() { r.c.callDone(ctx, "Get", r.path, id, cl, 0, err) }()
	if err != nil {
		return nil, err
	}
	snap, err := r.fetch(ctx, cl, u, o, true)
	if err == nil && makesEmptyItems(o.locker) && len(bytes.TrimSpace(snap.snap.body)) == 0 {
		// Read torn by a write in progress, or the empty item that a LOCK
		// whose answer was lost left (errPlaceholder): a read under the
		// lock tells them apart, and removes such an item.
		return locked(r, ctx, cl, u, o, func(o *callOptions) (*Result[T], error) {
			if o.missing() {
				r.dropCreated(ctx, cl, u, o)
				return nil, fmt.Errorf("concord: GET %s: %w", r.c.redact.url(string(u)), ErrNotFound)
			}
			snap, err := r.fetch(ctx, cl, u, o, true)
			if err != nil {
				return nil, err
			}
			return r.result(&snap, 0)
		})
	}
	if err != nil {
		return nil, err
	}
	return r.result(&snap, 0)
}

// fetch GETs a resource, revalidating a remembered copy, and remembers what
// it got.
//
// remember says whether what it got becomes the tracked version: true for
// the caller's own reads, false for the reads the conflict loop makes on its
// own, so that a call that fails leaves the tracked version where the
// caller's value came from (see Replace).
func (r *Resource[T]) fetch(ctx context.Context, cl *call, u itemURL, o *callOptions, remember bool) (fetched, error) {
	out := r.outgoing(http.MethodGet, o.at.read, o)
	out.setQuery(o.query)
	cached, ok := r.c.versions.get(u)
	if ok && cached.body != nil && cached.etag != "" && string(cached.etag) == cached.version && r.c.revalidates() && !o.lockHeld {
		// Revalidate only when the ETag is the version: where the version
		// lives elsewhere (a generation, a body member) an unchanged body
		// can have a new version. Never under the server's lock, where
		// the call compares what it read by content: a 304 is only the
		// server's word, and nginx's one-second ETags answer 304 for
		// changed content.
		out.ifNoneMatch = string(cached.etag)
	}
	resp, err := r.c.exchange(ctx, cl, out)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			r.c.versions.forget(u)
		}
		return fetched{}, err
	}
	if o.lockHeld && makesEmptyItems(o.locker) && resp.StatusCode != http.StatusNotModified && len(bytes.TrimSpace(resp.Body)) == 0 {
		return fetched{}, fmt.Errorf("concord: GET %s: %w", r.c.redact.url(string(u)), errPlaceholder)
	}
	if resp.StatusCode == http.StatusNotModified {
		if !ok {
			return fetched{}, fmt.Errorf("concord: GET %s: 304 Not Modified for a request concord did not make conditional", r.c.redact.url(string(u)))
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
				r.c.versions.put(u, snap)
			}
		}
		resp.Body, resp.ETag = snap.body, snap.etag
		return fetched{snap: snap, resp: resp, url: u}, nil
	}
	snap := snapshot{version: o.versioner.Version(resp.Header, resp.Body), etag: resp.ETag, body: resp.Body}
	if ok {
		r.c.noteETag(ctx, o.versioner, u, cached, resp.ETag, resp.Body)
	}
	if remember {
		r.c.versions.put(u, snap)
	}
	return fetched{snap: snap, resp: resp, url: u}, nil
}

// fetched is a snapshot with the response it came from.
type fetched struct {
	snap snapshot
	resp Response
	url  itemURL
}

// result decodes a fetched representation into a Result.
func (r *Resource[T]) result(f *fetched, conflicts int) (*Result[T], error) {
	res := &Result[T]{Version: f.snap.version, Conflicts: conflicts, Response: f.resp}
	if err := decode(r.c, &res.Response, http.MethodGet, string(f.url), &res.Value); err != nil {
		return nil, err
	}
	return res, nil
}

// decode decodes a response body into *v (in place: a decoded copy would
// cost an allocation per call), naming the request in the error when it
// does not fit. On error *v holds what was decoded so far.
func decode[T any](c *Client, resp *Response, method, u string, v *T) error {
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return &DecodeError{Method: method, URL: c.redact.url(u), StatusCode: resp.StatusCode, Type: fmt.Sprintf("%T", *v), Err: err}
	}
	return nil
}

// Create POSTs v to the collection with an idempotency key: generated, or
// set with WithIdempotencyKey. Every transport retry resends the same key
// and bytes, so a create whose response was lost is answered with the
// original result (Result.Replayed) rather than made twice. If the server
// reports the key still in progress, Create waits and resends it.
// WithoutIdempotencyKeys sends the create once, without retries.
func (r *Resource[T]) Create(ctx context.Context, v T, opts ...CreateOption) (res *Result[T], err error) {
	cl, o := begin(r, ctx, opts)
	defer func() { r.c.callDone(ctx, "Create", r.path, "", cl, 0, err) }()
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("concord: encoding %T: %w", v, err)
	}
	out := r.outgoing(http.MethodPost, r.collectionURL(), o)
	out.setQuery(o.query)
	out.body = body
	out.create = true
	if !o.noKey {
		var k idempotencyKey
		if out.key, err = r.c.keyFor(&k, o.key, "", body); err != nil {
			return nil, err
		}
	}
	resp, err := r.c.exchange(ctx, cl, out)
	if err != nil {
		return r.applied("", &resp, v, o, 0, err)
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
	res.Version = o.versioner.Version(resp.Header, resp.Body)
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
func (r *Resource[T]) CreateAt(ctx context.Context, id string, v T, opts ...CreateOption) (res *Result[T], err error) {
	cl, o, u, err := start(r, ctx, id, opts)
	defer func() { r.c.callDone(ctx, "CreateAt", r.path, id, cl, 0, err) }()
	if err != nil {
		return nil, err
	}
	return locked(r, ctx, cl, u, o, func(o *callOptions) (*Result[T], error) { return r.createAt(ctx, cl, u, v, o) })
}

// createAt is CreateAt of v at u, past its preamble, under the server's
// lock with WithLocks.
func (r *Resource[T]) createAt(ctx context.Context, cl *call, u itemURL, v T, o *callOptions) (*Result[T], error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("concord: encoding %T: %w", v, err)
	}
	if o.lockHeld && !o.lockCreated {
		// Under the lock, a read says whether the item exists, whatever
		// the server makes of If-None-Match: several ignore it, under a
		// lock too, and would let the create overwrite the item.
		theirs, ferr := r.fetch(ctx, cl, u, o, true)
		if ferr == nil {
			return r.adopt(&theirs, body, o, fmt.Errorf("concord: create %s: %w", r.c.redact.url(string(u)), ErrAlreadyExists))
		}
		if !errors.Is(ferr, ErrNotFound) {
			return nil, ferr
		}
	}
	out := r.outgoing(o.at.writeMethod, o.at.write, o)
	q := o.query
	if qv, ok := o.versioner.(QueryVersion); ok && qv.Absent != "" {
		// The API's own "only if absent", as well as If-None-Match: *.
		q = cloneValues(o.query)
		q.Set(qv.Param, qv.Absent)
	}
	out.setQuery(q)
	out.body = body
	out.create = true
	if !o.lockCreated {
		// Under a lock whose taking created the item (empty), the item is
		// known to have been absent and no one else can write it: the
		// write needs no If-None-Match, which the empty item would fail.
		out.ifNoneMatch, out.createOnly = "*", true
	}
	if !o.noKey {
		var k idempotencyKey
		if out.key, err = r.c.keyFor(&k, o.key, "", body); err != nil {
			return nil, err
		}
	}
	resp, err := r.c.exchange(ctx, cl, out)
	if err == nil {
		return r.written(&resp, u, v, body, o, 0), nil
	}
	if !errors.Is(err, ErrAlreadyExists) {
		return r.applied(u, &resp, v, o, 0, err)
	}
	theirs, ferr := r.fetch(ctx, cl, u, o, true)
	if ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	return r.adopt(&theirs, body, o, err)
}

// adopt returns theirs, the item found where a create of body was refused
// with err, as the create's result (Adopted) when it equals what was sent:
// most likely the caller's own earlier create whose answer was lost.
// Otherwise it returns err.
func (r *Resource[T]) adopt(theirs *fetched, body []byte, o *callOptions, err error) (*Result[T], error) {
	if !sameJSON(roundTrip[T](theirs.snap.body), body, versionPath(o.versioner)) {
		return nil, err
	}
	res, derr := r.result(theirs, 0)
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

// written builds the result of a successful write and remembers the new
// version. A response without a body stands for the body that was sent, as
// RFC 9110 allows only when the server stored it unchanged and says so with
// an ETag, and so does one with exactly the bytes sent: the result's Value
// is then v. Without a version the resource is forgotten and refetched when
// next needed.
func (r *Resource[T]) written(resp *Response, u itemURL, v T, sent []byte, o *callOptions, conflicts int) *Result[T] {
	res := &Result[T]{Value: v, Conflicts: conflicts, Response: *resp}
	body, encoded := sent, true
	if len(resp.Body) > 0 && bytes.Equal(resp.Body, sent) {
		// The server answered with the bytes it was sent, which v encodes
		// to: decoding them again would cost as much as the write.
		body = resp.Body
	} else if len(resp.Body) > 0 && representation(o.versioner, resp.Body) {
		encoded = false
		res.Value = *new(T)
		if err := decode(r.c, resp, "", string(u), &res.Value); err == nil {
			body = resp.Body
		} else {
			res.Value = v
		}
	}
	// The new version: from the response (its headers, or a receipt that
	// names it), else from the body it stands for.
	if res.Version = o.versioner.Version(resp.Header, resp.Body); res.Version == "" {
		res.Version = o.versioner.Version(resp.Header, body)
	}
	snap := snapshot{version: res.Version, etag: resp.ETag, body: body, encoded: encoded && body != nil}
	if snap.encoded && r.copier.ok && len(body) >= minCopiedBody && r.c.versions.keepsBody(cap(body)) {
		// v is the caller's too (Result.Value): keep a copy, when the
		// memory it holds fits one entry's share as the body does; the
		// budget is charged both. (A share for the two together would
		// refuse the copy of every 1 MiB document, the case it is for.)
		// (Copied from a local of this branch, so that v itself stays off
		// the heap.)
		src := v
		if kept, held := copyOf(&src); r.c.versions.keepsBody(int(held)) {
			snap.value, snap.held = &kept, held
		}
	}
	r.c.versions.put(u, snap)
	return res
}

// applied returns what is known of a write to u (empty for a create by
// POST) that took effect although its answer could not be read (err
// matches ErrWriteApplied and resp holds the 2xx status and headers): the
// value that was sent, the status, headers, Location and version, with
// err, so that the caller does not write again blindly. What the client
// remembered of u is older than the write, so it is forgotten: a Get must
// not revalidate it. Any other failure returns nil and err.
func (r *Resource[T]) applied(u itemURL, resp *Response, v T, o *callOptions, conflicts int, err error) (*Result[T], error) {
	if resp.StatusCode == 0 || !errors.Is(err, ErrWriteApplied) {
		return nil, err
	}
	if u != "" {
		r.c.versions.forget(u)
	}
	return &Result[T]{Value: v, Version: o.versioner.Version(resp.Header, nil), Conflicts: conflicts, Response: *resp}, err
}

// representation reports whether a write's response body may be the
// resource's new state rather than a receipt such as CouchDB's
// {"ok":true,"id":…,"rev":…}: with a body version, a representation
// carries it.
func representation(v Versioner, body []byte) bool {
	switch v := v.(type) {
	case BodyVersion:
		var doc any
		return json.Unmarshal(body, &doc) == nil && member(doc, v.Path) != ""
	case QueryVersion:
		return false
	}
	return true
}

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
func (r *Resource[T]) Delete(ctx context.Context, id string, opts ...WriteOption) (err error) {
	cl, o, u, err := start(r, ctx, id, opts)
	defer func() { r.c.callDone(ctx, "Delete", r.path, id, cl, 0, err) }()
	if err != nil {
		return err
	}
	if _, err := r.c.writeLocks.lock(ctx, u); err != nil {
		return err
	}
	defer r.c.writeLocks.unlock(u)
	_, err = locked(r, ctx, cl, u, o, func(o *callOptions) (*Result[T], error) {
		if o.missing() { // the item was not there when the lock was taken
			r.dropCreated(ctx, cl, u, o)
			return nil, fmt.Errorf("concord: delete %s: %w", r.c.redact.url(string(u)), ErrNotFound)
		}
		d := &deletion[T]{r: r, u: u, o: o, cl: cl, version: o.version}
		if snap, ok := r.c.versions.get(u); ok && (d.version == "" || d.version == snap.version) {
			d.version, d.base = snap.version, snap
		}
		return nil, d.run(ctx)
	})
	return err
}

// deletion is the state of one Delete call: one idempotency key state for
// all its requests, so a key is never sent with two different requests.
type deletion[T any] struct {
	r         *Resource[T]
	u         itemURL
	o         *callOptions
	cl        *call
	version   string
	base      snapshot // what the caller saw of the item, when known
	underLock bool     // version was read while the call held the server's lock
	key       idempotencyKey
}

// run sends the delete, conditional like a write (request, settleBase), and
// reads what a refusal means: a delete has no merge, so a stale version is
// a conflict, unless the item is gone, which an earlier copy of this delete
// may have done.
func (d *deletion[T]) run(ctx context.Context) error {
	r, o := d.r, d.o
	out, err := d.request()
	if r.unsettled(err, o, d.underLock) {
		// If the item changed since the version the caller saw, deleting
		// it would delete a state nobody here has seen: that is a
		// conflict, not a delete.
		waiting := r.c.waitingBackOff()
		f, changed, ferr := r.settleBase(ctx, d.cl, d.u, o, d.base, &waiting)
		if ferr != nil {
			return fmt.Errorf("concord: delete %s: %w", r.c.redact.url(string(d.u)), ferr)
		}
		if changed {
			return &ConflictError{Kind: KindStaleVersion, Attempts: 0, Version: f.snap.version,
				Err: fmt.Errorf("%w: the item changed since version %s", ErrConflict, d.version)}
		}
		r.c.versions.put(d.u, f.snap)
		d.version, d.base, d.underLock = f.snap.version, f.snap, o.lockHeld
		out, err = d.request()
	}
	if err != nil {
		return err
	}
	mark := d.cl.wireMark()
	_, err = r.c.exchange(ctx, d.cl, &out)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Kind == KindPreconditionRequired && !out.conditional {
		// Unconditional by the caller's choice, but the server wants the
		// version: fetch it and delete once more, conditionally.
		f, ferr := r.fetch(ctx, d.cl, d.u, o, true)
		if ferr != nil {
			return errors.Join(err, ferr)
		}
		d.version = f.snap.version
		if out, err = d.request(); err != nil {
			return err
		}
		mark = d.cl.wireMark()
		_, err = r.c.exchange(ctx, d.cl, &out)
	}
	if err == nil {
		r.c.versions.forget(d.u)
		return nil
	}
	if !errors.As(err, &apiErr) {
		return err
	}
	return d.refused(ctx, err, apiErr, out.conditional, d.cl.resentSince(mark) || d.cl.retries > 0)
}

// refused returns what a refused delete means; err is the call's error,
// apiErr the refusal in it. resent: the delete went out more than once, so
// an earlier copy may have deleted the item.
func (d *deletion[T]) refused(ctx context.Context, err error, apiErr *APIError, conditional, resent bool) error {
	r, o := d.r, d.o
	switch {
	case apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusGone:
		if conditional {
			// Some servers answer a stale version with 404 (pouchdb-server:
			// "missing" revision). Look before saying the item is gone.
			if f, gerr := r.fetch(ctx, d.cl, d.u, o, true); gerr == nil {
				return &ConflictError{Kind: KindStaleVersion, Attempts: 1, Version: f.snap.version, Err: err, Resent: resent}
			}
		}
		r.c.versions.forget(d.u)
		if resent {
			// An earlier send of this delete found the item: it was ours.
			return nil
		}
		return err
	case apiErr.Kind == KindStaleVersion:
		// Never trust a count of our own attempts to say whether a 412 may
		// answer our own delete: net/http resends on its own. Look.
		f, gerr := r.fetch(ctx, d.cl, d.u, o, true)
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
	out := *d.r.outgoing(http.MethodDelete, d.o.at.del, d.o)
	err := d.r.condition(&out, d.o, d.u, d.version, d.underLock, nil, &d.key)
	return out, err
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// ID returns an integer ID as the string the Resource methods take, for
// APIs whose items are numbered (issue numbers, database keys):
// r.Get(ctx, concord.ID(42)). It accepts any integer type, named ones
// included.
func ID[I ~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr](id I) string {
	if id < 0 {
		return strconv.FormatInt(int64(id), 10)
	}
	return strconv.FormatUint(uint64(id), 10)
}
