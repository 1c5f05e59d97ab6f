package otel_test

import (
	"context"
	"testing"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
	concordotel "github.com/concord-go/concord/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

type widget struct {
	Name  string `json:"name"`
	Stock int    `json:"stock"`
}

// TestSpansAndMetrics: an Update that meets a conflict makes one span
// with its attempts, conflict and merge as events, and the metrics count
// the call, the attempts and the conflict with low-cardinality attributes.
func TestSpansAndMetrics(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	srv := concordtest.NewServer(t)
	if _, err := srv.Seed("widgets", "w1", widget{Name: "gear"}); err != nil {
		t.Fatal(err)
	}
	c, err := concord.New(srv.URL, concord.WithHooks(concordotel.Hooks(tp, mp)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	widgets := concord.NewResource[widget](c, "widgets")
	ctx := context.Background()
	if _, err := widgets.Get(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Seed("widgets", "w1", widget{Name: "gear", Stock: 5}); err != nil { // another writer
		t.Fatal(err)
	}
	if _, err := widgets.Update(ctx, "w1", func(w *widget) error { w.Stock++; return nil }); err != nil {
		t.Fatal(err)
	}

	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("spans = %d; want 2 (Get, Update)", len(ended))
	}
	update := ended[1]
	names := map[string]int{}
	for _, e := range update.Events() {
		names[e.Name]++
	}
	if update.Name() != "concord Update widgets" || names["attempt"] != 3 || names["conflict"] != 1 || names["merge"] != 1 {
		t.Errorf("span %q with events %v; want Update with 3 attempts, a conflict and a merge", update.Name(), names)
	}
	if !update.StartTime().Before(update.EndTime()) {
		t.Errorf("span from %v to %v; want it to cover the call", update.StartTime(), update.EndTime())
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range s.DataPoints {
					sums[m.Name] += dp.Value
					if _, has := dp.Attributes.Value("id"); has {
						t.Errorf("%s carries the item ID: high cardinality", m.Name)
					}
				}
			}
		}
	}
	if sums["concord.calls"] != 2 || sums["concord.attempts"] != 4 || sums["concord.conflicts"] != 1 {
		t.Errorf("metrics = %v; want 2 calls, 4 attempts, 1 conflict", sums)
	}
}
