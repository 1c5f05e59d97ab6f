package otel

import (
	"context"
	"net/http"
	"testing"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestNothingOutlivesItsCall: the events kept for a call's span are
// released when the call ends, whichever way it was made: Resource calls,
// Client.Do and requests through RoundTripper (whose events were once kept
// forever), successes and failures alike; each made its span.
func TestNothingOutlivesItsCall(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	r := newRecorder(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)), nil)
	srv := concordtest.NewServer(t)
	if _, err := srv.Seed("widgets", "w1", map[string]any{"name": "gear"}); err != nil {
		t.Fatal(err)
	}
	c, err := concord.New(srv.URL, concord.WithHooks(r.hooks()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()
	hc := &http.Client{Transport: c.RoundTripper()}
	const rounds = 20
	for range rounds {
		if _, err := c.Do(ctx, &concord.Request{Path: "widgets/w1"}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Do(ctx, &concord.Request{Path: "widgets/none"}, nil); err == nil {
			t.Fatal("Do of a missing item succeeded")
		}
		resp, err := hc.Get(srv.URL + "/widgets/w1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, err := concord.NewResource[map[string]any](c, "widgets").Get(ctx, "w1"); err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Lock()
	left := len(r.pending)
	r.mu.Unlock()
	if left != 0 {
		t.Errorf("events of %d finished calls still held; want none", left)
	}
	names := map[string]int{}
	for _, s := range spans.Ended() {
		names[s.Name()]++
	}
	if names["concord Do"] != 2*rounds || names["concord RoundTrip"] != rounds || names["concord Get widgets"] != rounds {
		t.Errorf("spans = %v; want one per call", names)
	}
}
