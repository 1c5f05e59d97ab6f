package concord_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-go/concord"
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
