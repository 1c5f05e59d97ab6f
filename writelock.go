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
}

type writeLock struct {
	turn chan struct{} // holds a token while the resource is free
	refs int           // calls holding or waiting for this lock
}

// lock waits for url's turn and returns the function that ends it.
func (l *writeLocks) lock(ctx context.Context, url string) (unlock func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	l.mu.Lock()
	wl := l.byURL[url]
	if wl == nil {
		wl = &writeLock{turn: make(chan struct{}, 1)}
		wl.turn <- struct{}{}
		l.byURL[url] = wl
	}
	wl.refs++
	l.mu.Unlock()

	release := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if wl.refs--; wl.refs == 0 {
			delete(l.byURL, url)
		}
	}
	select {
	case <-wl.turn:
		return func() { wl.turn <- struct{}{}; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
