package concord_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// TestConflictErrorVersionIsTheNewestTheCallKnows: ConflictError.Version
// means one thing for Replace and Delete: the version the server holds
// when the call read the item after the refusal, else the version the
// refused request carried.
func TestConflictErrorVersionIsTheNewestTheCallKnows(t *testing.T) {
	tests := []struct {
		name string
		call func(r *concord.Resource[Widget]) error
		want string
	}{
		{"Replace refused, nothing read", func(r *concord.Resource[Widget]) error {
			_, err := r.Replace(bounded(t), "1", Widget{Name: "cog"}, concord.WithBaseVersion(`"v1"`))
			return err
		}, `"v1"`},
		{"Replace on a weak base, changed before writing", func(r *concord.Resource[Widget]) error {
			_, err := r.Replace(bounded(t), "1", Widget{Name: "cog"}, concord.WithBaseVersion(`W/"v1"`))
			return err
		}, `"v2"`},
		{"Delete refused, then read", func(r *concord.Resource[Widget]) error {
			return r.Delete(bounded(t), "1", concord.WithBaseVersion(`"v1"`))
		}, `"v2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t)
			mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("ETag", `"v2"`)
				if r.Method != http.MethodGet && r.Header.Get("If-Match") != `"v2"` {
					w.WriteHeader(http.StatusPreconditionFailed)
					return
				}
				w.Write([]byte(`{"name":"gear"}`))
			})
			err := tt.call(concord.NewResource[Widget](c, "widgets"))
			var ce *concord.ConflictError
			if !errors.As(err, &ce) || ce.Version != tt.want {
				t.Errorf("%s = %v; want a *ConflictError with Version %s", tt.name, err, tt.want)
			}
		})
	}
}

// TestConflictBackoffNeverPassesTheDeadline: a conflict backoff that would
// end after the deadline is not started: ErrWaitTooLong at once.
func TestConflictBackoffNeverPassesTheDeadline(t *testing.T) {
	clock := newFakeClock()
	c, srv := setupFake(t, nil, concord.WithClock(clock), concord.WithConflictPolicy(concord.ConflictPolicy{
		NewBackoff: func() concord.Backoff {
			return concord.BackoffFunc(func(int) (time.Duration, bool) { return time.Minute, true })
		},
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

// TestWeakTagChangedMeanwhileIsAConflict: a Replace whose value was derived
// from a state seen only with a weak tag does not overwrite a newer state
// once the strong tag appears.
func TestWeakTagChangedMeanwhileIsAConflict(t *testing.T) {
	d, widgets := weakThenStrong(t, true)
	_, err := widgets.Replace(bounded(t), "1", Widget{Name: "mine"})
	if doc, _, _ := d.state(); !errors.Is(err, concord.ErrConflict) || doc != `{"name":"theirs"}` {
		t.Errorf("Replace = %v, server holds %s; want ErrConflict and theirs kept", err, doc)
	}
}

// TestStaleReplaceChecksTheServerOnlyAfterAResend: the applied-write check
// (a GET) is made only when the write went out more than once.
func TestStaleReplaceChecksTheServerOnlyAfterAResend(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "theirs"})
	before := countRequests(srv, "GET")
	if _, err := widgets.Replace(bounded(t), "w1", Widget{Name: "mine"}); !errors.Is(err, concord.ErrConflict) {
		t.Fatal(err)
	}
	if got := countRequests(srv, "GET") - before; got != 0 {
		t.Errorf("a stale Replace sent once made %d GETs; want none", got)
	}
}

// TestLargeConflictStateIsUsed: a 412 or 409 carrying the current
// representation is read whole (up to the success limit, not the error
// limit), so the merge uses it without a refetch.
func TestLargeConflictStateIsUsed(t *testing.T) {
	for _, status := range []int{http.StatusPreconditionFailed, http.StatusConflict} {
		c, srv := setupFake(t, []concordtest.Option{concordtest.ConflictWithState(), concordtest.ConflictStatus(status)}, concord.WithLimits(concord.Limits{MaxErrorBodyBytes: 64}))
		big := strings.Repeat("t", 200)
		widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Color: big}, Widget{Name: "gear", Color: big, Price: 2})
		before := countRequests(srv, "GET")
		if _, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { w.Stock++; return nil }); err != nil {
			t.Fatal(err)
		}
		if got := countRequests(srv, "GET") - before; got != 0 {
			t.Errorf("Update with a %d carrying 200+ bytes of state made %d GETs; want none", status, got)
		}
	}
}

// TestStaleReplaceAfterItsOwnReadIsNotChecked: a Replace that read the
// item first and then met a conflict on its single PUT reports it without
// the applied-write check, which only a resent write needs.
func TestStaleReplaceAfterItsOwnReadIsNotChecked(t *testing.T) {
	var srv *concordtest.Server
	var once atomic.Bool
	hooks := concord.Hooks{OnAttempt: func(_ context.Context, e concord.AttemptEvent) {
		if e.Method == http.MethodPut && once.CompareAndSwap(false, true) {
			seedWidget(t, srv, "w1", Widget{Name: "theirs"}) // another writer, just before our PUT
		}
	}}
	var c *concord.Client
	c, srv = setupFake(t, nil, concord.WithHooks(hooks))
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	if _, err := concord.NewResource[Widget](c, "widgets").Replace(bounded(t), "w1", Widget{Name: "mine"}); !errors.Is(err, concord.ErrConflict) {
		t.Fatalf("Replace = %v; want ErrConflict", err)
	}
	if got := countRequests(srv, "GET"); got != 1 {
		t.Errorf("GETs = %d; want only Replace's own read", got)
	}
}

func TestReplaceWithoutMergeReturnsConflict(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, theirs := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1}, Widget{Name: "gear", Price: 2}) // another writer
	_, err := widgets.Replace(context.Background(), "w1", Widget{Name: "gear", Price: 3})
	var conflict *concord.ConflictError
	if !errors.Is(err, concord.ErrConflict) || !errors.As(err, &conflict) {
		t.Fatalf("Replace over a stale version = %v; want *ConflictError", err)
	}
	if conflict.Kind != concord.KindStaleVersion || conflict.Attempts != 1 {
		t.Errorf("ConflictError = %+v; want a stale version after 1 attempt", conflict)
	}
	if _, etag, _ := srv.Doc("widgets", "w1"); etag != theirs {
		t.Errorf("the other writer's version %s was overwritten (now %s)", theirs, etag)
	}
}

func TestUpdateAnswersPreconditionRequired(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.RequirePreconditions()})
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	res, err := concord.NewResource[Widget](c, "widgets", concord.WithUnconditional()).Replace(context.Background(), "w1", Widget{Name: "cog"})
	if err != nil {
		t.Fatalf("Replace = %v", err)
	}
	var seq []string
	for _, r := range srv.Requests()[0:] {
		seq = append(seq, r.Method+" "+r.Header.Get("If-Match"))
	}
	_, etag, _ := srv.Doc("widgets", "w1")
	if res.Value.Name != "cog" || len(seq) != 3 || seq[0] != "PUT " || seq[1] != "GET " || !strings.HasPrefix(seq[2], "PUT \"") || etag != res.Version {
		t.Errorf("Replace = %+v via %q; want cog via a blind PUT, a GET and a conditional PUT", res.Value, seq)
	}
}

func TestCancelDuringConflictBackoffReturnsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hooks := concord.Hooks{OnConflict: func(context.Context, concord.ConflictEvent) { cancel() }}
	// A conflict backoff of an hour, within the call's MaxElapsed: only
	// cancellation can end the wait.
	policy := concord.ConflictPolicy{MaxElapsed: 2 * time.Hour, NewBackoff: func() concord.Backoff {
		return concord.BackoffFunc(func(int) (time.Duration, bool) { return time.Hour, true })
	}}
	c, srv := setupFake(t, nil, concord.WithHooks(hooks), concord.WithConflictPolicy(policy))
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	seedWidget(t, srv, "w1", Widget{Name: "changed"})
	var err error
	returnsWithin(t, 10*time.Second, func() {
		_, err = widgets.Update(ctx, "w1", func(w *Widget) error { w.Stock++; return nil })
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, concord.ErrConflict) {
		t.Errorf("Update canceled during backoff = %v; want context.Canceled inside a conflict error", err)
	}
}

// TestRejectedReplaceStaysRejected: a Replace rejected as stale, repeated
// with the same value, is rejected again: the failed call's reads did not
// move the version the value was derived from.
func TestRejectedReplaceStaysRejected(t *testing.T) {
	tests := []struct {
		name  string
		merge concord.MergeFunc[Widget]
	}{
		{"no merge", nil},
		{"a merge that clashes", concord.ThreeWay[Widget]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := setupFake(t, nil)
			widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1}, Widget{Name: "gear", Price: 2})
			mine := Widget{Name: "gear", Price: 3}
			if _, err := widgets.WithMerge(tt.merge).Replace(bounded(t), "w1", mine); !errors.Is(err, concord.ErrConflict) && !errors.Is(err, concord.ErrMergeAborted) {
				t.Fatalf("first Replace = %v; want it rejected", err)
			}
			if _, err := widgets.Replace(bounded(t), "w1", mine); !errors.Is(err, concord.ErrConflict) {
				t.Errorf("Replace repeated = %v; want ErrConflict", err)
			}
			var w Widget
			if doc, _, _ := srv.Doc("widgets", "w1"); json.Unmarshal(doc, &w) != nil || w.Price != 2 {
				t.Errorf("server holds %s; want the other writer's price 2 kept", doc)
			}
		})
	}
}

// TestPlainConflictIsAnsweredOnce: a 409 with nothing saying "in progress"
// is not resent: to a create it means the name is taken, to another write a
// business rule.
func TestPlainConflictIsAnsweredOnce(t *testing.T) {
	c, mux := setup(t)
	var hits atomic.Int32
	conflict := func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, `{"message":"name already taken"}`)
	}
	mux.HandleFunc("/widgets", conflict)
	_, err := concord.NewResource[Widget](c, "widgets").Create(bounded(t), Widget{Name: "gear"})
	if !errors.Is(err, concord.ErrAlreadyExists) || hits.Load() != 1 {
		t.Errorf("Create answered a plain 409 = %v after %d requests; want ErrAlreadyExists after 1", err, hits.Load())
	}
	hits.Store(0)
	mux.HandleFunc("/orders/1/cancel", conflict)
	var apiErr *concord.APIError
	_, err = c.Do(bounded(t), &concord.Request{Method: http.MethodPost, Path: "/orders/1/cancel"}, nil)
	if !errors.As(err, &apiErr) || apiErr.Kind != concord.KindBusinessRule || hits.Load() != 1 {
		t.Errorf("keyed POST answered a plain 409 = %v after %d requests; want a business-rule conflict after 1", err, hits.Load())
	}
}

// TestConflictBackoffIsAskedInOrder: a ConflictPolicy's Backoff is asked
// for the waits of one call with n counting from 0, here while the call
// waits for a strong ETag in place of a weak one.
func TestConflictBackoffIsAskedInOrder(t *testing.T) {
	var asked []int
	policy := concord.ConflictPolicy{NewBackoff: func() concord.Backoff {
		return concord.BackoffFunc(func(n int) (time.Duration, bool) { asked = append(asked, n); return time.Millisecond, true })
	}}
	c, mux := setup(t, concord.WithConflictPolicy(policy))
	var gets atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			if gets.Add(1) <= 3 {
				w.Header().Set("ETag", `W/"v1"`)
			} else {
				w.Header().Set("ETag", `"v1"`)
			}
			w.Write([]byte(`{"name":"gear"}`))
			return
		}
		w.Header().Set("ETag", `"v2"`)
		w.WriteHeader(http.StatusNoContent)
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Replace(bounded(t), "1", Widget{Name: "cog"}, concord.WithBaseVersion(`W/"v1"`)); err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2}; !slices.Equal(asked, want) {
		t.Errorf("the Backoff was asked for waits %v; want %v", asked, want)
	}
}
