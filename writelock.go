package concord

import (
	"context"
	"sync"
)

// writeLocks serialises the writes one client makes to one resource. Two
// goroutines that update the same resource through the same client would
// otherwise race each other: one wins, the other pays a conflict, a
// refetch and a backoff, and under load the losers starve while fresh calls
// cut in. Taking turns costs nothing they would not have waited anyway, and
// leaves conflicts to writers in other processes. Waiting for a turn ends
// with the context.
type writeLocks struct {
	mu    sync.Mutex
	byURL map[string]*writeLock
	free  []*writeLock // unused locks kept for reuse, at most maxFreeLocks
}

// maxFreeLocks bounds the locks kept for reuse: enough for the resources a
// client writes at once, without holding memory for every one it ever
// wrote.
const maxFreeLocks = 64

type writeLock struct {
	turn chan struct{} // holds a token while the resource is free
	refs int           // calls holding or waiting for this lock
}

// lock waits for url's turn. Every successful lock must be followed by
// unlock(url).
func (l *writeLocks) lock(ctx context.Context, url string) error {
	if l == nil {
		return nil
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
	select {
	case <-wl.turn:
		return nil
	case <-ctx.Done():
		l.release(url, wl)
		return ctx.Err()
	}
}

// unlock ends url's turn.
func (l *writeLocks) unlock(url string) {
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
func (l *writeLocks) release(url string, wl *writeLock) {
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
