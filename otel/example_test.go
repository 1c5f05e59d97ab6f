package otel_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
	concordotel "github.com/concord-go/concord/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Customer is a Stripe-like object: listed in pages, updated with a POST
// to the object, behind a token that expires.
type Customer struct {
	ID      string `json:"id,omitempty"`
	Name    string `json:"name"`
	Credits int    `json:"credits"`
}

// Wrapping a paginated, token-authenticated API whose updates are POSTs to
// the item, traced with OpenTelemetry, tested against concordtest.
func ExampleHooks() {
	// The API, as a test would run it: pages of 2, POST updates.
	api := concordtest.NewAPI(concordtest.PageSize(2), concordtest.PostUpdates())
	for i := 1; i <= 3; i++ {
		api.Seed("customers", fmt.Sprint("cus_", i), Customer{ID: fmt.Sprint("cus_", i), Name: fmt.Sprint("customer ", i)})
	}
	srv := httptest.NewServer(api)
	defer srv.Close()

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	token := func(context.Context) (string, time.Time, error) { return "sk_test_123", time.Now().Add(time.Hour), nil }
	c, err := concord.New(srv.URL,
		concord.WithTokenSource(token),
		concord.WithHooks(concordotel.Hooks(tp, nil)))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	customers := concord.NewResource[Customer](c, "customers",
		concord.WithRoutes(concord.Routes{WriteMethod: http.MethodPost}))

	ctx := context.Background()
	for cus, err := range customers.All(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		if _, err := customers.Update(ctx, cus.ID, func(c *Customer) error { c.Credits += 10; return nil }); err != nil {
			log.Fatal(err)
		}
	}
	res, _ := customers.Get(ctx, "cus_3")
	fmt.Println("cus_3 credits:", res.Value.Credits)
	fmt.Println("authorized:", api.Requests()[0].Header.Get("Authorization") == "Bearer sk_test_123")
	for _, s := range spans.Ended()[:3] {
		fmt.Println(s.Name())
	}
	// Output:
	// cus_3 credits: 10
	// authorized: true
	// concord Page customers
	// concord Update customers
	// concord Update customers
}
