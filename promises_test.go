package concord_test

// Promises the README makes that once had no test able to fail on a
// realistic mutant (issue: tests that protect every promise). Each test
// names the promise; defaults are tested as defaults, with a client built
// without options; waits go through the fake clock or the test bounds the
// call itself.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// TestTransportRetryAfterDefaultCap: with no options, a 503's Retry-After
// is waited for up to 30s, and anything longer fails at once.
func TestTransportRetryAfterDefaultCap(t *testing.T) {
	for _, tt := range []struct {
		hint    string
		wantErr error
		sleeps  string
	}{
		{"30", nil, "[30s]"},
		{"31", concord.ErrWaitTooLong, "[]"},
		{"1800", concord.ErrWaitTooLong, "[]"},
	} {
		clock := newFakeClock()
		c := hintThenServe(t, http.StatusServiceUnavailable, tt.hint, clock)
		_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
		if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil || fmt.Sprint(clock.Sleeps()) != tt.sleeps {
			t.Errorf("Get answered 503 Retry-After %s = %v after waits %v; want %v after %s", tt.hint, err, clock.Sleeps(), tt.wantErr, tt.sleeps)
		}
	}
}

// TestConflictBackoffNeverPassesTheDeadline: a conflict backoff that would
// end after the deadline is not started: ErrWaitTooLong at once.
func TestConflictBackoffNeverPassesTheDeadline(t *testing.T) {
	clock := newFakeClock()
	c, srv := setupFake(t, nil, concord.WithClock(clock), concord.WithConflictPolicy(concord.ConflictPolicy{
		NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(time.Minute) },
	}))
	widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "changed"})
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(10*time.Second))
	defer cancel()
	_, err := widgets.Update(ctx, "w1", func(w *Widget) error { w.Stock++; return nil })
	if !errors.Is(err, concord.ErrWaitTooLong) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Update needing a 1m backoff with 10s left = %v; want ErrWaitTooLong, not a deadline", err)
	}
	for _, d := range clock.Sleeps() {
		if d >= time.Minute {
			t.Errorf("slept %v past the deadline", d)
		}
	}
}

// TestCancelEndsAWaitPromptly: canceling the context ends a Retry-After
// wait (here 20s, under the cap) at once; the test bounds the call itself
// rather than relying on go test's timeout.
func TestCancelEndsAWaitPromptly(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := concord.NewResource[Widget](c, "widgets").Get(ctx, "1")
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it reach the wait
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Get canceled during a wait = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Get did not return within 10s of its context's cancellation (the wait was 20s)")
	}
}

// TestTransportRetriesAreSharedByTheCall: the retries of a call are one
// pool for all its requests, so a PUT after a GET that used them up is not
// retried.
func TestTransportRetriesAreSharedByTheCall(t *testing.T) {
	c, srv := setupFake(t, nil, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	srv.FailNext(1, "GET", "/widgets/w1", http.StatusServiceUnavailable, "")
	srv.FailNext(1, "PUT", "/widgets/w1", http.StatusServiceUnavailable, "")
	_, err := concord.NewResource[Widget](c, "widgets").Update(bounded(t), "w1", func(w *Widget) error { w.Stock++; return nil })
	if err == nil || countRequests(srv, "PUT") != 1 || countRequests(srv, "GET") != 2 {
		t.Errorf("Update = %v with %d GETs and %d PUTs; want the GET retried once and the PUT not retried", err, countRequests(srv, "GET"), countRequests(srv, "PUT"))
	}
}

// TestUpdateChecksTheServerBeforeUnchanged: a mutate that changes nothing
// according to the tracked copy is checked against the server before the
// call reports Unchanged; trusting the cache would lose the write.
func TestUpdateChecksTheServerBeforeUnchanged(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Stock: 5}, Widget{Name: "gear", Stock: 3})
	res, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { w.Stock = 5; return nil })
	doc, _, _ := srv.Doc("widgets", "w1")
	if err != nil || res.Unchanged || string(doc) == "" || res.Value.Stock != 5 {
		t.Fatalf("Update(stock=5) with 5 cached and 3 stored = %+v, %v; want a write", res, err)
	}
	got, _ := widgets.Get(bounded(t), "w1")
	if got.Value.Stock != 5 {
		t.Errorf("server stock = %d; want 5", got.Value.Stock)
	}
}

// TestSecondConflictBacksOffAndRefetches: carried state is used at once
// only after a first conflict; a second one backs off and refetches.
func TestSecondConflictBacksOffAndRefetches(t *testing.T) {
	clock := newFakeClock()
	c, srv := setupFake(t, []concordtest.Option{concordtest.ConflictWithState()}, concord.WithClock(clock))
	widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "gear", Price: 1})
	var conflicts atomic.Int32
	// Another writer moves the item again right after the first conflict.
	first := true
	_, err := widgets.Update(bounded(t), "w1", func(w *Widget) error {
		if first {
			first = false
		} else if conflicts.Add(1) == 1 {
			seedWidget(t, srv, "w1", Widget{Name: "gear", Price: 2})
		}
		w.Stock++
		return nil
	})
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	if len(clock.Sleeps()) != 1 || countRequests(srv, "GET") != 2 {
		t.Errorf("after two conflicts: waits %v, GETs %d; want one backoff and one refetch (plus the first read)", clock.Sleeps(), countRequests(srv, "GET"))
	}
}

// TestFakeComparesIfMatchStrongly: concordtest, which users test against,
// never lets a weak tag satisfy If-Match.
func TestFakeComparesIfMatchStrongly(t *testing.T) {
	c, srv := setupFake(t, nil)
	etag := seedWidget(t, srv, "w1", Widget{Name: "gear"})
	_, err := c.Do(bounded(t), &concord.Request{Method: http.MethodPut, Path: "/widgets/w1", Header: http.Header{"If-Match": {"W/" + etag}}, Body: Widget{Name: "cog"}}, nil)
	if !errors.Is(err, concord.ErrConflict) {
		t.Errorf("PUT If-Match: W/%s = %v; want 412", etag, err)
	}
}

// TestLargeBodyKeepsOnlyItsVersion: a body too large for its share of the
// version cache is not kept, and the next Update reads it again instead
// of mutating nothing.
func TestLargeBodyKeepsOnlyItsVersion(t *testing.T) {
	c, srv := setupFake(t, nil, concord.WithVersionCacheBytes(16<<10))
	seedWidget(t, srv, "w1", Widget{Name: strings.Repeat("g", 2<<10)})
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "w1"); err != nil {
		t.Fatal(err)
	}
	res, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { w.Stock++; return nil })
	if err != nil || res.Value.Stock != 1 || len(res.Value.Name) != 2<<10 || countRequests(srv, "GET") != 2 {
		t.Errorf("Update of a large cached item = stock %d, %v after %d GETs; want stock 1, the name kept, a second GET", res.Value.Stock, err, countRequests(srv, "GET"))
	}
}
