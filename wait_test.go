package concord_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord"
)

// Every loop of a call waits through one wait (issue #28): a server's
// Retry-After of 0, or a date in the past, is floored at the loop's own
// backoff, so that no loop spins; a hint past MaxRetryAfter ends the call
// at once; and a ConflictPolicy backoff that says stop is obeyed. Each
// case runs on a fake clock, so a loop that spins shows as requests sent
// while the clock stands still; a real deadline stops it.

// answering serves every request with status and hint (as Retry-After)
// and counts the requests of method.
func answering(t *testing.T, method string, status int, hint string, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == method {
			n.Add(1)
		}
		if hint != "" {
			w.Header().Set("Retry-After", hint)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// spinning reports a loop that sent more than 20 requests per second of
// the clock's time.
func spinning(sent int32, waited time.Duration) bool {
	return float64(sent) > 1+20*waited.Seconds()
}

func TestNoLoopSpinsOnRetryAfterZero(t *testing.T) {
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	for _, hint := range []string{"0", past} {
		t.Run("lock wait, Retry-After "+hint, func(t *testing.T) {
			srv, locks := answering(t, "LOCK", http.StatusLocked, hint, "")
			clock := newFakeClock()
			c := newClient(t, srv.URL, concord.WithClock(clock))
			widgets := concord.NewResource[Widget](c, "widgets", concord.WithLocks(concord.WebDAVLocker{}, 5*time.Second))
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			start := clock.Now()
			_, err := widgets.Update(ctx, "w1", func(w *Widget) error { w.Stock++; return nil })
			if !errors.Is(err, concord.ErrLocked) {
				t.Errorf("Update of an item locked for good = %v; want ErrLocked", err)
			}
			if waited := clock.Now().Sub(start); spinning(locks.Load(), waited) {
				t.Errorf("sent %d LOCKs in %v; want at most 20 a second", locks.Load(), waited)
			}
		})
		t.Run("key in progress, Retry-After "+hint, func(t *testing.T) {
			srv, posts := answering(t, http.MethodPost, http.StatusConflict, hint, `{"message":"in progress"}`)
			clock := newFakeClock()
			c := newClient(t, srv.URL, concord.WithClock(clock))
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			start := clock.Now()
			_, err := concord.NewResource[Widget](c, "widgets").Create(ctx, Widget{Name: "gear"})
			var ce *concord.ConflictError
			if !errors.As(err, &ce) || ce.Kind != concord.KindInProgress {
				t.Errorf("Create of a key in progress for good = %v; want a *ConflictError of KindInProgress", err)
			}
			if waited := clock.Now().Sub(start); spinning(posts.Load(), waited) {
				t.Errorf("sent %d POSTs in %v; want at most 20 a second", posts.Load(), waited)
			}
		})
	}
}

func TestLockWaitObeysTheWaitRules(t *testing.T) {
	stop := concord.ConflictPolicy{NewBackoff: func() concord.Backoff {
		return concord.BackoffFunc(func(int) (time.Duration, bool) { return 0, false })
	}}
	for _, tc := range []struct {
		name   string
		hint   string
		policy concord.ConflictPolicy
		want   error
	}{
		{"a backoff that says stop", "", stop, concord.ErrLocked},
		{"a Retry-After past MaxRetryAfter", "3600", concord.ConflictPolicy{}, concord.ErrWaitTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, locks := answering(t, "LOCK", http.StatusLocked, tc.hint, "")
			c := newClient(t, srv.URL, concord.WithClock(newFakeClock()), concord.WithConflictPolicy(tc.policy))
			widgets := concord.NewResource[Widget](c, "widgets", concord.WithLocks(concord.WebDAVLocker{}, 5*time.Second))
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err := widgets.Update(ctx, "w1", func(w *Widget) error { w.Stock++; return nil })
			if !errors.Is(err, tc.want) || !errors.Is(err, concord.ErrLocked) {
				t.Errorf("Update = %v; want %v and ErrLocked", err, tc.want)
			}
			if n := locks.Load(); n != 1 {
				t.Errorf("sent %d LOCKs; want 1, then give up", n)
			}
			// It says what happened: it gave up at once (issue #30: it
			// said "stayed locked for 20s").
			if err != nil && !strings.Contains(err.Error(), "gave up after 0s") {
				t.Errorf("Update = %q; want it to say it gave up after 0s", err)
			}
		})
	}
}
