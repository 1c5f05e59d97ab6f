package concord_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// TestRetryMatrix sends every method with each guard to a server answering
// each status once, and checks through the wire whether concord retried.
func TestRetryMatrix(t *testing.T) {
	var count atomic.Int32
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) == 1 {
			w.WriteHeader(int(status.Load()))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Microsecond}), concord.WithRetryBudget(nil))
	for _, method := range []string{"GET", "HEAD", "PUT", "DELETE", "POST", "PATCH"} {
		for _, st := range []int{400, 404, 408, 409, 412, 422, 428, 429, 500, 501, 502, 503, 504} {
			for _, guard := range []string{"none", "key", "if-match"} {
				count.Store(0)
				status.Store(int32(st))
				req := &concord.Request{Method: method, Path: "/x", NoIdempotencyKey: true}
				switch guard {
				case "key":
					req.IdempotencyKey = "k-1"
				case "if-match":
					req.IfMatch = `"v1"`
				}
				_, _ = c.Do(context.Background(), req, nil)
				transient := map[int]bool{408: true, 429: true, 500: true, 502: true, 503: true, 504: true}[st]
				safe := method != "POST" && method != "PATCH" || guard != "none"
				want := int32(1)
				if transient && safe {
					want = 2
				}
				if got := count.Load(); got != want {
					t.Errorf("%s with %s answered %d: %d requests; want %d", method, guard, st, got, want)
				}
			}
		}
	}
}

func TestRetryScheduleIsExact(t *testing.T) {
	clock := newFakeClock()
	var hits atomic.Int32
	c, mux := setup(t,
		concord.WithClock(clock),
		concord.WithRetryPolicy(concord.RetryPolicy{NewBackoff: func() concord.Backoff {
			// Full jitter's ceiling at 0.5: 50ms, 100ms, 200ms.
			return concord.BackoffFunc(func(n int) (time.Duration, bool) { return (100 * time.Millisecond << n) / 2, true })
		}}),
	)
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 2 {
			w.Header().Set("Retry-After", "2")
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "down for maintenance")
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	want := []time.Duration{50 * time.Millisecond, 2 * time.Second, 200 * time.Millisecond}
	if got := clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("waits = %v; want %v (full jitter at 0.5, Retry-After 2 on the second)", got, want)
	}
	var retryErr *concord.RetryError
	if !errors.As(err, &retryErr) || retryErr.Attempts != 4 || len(retryErr.Prior) != 3 || retryErr.Reason != nil {
		t.Fatalf("Get = %v; want a *RetryError after 4 attempts with 3 prior errors", err)
	}
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || string(apiErr.Body) != "down for maintenance" {
		t.Errorf("final error = %v; want the final 503 with its body", apiErr)
	}
	if !errors.As(retryErr.Prior[1], &apiErr) || apiErr.Header.Get("Retry-After") != "2" {
		t.Errorf("second attempt's error = %v; want the 503 that sent Retry-After", retryErr.Prior[1])
	}
}

func TestRetryAfterBeyondTheDeadlineFailsFast(t *testing.T) {
	c, mux := setup(t)
	var hits atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := concord.NewResource[Widget](c, "widgets").Get(ctx, "1")
	var retryErr *concord.RetryError
	if !errors.As(err, &retryErr) || !errors.Is(err, concord.ErrWaitTooLong) || retryErr.Delay != time.Hour {
		t.Fatalf("Get facing Retry-After: 3600 = %v; want ErrWaitTooLong carrying 1h", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Errorf("Get waited for the deadline (%v); want an immediate return", err)
	}
	if hits.Load() != 1 {
		t.Errorf("requests = %d; want 1", hits.Load())
	}
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Errorf("error does not hold the 429: %v", err)
	}
}

func TestRetryAfterBeyondTheCapFailsFast(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxRetryAfter: 10 * time.Second}))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	var retryErr *concord.RetryError
	if !errors.As(err, &retryErr) || !errors.Is(err, concord.ErrWaitTooLong) || retryErr.Delay < 24*time.Hour {
		t.Errorf("Get facing a far Retry-After date = %v; want ErrWaitTooLong with the requested delay", err)
	}
}

func TestBackoffBeyondTheDeadlineFailsFast(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{NewBackoff: func() concord.Backoff {
		return concord.BackoffFunc(func(int) (time.Duration, bool) { return time.Hour, true })
	}}))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := concord.NewResource[Widget](c, "widgets").Get(ctx, "1")
	if !errors.Is(err, concord.ErrWaitTooLong) || ctx.Err() != nil {
		t.Errorf("Get whose backoff passes the deadline = %v; want ErrWaitTooLong at once", err)
	}
}

func TestCancelDuringTransportBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	hooks := concord.Hooks{OnRetry: func(context.Context, concord.RetryEvent) { cancel() }}
	c, mux := setup(t, concord.WithHooks(hooks), concord.WithRetryPolicy(concord.RetryPolicy{NewBackoff: func() concord.Backoff {
		return concord.BackoffFunc(func(int) (time.Duration, bool) { return time.Hour, true })
	}}))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	var err error
	returnsWithin(t, 10*time.Second, func() { _, err = concord.NewResource[Widget](c, "widgets").Get(ctx, "1") })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get canceled during a 1h backoff = %v; want context.Canceled", err)
	}
}

// TestBudgetBoundsLoadDuringAnOutage: with every request failing, the
// client-wide budget lets through at most DefaultBudgetMax/2 retries in all,
// so the server sees at most calls + 10 requests, not calls * MaxAttempts.
func TestBudgetBoundsLoadDuringAnOutage(t *testing.T) {
	const callers, callsEach = 16, 5
	var hits atomic.Int32
	var down atomic.Bool
	down.Store(true)
	c, mux := setup(t)
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	widgets := concord.NewResource[Widget](c, "widgets")
	var wg sync.WaitGroup
	var exhausted atomic.Int32
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range callsEach {
				if _, err := widgets.Get(context.Background(), "1"); errors.Is(err, concord.ErrRetryBudgetExhausted) {
					exhausted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	calls := int32(callers * callsEach)
	if max := calls + concord.DefaultBudgetMax/2; hits.Load() > max || hits.Load() < calls {
		t.Errorf("server saw %d requests for %d calls; want at most %d", hits.Load(), calls, max)
	}
	if exhausted.Load() == 0 {
		t.Error("no call failed with ErrRetryBudgetExhausted")
	}
	// Recovery: enough successes refill the budget and retries resume.
	down.Store(false)
	for range 60 {
		if _, err := widgets.Get(context.Background(), "1"); err != nil {
			t.Fatal(err)
		}
	}
	down.Store(true)
	before := hits.Load()
	_, _ = widgets.Get(context.Background(), "1")
	if got := hits.Load() - before; got < 2 {
		t.Errorf("after recovery a failing call made %d request(s); want retries again", got)
	}
}

func TestBodyIsReplayedByteForByte(t *testing.T) {
	c, mux := setup(t)
	var bodies []string
	var lengths []int64
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(b)
		bodies = append(bodies, string(b))
		lengths = append(lengths, r.ContentLength)
		if len(bodies) < 3 {
			w.WriteHeader(http.StatusGatewayTimeout)
			return
		}
		w.Header().Set("ETag", `"v2"`)
		fmt.Fprint(w, `{"name":"cog"}`)
	})
	_, err := concord.NewResource[Widget](c, "widgets").Replace(context.Background(), "1", Widget{Name: "cog"}, concord.WithBaseVersion(`"v1"`))
	if err != nil {
		t.Fatalf("Replace = %v", err)
	}
	if len(bodies) != 3 || bodies[0] != bodies[1] || bodies[1] != bodies[2] || lengths[2] != int64(len(bodies[0])) {
		t.Errorf("bodies %q with lengths %v; want three identical bodies with the right Content-Length", bodies, lengths)
	}
}

// TestServerThatNeverAnswers: each attempt times out, is retried, and the
// call ends with a timeout error instead of hanging.
func TestServerThatNeverAnswers(t *testing.T) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 50 * time.Millisecond
	c, mux := setup(t, concord.WithHTTPClient(&http.Client{Transport: tr}), concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
	var hits atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-r.Context().Done() // accept the request, never answer
	})
	var err error
	returnsWithin(t, 10*time.Second, func() { _, err = concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1") })
	var netErr interface{ Timeout() bool }
	if !errors.As(err, &netErr) || !netErr.Timeout() || hits.Load() != 2 {
		t.Errorf("Get from a silent server = %v after %d attempts; want a timeout after 2", err, hits.Load())
	}
}

// TestConnectionDroppedMidBody: a response cut short is a transport
// failure like any other, retried when safe, and its partial body is never
// decoded.
func TestConnectionDroppedMidBody(t *testing.T) {
	c, mux := setup(t)
	var hits atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, `{"name":`)
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	res, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	if err != nil || res.Value.Name != "gear" || res.Requests != 2 {
		t.Errorf("Get after a cut-short body = %+v, %v; want gear after 2 requests", res, err)
	}
}

// TestRetryablePredicate: the caller decides what is worth retrying, but
// cannot make an unsafe request retryable.
func TestRetryablePredicate(t *testing.T) {
	var hits atomic.Int32
	retryOn418 := func(resp *http.Response, err error) bool { return resp != nil && resp.StatusCode == http.StatusTeapot }
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Microsecond, Retryable: retryOn418}))
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusTeapot)
	})
	mux.HandleFunc("/y", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	for _, tt := range []struct {
		method, path string
		noKey        bool
		want         int32
	}{
		{"GET", "/x", false, 3},  // retried: the predicate says so
		{"GET", "/y", false, 1},  // 503 not retried: the predicate says no
		{"POST", "/x", true, 1},  // unsafe: sent once whatever the predicate says
		{"POST", "/x", false, 3}, // keyed: safe
	} {
		hits.Store(0)
		c.Do(context.Background(), &concord.Request{Method: tt.method, Path: tt.path, NoIdempotencyKey: tt.noKey}, nil)
		if got := hits.Load(); got != tt.want {
			t.Errorf("%s %s (no key %v): %d requests; want %d", tt.method, tt.path, tt.noKey, got, tt.want)
		}
	}
}

// TestCallRetryPolicyOverridesTheClients: one call may retry less, or
// more, or time out sooner, than the client's policy says.
func TestCallRetryPolicyOverridesTheClients(t *testing.T) {
	c, mux := setup(t, concord.WithRetryBudget(nil))
	var hits atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	widgets := concord.NewResource[Widget](c, "widgets")
	widgets.Get(context.Background(), "1", concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	if got := hits.Load(); got != 1 {
		t.Errorf("Get with MaxAttempts 1 for the call: %d requests; want 1", got)
	}
	hits.Store(0)
	c.Do(context.Background(), &concord.Request{Path: "/widgets/1", RetryPolicy: &concord.RetryPolicy{MaxAttempts: 6, BaseDelay: time.Microsecond}}, nil)
	if got := hits.Load(); got != 6 {
		t.Errorf("Do with MaxAttempts 6 for the request: %d requests; want 6 (more than the client's 4)", got)
	}
	var err error
	returnsWithin(t, 10*time.Second, func() {
		_, err = c.Do(context.Background(), &concord.Request{Path: "/slow", RetryPolicy: &concord.RetryPolicy{MaxAttempts: 1, AttemptTimeout: 50 * time.Millisecond}}, nil)
	})
	var timeout *concord.AttemptTimeoutError
	if !errors.As(err, &timeout) || timeout.Limit != 50*time.Millisecond {
		t.Errorf("Do with a 50ms attempt timeout = %v; want an AttemptTimeoutError of 50ms", err)
	}
}

// TestRateLimitRule: GitHub answers a spent rate limit with 403 and
// X-RateLimit-Remaining: 0. The default does not retry a 403; a Retryable
// that adds RateLimited to DefaultRetryable does, waiting for the reset
// the headers name (a Unix time, or RateLimit-Reset's seconds), and a
// response whose limit is not spent waits by the backoff, not the reset.
func TestRateLimitRule(t *testing.T) {
	everyMilli := func() concord.Backoff {
		return concord.BackoffFunc(func(int) (time.Duration, bool) { return time.Millisecond, true })
	}
	rule := concord.RetryPolicy{NewBackoff: everyMilli, Retryable: func(resp *http.Response, err error) bool {
		return concord.DefaultRetryable(resp, err) || concord.RateLimited(resp)
	}}
	tests := []struct {
		name     string
		policy   concord.RetryPolicy
		status   int
		header   func(now time.Time) http.Header
		requests int32
		wait     time.Duration // the first wait, when there is one
	}{
		{"GitHub's 403, default policy", concord.RetryPolicy{}, 403, func(now time.Time) http.Header {
			return http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {fmt.Sprint(now.Unix() + 7)}}
		}, 1, 0},
		{"GitHub's 403 with the rule", rule, 403, func(now time.Time) http.Header {
			return http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {fmt.Sprint(now.Unix() + 7)}}
		}, 2, 7 * time.Second},
		{"RateLimit-Reset in seconds", rule, 429, func(time.Time) http.Header {
			return http.Header{"Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"3"}}
		}, 2, 3 * time.Second},
		{"a 503 whose limit is not spent", rule, 503, func(now time.Time) http.Header {
			return http.Header{"X-Ratelimit-Remaining": {"41"}, "X-Ratelimit-Reset": {fmt.Sprint(now.Unix() + 3000)}}
		}, 2, time.Millisecond},
		{"a 403 that is no rate limit", rule, 403, func(time.Time) http.Header { return http.Header{} }, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := concordtest.NewClock(time.Now().Truncate(time.Second)) // a whole second, as reset times are
			c, mux := setup(t, concord.WithClock(clock), concord.WithRetryPolicy(tt.policy))
			var hits atomic.Int32
			mux.HandleFunc("/issues/1", func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 1 {
					for k, v := range tt.header(clock.Now()) {
						w.Header()[k] = v
					}
					w.WriteHeader(tt.status)
					return
				}
				fmt.Fprint(w, `{}`)
			})
			c.Do(bounded(t), &concord.Request{Path: "/issues/1"}, nil)
			sleeps := clock.Sleeps()
			if hits.Load() != tt.requests || tt.wait != 0 && (len(sleeps) == 0 || sleeps[0] < tt.wait*99/100 || sleeps[0] > tt.wait) {
				t.Errorf("%d requests, waits %v; want %d requests, the first wait %v", hits.Load(), sleeps, tt.requests, tt.wait)
			}
		})
	}
}

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

// TestRequestsCountsNetHTTPsResends: a call's count of requests is what
// reached the server, reads included, when net/http resends a write on its
// own: here the PUT whose response was lost, net/http's resend (a 412), and
// the read that finds the PUT took effect.
func TestRequestsCountsNetHTTPsResends(t *testing.T) {
	d, widgets, calls, before := lostWriteSetup(t)
	if _, err := widgets.Replace(bounded(t), "1", Widget{Name: "cog"}); err != nil {
		t.Fatal(err)
	}
	_, _, reqs := d.state()
	if len(*calls) != 2 || (*calls)[1].Requests != len(reqs)-len(before) {
		t.Errorf("Replace's OnCallDone events = %+v; want 2, the last with Requests %d, the server's %q", *calls, len(reqs)-len(before), reqs[len(before):])
	}
}

// TestMalformedAnswerIsShortAndSentOnce: an answer net/http refuses (a
// header line with a DEL byte and 800 KB of value) is not retried, since
// the server would send it the same way again, and its error text, in the
// call's error and in the retry hooks, is bounded (issue #30: an 840 KB
// Error() and 4 retries).
func TestMalformedAnswerIsShortAndSentOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var served atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			served.Add(1)
			go func() {
				defer conn.Close()
				_, _ = http.ReadRequest(bufio.NewReader(conn))
				_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nX-Bad: a\x7f" + strings.Repeat("b", 800<<10) + "\r\nContent-Length: 0\r\n\r\n"))
			}()
		}
	}()
	var reasons []string
	hooks := concord.Hooks{OnRetry: func(_ context.Context, e concord.RetryEvent) { reasons = append(reasons, e.Reason) }}
	c := newClient(t, "http://"+ln.Addr().String(), concord.WithHooks(hooks))
	_, err = c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
	if err == nil || len(err.Error()) > 4096 {
		t.Errorf("Do of a malformed answer = an error of %d bytes; want an error of at most 4 KB", len(fmt.Sprint(err)))
	}
	if n := served.Load(); n != 1 || len(reasons) != 0 {
		t.Errorf("the malformed answer was asked for %d times, with retry reasons of %d bytes; want once", n, len(strings.Join(reasons, "")))
	}
}
