package concord

// Layer: Memory (ARCHITECTURE.md).

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// writeLocks serializes the writes one client makes to one resource. Two
// goroutines that update the same resource through the same client would
// otherwise race each other: one wins, the other pays a conflict, a
// refetch and a backoff, and under load the losers starve while fresh calls
// cut in. Taking turns costs nothing they would not have waited anyway, and
// leaves conflicts to writers in other processes. Waiting for a turn ends
// with the context.
type writeLocks struct {
	mu    sync.Mutex
	byURL map[itemURL]*writeLock
	free  []*writeLock // unused locks kept for reuse, at most maxFreeLocks
}

// maxFreeLocks bounds the locks kept for reuse: enough for the resources a
// client writes at once, without holding memory for every one it ever
// wrote.
const maxFreeLocks = 64

type writeLock struct {
	turn chan struct{} // holds a token while the resource is free
	refs int           // calls holding or waiting for this lock
	// inCallback is the ID of the holder's goroutine while it runs the
	// caller's merge or mutate function, 0 otherwise.
	inCallback atomic.Int64
}

// lock waits for url's turn and returns the lock, nil when l is nil. Every
// successful lock must be followed by unlock(url). A merge or mutate
// function that writes its own resource through the same client would wait
// for its own turn forever: that is refused at once with
// ErrReentrantWrite.
func (l *writeLocks) lock(ctx context.Context, url itemURL) (*writeLock, error) {
	if l == nil {
		return nil, nil
	}
	l.mu.Lock()
	wl := l.byURL[url]
	if wl == nil {
		if n := len(l.free); n > 0 {
			wl, l.free = l.free[n-1], l.free[:n-1]
		} else {
			wl = &writeLock{turn: make(chan struct{}, 1)}
			wl.turn <- struct{}{}
		}
		l.byURL[url] = wl
	}
	wl.refs++
	l.mu.Unlock()
	if g := wl.inCallback.Load(); g != 0 && g == goroutineID() {
		l.release(url, wl)
		return nil, ErrReentrantWrite
	}
	select {
	case <-wl.turn:
		return wl, nil
	case <-ctx.Done():
		l.release(url, wl)
		return nil, ctx.Err()
	}
}

// callback runs the caller's merge or mutate function, marking the lock
// as held by a goroutine inside it.
func (wl *writeLock) callback(f func()) {
	if wl == nil {
		f()
		return
	}
	wl.inCallback.Store(goroutineID())
	defer wl.inCallback.Store(0)
	f()
}

// goroutineID returns the running goroutine's ID from the first line of
// its stack ("goroutine 42 [running]:"). Go has no other way to ask, and
// concord asks only to tell a function writing its own resource (same
// goroutine as the lock's holder) from another goroutine waiting its turn;
// a function that hands the write to another goroutine and waits for it is
// not detected. The context cannot tell them apart instead: mutate gets no
// context of concord's, so a write inside it carries the caller's own,
// which goroutines of an errgroup share, and refusing a write on that
// context would refuse their writes too, while they only wait their turn.
func goroutineID() int64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	b := bytes.TrimPrefix(buf[:n], []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		id, _ := strconv.ParseInt(string(b[:i]), 10, 64)
		return id
	}
	return -1 // never equal to a holder's: no false refusals
}

// unlock ends url's turn.
func (l *writeLocks) unlock(url itemURL) {
	if l == nil {
		return
	}
	l.mu.Lock()
	wl := l.byURL[url]
	l.mu.Unlock()
	wl.turn <- struct{}{}
	l.release(url, wl)
}

// release drops a holder's or waiter's reference, forgetting the lock when
// nobody holds or waits for it, so the map stays as small as the writes in
// flight.
func (l *writeLocks) release(url itemURL, wl *writeLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if wl.refs--; wl.refs == 0 {
		delete(l.byURL, url)
		// Free: its turn token is back in the channel.
		if len(l.free) < maxFreeLocks {
			l.free = append(l.free, wl)
		}
	}
}
