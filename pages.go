package concord

// Layer: Operations (ARCHITECTURE.md).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
)

// Page is one page of a collection.
type Page[T any] struct {
	// Items are the page's items.
	Items []T
	// Next is where the following page is, to pass to Resource.Page;
	// empty on the last page. Keep it to resume later.
	Next string
	// Response is the page's HTTP response.
	Response
}

// Paging says how an API pages its collections, where concord's detection
// (see Resource.Page) does not find it. Zero fields are detected.
type Paging struct {
	// Items is the member holding a page's items, named as in
	// BodyVersion.Path ("data", "results.list").
	Items string
	// Cursor is the member holding the next page's token, and Param the
	// query parameter that sends it back ("nextCursor" and "cursor").
	Cursor, Param string
}

// cursorStyles are the next-page tokens concord recognizes in a page's
// body, with the query parameter that sends each back.
var cursorStyles = []struct{ member, param string }{
	{"next_page_token", "page_token"},
	{"nextPageToken", "pageToken"},    // Google
	{"metadata.continue", "continue"}, // Kubernetes
	{"next_cursor", "cursor"},
	{"response_metadata.next_cursor", "cursor"}, // Slack
}

// envelopeMembers are the members a page's items are found in when the
// body is an object: Stripe's data, Kubernetes' items, Azure's value.
var envelopeMembers = []string{"data", "items", "value", "results"}

// nextLinkMembers hold the next page's URL in the body (Azure, OData).
var nextLinkMembers = []string{"@odata.nextLink", "odata.nextLink", "nextLink"}

// Page fetches one page of the collection: the first when next is "",
// else the page a previous Page's Next names. The items are a bare JSON
// array or an envelope's "data", "items", "value" or "results" member. The
// next page is found, in this order, from a Link header with rel="next"
// (GitHub, RFC 8288), a next-link member (@odata.nextLink, nextLink), a
// cursor member (next_page_token, nextPageToken, metadata.continue,
// next_cursor) sent back as its query parameter (page_token, pageToken,
// continue, cursor), or Stripe's has_more with starting_after set to the
// last item's id. WithPaging names other members. A next page outside the
// client's base URL is refused, since the client's headers carry
// credentials.
func (r *Resource[T]) Page(ctx context.Context, next string, opts ...CallOption) (page *Page[T], err error) {
	call := begin(r, ctx, opts)
	defer func() { call.done("Page", 0, err) }()
	o := &call.o
	u := next
	if u == "" {
		u = r.collectionURL()
		if len(o.query) > 0 {
			u = appendQuery(u, o.query.Encode())
		}
	} else if !strings.HasPrefix(u, r.c.base+"/") && !strings.HasPrefix(u, r.c.base+"?") {
		return nil, fmt.Errorf("concord: next page %s is outside the client's base URL %s", r.c.redact.url(u), r.c.redact.url(r.c.base))
	}
	out := call.outgoing(http.MethodGet, u)
	resp, err := call.exchange(&out)
	if err != nil {
		return nil, err
	}
	raw, doc, err := pageItems(resp.Body, o.paging)
	if err != nil {
		return nil, &DecodeError{Method: http.MethodGet, URL: r.c.redact.url(u), StatusCode: resp.StatusCode, Type: fmt.Sprintf("%T", []T(nil)), Err: err}
	}
	p := &Page[T]{Response: resp}
	if err := json.Unmarshal(raw, &p.Items); err != nil {
		return nil, &DecodeError{Method: http.MethodGet, URL: r.c.redact.url(u), StatusCode: resp.StatusCode, Type: fmt.Sprintf("%T", p.Items), Err: err}
	}
	if p.Next, err = nextPage(u, resp.Header, doc, raw, o.paging); err != nil {
		return nil, err
	}
	if p.Next == u {
		return nil, fmt.Errorf("%w: the page after %s is the same page", ErrPageLoop, r.c.redact.url(u))
	}
	return p, nil
}

// All iterates over every item of the collection, page after page (see
// Page), fetching each page when the loop reaches it. It stops when the
// loop breaks, after the last page, or at the first error, which it
// yields with a zero T; a context that ends stops it with the context's
// error, and a next page it has already read with ErrPageLoop.
func (r *Resource[T]) All(ctx context.Context, opts ...CallOption) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		next := ""
		read := make(map[string]bool) // the next pages followed so far
		for {
			p, err := r.Page(ctx, next, opts...)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range p.Items {
				if !yield(item, nil) {
					return
				}
			}
			if p.Next == "" {
				return
			}
			if read[p.Next] {
				var zero T
				yield(zero, fmt.Errorf("%w: the page at %s was read already", ErrPageLoop, r.c.redact.url(p.Next)))
				return
			}
			read[p.Next] = true
			next = p.Next
		}
	}
}

// pageItems returns the raw JSON array of a page's items, and the decoded
// envelope when the page is an object.
func pageItems(body []byte, paging Paging) (json.RawMessage, map[string]any, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		return body, nil, nil
	}
	var doc map[string]any
	if err := decodeJSON(body, &doc); err != nil || doc == nil {
		return nil, nil, fmt.Errorf("a page is a JSON array or object: %w", err)
	}
	members := envelopeMembers
	if paging.Items != "" {
		members = []string{paging.Items}
	}
	for _, m := range members {
		if items, ok := lookup(doc, memberPath(m)); ok {
			if _, isArray := items.([]any); isArray {
				raw, err := json.Marshal(items)
				return raw, doc, err
			}
		}
	}
	return nil, nil, fmt.Errorf("no array of items in the page (looked for %s)", strings.Join(members, ", "))
}

// nextPage finds where the page after the one at u is, or "".
func nextPage(u string, h http.Header, doc map[string]any, items json.RawMessage, paging Paging) (string, error) {
	if link := linkNext(h); link != "" {
		return resolveRef(u, link)
	}
	if doc == nil {
		return "", nil
	}
	for _, m := range nextLinkMembers {
		if s, ok := doc[m].(string); ok && s != "" {
			return resolveRef(u, s)
		}
	}
	styles := cursorStyles
	if paging.Cursor != "" {
		styles = []struct{ member, param string }{{paging.Cursor, paging.Param}}
	}
	for _, st := range styles {
		if v, ok := lookup(doc, memberPath(st.member)); ok {
			if s, ok := v.(string); ok && s != "" {
				return withParam(u, st.param, s)
			}
		}
	}
	if more, _ := doc["has_more"].(bool); more {
		var list []struct {
			ID any `json:"id"`
		}
		if json.Unmarshal(items, &list) == nil && len(list) > 0 && list[len(list)-1].ID != nil {
			return withParam(u, "starting_after", fmt.Sprint(list[len(list)-1].ID))
		}
	}
	return "", nil
}

// linkNext returns the target of a Link header's rel="next", or "".
func linkNext(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, link := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(link, ";")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") {
					for _, rel := range strings.Fields(strings.Trim(val, `"`)) {
						if strings.EqualFold(rel, "next") {
							return target[1 : len(target)-1]
						}
					}
				}
			}
		}
	}
	return ""
}

// resolveRef resolves a link against the URL of the page it came in.
func resolveRef(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := b.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("concord: next-page link does not parse: %w", err)
	}
	return r.String(), nil
}

// withParam returns u with the query parameter set to value.
func withParam(u, param, value string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	q := p.Query()
	q.Set(param, value)
	p.RawQuery = q.Encode()
	return p.String(), nil
}
