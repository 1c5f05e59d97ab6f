// Package otel reports concord's calls to OpenTelemetry: a span per call
// (a Resource call, Client.Do or a RoundTripper request), with an event
// for each attempt, retry, conflict and merge, and metrics with low-cardinality attributes (operation,
// resource, method, status class, conflict kind; never the item ID or
// URL). It is a module of its own so that concord's users download
// OpenTelemetry only if they use it.
//
//	c, err := concord.New(base, concord.WithHooks(otel.Hooks(tp, mp)))
package otel

// Layer: Nested modules (ARCHITECTURE.md).

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/concord-go/concord"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// scope names the instrumentation.
const scope = "github.com/concord-go/concord/otel"

// Hooks returns concord hooks that trace with tp and measure with mp. Nil
// providers mean the global ones are not used: a nil tp records no spans,
// a nil mp no metrics.
//
// A call's span is made when the call ends, backdated to when it began,
// with its attempts, retries, conflicts and merges as events at the times
// they happened, so that no span is left open by a call that panics or is
// abandoned. Spans are children of the span in the call's context.
func Hooks(tp trace.TracerProvider, mp metric.MeterProvider) concord.Hooks {
	return newRecorder(tp, mp).hooks()
}

// newRecorder returns a recorder for tp and mp, either of which may be nil.
func newRecorder(tp trace.TracerProvider, mp metric.MeterProvider) *recorder {
	r := &recorder{pending: make(map[string][]event)}
	if tp != nil {
		r.tracer = tp.Tracer(scope)
	}
	if mp != nil {
		m := mp.Meter(scope)
		r.calls, _ = m.Int64Counter("concord.calls", metric.WithDescription("Resource calls, by operation, resource and outcome"))
		r.duration, _ = m.Float64Histogram("concord.call.duration", metric.WithUnit("s"), metric.WithDescription("How long Resource calls took"))
		r.attempts, _ = m.Int64Counter("concord.attempts", metric.WithDescription("HTTP requests sent, by method and status class"))
		r.retries, _ = m.Int64Counter("concord.retries", metric.WithDescription("Transport retries"))
		r.conflicts, _ = m.Int64Counter("concord.conflicts", metric.WithDescription("Conflict responses, by kind"))
	}
	return r
}

// hooks returns the concord hooks that feed r.
func (r *recorder) hooks() concord.Hooks {
	return concord.Hooks{
		OnAttemptDone: r.attemptDone,
		OnRetry:       r.retry,
		OnConflict:    r.conflict,
		OnMerge:       r.merge,
		OnCallDone:    r.callDone,
	}
}

type event struct {
	name  string
	at    time.Time
	attrs []attribute.KeyValue
}

type recorder struct {
	tracer             trace.Tracer
	calls, attempts    metric.Int64Counter
	retries, conflicts metric.Int64Counter
	duration           metric.Float64Histogram
	mu                 sync.Mutex
	// pending holds each call's events by invocation ID until the call
	// ends: every call ends with OnCallDone, which takes them out, so
	// nothing outlives its call.
	pending map[string][]event
}

func (r *recorder) note(id, name string, attrs ...attribute.KeyValue) {
	if r.tracer == nil || id == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending[id] = append(r.pending[id], event{name: name, at: time.Now(), attrs: attrs})
}

func (r *recorder) attemptDone(ctx context.Context, e concord.AttemptDoneEvent) {
	class := statusClass(e.StatusCode)
	if r.attempts != nil {
		r.attempts.Add(ctx, 1, metric.WithAttributes(attribute.String("http.request.method", e.Method), attribute.String("status_class", class)))
	}
	attrs := []attribute.KeyValue{attribute.Int("attempt", e.Attempt), attribute.Int("http.response.status_code", e.StatusCode), attribute.Float64("duration_s", e.Duration.Seconds())}
	if e.Err != nil {
		attrs = append(attrs, attribute.String("error", e.Err.Error()))
	}
	r.note(e.InvocationID, "attempt", attrs...)
}

func (r *recorder) retry(ctx context.Context, e concord.RetryEvent) {
	if r.retries != nil {
		r.retries.Add(ctx, 1, metric.WithAttributes(attribute.String("http.request.method", e.Method)))
	}
	r.note(e.InvocationID, "retry", attribute.String("reason", e.Reason), attribute.Float64("delay_s", e.Delay.Seconds()))
}

func (r *recorder) conflict(ctx context.Context, e concord.ConflictEvent) {
	if r.conflicts != nil {
		r.conflicts.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", e.Kind.String())))
	}
	r.note(e.InvocationID, "conflict", attribute.String("kind", e.Kind.String()), attribute.Int("http.response.status_code", e.StatusCode))
}

func (r *recorder) merge(_ context.Context, e concord.MergeEvent) {
	r.note(e.InvocationID, "merge", attribute.String("outcome", e.Outcome.String()))
}

func (r *recorder) callDone(ctx context.Context, e concord.CallEvent) {
	outcome := "ok"
	if e.Err != nil {
		outcome = "error"
	}
	low := []attribute.KeyValue{attribute.String("operation", e.Operation), attribute.String("resource", e.Resource)}
	if r.calls != nil {
		r.calls.Add(ctx, 1, metric.WithAttributes(append(low, attribute.String("outcome", outcome))...))
		r.duration.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(low...))
	}
	if r.tracer == nil {
		return
	}
	r.mu.Lock()
	events := r.pending[e.InvocationID]
	delete(r.pending, e.InvocationID)
	r.mu.Unlock()
	end := time.Now()
	name := "concord " + e.Operation
	if e.Resource != "" {
		name += " " + e.Resource
	}
	_, span := r.tracer.Start(ctx, name, trace.WithTimestamp(end.Add(-e.Duration)), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append(low, attribute.String("id", e.ID), attribute.Int("requests", e.Requests), attribute.Int("conflicts", e.Conflicts))...))
	for _, ev := range events {
		span.AddEvent(ev.name, trace.WithTimestamp(ev.at), trace.WithAttributes(ev.attrs...))
	}
	if e.Err != nil {
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, e.Err.Error())
	}
	span.End(trace.WithTimestamp(end))
}

// statusClass is "2xx", "4xx", ... or "error" for a transport error.
func statusClass(status int) string {
	if status == 0 {
		return "error"
	}
	return fmt.Sprintf("%dxx", status/100)
}
