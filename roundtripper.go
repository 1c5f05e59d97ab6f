package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// RoundTripper returns concord's transport layer as an http.RoundTripper,
// for clients generated from an OpenAPI document (oapi-codegen's
// HttpRequestDoer, ogen, openapi-generator) or SDKs that take an
// *http.Client: &http.Client{Transport: c.RoundTripper()}. Each request
// gets the client's default headers and credentials, an idempotency key if
// it is a POST without one, retries only where they are safe, capped
// Retry-After, the retry budget, the attempt timeout, redaction and hooks.
// Every status comes back as a response, bodies read in full (within the
// client's limits); an error means no response. A request outside the
// client's base URL is refused. Version tracking and merging stay with
// Resource.
func (c *Client) RoundTripper() http.RoundTripper { return roundTripper{c} }

type roundTripper struct{ c *Client }

func (rt roundTripper) RoundTrip(req *http.Request) (_ *http.Response, err error) {
	c := rt.c
	cl := c.newCall(req.Context())
	defer func() { c.callDone(cl, CallEvent{Operation: "RoundTrip", Err: err}) }()
	u := req.URL.String()
	if !strings.HasPrefix(u, c.base+"/") && u != c.base {
		closeBody(req)
		return nil, fmt.Errorf("concord: %s is outside the client's base URL %s", c.redact.url(u), c.redact.url(c.base))
	}
	o := &outgoing{method: req.Method, url: u, header: req.Header.Clone()}
	if o.method == "" {
		o.method = http.MethodGet
	}
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(req.Body)
		closeBody(req)
		if err != nil {
			return nil, fmt.Errorf("concord: reading the request body: %w", err)
		}
		o.body = body
	}
	o.contentType = o.header.Get("Content-Type")
	// A precondition makes a repeat safe: a second attempt of a write that
	// took effect fails it instead of applying again.
	o.conditional = o.header.Get("If-Match") != "" || o.header.Get("If-None-Match") != ""
	key := o.header.Get(c.keys.Header)
	o.header.Del(c.keys.Header)
	if key != "" || o.method == http.MethodPost {
		var k idempotencyKey
		var err error
		if o.key, err = c.keyFor(&k, strings.Trim(key, `"`), "", o.body); err != nil {
			return nil, err
		}
	}
	resp, err := c.exchange(cl, o)
	if resp.StatusCode == 0 { // no response came
		return nil, err
	}
	var apiErr *APIError
	if err != nil && !errors.As(err, &apiErr) {
		return nil, err
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode)),
		StatusCode:    resp.StatusCode,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        resp.Header,
		Body:          io.NopCloser(bytes.NewReader(resp.Body)),
		ContentLength: int64(len(resp.Body)),
		Request:       req,
	}, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
