package concordtest_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// A user's test in a few lines: the create's response is lost after the
// server committed it, and the code under test must still end with exactly
// one order. In a test function, concordtest.NewServer(t) replaces the
// first two lines and closes the server when the test ends.
func Example() {
	api := concordtest.NewAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	api.DropNext(1, "POST", "/orders") // commit, then drop the connection

	c, _ := concord.New(srv.URL)
	defer c.CloseIdleConnections()
	orders := concord.NewResource[map[string]any](c, "orders")
	res, err := orders.Create(context.Background(), map[string]any{"sku": "gear", "qty": 2})

	fmt.Println(err, res.Replayed, api.Len("orders"))
	// Output: <nil> true 1
}
