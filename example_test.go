package concord_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// Item is the resource type of the examples.
type Item struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name"`
	Price int    `json:"price"`
	Stock int    `json:"stock"`
}

// startAPI serves a fresh fake API for an example.
func startAPI() (*concordtest.API, *httptest.Server) {
	api := concordtest.NewAPI()
	return api, httptest.NewServer(api)
}

// A create whose response is lost is retried with the same idempotency key,
// and the server answers with the original result instead of creating twice.
func ExampleResource_Create() {
	api, srv := startAPI()
	defer srv.Close()
	api.DropNext(1, "POST", "/items") // commit the create, then drop the connection

	c, _ := concord.New(srv.URL)
	defer c.CloseIdleConnections()
	items := concord.NewResource[Item](c, "items")

	res, err := items.Create(context.Background(), Item{Name: "gear", Price: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("created %s after %d requests, replayed=%v, stored=%d\n", res.Value.ID, res.Requests, res.Replayed, api.Len("items"))
	// Output: created 1 after 2 requests, replayed=true, stored=1
}

// Update is a read-modify-write that never loses a concurrent update: when
// another writer got there first, the mutation is re-applied to the newest
// version and written again.
func ExampleResource_Update() {
	api, srv := startAPI()
	defer srv.Close()
	_, _ = api.Seed("items", "7", Item{Name: "gear", Stock: 5})

	c, _ := concord.New(srv.URL)
	defer c.CloseIdleConnections()
	items := concord.NewResource[Item](c, "items")
	_, _ = items.Get(context.Background(), "7") // the client now tracks version 1

	_, _ = api.Seed("items", "7", Item{Name: "gear", Stock: 3}) // another writer sells two

	res, err := items.Update(context.Background(), "7", func(it *Item) error {
		if it.Stock == 0 {
			return concord.ErrMergeAborted
		}
		it.Stock--
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("stock %d after %d conflict(s)\n", res.Value.Stock, res.Conflicts)
	// Output: stock 2 after 1 conflict(s)
}

// Replace with a merge function resolves a conflict from (base, mine,
// theirs); ThreeWay applies the fields this writer changed onto theirs.
func ExampleResource_Replace() {
	api, srv := startAPI()
	defer srv.Close()
	_, _ = api.Seed("items", "7", Item{Name: "gear", Price: 10, Stock: 5})

	c, _ := concord.New(srv.URL)
	defer c.CloseIdleConnections()
	items := concord.NewResource[Item](c, "items")
	cur, _ := items.Get(context.Background(), "7")

	_, _ = api.Seed("items", "7", Item{Name: "gear", Price: 12, Stock: 5}) // a price change elsewhere

	mine := cur.Value
	mine.Stock = 50
	res, err := items.WithMerge(concord.ThreeWay[Item]()).Replace(context.Background(), "7", mine)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", res.Value)
	// Output: {ID: Name:gear Price:12 Stock:50}
}

// Without a merge function a stale write is reported, never forced.
func ExampleConflictError() {
	api, srv := startAPI()
	defer srv.Close()
	_, _ = api.Seed("items", "7", Item{Name: "gear"})

	c, _ := concord.New(srv.URL)
	defer c.CloseIdleConnections()
	items := concord.NewResource[Item](c, "items")
	_, _ = items.Get(context.Background(), "7")
	_, _ = api.Seed("items", "7", Item{Name: "cog"})

	_, err := items.Replace(context.Background(), "7", Item{Name: "sprocket"})
	var conflict *concord.ConflictError
	fmt.Println(errors.Is(err, concord.ErrConflict), errors.As(err, &conflict) && conflict.Kind == concord.KindStaleVersion)
	// Output: true true
}

func ExampleMergeJSON() {
	base := []byte(`{"name":"gear","price":10,"tags":["a"]}`)
	mine := []byte(`{"name":"gear","price":12,"tags":["a"]}`)
	theirs := []byte(`{"name":"Gear","price":10,"tags":["a","b"]}`)
	merged, err := concord.MergeJSON(base, mine, theirs)
	fmt.Println(string(merged), err)

	clashing := []byte(`{"name":"Cog","price":10,"tags":["a"]}`)
	_, err = concord.MergeJSON(base, clashing, theirs)
	fmt.Println(err)
	// Output:
	// {"name":"Gear","price":12,"tags":["a","b"]} <nil>
	// concord: merge clash at /name
}

func ExampleParseETag() {
	for _, s := range []string{`"v1"`, `W/"v1"`, `v1`} {
		tag, err := concord.ParseETag(s)
		fmt.Println(tag, tag.IsWeak(), err != nil)
	}
	// Output:
	// "v1" false false
	// W/"v1" true false
	//  false true
}

// Do sends any request through the same machinery: default headers,
// an idempotency key for POST, safe transport retries.
func ExampleClient_Do() {
	_, srv := startAPI()
	defer srv.Close()
	c, _ := concord.New(srv.URL)
	defer c.CloseIdleConnections()

	var out Item
	resp, err := c.Do(context.Background(), &concord.Request{Method: "POST", Path: "/items", Body: Item{Name: "gear"}}, &out)
	fmt.Println(resp.StatusCode, out.ID, out.Name, err)
	// Output: 201 1 gear <nil>
}

// A client generated from an OpenAPI document takes an HttpRequestDoer (or
// an *http.Client): give it one built on concord's transport, and its
// calls get keys on POST, safe retries and the rest.
func ExampleClient_RoundTripper() {
	api := concordtest.NewAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	c, err := concord.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	// What a generated client does with the doer it is given.
	type HttpRequestDoer interface {
		Do(req *http.Request) (*http.Response, error)
	}
	var doer HttpRequestDoer = &http.Client{Transport: c.RoundTripper()}

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/orders", strings.NewReader(`{"qty":2}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := doer.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, api.Requests()[0].Header.Get("Idempotency-Key") != "")
	// Output: 201 true
}

// An API whose items are numbered takes integer IDs through ID.
func ExampleID() {
	type issueNumber int32
	fmt.Println(concord.ID(42), concord.ID(uint64(18446744073709551615)), concord.ID(issueNumber(-7)))
	// Output: 42 18446744073709551615 -7
}

// A create that survives a crash: the key is derived from the order's own
// identity, so a process restarted after sending it (here, a second
// client) sends the same key, and the server answers with the original
// order instead of making a second one.
func Example_crashSafeCreate() {
	api := concordtest.NewAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	type Order struct {
		Number string `json:"number"`
	}
	create := func() *concord.Result[Order] {
		c, err := concord.New(srv.URL) // a fresh process's client
		if err != nil {
			log.Fatal(err)
		}
		order := Order{Number: "1001"}
		res, err := concord.NewResource[Order](c, "orders").Create(context.Background(), order,
			concord.WithIdempotencyKey(concord.KeyFor("orders", order.Number)))
		if err != nil {
			log.Fatal(err)
		}
		return res
	}
	create()
	again := create() // after a restart
	fmt.Println("replayed:", again.Replayed, "orders stored:", api.Len("orders"))
	// Output: replayed: true orders stored: 1
}

// The lock mode, on a server that ignores If-Match but enforces WebDAV
// locks: every write takes the server's lock first, so writers that share
// nothing but the server lose no update.
func Example_lockMode() {
	api := concordtest.NewAPI(concordtest.IgnoreIfMatch(), concordtest.Locks())
	srv := httptest.NewServer(api)
	defer srv.Close()
	if _, err := api.Seed("counters", "c", map[string]int{"n": 0}); err != nil {
		log.Fatal(err)
	}
	type Counter struct {
		N int `json:"n"`
	}
	done := make(chan error)
	for range 4 {
		c, err := concord.New(srv.URL) // one client per writer, as separate processes
		if err != nil {
			log.Fatal(err)
		}
		counters := concord.NewResource[Counter](c, "counters", concord.WithLocks(concord.WebDAVLocker{}, 0))
		go func() {
			_, err := counters.Update(context.Background(), "c", func(v *Counter) error { v.N++; return nil })
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			log.Fatal(err)
		}
	}
	doc, _, _ := api.Doc("counters", "c")
	fmt.Println(string(doc))
	// Output: {"n":4}
}
