package concord_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// TestHooksCombineAndReportCalls: hooks given twice are both called; a
// call reports its operation, resource, requests and conflicts once, and
// every attempt its status.
func TestHooksCombineAndReportCalls(t *testing.T) {
	var mu sync.Mutex
	var calls []concord.CallEvent
	var attempts []concord.AttemptDoneEvent
	var merges int
	tracing := concord.Hooks{OnCallDone: func(_ context.Context, e concord.CallEvent) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, e)
	}}
	metrics := concord.Hooks{
		OnAttemptDone: func(_ context.Context, e concord.AttemptDoneEvent) {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, e)
		},
		OnMerge: func(_ context.Context, e concord.MergeEvent) {
			if e.Outcome == concord.MergeMerged {
				merges++
			}
		},
	}
	c, srv := setupFake(t, nil, concord.WithHooks(tracing), concord.WithHooks(metrics))
	widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "gear", Price: 2})
	calls, attempts = nil, nil
	if _, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { w.Stock++; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 {
		t.Fatalf("call events = %+v; want one", calls)
	}
	e := calls[0]
	if e.Operation != "Update" || e.Resource != "widgets" || e.ID != "w1" || e.Conflicts != 1 || e.Requests != len(attempts) || e.Err != nil || merges != 1 {
		t.Errorf("call event = %+v after %d attempts, %d merges; want Update of widgets/w1, 1 conflict, one request per attempt", e, len(attempts), merges)
	}
	statuses := map[int]int{}
	for _, a := range attempts {
		statuses[a.StatusCode]++
		if a.Duration <= 0 || a.Duration > time.Minute {
			t.Errorf("attempt took %v; want its real, short duration", a.Duration)
		}
	}
	if statuses[412] != 1 || statuses[200] < 1 {
		t.Errorf("attempt statuses = %v; want one 412 and the rest 200", statuses)
	}
}

// TestEveryCallEnds: Client.Do and requests through RoundTripper report
// their end like Resource calls do, so that a hook that keeps per-call
// state until OnCallDone (a tracer) releases it.
func TestEveryCallEnds(t *testing.T) {
	var ops []string
	c, srv := setupFake(t, nil, concord.WithHooks(concord.Hooks{OnCallDone: func(_ context.Context, e concord.CallEvent) {
		ops = append(ops, e.Operation+":"+e.Resource+":"+e.InvocationID)
	}}))
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	if _, err := c.Do(bounded(t), &concord.Request{Path: "widgets/w1"}, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: c.RoundTripper()}).Get(c.BaseURL() + "/widgets/w1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(ops) != 2 || !strings.HasPrefix(ops[0], "Do::") || !strings.HasPrefix(ops[1], "RoundTrip::") || len(ops[0]) <= len("Do::") {
		t.Errorf("calls ended = %q; want Do and RoundTrip, each with its invocation ID", ops)
	}
}

func TestInvocationHeadersAloneNameEveryAttempt(t *testing.T) {
	c, mux := setup(t, concord.WithInvocationHeaders())
	var ids, attempts []string
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		ids = append(ids, r.Header.Get(concord.HeaderInvocationID))
		attempts = append(attempts, r.Header.Get(concord.HeaderAttempt))
		if len(ids) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
	if len(ids) != 2 || ids[0] == "" || ids[0] != ids[1] || strings.Join(attempts, ",") != "1,2" {
		t.Errorf("invocation IDs %q, attempts %q; want one ID on both attempts, numbered 1,2", ids, attempts)
	}
}

// TestEachHookAloneGetsTheInvocationID: an invocation ID is made whenever
// anything reads it, whichever single hook that is.
func TestEachHookAloneGetsTheInvocationID(t *testing.T) {
	var got atomic.Value
	record := func(id string) {
		if id != "" {
			got.Store(id)
		}
	}
	hooks := map[string]concord.Hooks{
		"OnAttempt":     {OnAttempt: func(_ context.Context, e concord.AttemptEvent) { record(e.InvocationID) }},
		"OnRetry":       {OnRetry: func(_ context.Context, e concord.RetryEvent) { record(e.InvocationID) }},
		"OnConflict":    {OnConflict: func(_ context.Context, e concord.ConflictEvent) { record(e.InvocationID) }},
		"OnMerge":       {OnMerge: func(_ context.Context, e concord.MergeEvent) { record(e.InvocationID) }},
		"OnAttemptDone": {OnAttemptDone: func(_ context.Context, e concord.AttemptDoneEvent) { record(e.InvocationID) }},
		"OnCallDone":    {OnCallDone: func(_ context.Context, e concord.CallEvent) { record(e.InvocationID) }},
	}
	for name, h := range hooks {
		t.Run(name, func(t *testing.T) {
			got.Store("")
			c, srv := setupFake(t, nil, concord.WithHooks(h))
			widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "gear", Price: 2})
			srv.FailNext(1, "PUT", "/widgets/w1", http.StatusServiceUnavailable, "")
			if _, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { w.Stock++; return nil }); err != nil {
				t.Fatal(err)
			}
			if got.Load() == "" {
				t.Errorf("%s saw no invocation ID", name)
			}
		})
	}
}

func TestDebugLogNumbersAttempts(t *testing.T) {
	var logs bytes.Buffer
	c, mux := setup(t, concord.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {})
	c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
	if !strings.Contains(logs.String(), "attempt=1") || strings.Contains(logs.String(), `invocation=""`) || !strings.Contains(logs.String(), "invocation=") {
		t.Errorf("debug log = %s; want attempt=1 and an invocation ID", logs.String())
	}
}

func TestHooksAndInvocationHeaders(t *testing.T) {
	var (
		mu       sync.Mutex
		attempts []concord.AttemptEvent
		retries  []concord.RetryEvent
	)
	hooks := concord.Hooks{
		OnAttempt: func(_ context.Context, e concord.AttemptEvent) {
			mu.Lock()
			attempts = append(attempts, e)
			mu.Unlock()
		},
		OnRetry: func(_ context.Context, e concord.RetryEvent) { mu.Lock(); retries = append(retries, e); mu.Unlock() },
	}
	c, mux := setup(t, concord.WithHooks(hooks), concord.WithInvocationHeaders())
	var ids, nums []string
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		ids = append(ids, r.Header.Get(concord.HeaderInvocationID))
		nums = append(nums, r.Header.Get(concord.HeaderAttempt))
		if len(ids) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] == "" || ids[0] != ids[1] || nums[0] != "1" || nums[1] != "2" {
		t.Errorf("invocation IDs %q, attempts %q; want one ID, attempts 1 and 2", ids, nums)
	}
	if len(attempts) != 2 || len(retries) != 1 || retries[0].StatusCode != 502 || attempts[1].Attempt != 2 {
		t.Errorf("hooks saw %d attempts, retries %+v; want 2 attempts and one retry after 502", len(attempts), retries)
	}
}

// TestLockRefreshHooksAreCallsOfTheirOwn: the lock refresher's requests,
// which run on concord's goroutine concurrently with the call, run hooks
// as calls of their own: their own invocation ID, each ended by its own
// OnCallDone (issue #30: the docs promised the calling goroutine).
func TestLockRefreshHooksAreCallsOfTheirOwn(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.Locks(), concordtest.LockTimeout(time.Second))
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	var mu sync.Mutex
	attempts := map[string][]string{} // invocation -> methods
	done := map[string]string{}       // invocation -> operation
	hooks := concord.Hooks{
		OnAttempt: func(_ context.Context, e concord.AttemptEvent) {
			mu.Lock()
			defer mu.Unlock()
			attempts[e.InvocationID] = append(attempts[e.InvocationID], e.Method)
		},
		OnCallDone: func(_ context.Context, e concord.CallEvent) {
			mu.Lock()
			defer mu.Unlock()
			done[e.InvocationID] = e.Operation
		},
	}
	widgets := concord.NewResource[Widget](newClient(t, srv.URL, concord.WithHooks(hooks)), "widgets", concord.WithLocks(concord.WebDAVLocker{}, 10*time.Second))
	if _, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { time.Sleep(1200 * time.Millisecond); w.Stock++; return nil }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	locks := 0 // the LOCK that took it, and each refresh
	for id, methods := range attempts {
		if _, ok := done[id]; !ok {
			t.Errorf("invocation %s (%v) had attempts and no OnCallDone", id, methods)
		}
		if len(methods) == 1 && methods[0] == "LOCK" && done[id] == "Do" {
			locks++
		}
	}
	if locks < 2 {
		t.Errorf("saw %d LOCKs as calls of their own among %v; want the one that took it and a refresh", locks, attempts)
	}
}
