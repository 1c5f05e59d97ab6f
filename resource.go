package concord

// Layer: The call (ARCHITECTURE.md).

import (
	"bytes"
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

// collectionURL is the URL of the resource's collection.
func (r *Resource[T]) collectionURL() string { return r.c.resolve(r.path, nil) }

// address returns the URL of item id, {path}/{id} with the ID escaped or
// what Routes.Item builds, and its route. An ID of "", "." or ".." would
// name the collection or its parent once a proxy normalizes the path (a
// Delete of "widgets/.." reaching "/"), so it is refused before anything
// is sent.
func (r *Resource[T]) address(id string, o *callOptions) (itemURL, route, error) {
	switch id {
	case "", ".", "..":
		return "", route{}, fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	u := r.c.base + "/" + r.path + "/" + url.PathEscape(id)
	if p := o.routes.Item; p != nil {
		u = r.c.resolve(p(id), nil)
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

// Routes says where each operation on an item goes, for APIs that read,
// write and delete an item at different URLs, or write it with another
// method than PUT: Google Cloud Storage reads an object's media at
// ".../o/{id}?alt=media" and writes it with a POST to
// "upload/.../o?uploadType=media&name={id}"; Stripe updates with a POST to
// the item. Paths are joined to the base URL like resource paths and used
// as they are: escape what the ID puts in them. A nil path means the item
// path; an empty WriteMethod means PUT. Versions are tracked per item
// whatever the routes.
type Routes struct {
	// Item is the item's path, for APIs whose items are not at
	// {path}/{id}: Azure Table storage's
	// "Table(PartitionKey='p',RowKey='k')", say. Nil means {path}/{id},
	// with the ID escaped. It is what the client keys all it remembers of
	// the item by.
	Item        func(id string) string
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

// fetched is a snapshot with the response it came from.
type fetched struct {
	snap snapshot
	resp Response
	url  itemURL
}

// result decodes a fetched representation into a Result.
func (p *op[T]) result(f *fetched, conflicts int) (*Result[T], error) {
	res := &Result[T]{Version: f.snap.version, Conflicts: conflicts, Response: f.resp}
	if err := decode(p.r.c, &res.Response, http.MethodGet, string(f.url), &res.Value); err != nil {
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

// written builds the result of a successful write and remembers the new
// version. A response without a body stands for the body that was sent, as
// RFC 9110 allows only when the server stored it unchanged and says so with
// an ETag, and so does one with exactly the bytes sent: the result's Value
// is then v. Without a version the resource is forgotten and refetched when
// next needed.
func (p *op[T]) written(resp *Response, v T, sent []byte, conflicts int) *Result[T] {
	c, o := p.r.c, &p.o
	res := &Result[T]{Value: v, Conflicts: conflicts, Response: *resp}
	body, encoded := sent, true
	if len(resp.Body) > 0 && bytes.Equal(resp.Body, sent) {
		// The server answered with the bytes it was sent, which v encodes
		// to: decoding them again would cost as much as the write.
		body = resp.Body
	} else if len(resp.Body) > 0 && representation(o.versioner, resp.Body) {
		encoded = false
		res.Value = *new(T)
		if err := decode(c, resp, "", string(p.u), &res.Value); err == nil {
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
	if snap.encoded && p.r.copier.ok && len(body) >= minCopiedBody && c.versions.keepsBody(cap(body)) {
		// v is the caller's too (Result.Value): keep a copy, when the
		// memory it holds fits one entry's share as the body does; the
		// budget is charged both. (A share for the two together would
		// refuse the copy of every 1 MiB document, the case it is for.)
		// (Copied from a local of this branch, so that v itself stays off
		// the heap.)
		src := v
		if kept, held := copyOf(&src); c.versions.keepsBody(int(held)) {
			snap.value, snap.held = &kept, held
		}
	}
	c.versions.put(p.u, snap)
	return res
}

// applied returns what is known of a write to the call's item (or a
// create by POST) that took effect although its answer could not be read (err
// matches ErrWriteApplied and resp holds the 2xx status and headers): the
// value that was sent, the status, headers, Location and version, with
// err, so that the caller does not write again blindly. What the client
// remembered of the item is older than the write, so it is forgotten: a Get must
// not revalidate it. Any other failure returns nil and err.
func (p *op[T]) applied(resp *Response, v T, conflicts int, err error) (*Result[T], error) {
	if resp.StatusCode == 0 || !errors.Is(err, ErrWriteApplied) {
		return nil, err
	}
	if p.u != "" {
		p.r.c.versions.forget(p.u)
	}
	return &Result[T]{Value: v, Version: p.o.versioner.Version(resp.Header, nil), Conflicts: conflicts, Response: *resp}, err
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
