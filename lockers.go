package concord

// Layer: Conflict loop and merges (ARCHITECTURE.md).

// The Lockers of real servers, WebDAV locks
// (RFC 4918: Apache mod_dav, nginx's dav-ext module, lighttpd) and Azure
// Blob leases.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// WebDAVLocker takes RFC 4918 locks: an exclusive write LOCK of depth 0
// with a Timeout, its token sent as If: (<token>) on every request under
// it, refreshed by a LOCK carrying that If header, released by UNLOCK. A
// LOCK of an item that does not exist creates it, empty (answered 201):
// concord then writes it without If-None-Match, or deletes it again when
// the call finds nothing to do. Its zero value is ready to use.
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
		return nil, err
	}
	token := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(resp.Header.Get("Lock-Token")), "<"), ">"))
	if token == "" || strings.ContainsAny(token, "<>\r\n") {
		return nil, fmt.Errorf("concord: LOCK %s: the answer %d carried no usable Lock-Token", c.redact.url(u), resp.StatusCode)
	}
	return &davLease{c: c, url: u, token: token, ttl: ttl, created: resp.StatusCode == http.StatusCreated}, nil
}

// davTimeout is a Timeout header for ttl, in whole seconds, at least one.
func davTimeout(ttl time.Duration) string {
	return fmt.Sprintf("Second-%d", max(int64(ttl/time.Second), 1))
}

// davLease is a WebDAV lock held.
type davLease struct {
	c       *Client
	url     string
	token   string
	ttl     time.Duration
	created bool
}

func (l *davLease) Apply(h http.Header) { h.Set("If", "(<"+l.token+">)") }

func (l *davLease) Created() bool { return l.created }

func (l *davLease) Refresh(ctx context.Context) error {
	h := http.Header{"Timeout": {davTimeout(l.ttl)}}
	l.Apply(h)
	_, err := l.c.Do(ctx, &Request{Method: "LOCK", Path: l.url, Header: h}, nil)
	return err
}

func (l *davLease) Release(ctx context.Context) error {
	_, err := l.c.Do(ctx, &Request{Method: "UNLOCK", Path: l.url, Header: http.Header{"Lock-Token": {"<" + l.token + ">"}}}, nil)
	return err
}

// AzureLeaseLocker takes Azure Blob leases: PUT ?comp=lease with
// x-ms-lease-action acquire, renew and release, the lease ID sent as
// x-ms-lease-id on every request under it. A lease lasts 15 to 60 seconds,
// so the TTL must be in that range. Only an existing blob can be leased:
// a create (CreateAt, or Replace of a missing item) goes unleased and
// relies on If-None-Match: *, which Blob storage honors (409). Its zero
// value is ready to use.
type AzureLeaseLocker struct{}

// Lock acquires the lease. A 409 LeaseAlreadyPresent matches ErrLocked.
func (AzureLeaseLocker) Lock(ctx context.Context, c *Client, u string, ttl time.Duration) (Lease, error) {
	if ttl < 15*time.Second || ttl > 60*time.Second {
		return nil, fmt.Errorf("concord: an Azure lease lasts 15 to 60 seconds, not %v", ttl)
	}
	h := http.Header{"X-Ms-Lease-Action": {"acquire"}, "X-Ms-Lease-Duration": {fmt.Sprint(int64(ttl / time.Second))}}
	resp, err := c.Do(ctx, &Request{Method: http.MethodPut, Path: u, Query: url.Values{"comp": {"lease"}}, Header: h}, nil)
	if err != nil {
		return nil, err
	}
	id := resp.Header.Get("X-Ms-Lease-Id")
	if id == "" {
		return nil, errors.New("concord: the lease answer carried no x-ms-lease-id")
	}
	return &azureLease{c: c, url: u, id: id}, nil
}

// azureLease is an Azure Blob lease held.
type azureLease struct {
	c   *Client
	url string
	id  string
}

func (l *azureLease) Apply(h http.Header) { h.Set("X-Ms-Lease-Id", l.id) }

func (l *azureLease) Created() bool { return false }

func (l *azureLease) Refresh(ctx context.Context) error { return l.action(ctx, "renew") }

func (l *azureLease) Release(ctx context.Context) error { return l.action(ctx, "release") }

func (l *azureLease) action(ctx context.Context, action string) error {
	h := http.Header{"X-Ms-Lease-Action": {action}}
	l.Apply(h)
	_, err := l.c.Do(ctx, &Request{Method: http.MethodPut, Path: l.url, Query: url.Values{"comp": {"lease"}}, Header: h}, nil)
	return err
}
