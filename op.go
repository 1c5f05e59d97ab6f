package concord

// Layer: The call (ARCHITECTURE.md).

import (
	"context"
	"net/http"
)

// op is one call of a Resource, and the receiver of each of its steps, so
// that a step takes only what varies. It holds the call's state (its
// context, ledger and retry policy: the context of its requests), the
// call's options, and for a call on one item, the item's address, route
// and write turn and what the server's lock says of it. begin makes it in
// one allocation; nothing of it outlives the call.
type op[T any] struct {
	r  *Resource[T]
	cl call
	o  callOptions // the resource's options, under the call's own
	id string      // the item's ID, "" for a call on the collection

	u  itemURL // the item's address, which keys all the client remembers of it
	at route
	// turn is the call's write turn on the item in this client (nil
	// before it is taken, and with WithConcurrentWrites).
	turn *writeLock
	// header is every request's headers: the options', and while the
	// call holds the server's lock, with the lock's proof.
	header http.Header
	lock   lockState
}

// lockState is what taking the server's lock found, for one round of a
// call under WithLocks (see lockedRound); zero outside the lock.
type lockState struct {
	held    bool // the call holds the server's lock on its item
	created bool // the item under the lock is the empty one a LOCK creates (errPlaceholder)
	absent  bool // the locker found no item to lock (an Azure lease): nothing is locked
}

// missing reports whether taking the lock found the item missing: it
// created it, empty, or the locker found nothing to lock.
func (l lockState) missing() bool { return l.created || l.absent }

// begin starts a call of r under ctx, with its options (the resource's,
// under the call's own opts) and the call's retry policy in force. Every
// Resource call starts here (or in start).
func begin[T any, O interface{ apply(*callOptions) }](r *Resource[T], ctx context.Context, opts []O) *op[T] {
	p := &op[T]{r: r, o: r.base}
	applyOptions(&p.o, opts)
	r.c.initCall(&p.cl, ctx)
	p.cl.override(p.o.retry)
	if p.o.maxConflicts > 0 {
		p.cl.maxRounds = p.o.maxConflicts
	}
	p.header = p.o.header
	return p
}

// start is begin for a call on item id: it also resolves the item's
// address and route (set here and nowhere else), or returns an error for
// an invalid ID. The op is returned either way, for done.
func start[T any, O interface{ apply(*callOptions) }](r *Resource[T], ctx context.Context, id string, opts []O) (*op[T], error) {
	p := begin(r, ctx, opts)
	p.id = id
	var err error
	p.u, p.at, err = r.address(id, &p.o)
	return p, err
}

// done reports the call's end to the hooks.
func (p *op[T]) done(operation string, conflicts int, err error) {
	p.r.c.callDone(&p.cl, CallEvent{Operation: operation, Resource: p.r.path, ID: p.id, Conflicts: conflicts, Err: err})
}

// outgoing starts a request of the call with its headers; setQuery adds
// the query.
func (p *op[T]) outgoing(method, u string) outgoing {
	return outgoing{method: method, url: u, header: p.header}
}

// exchange sends a request of the call (see Client.exchange).
func (p *op[T]) exchange(out *outgoing) (Response, error) { return p.r.c.exchange(&p.cl, out) }

// url is the item's address as errors and logs may show it.
func (p *op[T]) url() string { return p.r.c.redact.url(string(p.u)) }

// takeTurn waits for the call's write turn on its item in this client
// (see writeLocks); endTurn gives it up.
func (p *op[T]) takeTurn() (err error) {
	p.turn, err = p.r.c.writeLocks.lock(p.cl.ctx, p.u)
	return err
}

func (p *op[T]) endTurn() { p.r.c.writeLocks.unlock(p.u) }
