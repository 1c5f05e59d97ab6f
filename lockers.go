package concord

// Layer: Operations (ARCHITECTURE.md).

// The Lockers of real servers, WebDAV locks
// (RFC 4918: Apache mod_dav, nginx's dav-ext module, lighttpd) and Azure
// Blob leases.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WebDAVLocker takes RFC 4918 locks: an exclusive write LOCK of depth 0
// with a Timeout, its token sent as the tagged list If: <item-URL>
// (<token>) on every request under it (a form every server measured
// accepts; one crashed on the untagged list), refreshed by a LOCK
// carrying that If header, released by UNLOCK. It follows the timeout
// the server granted (in the answer's lockdiscovery or a Timeout header),
// not the one asked. A LOCK of an item that does not exist creates it,
// empty (answered 201): concord then writes it without If-None-Match, or
// deletes it again when the call finds nothing to do. A LOCK refused
// other than by 423 Locked (404, 405, 5xx, no token) fails with
// ErrLockUnavailable: a WebDAV LOCK never means "the item must exist".
// Its zero value is ready to use.
type WebDAVLocker struct{}

// lockInfo is the body of a LOCK that takes a new exclusive write lock.
const lockInfo = `<?xml version="1.0" encoding="utf-8"?>` +
	`<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>` +
	`<D:locktype><D:write/></D:locktype><D:owner>concord</D:owner></D:lockinfo>`

// Lock sends the LOCK. A 423 Locked answer matches ErrLocked.
func (WebDAVLocker) Lock(ctx context.Context, c *Client, u string, ttl time.Duration) (Lease, error) {
	h := http.Header{
		"Timeout":      {davTimeout(ttl)},
		"Depth":        {"0"},
		"Content-Type": {"application/xml; charset=utf-8"},
	}
	resp, err := c.Do(ctx, &Request{Method: "LOCK", Path: u, Header: h, Body: []byte(lockInfo)}, nil)
	if err != nil {
		if errors.Is(err, ErrLocked) || ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: LOCK %s: %v", ErrLockUnavailable, c.redact.url(u), err)
	}
	token := lockToken(resp.Header)
	if token == "" {
		return nil, fmt.Errorf("%w: LOCK %s: the answer %d carried no usable Lock-Token", ErrLockUnavailable, c.redact.url(u), resp.StatusCode)
	}
	l := &davLease{c: c, url: u, ttl: ttl, tokens: []string{token}, created: resp.StatusCode == http.StatusCreated}
	l.timeout = grantedTimeout(resp, ttl)
	return l, nil
}

// lockToken is the token of a LOCK's answer, or "" when it has none that
// can be sent back.
func lockToken(h http.Header) string {
	token := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(h.Get("Lock-Token")), "<"), ">"))
	if strings.ContainsAny(token, "<>()\r\n") {
		return ""
	}
	return token
}

// davTimeout is a Timeout header for ttl, in whole seconds, at least one.
func davTimeout(ttl time.Duration) string {
	return fmt.Sprintf("Second-%d", max(int64(ttl/time.Second), 1))
}

// grantedTag finds the timeout in a LOCK answer's lockdiscovery, whatever
// its namespace prefix.
var grantedTag = regexp.MustCompile(`(?i)<(?:[a-z0-9_.-]+:)?timeout>\s*([^<\s]+)\s*</`)

// grantedTimeout is the timeout a LOCK's answer granted: from its
// lockdiscovery body, else a Timeout header, else the ttl asked. Infinite
// (or a value concord cannot read) is taken as the ttl asked: refreshing
// then costs a request and loses nothing.
func grantedTimeout(resp *Response, asked time.Duration) time.Duration {
	v := resp.Header.Get("Timeout")
	if m := grantedTag.FindSubmatch(resp.Body); m != nil {
		v = string(m[1])
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(v), "Second-")
	n, err := strconv.ParseInt(s, 10, 32)
	if !ok || err != nil || n <= 0 {
		return asked
	}
	return time.Duration(n) * time.Second
}

// davLease is a WebDAV lock held.
type davLease struct {
	c       *Client
	url     string
	ttl     time.Duration
	created bool

	mu      sync.Mutex // the refresher's goroutine and the call's
	tokens  []string   // the lock's token, then any a refresh granted anew
	timeout time.Duration
}

func (l *davLease) Apply(h http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h.Set("If", "<"+l.url+"> (<"+l.tokens[0]+">)")
}

func (l *davLease) Created() bool { return l.created }

func (l *davLease) Timeout() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.timeout
}

// Refresh extends the lock. A server that lost the lock may answer the
// refresh with a new lock (nginx's dav-ext): its token is kept, so that
// Release gives it up too instead of leaving every writer blocked until it
// expires.
func (l *davLease) Refresh(ctx context.Context) error {
	h := http.Header{"Timeout": {davTimeout(l.ttl)}}
	l.Apply(h)
	resp, err := l.c.Do(ctx, &Request{Method: "LOCK", Path: l.url, Header: h}, nil)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timeout = grantedTimeout(resp, l.ttl)
	if t := lockToken(resp.Header); t != "" && !slices.Contains(l.tokens, t) {
		l.tokens = append(l.tokens, t)
	}
	return nil
}

// Release gives up the lock, and any lock a refresh was granted anew.
func (l *davLease) Release(ctx context.Context) error {
	l.mu.Lock()
	tokens := slices.Clone(l.tokens)
	l.mu.Unlock()
	var errs []error
	for _, t := range tokens {
		_, err := l.c.Do(ctx, &Request{Method: "UNLOCK", Path: l.url, Header: http.Header{"Lock-Token": {"<" + t + ">"}}}, nil)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// AzureLeaseLocker takes Azure Blob leases: PUT ?comp=lease with
// x-ms-lease-action acquire, renew and release, the lease ID sent as
// x-ms-lease-id on every request under it. A lease lasts 15 to 60 seconds,
// so the TTL must be in that range. Only an existing blob can be leased:
// a create (CreateAt, or Replace of a missing item) goes unleased and
// relies on If-None-Match: *, which Blob storage honors (409). Before each
// lease it checks with a HEAD that the item is an Azure blob (it names
// its x-ms-blob-type, or its absence by an x-ms-error-code): elsewhere (a
// WebDAV server, an Azure Table entity) the bodyless PUT would be a write
// that empties the item, so there it fails with ErrLockUnavailable without
// writing. Its zero value is ready to use.
type AzureLeaseLocker struct{}

// Lock acquires the lease. A 409 LeaseAlreadyPresent matches ErrLocked.
func (AzureLeaseLocker) Lock(ctx context.Context, c *Client, u string, ttl time.Duration) (Lease, error) {
	if ttl < 15*time.Second || ttl > 60*time.Second {
		return nil, fmt.Errorf("concord: an Azure lease lasts 15 to 60 seconds, not %v", ttl)
	}
	var answered http.Header
	head, err := c.Do(ctx, &Request{Method: http.MethodHead, Path: u}, nil)
	var apiErr *APIError
	switch {
	case err == nil:
		answered = head.Header
	case errors.As(err, &apiErr):
		answered = apiErr.Header
	default:
		return nil, err
	}
	// A blob names its type; a missing one is refused in Azure's words.
	// Anything else (a WebDAV server, an Azure Table entity) would take a
	// bodyless PUT ?comp=lease for a write of nothing.
	if err == nil && answered.Get("X-Ms-Blob-Type") == "" || err != nil && answered.Get("X-Ms-Error-Code") == "" {
		return nil, fmt.Errorf("%w: %s does not answer as an Azure blob: a lease request there could write the item", ErrLockUnavailable, c.redact.url(u))
	}
	if err != nil {
		return nil, err // a missing blob: ErrNotFound
	}
	h := http.Header{"X-Ms-Lease-Action": {"acquire"}, "X-Ms-Lease-Duration": {fmt.Sprint(int64(ttl / time.Second))}}
	resp, err := c.Do(ctx, &Request{Method: http.MethodPut, Path: u, Query: url.Values{"comp": {"lease"}}, Header: h}, nil)
	if err != nil {
		return nil, err
	}
	id := resp.Header.Get("X-Ms-Lease-Id")
	if id == "" {
		return nil, fmt.Errorf("%w: the lease answer carried no x-ms-lease-id", ErrLockUnavailable)
	}
	return &azureLease{c: c, url: u, id: id, ttl: ttl}, nil
}

// azureLease is an Azure Blob lease held.
type azureLease struct {
	c   *Client
	url string
	id  string
	ttl time.Duration
}

func (l *azureLease) Apply(h http.Header) { h.Set("X-Ms-Lease-Id", l.id) }

func (l *azureLease) Created() bool { return false }

// Timeout is the lease's duration: Azure grants what is asked, or refuses.
func (l *azureLease) Timeout() time.Duration { return l.ttl }

func (l *azureLease) Refresh(ctx context.Context) error { return l.action(ctx, "renew") }

func (l *azureLease) Release(ctx context.Context) error { return l.action(ctx, "release") }

func (l *azureLease) action(ctx context.Context, action string) error {
	h := http.Header{"X-Ms-Lease-Action": {action}}
	l.Apply(h)
	_, err := l.c.Do(ctx, &Request{Method: http.MethodPut, Path: l.url, Query: url.Values{"comp": {"lease"}}, Header: h}, nil)
	return err
}
