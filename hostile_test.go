package concord_test

// Attacks on concord by hostile or broken servers, redirects and logs, and
// the careful user's cases of lost responses: each test states the
// promise it keeps. No test here depends on a hang to fail: waits go
// through the fake clock, or the call carries its own deadline.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// bounded returns a context that ends the test's call instead of letting a
// regression hang until go test's timeout.
func bounded(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRedirectOffOriginCarriesOnlySafeHeaders(t *testing.T) {
	credentials := map[string]string{
		"X-Auth-Key":                "k1",
		"Ocp-Apim-Subscription-Key": "k2",
		"X-Functions-Key":           "k3",
		"X-Api-Key":                 "k4",
		"X-Tenant":                  "t1",
		"Cookie":                    "session=s",
	}
	tests := []struct {
		name      string
		sameHost  bool
		sensitive []string
		want      map[string]bool // header -> arrives
	}{
		{"another origin", false, nil, map[string]bool{"Authorization": false, "X-Auth-Key": false, "Ocp-Apim-Subscription-Key": false, "X-Functions-Key": false, "X-Api-Key": false, "X-Tenant": false, "Cookie": false, "User-Agent": true, "Prefer": true}},
		{"same origin", true, nil, map[string]bool{"Authorization": true, "X-Auth-Key": true, "X-Tenant": true, "User-Agent": true}},
		{"another origin, Prefer marked sensitive", false, []string{"prefer"}, map[string]bool{"Prefer": false, "User-Agent": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got http.Header
			target := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Clone()
				fmt.Fprint(w, `{"name":"gear"}`)
			})
			other := httptest.NewServer(target)
			t.Cleanup(other.Close)
			opts := []concord.Option{concord.WithBearerToken("tok"), concord.WithHeader("Prefer", "return=minimal"), concord.WithSensitive(tt.sensitive...)}
			for k, v := range credentials {
				opts = append(opts, concord.WithHeader(k, v))
			}
			c, mux := setup(t, opts...)
			mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
				to := other.URL
				if tt.sameHost {
					to = ""
				}
				http.Redirect(w, r, to+"/widgets/moved", http.StatusFound)
			})
			mux.Handle("/widgets/moved", target)
			if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); err != nil {
				t.Fatalf("Get through a redirect = %v", err)
			}
			for name, arrives := range tt.want {
				if (got.Get(name) != "") != arrives {
					t.Errorf("header %s at the redirect target = %q; want it there: %v", name, got.Get(name), arrives)
				}
			}
		})
	}
}

func TestDebugLogShowsOnlySafeHeaderValues(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mux := setup(t, concord.WithLogger(logger),
		concord.WithHeader("X-Auth-Key", "secret-1"), concord.WithHeader("Ocp-Apim-Subscription-Key", "secret-2"),
		concord.WithHeader("X-Functions-Key", "secret-3"), concord.WithBearerToken("secret-4"))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"name":"gear"}`) })
	if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "secret") || !strings.Contains(logs.String(), "concord-go") {
		t.Errorf("debug log = %s; want no credential values and the user agent shown", logs.String())
	}
}

// TestTransportErrorsDoNotLeakQueryCredentials: a connection error names
// the URL; its credentials are redacted before it reaches the caller, a
// hook or a log.
func TestTransportErrorsDoNotLeakQueryCredentials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every attempt is refused
	var logs bytes.Buffer
	var events []string
	c := newClient(t, "http://"+addr,
		concord.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		concord.WithSensitive("tenant_secret_id"),
		concord.WithHooks(concord.Hooks{OnRetry: func(_ context.Context, e concord.RetryEvent) {
			events = append(events, e.Reason, e.Err.Error(), e.URL)
		}}))
	_, err = c.Do(bounded(t), &concord.Request{Path: "/widgets?api_key=S1&access_token=S2&sig=S3&tenant_secret_id=S4&page=2"}, nil)
	if err == nil {
		t.Fatal("Do against a closed port succeeded")
	}
	shown := err.Error() + logs.String() + strings.Join(events, " ")
	for _, secret := range []string{"S1", "S2", "S3", "S4"} {
		if strings.Contains(shown, "="+secret) {
			t.Errorf("secret %s shown in %s", secret, shown)
		}
	}
	if !strings.Contains(err.Error(), "page=2") || len(events) == 0 {
		t.Errorf("error = %v, %d retry events; want the harmless query kept and retries reported", err, len(events))
	}
}

// TestBaseQueryIsNeverShown: every value of the base URL's query is a
// secret (Azure API Management's subscription-key, a SAS's fields beyond
// sig), kept out of errors, logs and every hook event of a call whose
// attempts fail on the transport.
func TestBaseQueryIsNeverShown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs, events bytes.Buffer
	record := func(e any) { fmt.Fprintf(&events, "%+v\n", e) }
	c := newClient(t, "http://"+addr+"/v1?subscription-key=KEYVALUE&sv=SVVALUE&sp=SPVALUE&sig=SIGVALUE",
		concord.WithRetryPolicy(concord.RetryPolicy{BaseDelay: time.Microsecond}),
		concord.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		concord.WithHooks(concord.Hooks{
			OnAttempt:     func(_ context.Context, e concord.AttemptEvent) { record(e) },
			OnRetry:       func(_ context.Context, e concord.RetryEvent) { record(e); record(e.Err.Error()) },
			OnAttemptDone: func(_ context.Context, e concord.AttemptDoneEvent) { record(e); record(e.Err.Error()) },
			OnCallDone:    func(_ context.Context, e concord.CallEvent) { record(e); record(e.Err.Error()) },
		}))
	_, err = concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1")
	if err == nil {
		t.Fatal("Get against a closed port succeeded")
	}
	shown := err.Error() + logs.String() + events.String()
	for _, secret := range []string{"KEYVALUE", "SVVALUE", "SPVALUE", "SIGVALUE"} {
		if strings.Contains(shown, secret) {
			t.Errorf("base query value %s shown in %s", secret, shown)
		}
	}
	if !strings.Contains(events.String(), "subscription-key=REDACTED") {
		t.Errorf("events = %s; want the parameter named, its value redacted", events.String())
	}
	if _, err := concord.New("ftp://host/?subscription-key=KEYVALUE"); err == nil || strings.Contains(err.Error(), "KEYVALUE") {
		t.Errorf("New(ftp URL with a key) = %v; want an error without the key", err)
	}
}

func TestUserInfoIsNeverShown(t *testing.T) {
	_, err := concord.New("https://user:hunter2@api.example.com/%zz?auth=xyz")
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "xyz") {
		t.Errorf("New(bad URL) = %v; want an error that shows neither password nor query", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, "http://TOKEN123@"+addr, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	_, err = concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1")
	if err == nil || strings.Contains(err.Error(), "TOKEN123") {
		t.Errorf("Get with a token as user name = %v; want an error without the token", err)
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

func TestNotModifiedToAWriteIsAnError(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("ETag", `"v1"`)
			fmt.Fprint(w, `{"name":"gear"}`)
			return
		}
		w.WriteHeader(http.StatusNotModified)
	})
	widgets := concord.NewResource[Widget](c, "widgets")
	if res, err := widgets.Create(bounded(t), Widget{Name: "gear"}); err == nil {
		t.Errorf("Create answered 304 = %+v; want an error", res)
	}
	if res, err := widgets.Replace(bounded(t), "1", Widget{Name: "cog"}); err == nil {
		t.Errorf("Replace answered 304 = %+v; want an error", res)
	}
	var apiErr *concord.APIError
	if _, err := c.Do(bounded(t), &concord.Request{Method: "PATCH", Path: "/widgets/1", Body: "{}"}, nil); !errors.As(err, &apiErr) || apiErr.StatusCode != 304 {
		t.Errorf("Do(PATCH) answered 304 = %v; want an *APIError with status 304", err)
	}
}

func TestShouldRetryOnASuccessIsIgnored(t *testing.T) {
	c, mux := setup(t)
	var hits atomic.Int32
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Stripe-Should-Retry", "true")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Create(bounded(t), Widget{Name: "gear"}); err != nil || hits.Load() != 1 {
		t.Errorf("Create answered 201 with Stripe-Should-Retry: true = %v after %d requests; want success after 1", err, hits.Load())
	}
}

// TestAnnouncedLengthIsNotAllocated: buffers grow with the bytes that
// arrive, not with the Content-Length a server claims.
func TestAnnouncedLengthIsNotAllocated(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(60<<20))
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"name":`)
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 4 {
		if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); err == nil {
			t.Fatal("Get of a body cut short succeeded")
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("4 reads of a body announced as 60 MiB and cut after 8 bytes allocated %d MiB; want a few KiB each", grew>>20)
	}
}

// TestDefaultBodyLimits: with no options, a success body beyond 64 MiB
// (here a gzip bomb that inflates past it) fails with ErrResponseTooLarge,
// and an error body is kept to its first 64 KiB.
func TestDefaultBodyLimits(t *testing.T) {
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 65 {
		zw.Write(zeros)
	}
	zw.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/bomb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(bomb.Bytes())
	})
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte(" "), concord.DefaultMaxResponseBytes))
	})
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		for range 100 {
			w.Write(zeros[:64<<10])
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := concord.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	if _, err := c.Do(bounded(t), &concord.Request{Path: "/bomb"}, nil); !errors.Is(err, concord.ErrResponseTooLarge) {
		t.Errorf("Do(gzip bomb of 65 MiB) = %v; want ErrResponseTooLarge", err)
	}
	if resp, err := c.Do(bounded(t), &concord.Request{Path: "/exact"}, nil); err != nil || len(resp.Body) != concord.DefaultMaxResponseBytes {
		t.Errorf("Do(body of exactly the default limit) = %v; want it read whole", err)
	}
	var apiErr *concord.APIError
	if _, err := c.Do(bounded(t), &concord.Request{Path: "/error"}, nil); !errors.As(err, &apiErr) || len(apiErr.Body) != concord.DefaultMaxErrorBodyBytes || !apiErr.Truncated {
		t.Errorf("Do(6 MiB error body) = %v; want an APIError keeping the first %d bytes", err, concord.DefaultMaxErrorBodyBytes)
	}
}

func TestEndlessBodyIsCut(t *testing.T) {
	c, mux := setup(t, concord.WithMaxResponseBytes(1<<20))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); !errors.Is(err, concord.ErrResponseTooLarge) {
		t.Errorf("Get of an endless body = %v; want ErrResponseTooLarge", err)
	}
}

// drip answers with headers and then a byte every 10ms until the client
// goes away, counting the requests in hits.
func drip(hits *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
		for r.Context().Err() == nil {
			w.Write([]byte(" "))
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestSlowDripEndsWithTheAttemptTimeout: a server that sends its headers
// and then one byte at a time holds an attempt no longer than
// AttemptTimeout; the timed-out read is retried, being safe to repeat.
//
// Each kind of caller's context takes its own path: one with a later
// deadline gets a deadline of its own for the attempt, one without
// cancellation a deadline shared with other attempts, one that can be
// cancelled but has no deadline a deadline of its own.
func TestSlowDripEndsWithTheAttemptTimeout(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"later deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Minute)
		}},
		{"Background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
		{"cancellable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, AttemptTimeout: 100 * time.Millisecond}))
			var hits atomic.Int32
			mux.HandleFunc("/widgets/1", drip(&hits))
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := concord.NewResource[Widget](c, "widgets").Get(ctx, "1")
			var timeout *concord.AttemptTimeoutError
			if !errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded) || hits.Load() != 2 {
				t.Errorf("Get of a dripping body = %v after %d attempts; want an *AttemptTimeoutError after 2", err, hits.Load())
			}
		})
	}
}

// TestSlowDripEndsWithTheCallersDeadline: when the caller's deadline comes
// before AttemptTimeout, it alone bounds the attempt, body included, and
// the call ends with the caller's error, not an attempt timeout.
func TestSlowDripEndsWithTheCallersDeadline(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 2, AttemptTimeout: time.Hour}))
	var hits atomic.Int32
	mux.HandleFunc("/widgets/1", drip(&hits))
	ctx, cancel := context.WithTimeout(bounded(t), 150*time.Millisecond)
	defer cancel()
	_, err := concord.NewResource[Widget](c, "widgets").Get(ctx, "1")
	var timeout *concord.AttemptTimeoutError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timeout) || hits.Load() != 1 {
		t.Errorf("Get of a dripping body under a 150ms deadline = %v after %d attempts; want context.DeadlineExceeded after 1", err, hits.Load())
	}
}

func TestHugeHeadersAreAnError(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Filler", strings.Repeat("a", 2<<20))
		fmt.Fprint(w, `{}`)
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); err == nil {
		t.Error("Get with 2 MiB of headers succeeded; want an error")
	}
}

func TestOddStatusesAreTyped(t *testing.T) {
	for _, status := range []int{299, 302, 418, 599, 999} {
		c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
		mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
		resp, err := c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
		var apiErr *concord.APIError
		switch {
		case status < 300:
			if err != nil || resp.StatusCode != status {
				t.Errorf("Do answered %d = %v; want success", status, err)
			}
		case !errors.As(err, &apiErr) || apiErr.StatusCode != status:
			t.Errorf("Do answered %d = %v; want an *APIError with that status", status, err)
		}
	}
}

func TestServerTextCannotForgeLogLines(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Request-Id", "id\r\nlevel=ERROR")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"title":"bad\nlevel=ERROR msg=forged","detail":"\u2028x\u0000"}`)
	})
	_, err := c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
	if err == nil || strings.ContainsAny(err.Error(), "\r\n\x00\u2028") {
		t.Errorf("Error() = %q; want no control characters", err)
	}
}

func TestInvalidIDsAreRefused(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets := concord.NewResource[Widget](c, "widgets")
	ctx := bounded(t)
	for _, id := range []string{"", ".", ".."} {
		calls := map[string]error{}
		_, calls["Get"] = widgets.Get(ctx, id)
		_, calls["CreateAt"] = widgets.CreateAt(ctx, id, Widget{})
		_, calls["Replace"] = widgets.Replace(ctx, id, Widget{})
		_, calls["Update"] = widgets.Update(ctx, id, func(*Widget) error { return nil })
		calls["Delete"] = widgets.Delete(ctx, id)
		for name, err := range calls {
			if !errors.Is(err, concord.ErrInvalidID) {
				t.Errorf("%s(%q) = %v; want ErrInvalidID", name, id, err)
			}
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent for invalid IDs; want none", n)
	}
}

func TestPanicsAreNotAborts(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1}, Widget{Name: "gear", Price: 2})
	_, err := widgets.WithMerge(func(_, _, _ Widget) (Widget, error) {
		var p *Widget
		return *p, nil // a nil dereference: a bug, not a decision
	}).Replace(bounded(t), "w1", Widget{Name: "gear", Price: 3})
	var panicErr *concord.PanicError
	if !errors.As(err, &panicErr) || errors.Is(err, concord.ErrMergeAborted) || panicErr.Func != "merge" || len(panicErr.Stack) == 0 {
		t.Errorf("Replace whose merge panics = %v; want a *PanicError with its stack, not ErrMergeAborted", err)
	}
	_, err = widgets.Update(bounded(t), "w1", func(*Widget) error { panic("oops") })
	if !errors.As(err, &panicErr) || errors.Is(err, concord.ErrMergeAborted) || panicErr.Func != "mutate" {
		t.Errorf("Update whose mutate panics = %v; want a *PanicError", err)
	}
}

// TestWriteAppliedIsReported: a write that took effect but whose answer
// could not be used says so, with what is known, rather than looking failed.
func TestWriteAppliedIsReported(t *testing.T) {
	c, mux := setup(t, concord.WithMaxResponseBytes(64))
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"name": 42}`)
	})
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Method == http.MethodGet {
			fmt.Fprint(w, `{"name":"gear"}`)
			return
		}
		fmt.Fprintf(w, `{"name":"gear","color":"%s"}`, strings.Repeat("x", 100))
	})
	widgets := concord.NewResource[Widget](c, "widgets")
	res, err := widgets.Create(bounded(t), Widget{Name: "gear"})
	if !errors.Is(err, concord.ErrWriteApplied) || !errors.Is(err, concord.ErrDecode) || res == nil || res.StatusCode != http.StatusCreated {
		t.Errorf("Create answered 201 with a body that does not decode = %+v, %v; want the result and ErrWriteApplied", res, err)
	}
	_, err = widgets.Update(bounded(t), "1", func(w *Widget) error { w.Stock = 1; return nil })
	if !errors.Is(err, concord.ErrWriteApplied) || !errors.Is(err, concord.ErrResponseTooLarge) {
		t.Errorf("Update answered 200 with a body over the limit = %v; want ErrWriteApplied", err)
	}
	if _, err := widgets.Get(bounded(t), "1"); errors.Is(err, concord.ErrWriteApplied) {
		t.Errorf("Get = %v; a read never reports a write applied", err)
	}
}

// TestDeleteWithCallerKeySendsItOnce: one key state per Delete call, so
// the caller's key is never sent with two different requests (the
// unconditional DELETE and the conditional one after a 428).
func TestDeleteWithCallerKeySendsItOnce(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.RequirePreconditions()})
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	err := concord.NewResource[Widget](c, "widgets", concord.WithUnconditional()).Delete(bounded(t), "w1", concord.WithIdempotencyKey("del-1"))
	if err != nil || srv.Len("widgets") != 0 {
		t.Fatalf("Delete = %v, %d left; want the item deleted", err, srv.Len("widgets"))
	}
	keys := map[string]int{}
	for _, r := range srv.Requests() {
		if r.Method == http.MethodDelete {
			keys[r.Header.Get("Idempotency-Key")]++
		}
	}
	if keys["del-1"] != 1 || len(keys) != 2 {
		t.Errorf("DELETE keys = %v; want del-1 once and a fresh key for the conditional DELETE", keys)
	}
}

// TestReplaceAppliedButLostIsASuccess: a PUT that took effect, whose
// response was lost, is retried; a server that ignores keys on PUT answers
// the retry 412. The server holds exactly what was sent: that is success.
func TestReplaceAppliedButLostIsASuccess(t *testing.T) {
	d, srv := newDocServer(t, `{"name":"gear","price":1}`)
	c := newClient(t, srv.URL)
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "1"); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	d.dropWrites = 1
	d.mu.Unlock()
	res, err := widgets.Replace(bounded(t), "1", Widget{Name: "gear", Price: 2})
	doc, writes, reqs := d.state()
	if err != nil || res.Value.Price != 2 || writes != 1 {
		t.Errorf("Replace whose response was lost = %v; want success (server holds %s after %d writes; requests %q)", err, doc, writes, reqs)
	}
}

// TestReentrantWriteIsRefused: a mutate or merge that writes its own
// resource through the same client would wait for its own turn forever;
// it gets ErrReentrantWrite at once, even without a deadline.
func TestReentrantWriteIsRefused(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1}, Widget{Name: "gear", Price: 2})
	var inner error
	_, err := widgets.Update(context.Background(), "w1", func(w *Widget) error {
		_, inner = widgets.Update(context.Background(), "w1", func(w *Widget) error { w.Stock++; return nil })
		return inner
	})
	if !errors.Is(inner, concord.ErrReentrantWrite) || !errors.Is(err, concord.ErrReentrantWrite) {
		t.Errorf("Update writing its own resource from mutate = %v (inner %v); want ErrReentrantWrite", err, inner)
	}
	_, err = widgets.WithMerge(func(_, mine, _ Widget) (Widget, error) {
		return mine, widgets.Delete(context.Background(), "w1")
	}).Replace(context.Background(), "w1", Widget{Name: "gear", Price: 3})
	if !errors.Is(err, concord.ErrReentrantWrite) {
		t.Errorf("Replace whose merge deletes its own resource = %v; want ErrReentrantWrite", err)
	}
	// Other goroutines still take turns: no false refusals.
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := widgets.Update(context.Background(), "w1", func(w *Widget) error { w.Stock++; return nil })
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Update = %v", err)
		}
	}
}

// TestDeleteOfAnItemSomeoneElseDeleted: a conditional DELETE that went out
// once and is answered 404, with a read confirming the item is gone, is
// another writer's delete, not a lost one of ours: ErrNotFound, as for any
// missing item. (The read is not counted as a send of the delete.)
func TestDeleteOfAnItemSomeoneElseDeleted(t *testing.T) {
	c, mux := setup(t)
	var deleted atomic.Bool
	var deletes atomic.Int32
	mux.HandleFunc("/widgets/w1", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete:
			deletes.Add(1)
			http.NotFound(w, r)
		case deleted.Load():
			http.NotFound(w, r)
		default:
			w.Header().Set("ETag", `"v1"`)
			fmt.Fprint(w, `{"name":"gear"}`)
		}
	})
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "w1"); err != nil {
		t.Fatal(err)
	}
	deleted.Store(true) // another writer deletes it
	err := widgets.Delete(bounded(t), "w1")
	if !errors.Is(err, concord.ErrNotFound) || deletes.Load() != 1 {
		t.Errorf("Delete of an item another writer deleted = %v after %d DELETEs; want ErrNotFound after 1", err, deletes.Load())
	}
}

// TestWriteAnsweredButCutShortIsSentOnce: a write answered 2xx took effect
// even when its body is cut short, so it is never sent again (a server that
// ignores keys would make a second record), and each write method returns
// what it knows (status, headers, version) with ErrWriteApplied.
func TestWriteAnsweredButCutShortIsSentOnce(t *testing.T) {
	var writes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			if r.URL.Path == "/widgets/new" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("ETag", `"v1"`)
			fmt.Fprint(w, `{"name":"gear"}`)
			return
		}
		writes.Add(1)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		status := "200 OK"
		if r.Method == http.MethodPost || r.Header.Get("If-None-Match") == "*" {
			status = "201 Created"
		}
		fmt.Fprintf(buf, "HTTP/1.1 %s\r\nETag: \"v2\"\r\nLocation: /widgets/7\r\nContent-Length: 100\r\n\r\n{\"name\":", status)
		buf.Flush()
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, concord.WithRetryPolicy(concord.RetryPolicy{BaseDelay: time.Microsecond}))
	widgets := concord.NewResource[Widget](c, "widgets")
	tests := []struct {
		name       string
		write      func() (*concord.Result[Widget], error)
		wantStatus int
	}{
		{"Create", func() (*concord.Result[Widget], error) { return widgets.Create(bounded(t), Widget{Name: "gear"}) }, 201},
		{"CreateAt", func() (*concord.Result[Widget], error) {
			return widgets.CreateAt(bounded(t), "new", Widget{Name: "gear"})
		}, 201},
		{"Replace", func() (*concord.Result[Widget], error) {
			return widgets.Replace(bounded(t), "1", Widget{Name: "cog"}, concord.WithBaseVersion(`"v1"`))
		}, 200},
		{"Update", func() (*concord.Result[Widget], error) {
			return widgets.Update(bounded(t), "1", func(w *Widget) error { w.Price++; return nil })
		}, 200},
	}
	for _, tt := range tests {
		writes.Store(0)
		res, err := tt.write()
		if n := writes.Load(); n != 1 {
			t.Errorf("%s answered %d with a cut body: sent %d times; want once", tt.name, tt.wantStatus, n)
		}
		if !errors.Is(err, concord.ErrWriteApplied) {
			t.Errorf("%s = %v; want ErrWriteApplied", tt.name, err)
		}
		if res == nil || res.StatusCode != tt.wantStatus || res.Header.Get("Location") != "/widgets/7" || res.Version != `"v2"` {
			t.Errorf("%s = %+v; want the result with status %d, headers and version", tt.name, res, tt.wantStatus)
		}
	}
}

// TestRedactionByWhatAValueIs: a paging cursor is no credential and stays
// visible in a failed page's error, while credentials stay redacted by
// name, and a cursor whose value is a credential (a JWT, a GitHub token)
// by its value.
func TestRedactionByWhatAValueIs(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	mux.HandleFunc("/issues", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	tests := []struct {
		query  string
		shown  []string
		hidden []string
	}{
		{"page_token=CgdwYWdlLTI&pageToken=p2&cursor=c3&continue=k4&starting_after=cus_5", []string{"CgdwYWdlLTI", "p2", "c3", "k4", "cus_5"}, nil},
		{"access_token=s1&api_key=s2&client_secret=s3&sig=s4", nil, []string{"s1", "s2", "s3", "s4"}},
		{"page_token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl&cursor=ghp_abcdef123456", nil, []string{"eyJhbGciOiJIUzI1NiJ9", "ghp_abcdef123456"}},
	}
	for _, tt := range tests {
		_, err := c.Do(bounded(t), &concord.Request{Path: "/issues?" + tt.query}, nil)
		if err == nil {
			t.Fatal("Do = nil; want the 400")
		}
		for _, v := range tt.shown {
			if !strings.Contains(err.Error(), "="+v) {
				t.Errorf("error %q hides %s; want paging cursors shown", err, v)
			}
		}
		for _, v := range tt.hidden {
			if strings.Contains(err.Error(), v) {
				t.Errorf("error %q shows the credential %s", err, v)
			}
		}
	}
}
