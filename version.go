package concord

// Layer: Values (ARCHITECTURE.md).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Versioner is how an API carries a resource's version: where concord reads
// it from a response, and how it makes a write conditional on it. The
// default, ETagVersion, uses the ETag header and If-Match; BodyVersion
// covers APIs that keep the version in the document (Kubernetes'
// metadata.resourceVersion, CouchDB's _rev, Google's etag field).
// Implementations must be safe for concurrent use.
type Versioner interface {
	// Version returns the version a response carries, or "" if none.
	Version(header http.Header, body []byte) string
	// Apply makes a write conditional on version: it may set header,
	// add to query, or return a changed body. body is nil for a DELETE.
	// An error wrapping ErrNoVersion means this version cannot be used
	// (a weak ETag): concord reads the item again, with backoff, until
	// the server serves a usable one or the conflict policy's time budget
	// runs out, then reports it.
	Apply(version string, header http.Header, query url.Values, body []byte) ([]byte, error)
}

// ETagVersion reads the ETag header and writes If-Match. By default weak
// ETags are never sent: RFC 9110's If-Match uses strong comparison, so a
// weak tag can never match, and concord instead waits for the server to
// serve a strong one (Apache's mod_dav serves weak tags for a second after
// each write).
type ETagVersion struct {
	// Opaque says the API compares ETags as opaque strings and expects a
	// weak one echoed byte for byte in If-Match, as Azure Table storage
	// does (it serves only weak tags, and answers a strong rewrite with
	// 400). Use it only for such APIs: on an RFC 9110 server a weak tag in
	// If-Match always fails.
	Opaque bool
}

// Version returns the response's ETag if it is a valid entity-tag.
func (ETagVersion) Version(h http.Header, _ []byte) string {
	tag, err := ParseETag(h.Get("ETag"))
	if err != nil {
		return ""
	}
	return string(tag)
}

// Apply sets If-Match, or returns an error wrapping ErrNoVersion for a
// malformed tag, or a weak one unless Opaque.
func (v ETagVersion) Apply(version string, h http.Header, _ url.Values, body []byte) ([]byte, error) {
	if err := v.check(version); err != nil {
		return nil, err
	}
	h.Set("If-Match", version)
	return body, nil
}

// check returns the error Apply returns for version, or nil.
func (v ETagVersion) check(version string) error {
	tag, err := ParseETag(version)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoVersion, err)
	}
	if tag.IsWeak() && !v.Opaque {
		return fmt.Errorf("%w: the server sent only the weak ETag %s, which If-Match cannot use", ErrNoVersion, tag)
	}
	return nil
}

// BodyVersion reads and writes the version as a member of the JSON
// document. Path names it, with dots between nested members
// ("metadata.resourceVersion", "_rev", "version"), or as a JSON Pointer
// when it starts with "/" ("/odata.etag" for a member whose name holds a
// dot). The version is kept as the
// member's raw JSON, so numbers stay numbers and strings stay strings.
type BodyVersion struct {
	// Path is the member holding the version.
	Path string
	// Query, when set, is the query parameter that carries the version on
	// a write without a body, such as CouchDB's DELETE ?rev=. Without it a
	// Delete cannot be conditional and fails with ErrNoVersion, unless the
	// call says WithUnconditional.
	Query string
	// Receipt, when set, is the member that holds the new version in a
	// write's answer that is a receipt rather than the document, named
	// as Path is: CouchDB answers {"ok":true,"id":…,"rev":…}. Without it
	// the client knows no version after such a write, and its next write
	// reads the item first, or is refused as a conflict.
	Receipt string
}

// Version returns the raw JSON of the member at Path, else of the member
// at Receipt, or "".
func (v BodyVersion) Version(_ http.Header, body []byte) string {
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	if s := member(doc, v.Path); s != "" || v.Receipt == "" {
		return s
	}
	return member(doc, v.Receipt)
}

// member returns the raw JSON of the member of doc at path, or "".
func member(doc any, path string) string {
	val, ok := lookup(doc, memberPath(path))
	if !ok || val == nil {
		return ""
	}
	raw, err := json.Marshal(val)
	if err != nil {
		return ""
	}
	return string(raw)
}

// Apply writes version into the body at Path (creating parent objects as
// needed) or, for a body-less write, into the Query parameter.
func (v BodyVersion) Apply(version string, _ http.Header, query url.Values, body []byte) ([]byte, error) {
	if body == nil {
		if v.Query == "" {
			// Sending the write without its version would make it
			// unconditional.
			return nil, fmt.Errorf("%w: BodyVersion{Path: %q} has no Query parameter to carry the version on a write without a body", ErrNoVersion, v.Path)
		}
		var s string
		if json.Unmarshal([]byte(version), &s) != nil {
			s = version
		}
		query.Set(v.Query, s)
		return nil, nil
	}
	var doc map[string]any
	if err := decodeJSON(body, &doc); err != nil || doc == nil {
		return nil, fmt.Errorf("concord: body version at %q needs a JSON object body", v.Path)
	}
	if err := setPath(doc, memberPath(v.Path), json.RawMessage(version)); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// memberPath splits a member path: a JSON Pointer (RFC 6901) when it
// starts with "/", else names separated by dots.
func memberPath(p string) []string {
	if !strings.HasPrefix(p, "/") {
		return strings.Split(p, ".")
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// QueryVersion is for APIs that take the version as a query parameter on
// every write, such as Google Cloud Storage's generation: read from a
// response header (X-Goog-Generation) or a member of a JSON response, and
// sent as ifGenerationMatch=N on PUT, POST, PATCH and DELETE alike. Such
// APIs answer writes with a receipt (object metadata), not the document:
// the value written stands for the new state.
type QueryVersion struct {
	// Header is a response header that carries the version.
	Header string
	// Member is a member of a JSON response that carries it when no
	// header does, named as in BodyVersion.Path ("generation").
	Member string
	// Param is the query parameter a write carries it in.
	Param string
	// Absent, when set, is Param's value that means "only if absent"
	// (Google: "0"); CreateAt sends it along with If-None-Match: *.
	Absent string
}

// Version returns the version from Header, else from Member (a string's
// contents, or a number's text), or "".
func (v QueryVersion) Version(h http.Header, body []byte) string {
	if v.Header != "" {
		if s := h.Get(v.Header); s != "" {
			return s
		}
	}
	if v.Member == "" {
		return ""
	}
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	switch val, _ := lookup(doc, memberPath(v.Member)); val := val.(type) {
	case string:
		return val
	case float64:
		raw, _ := json.Marshal(val)
		return string(raw)
	}
	return ""
}

// Apply sets Param to the version; the body is sent unchanged.
func (v QueryVersion) Apply(version string, _ http.Header, query url.Values, body []byte) ([]byte, error) {
	if v.Param == "" {
		return nil, fmt.Errorf("%w: QueryVersion has no Param", ErrNoVersion)
	}
	query.Set(v.Param, version)
	return body, nil
}

// lookup follows a member path through nested objects.
func lookup(doc any, path []string) (any, bool) {
	for _, p := range path {
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil, false
		}
		if doc, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return doc, true
}

// setPath sets a member, creating parent objects.
func setPath(obj map[string]any, path []string, val any) error {
	for i, p := range path[:len(path)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			if obj[p] != nil {
				return fmt.Errorf("concord: %q is not an object", strings.Join(path[:i+1], "."))
			}
			next = make(map[string]any)
			obj[p] = next
		}
		obj = next
	}
	obj[path[len(path)-1]] = val
	return nil
}
