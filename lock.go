package concord

// Layer: Operations (ARCHITECTURE.md).

// The lock mode. Optimistic concurrency keeps
// updates only where the server checks a precondition and writes
// atomically; some servers do not (Apache mod_dav's If-Match is not
// atomic, some ignore If-Match) but offer a lock (WebDAV LOCK, an Azure
// Blob lease). With WithLocks, every write of a resource's item takes the
// server's lock first, holds it (refreshed) while it reads, merges and
// writes, and gives it up at the end, whatever happened.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	// exist to be locked, and does not (a create then goes unlocked and
	// relies on If-None-Match: *), so a Locker says it only where its
	// protocol means that; any other error ends the call, and should
	// match ErrLockUnavailable when the server cannot lock the item at
	// all. Lock must not write the item: on a server that does not speak
	// its protocol, a request meant to take a lock can be taken for a
	// write.
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
	// concord believes it only when a read under the lock finds the item
	// empty.
	Created() bool
	// Timeout is how long the server granted the lock for, at the last
	// Lock or Refresh, which may differ from the ttl asked (nginx grants
	// its own setting): concord refreshes the lock every half of it.
	Timeout() time.Duration
}

// DefaultLockTTL is how long a lock taken by WithLocks lasts unless
// refreshed. A process that dies holding one delays the others by at most
// this long, or by the timeout the server granted when it grants another.
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

// locked runs one call's work on its item: under the server's lock with
// WithLocks, else as it is. A round whose lock was lost before its write
// took effect (errLockLost: the server refused the write) is run again,
// with a fresh lock and a fresh read, within the call's bounds (see
// spent): a server whose lock database loses locks under contention
// (Apache mod_dav, seen) then costs a round, not the call.
func (p *op[T]) locked(work func() (*Result[T], error)) (*Result[T], error) {
	for round := 1; ; round++ {
		res, held, err := p.lockedRound(work)
		if !held || !errors.Is(err, errLockLost) || p.r.c.spent(&p.cl, round) {
			return res, err
		}
	}
}

// lockedRound runs work once under the lock, which a defer releases
// whatever ends the round: a result, an error, a panic in the caller's
// code, an ended context. held reports that there was a lock.
func (p *op[T]) lockedRound(work func() (*Result[T], error)) (res *Result[T], held bool, err error) {
	h, err := p.hold()
	defer p.unhold(h)
	if err != nil {
		return nil, false, err
	}
	res, err = work()
	if errors.Is(err, errPlaceholder) && !p.lock.created {
		// The item is the empty one that a LOCK whose answer was lost
		// left behind: it stands for a missing item, as when this call's
		// own LOCK made it. Nothing was written before a read found it.
		p.lock.created = true
		res, err = work()
	}
	return res, h != nil, err
}

// makesEmptyItems reports whether l's lock of a missing item creates it,
// empty: WebDAV's does (RFC 4918, section 7.3). An empty item elsewhere
// (a zero-byte Azure blob) is the item it is.
func makesEmptyItems(l Locker) bool {
	switch l.(type) {
	case WebDAVLocker, *WebDAVLocker:
		return true
	}
	return false
}

// errPlaceholder marks an item read empty under the lock: what a LOCK of
// an unmapped URL creates (RFC 4918, section 7.3), here by a LOCK whose
// answer was lost, so that nobody wrote or released it. No document is
// empty, and no one writes the item while the call holds the lock (where
// outside it an empty body may be a read torn by a write in progress).
var errPlaceholder = errors.New("concord: the item is empty, as a LOCK of a missing item leaves it")

// held is a call's hold on the server's lock of one item.
type held struct {
	lease  Lease
	cancel context.CancelFunc // ends the refresher, and a refresh in flight
	done   chan struct{}      // closed when the refresher has returned
}

// hold takes the server's lock on the call's item when the resource has
// WithLocks: from then on every request of the call carries the lock's
// proof, and p.lock says what taking it found. The hold is nil without
// WithLocks, and when the locker needs the item to exist and it does not
// (ErrNotFound, which only a Locker whose protocol means that returns:
// Azure's leases): the call then goes on unlocked, and finds the item
// missing as it would without the lock (a create stays create-only by
// If-None-Match: *).
func (p *op[T]) hold() (*held, error) {
	if p.o.locker == nil {
		return nil, nil
	}
	c := p.r.c
	lease, err := c.acquire(&p.cl, p.o.locker, p.u, p.o.lockTTL)
	if errors.Is(err, ErrNotFound) {
		// Nothing to lock: a create goes on unlocked; anything else finds
		// the item gone (see missing), rather than write from a stale base
		// with no lock to stop it.
		p.lock.absent = true
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// The refresher lives until release, past the call's context: a lock
	// is released even by a call whose context ended.
	rctx, cancel := context.WithCancel(context.WithoutCancel(p.cl.ctx))
	h := &held{lease: lease, cancel: cancel, done: make(chan struct{})}
	go c.keepLocked(rctx, h, p.u)
	p.lock.held = true
	p.header = p.o.header.Clone()
	if p.header == nil {
		p.header = make(http.Header)
	}
	lease.Apply(p.header)
	// A LOCK that says it created the item is believed only when the item
	// is empty: a server or proxy that answers 201 for an item that exists
	// would otherwise have the call drop the real item (dropCreated).
	p.lock.created = lease.Created() && p.emptyUnderLock()
	return h, nil
}

// unhold ends the round's hold: the lock is released (see release), and
// the call's requests no longer carry its proof.
func (p *op[T]) unhold(h *held) {
	p.lock, p.header = lockState{}, p.o.header
	p.r.c.release(p.cl.ctx, h, p.u)
}

// emptyUnderLock reports whether a read under the lock finds the item
// there and empty, as a LOCK of an unmapped URL leaves it.
func (p *op[T]) emptyUnderLock() bool {
	out := p.outgoing(http.MethodGet, p.at.read)
	out.setQuery(p.o.query)
	resp, err := p.exchange(&out)
	return err == nil && len(bytes.TrimSpace(resp.Body)) == 0
}

// release stops refreshing, without waiting for a refresh in flight (it
// is cancelled), and gives the lock up, with a deadline of its own so that
// a call whose context ended still releases it. A release that fails is
// logged: the lock then expires by its timeout.
func (c *Client) release(ctx context.Context, h *held, u itemURL) {
	if h == nil {
		return
	}
	h.cancel()
	<-h.done
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockReleaseTimeout)
	defer cancel()
	if err := h.lease.Release(rctx); err != nil && c.logger != nil {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "concord: releasing a lock failed; it expires by its TTL",
			slog.String("url", c.redact.url(string(u))), slog.String("error", err.Error()))
	}
}

// keepLocked refreshes the lock every half of the timeout the server
// granted (Lease.Timeout, read again after each refresh) until ctx ends.
// A refresh that fails is logged and not retried, and one that panics
// (a Lease of the caller's) ends the refreshing, logged: either way, if
// the lock is lost, the server refuses the call's next write, which
// reports it.
func (c *Client) keepLocked(ctx context.Context, h *held, u itemURL) {
	defer close(h.done)
	for {
		every := max(h.lease.Timeout()/2, minLockRefresh)
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		err := refresh(rctx, h.lease)
		cancel()
		if err != nil && ctx.Err() == nil && c.logger != nil {
			c.logger.LogAttrs(ctx, slog.LevelWarn, "concord: refreshing a lock failed",
				slog.String("url", c.redact.url(string(u))), slog.String("error", err.Error()))
		}
		if errors.Is(err, errPanicked) {
			return
		}
	}
}

// minLockRefresh bounds how often a lock is refreshed, whatever timeout a
// server grants.
const minLockRefresh = 100 * time.Millisecond

// refresh is l.Refresh with a panic turned into an error: it runs on the
// refresher's goroutine, where a panic would end the process.
func refresh(ctx context.Context, l Lease) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: Lease.Refresh: %v", errPanicked, p)
		}
	}()
	return l.Refresh(ctx)
}

// acquire takes the lock, waiting while another holder has it: Retry-After
// when the server gives one, else the backoff between conflicting writes,
// until ctx ends or lockWaitTTLs TTLs have passed.
func (c *Client) acquire(cl *call, l Locker, u itemURL, ttl time.Duration) (Lease, error) {
	waiting := c.contentionBackOff()
	began := c.clock.Now()
	waiting.until = began.Add(lockWaitTTLs * ttl)
	for {
		lease, err := l.Lock(cl.ctx, c, string(u), ttl)
		if err == nil || !errors.Is(err, ErrLocked) {
			return lease, err
		}
		var h http.Header
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			h = apiErr.Header
		}
		if werr := waiting.wait(cl, h); werr != nil {
			return nil, fmt.Errorf("concord: %s: another holder kept its lock; gave up after %v of waiting (at most %d TTLs of %v): %w",
				c.redact.url(string(u)), c.clock.Now().Sub(began).Round(time.Millisecond), lockWaitTTLs, ttl, errors.Join(err, werr))
		}
	}
}

// dropCreated deletes the empty item that taking the lock created, for a
// call that found nothing to work on, so that the lock leaves nothing
// behind.
func (p *op[T]) dropCreated() {
	if !p.lock.created {
		return
	}
	out := p.outgoing(http.MethodDelete, p.at.del)
	out.setQuery(p.o.query)
	_, _ = p.exchange(&out) // best effort: the item was empty
}
