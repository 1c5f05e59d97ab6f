package concord_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord"
)

// TestTokenSource: the token is asked for once while it is fresh, again
// once it has expired, and again (with the request resent once)
// when the server answers 401.
func TestTokenSource(t *testing.T) {
	clock := newFakeClock()
	var issued atomic.Int32
	source := func(context.Context) (string, time.Time, error) {
		n := issued.Add(1)
		return fmt.Sprintf("tok-%d", n), clock.Now().Add(10 * time.Minute), nil
	}
	var revoked atomic.Value
	revoked.Store("")
	var seen []string
	c, mux := setup(t, concord.WithTokenSource(source), concord.WithClock(clock))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		seen = append(seen, auth)
		if auth == "Bearer "+revoked.Load().(string) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	widgets := concord.NewResource[Widget](c, "widgets")
	get := func() error { _, err := widgets.Get(bounded(t), "1"); return err }
	if err := errors.Join(get(), get()); err != nil || issued.Load() != 1 {
		t.Fatalf("two Gets = %v with %d tokens issued; want 1 token", err, issued.Load())
	}
	clock.Sleep(context.Background(), 11*time.Minute) // expired
	if err := get(); err != nil || issued.Load() != 2 {
		t.Errorf("Get after expiry = %v, %d tokens; want a fresh one", err, issued.Load())
	}
	revoked.Store("tok-2")
	if err := get(); err != nil || issued.Load() != 3 {
		t.Errorf("Get with a revoked token = %v, %d tokens; want a new token and success", err, issued.Load())
	}
	if want := "Bearer tok-1,Bearer tok-1,Bearer tok-2,Bearer tok-2,Bearer tok-3"; strings.Join(seen, ",") != want {
		t.Errorf("Authorization seen = %v; want %s", seen, want)
	}
	revoked.Store("tok-3")
	source2 := concord.WithTokenSource(func(context.Context) (string, time.Time, error) { return "tok-3", time.Time{}, nil })
	c2 := newClient(t, c.BaseURL(), source2)
	var apiErr *concord.APIError
	if _, err := concord.NewResource[Widget](c2, "widgets").Get(bounded(t), "1"); !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("Get when every token is refused = %v; want the 401, after one resend", err)
	}
}

// TestSigner: every attempt is signed afresh, retries included; what the
// signer adds is not shown in logs nor carried to another origin.
func TestSigner(t *testing.T) {
	var logs bytes.Buffer
	var n atomic.Int32
	sign := func(req *http.Request) error {
		req.Header.Set("X-Signature", fmt.Sprintf("sig-%d", n.Add(1)))
		return nil
	}
	var got []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, "other:"+r.Header.Get("X-Signature"))
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(other.Close)
	c, mux := setup(t, concord.WithSigner(sign), concord.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	var hits atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("X-Signature"))
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, other.URL+"/x", http.StatusFound)
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "sig-1,sig-2,other:" || strings.Contains(logs.String(), "sig-") {
		t.Errorf("signatures seen = %v (log %q); want each attempt signed anew, none carried off the origin or logged", got, logs.String())
	}
	failing := concord.WithSigner(func(*http.Request) error { return errors.New("no key") })
	c2 := newClient(t, c.BaseURL(), failing)
	if _, err := concord.NewResource[Widget](c2, "widgets").Get(bounded(t), "1"); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("Get with a failing signer = %v; want its error", err)
	}
}

// TestTokenResendIsItsOwnAllowance: the one resend after a 401, with a
// fresh token, does not depend on spare retries: a call with no retries
// survives an expired token, and the retries it has are left for other
// failures.
func TestTokenResendIsItsOwnAllowance(t *testing.T) {
	for _, tt := range []struct {
		attempts int
		want     int32
	}{{1, 2}, {2, 3}} {
		var hits atomic.Int32
		c, mux := setup(t, concord.WithRetryBudget(nil), concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: tt.attempts, BaseDelay: time.Microsecond}),
			concord.WithTokenSource(func(context.Context) (string, time.Time, error) {
				return fmt.Sprint("t", hits.Load()), time.Time{}, nil
			}))
		mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
		if got := hits.Load(); got != tt.want {
			t.Errorf("MaxAttempts %d, a 401 then 503s: %d requests; want %d", tt.attempts, got, tt.want)
		}
	}
}

// TestTokenRefreshNearExpiry: a token due for refresh (within a minute of
// its expiry) but still valid is used while one refresh runs for every
// caller, and the fresh token is used once it has come.
func TestTokenRefreshNearExpiry(t *testing.T) {
	clock := newFakeClock()
	var issued atomic.Int32
	asked, release := make(chan struct{}, 1), make(chan struct{})
	source := func(context.Context) (string, time.Time, error) {
		n := issued.Add(1)
		if n > 1 {
			asked <- struct{}{}
			<-release
		}
		return fmt.Sprintf("tok-%d", n), clock.Now().Add(10 * time.Minute), nil
	}
	var last atomic.Value
	c, mux := setup(t, concord.WithTokenSource(source), concord.WithClock(clock))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		last.Store(r.Header.Get("Authorization"))
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	widgets := concord.NewResource[Widget](c, "widgets")
	get := func() error { _, err := widgets.Get(bounded(t), "1"); return err }
	if err := get(); err != nil {
		t.Fatal(err)
	}
	clock.Sleep(context.Background(), 9*time.Minute+time.Second) // within a minute of expiry
	for i := range 3 {
		if err := get(); err != nil || last.Load() != "Bearer tok-1" {
			t.Errorf("Get %d near expiry, refresh running = %v with %v; want the still valid tok-1 at once", i, err, last.Load())
		}
		if i == 0 {
			<-asked
		}
	}
	close(release)
	for i := 0; last.Load() != "Bearer tok-2"; i++ {
		if i == 1000 {
			t.Fatalf("the refreshed token was never used; last %v", last.Load())
		}
		time.Sleep(time.Millisecond)
		if err := get(); err != nil {
			t.Fatal(err)
		}
	}
	if n := issued.Load(); n != 2 {
		t.Errorf("%d tokens issued; want one refresh shared by every call", n)
	}
}

// TestHungTokenSourceHoldsNoCallPastItsContext: a token source that
// ignores its context does not hold a call past the call's deadline, nor
// the calls waiting for the same token; and concurrent callers ask once.
func TestHungTokenSourceHoldsNoCallPastItsContext(t *testing.T) {
	var asked atomic.Int32
	release := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(release); <-done })
	source := func(context.Context) (string, time.Time, error) {
		if asked.Add(1) == 1 {
			defer close(done)
			<-release // ignores its context, as an oauth2 adapter does
		}
		return "tok", time.Time{}, nil
	}
	c, mux := setup(t, concord.WithTokenSource(source))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"name":"gear"}`) })
	widgets := concord.NewResource[Widget](c, "widgets")
	errs := make(chan error, 4)
	returnsWithin(t, 10*time.Second, func() {
		for range cap(errs) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				_, err := widgets.Get(ctx, "1")
				errs <- err
			}()
		}
		for range cap(errs) {
			if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Get while the token source hangs = %v; want its own deadline's error", err)
			}
		}
	})
	if n := asked.Load(); n != 1 {
		t.Errorf("the token source was asked %d times by concurrent calls; want once", n)
	}
}

// TestHungTokenRefreshIsGivenUp: a refresh that passes the attempt timeout
// fails the calls waiting for it, and the next call asks afresh.
func TestHungTokenRefreshIsGivenUp(t *testing.T) {
	var asked atomic.Int32
	release, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release); <-done })
	source := func(context.Context) (string, time.Time, error) {
		if asked.Add(1) == 1 {
			defer close(done)
			<-release
		}
		return "tok", time.Time{}, nil
	}
	c, mux := setup(t, concord.WithTokenSource(source), concord.WithRetryPolicy(concord.RetryPolicy{AttemptTimeout: 50 * time.Millisecond}))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"name":"gear"}`) })
	widgets := concord.NewResource[Widget](c, "widgets")
	returnsWithin(t, 10*time.Second, func() {
		if _, err := widgets.Get(context.Background(), "1"); err == nil || !strings.Contains(err.Error(), "did not answer") {
			t.Errorf("Get while the token source hangs = %v; want the refresh given up", err)
		}
		if _, err := widgets.Get(context.Background(), "1"); err != nil || asked.Load() != 2 {
			t.Errorf("the next Get = %v after %d refreshes; want a fresh refresh and success", err, asked.Load())
		}
	})
}

// TestSignerSignsWhatIsSent: the signer runs last, over the attempt's
// final headers (the attempt number included), and each attempt starts
// from the caller's headers, so a signer that adds never sends two
// signatures and every retry's signature verifies.
func TestSignerSignsWhatIsSent(t *testing.T) {
	signature := func(h http.Header) string {
		return "sig(" + h.Get(concord.HeaderAttempt) + "," + h.Get("X-Trace") + "," + h.Get(concord.HeaderInvocationID) + ")"
	}
	sign := func(req *http.Request) error {
		if got := req.Header.Values("X-Signature"); len(got) != 0 {
			return fmt.Errorf("the signer sees an earlier signature %q", got)
		}
		req.Header.Add("X-Signature", signature(req.Header))
		return nil
	}
	c, mux := setup(t, concord.WithSigner(sign), concord.WithInvocationHeaders(),
		concord.WithRetryPolicy(concord.RetryPolicy{BaseDelay: time.Microsecond}))
	var hits atomic.Int32
	var bad []string
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Values("X-Signature"); len(got) != 1 || got[0] != signature(r.Header) {
			bad = append(bad, fmt.Sprintf("attempt %s: signatures %q", r.Header.Get(concord.HeaderAttempt), got))
		}
		if hits.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1", concord.WithHeader("X-Trace", "t1"))
	if err != nil || hits.Load() != 3 || len(bad) != 0 {
		t.Errorf("Get signed, after two 503s = %v in %d requests; bad signatures: %q", err, hits.Load(), bad)
	}
}

// TestShortLivedTokensAreRefreshedOncePerToken: a token living less than
// the refresh margin is refreshed once, with a quarter of its life left,
// not by every call; a source that returns the same token again (it
// caches it) is not asked again until that token expires; and a panicking
// token source fails the calls waiting on it instead of the process
// (issue #30: a 30 s token drew 383 token-source calls a second).
func TestShortLivedTokensAreRefreshedOncePerToken(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sameTok  bool
		maxAsked int32
	}{
		{"a new token each time", false, 3},
		{"the same token each time", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			fixed := clock.Now().Add(30 * time.Second)
			var asked atomic.Int32
			source := func(context.Context) (string, time.Time, error) {
				n := asked.Add(1)
				if tc.sameTok {
					return "tok", fixed, nil
				}
				return fmt.Sprintf("tok-%d", n), clock.Now().Add(30 * time.Second), nil
			}
			c, mux := setup(t, concord.WithTokenSource(source), concord.WithClock(clock))
			mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"name":"gear"}`) })
			widgets := concord.NewResource[Widget](c, "widgets")
			// A Get every 100 ms, for 29 s of a 30 s token: the same token
			// given again is not asked for before it expires, even within
			// a quarter of what was left of its life.
			for range 290 {
				if _, err := widgets.Get(bounded(t), "1"); err != nil {
					t.Fatal(err)
				}
				clock.Sleep(context.Background(), 100*time.Millisecond)
				time.Sleep(time.Millisecond) // let a refresh in flight land
			}
			if n := asked.Load(); n > tc.maxAsked {
				t.Errorf("290 Gets over 29 s of a 30 s token asked the source %d times; want at most %d", n, tc.maxAsked)
			}
		})
	}
	t.Run("a panicking source", func(t *testing.T) {
		source := func(context.Context) (string, time.Time, error) { panic("token source: boom") }
		c, mux := setup(t, concord.WithTokenSource(source))
		mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"name":"gear"}`) })
		_, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1")
		if err == nil || !strings.Contains(err.Error(), "token source: boom") {
			t.Errorf("Get with a panicking token source = %v; want an error naming the panic", err)
		}
	})
}
