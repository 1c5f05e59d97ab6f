package concord

// Layer: Conflict loop and merges (ARCHITECTURE.md).

// The lock mode. Optimistic concurrency keeps
// updates only where the server checks a precondition and writes
// atomically; some servers do not (Apache mod_dav's If-Match is not
// atomic, some ignore If-Match) but offer a lock (WebDAV LOCK, an Azure
// Blob lease). With WithLocks, every write of a resource's item takes the
// server's lock first, holds it (refreshed) while it reads, merges and
// writes, and gives it up at the end, whatever happened.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Locker takes a server's lock on one resource: a WebDAV lock
// (WebDAVLocker), an Azure Blob lease (AzureLeaseLocker), or an API's own
// lock or lease endpoint.
type Locker interface {
	// Lock takes an exclusive lock on the resource at url for ttl,
	// sending its requests with c.Do. An error matching ErrLocked means
	// another holder has it (concord waits and asks again, honoring a
	// Retry-After in an *APIError); ErrNotFound means the resource must
	// exist to be locked, and does not.
	Lock(ctx context.Context, c *Client, url string, ttl time.Duration) (Lease, error)
}

// Lease is a lock held on one resource.
type Lease interface {
	// Apply adds the proof of the lock to a request made under it (the
	// lock token, the lease ID), so that the server refuses the request
	// once the lock is lost.
	Apply(h http.Header)
	// Refresh extends the lock by its ttl from now.
	Refresh(ctx context.Context) error
	// Release gives the lock up.
	Release(ctx context.Context) error
	// Created reports that taking the lock created the resource, empty
	// (RFC 4918's LOCK of an unmapped URL): it did not exist before.
	Created() bool
}

// DefaultLockTTL is how long a lock taken by WithLocks lasts unless
// refreshed. A process that dies holding one delays the others by at most
// this long.
const DefaultLockTTL = 30 * time.Second

// lockWaitTTLs bounds the wait for a lock held by others, in lock TTLs: a
// dead holder's lock expires within one, and live holders each hold it for
// one write. Past that, the call fails with ErrLocked.
const lockWaitTTLs = 4

// lockReleaseTimeout bounds the release of a lock at the end of a call,
// which runs even when the call's context has ended.
const lockReleaseTimeout = 5 * time.Second

// errLockLost marks a write refused because the call's lock was lost: the
// write did not take effect, so the call may take the lock again.
var errLockLost = errors.New("concord: the lock was lost")

// locked runs one call's work on the item at u: under the server's lock
// with WithLocks, else as it is. A round whose lock was lost before its
// write took effect (errLockLost: the server refused the write) is run
// again, with a fresh lock and a fresh read, within the conflict policy's
// budget: a server whose lock database loses locks under contention
// (Apache mod_dav, seen) then costs a round, not the call.
func locked[T any](r *Resource[T], ctx context.Context, cl *call, u itemURL, o *callOptions, work func(o *callOptions) (*Result[T], error)) (*Result[T], error) {
	for round := 1; ; round++ {
		lo, h, err := r.hold(ctx, cl, u, o)
		if err != nil {
			return nil, err
		}
		res, err := work(lo)
		r.c.release(ctx, h, u)
		if h == nil || !errors.Is(err, errLockLost) || r.c.spent(cl, round) {
			return res, err
		}
	}
}

// held is a call's hold on the server's lock of one item.
type held struct {
	lease Lease
	stop  chan struct{} // closed to stop the refresher
	done  sync.WaitGroup
}

// hold takes the lock on u when the resource has WithLocks, and returns
// the call's options with the lock's proof on every request, and the hold.
// The hold is nil without WithLocks, and when the locker needs the item to
// exist and it does not: the call then goes on unlocked, and finds the
// item missing as it would without the lock (a create stays create-only
// by If-None-Match: *).
func (r *Resource[T]) hold(ctx context.Context, cl *call, u itemURL, o *callOptions) (*callOptions, *held, error) {
	if o.locker == nil {
		return o, nil, nil
	}
	lease, err := r.c.acquire(ctx, cl, o.locker, u, o.lockTTL)
	if errors.Is(err, ErrNotFound) {
		return o, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	h := &held{lease: lease, stop: make(chan struct{})}
	h.done.Add(1)
	go r.c.keepLocked(ctx, h, u, o.lockTTL)
	locked := *o
	locked.lockHeld, locked.lockCreated = true, lease.Created()
	locked.header = o.header.Clone()
	if locked.header == nil {
		locked.header = make(http.Header)
	}
	lease.Apply(locked.header)
	return &locked, h, nil
}

// release stops refreshing and gives the lock up, with a deadline of its
// own so that a call whose context ended still releases it. A release
// that fails is logged: the lock then expires by its TTL.
func (c *Client) release(ctx context.Context, h *held, u itemURL) {
	if h == nil {
		return
	}
	close(h.stop)
	h.done.Wait()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockReleaseTimeout)
	defer cancel()
	if err := h.lease.Release(rctx); err != nil && c.logger != nil {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "concord: releasing a lock failed; it expires by its TTL",
			slog.String("url", c.redact.url(string(u))), slog.String("error", err.Error()))
	}
}

// keepLocked refreshes the lock every half TTL until the call stops it.
// A refresh that fails is logged and not retried: if the lock is lost,
// the server refuses the call's next write, which reports it.
func (c *Client) keepLocked(ctx context.Context, h *held, u itemURL, ttl time.Duration) {
	defer h.done.Done()
	t := time.NewTicker(ttl / 2)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ttl/2)
			err := h.lease.Refresh(rctx)
			cancel()
			if err != nil && c.logger != nil {
				c.logger.LogAttrs(ctx, slog.LevelWarn, "concord: refreshing a lock failed",
					slog.String("url", c.redact.url(string(u))), slog.String("error", err.Error()))
			}
		}
	}
}

// acquire takes the lock, waiting while another holder has it: Retry-After
// when the server gives one, else the backoff between conflicting writes,
// until ctx ends or lockWaitTTLs TTLs have passed.
func (c *Client) acquire(ctx context.Context, cl *call, l Locker, u itemURL, ttl time.Duration) (Lease, error) {
	waiting := c.contentionBackOff()
	began := c.clock.Now()
	waiting.until = began.Add(lockWaitTTLs * ttl)
	for {
		lease, err := l.Lock(ctx, c, string(u), ttl)
		if err == nil || !errors.Is(err, ErrLocked) {
			return lease, err
		}
		var h http.Header
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			h = apiErr.Header
		}
		if werr := waiting.wait(ctx, cl, h); werr != nil {
			return nil, fmt.Errorf("concord: %s: another holder kept its lock; gave up after %v of waiting (at most %d TTLs of %v): %w",
				c.redact.url(string(u)), c.clock.Now().Sub(began).Round(time.Millisecond), lockWaitTTLs, ttl, errors.Join(err, werr))
		}
	}
}

// dropCreated deletes the empty item that taking the lock created, for a
// call that found nothing to work on, so that the lock leaves nothing
// behind.
func (r *Resource[T]) dropCreated(ctx context.Context, cl *call, u itemURL, o *callOptions) {
	out := r.outgoing(http.MethodDelete, o.at.del, o)
	out.setQuery(o.query)
	_, _ = r.c.exchange(ctx, cl, out) // best effort: the item was empty
}
