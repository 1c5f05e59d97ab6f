package concord

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSharedDeadlines: attempts that start together share a deadline at
// least the timeout away and at most a slice of it more, each with its own
// call's values; the shared deadline ends with the attempt's cause.
func TestSharedDeadlines(t *testing.T) {
	type key struct{}
	s := &sharedDeadlines{timeout: time.Hour}
	a := s.attach(context.WithValue(context.Background(), key{}, "a"))
	b := s.attach(context.WithValue(context.Background(), key{}, "b"))
	after := time.Now()
	da, _ := a.Deadline()
	db, ok := b.Deadline()
	if !ok || !da.Equal(db) {
		t.Errorf("Deadline() = %v and %v, %v; want one shared deadline", da, db, ok)
	}
	if da.Before(after.Add(time.Hour)) || da.After(after.Add(time.Hour+time.Hour/deadlineSlices)) {
		t.Errorf("Deadline() = %v; want between %v and %v", da, after.Add(time.Hour), after.Add(time.Hour+time.Hour/deadlineSlices))
	}
	if a.Value(key{}) != "a" || b.Value(key{}) != "b" {
		t.Errorf("Value(key) = %v and %v; want each call's own, a and b", a.Value(key{}), b.Value(key{}))
	}

	short := &sharedDeadlines{timeout: time.Millisecond}
	ctx := short.attach(context.Background())
	child, cancel := context.WithCancel(ctx) // as net/http's Transport makes
	defer cancel()
	<-child.Done()
	if !errors.Is(context.Cause(ctx), errAttemptTimedOut) || !errors.Is(context.Cause(child), errAttemptTimedOut) {
		t.Errorf("Cause() = %v, the child's %v; want errAttemptTimedOut", context.Cause(ctx), context.Cause(child))
	}
	later := short.attach(context.Background())
	if dl, _ := later.Deadline(); !dl.After(time.Now()) {
		t.Errorf("an attach after the shared deadline passed got deadline %v, in the past; want a new one", dl)
	}
}
