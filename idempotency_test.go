package concord_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord"
)

func TestDoSendsTheCallersKeyOnAnyMethod(t *testing.T) {
	c, mux := setup(t)
	var key string
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) { key = r.Header.Get("Idempotency-Key") })
	if _, err := c.Do(bounded(t), &concord.Request{Method: http.MethodPut, Path: "/x", IdempotencyKey: "k-put"}, nil); err != nil || key != "k-put" {
		t.Errorf("Do(PUT with a key) = %v, key %q; want k-put", err, key)
	}
	if _, err := c.Do(bounded(t), &concord.Request{Method: http.MethodPut, Path: "/x"}, nil); err != nil || key != "" {
		t.Errorf("Do(PUT without a key) = %v, key %q; want none", err, key)
	}
}

// TestInProgressRoundsAreBounded: a key reported in progress is resent at
// most ConflictPolicy.MaxAttempts times in all.
func TestInProgressRoundsAreBounded(t *testing.T) {
	clock := newFakeClock()
	c, mux := setup(t, concord.WithClock(clock), concord.WithConflictPolicy(concord.ConflictPolicy{MaxAttempts: 3}))
	var hits atomic.Int32
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusConflict)
	})
	_, err := concord.NewResource[Widget](c, "widgets").Create(bounded(t), Widget{Name: "gear"})
	var ce *concord.ConflictError
	if !errors.As(err, &ce) || ce.Kind != concord.KindInProgress || ce.Attempts != 3 || hits.Load() != 3 {
		t.Errorf("Create always in progress = %v after %d requests; want a ConflictError after 3", err, hits.Load())
	}
}

// TestInProgressWaitHonorsTheDefaultCap: a keyed create answered "in
// progress" waits as Retry-After says up to DefaultMaxRetryAfter, and fails
// at once with ErrWaitTooLong beyond it, without sleeping.
func TestInProgressWaitHonorsTheDefaultCap(t *testing.T) {
	tests := []struct {
		retryAfter string
		wantSleeps []time.Duration
		wantErr    error
	}{
		{"29", []time.Duration{29 * time.Second}, nil},
		{"30", []time.Duration{30 * time.Second}, nil},
		{"31", nil, concord.ErrWaitTooLong},
		{"86400", nil, concord.ErrWaitTooLong},
		{"99999999999999999999999", nil, concord.ErrWaitTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.retryAfter, func(t *testing.T) {
			clock := newFakeClock()
			c := hintThenServe(t, http.StatusConflict, tt.retryAfter, clock)
			_, err := concord.NewResource[Widget](c, "widgets").Create(context.Background(), Widget{Name: "gear"})
			if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Errorf("Create answered 409 Retry-After %s = %v; want %v", tt.retryAfter, err, tt.wantErr)
			}
			if got := clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(tt.wantSleeps) {
				t.Errorf("waits = %v; want %v", got, tt.wantSleeps)
			}
		})
	}
}

// TestInProgressWaitNeverPassesTheDeadline: a wait that would end after
// the context's deadline is not started; the call fails at once with
// ErrWaitTooLong rather than sleeping into context.DeadlineExceeded.
func TestInProgressWaitNeverPassesTheDeadline(t *testing.T) {
	clock := newFakeClock()
	c, mux := setup(t, concord.WithClock(clock))
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusConflict)
	})
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(2*time.Second))
	defer cancel()
	_, err := concord.NewResource[Widget](c, "widgets").Create(ctx, Widget{Name: "gear"})
	if !errors.Is(err, concord.ErrWaitTooLong) || errors.Is(err, context.DeadlineExceeded) || len(clock.Sleeps()) != 0 {
		t.Errorf("Create = %v after waits %v; want ErrWaitTooLong at once", err, clock.Sleeps())
	}
}

// TestWithMaxConflictsBoundsKeysInProgress: WithMaxConflicts bounds every
// kind of round of its call, the resends of a key in progress included.
func TestWithMaxConflictsBoundsKeysInProgress(t *testing.T) {
	c, mux := setup(t, concord.WithClock(newFakeClock()))
	var hits atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"error":{"code":"idempotency_key_in_use"}}`))
	})
	_, err := concord.NewResource[Widget](c, "widgets").Replace(bounded(t), "1", Widget{Name: "gear"}, concord.WithBaseVersion(`"v1"`), concord.WithMaxConflicts(2))
	var ce *concord.ConflictError
	if !errors.As(err, &ce) || ce.Kind != concord.KindInProgress || hits.Load() != 2 {
		t.Errorf("Replace always in progress with WithMaxConflicts(2) = %v after %d requests; want a ConflictError of KindInProgress after 2", err, hits.Load())
	}
}

// TestKeyForIsStableAndDistinct: a derived key is a version 5 UUID, the
// same for the same parts in any process and any version of concord (the
// value below is RFC 9562's UUIDv5 of "6:orders4:1001" in concord's
// namespace, checked with Python's uuid module; a change of it would make
// every restarted service create again what it had created), and
// different for other
// parts, however they are split.
func TestKeyForIsStableAndDistinct(t *testing.T) {
	got := concord.KeyFor("orders", "1001")
	if want := "80e7ba07-0f4d-52df-961b-53643218152b"; got != want {
		t.Errorf("KeyFor(orders, 1001) = %s; want %s, as every earlier version derived it", got, want)
	}
	if got[14] != '5' {
		t.Errorf("KeyFor(orders, 1001) = %s; want a version 5 UUID", got)
	}
	seen := map[string][]string{}
	for _, parts := range [][]string{{"orders", "1001"}, {"orders", "1002"}, {"a", "bc"}, {"ab", "c"}, {"abc"}, {"orders1001"}, {}, {""}} {
		k := concord.KeyFor(parts...)
		if other, ok := seen[k]; ok {
			t.Errorf("KeyFor(%q) = KeyFor(%q) = %s; want distinct keys", parts, other, k)
		}
		seen[k] = parts
	}
}
