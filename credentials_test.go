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
// a minute before it expires, and again (with the request resent once)
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
	clock.Sleep(context.Background(), 9*time.Minute+time.Second) // within a minute of expiry
	if err := get(); err != nil || issued.Load() != 2 {
		t.Errorf("Get near expiry = %v, %d tokens; want a fresh one", err, issued.Load())
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

// TestTokenResendCountsAsARetry: the resend after a 401 is one of the
// call's retries, so it never goes past the retry policy.
func TestTokenResendCountsAsARetry(t *testing.T) {
	for _, tt := range []struct {
		attempts int
		want     int32
	}{{1, 1}, {2, 2}} {
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
