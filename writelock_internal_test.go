package concord

import (
	"context"
	"fmt"
	"testing"
)

func TestWriteLocksForgetAndReuse(t *testing.T) {
	l := &writeLocks{byURL: make(map[itemURL]*writeLock)}
	for i := range maxFreeLocks + 10 { // all held at once, then all freed
		if wl, err := l.lock(context.Background(), itemURL(fmt.Sprint("u", i))); err != nil || wl == nil {
			t.Fatal(err)
		}
	}
	for i := range maxFreeLocks + 10 {
		l.unlock(itemURL(fmt.Sprint("u", i)))
	}
	if len(l.byURL) != 0 || len(l.free) != maxFreeLocks {
		t.Errorf("after %d locks: %d held, %d kept for reuse; want 0 and %d", maxFreeLocks+10, len(l.byURL), len(l.free), maxFreeLocks)
	}
	wl, _ := l.lock(context.Background(), "a")
	if wl.refs != 1 {
		t.Errorf("a fresh lock has %d references; want 1", wl.refs)
	}
	l.unlock("a")
}
