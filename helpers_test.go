package concord_test

import (
	"context"
	"fmt"
	"io"
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

// Widget is the resource type most tests use.
type Widget struct {
	ID    string   `json:"id,omitempty"`
	Name  string   `json:"name"`
	Price int      `json:"price"`
	Stock int      `json:"stock"`
	Color string   `json:"color,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

// quickRetries keeps transport backoff short so tests spend no real time
// waiting.
var quickRetries = concord.WithRetryPolicy(concord.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})

// setup starts a mux-backed server for scripting exact responses and a
// client pointing at it, as go-github's tests do.
func setup(t *testing.T, opts ...concord.Option) (*concord.Client, *http.ServeMux) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return newClient(t, srv.URL, opts...), mux
}

// setupFake starts a concordtest API and a client for it.
func setupFake(t *testing.T, apiOpts []concordtest.Option, opts ...concord.Option) (*concord.Client, *concordtest.Server) {
	t.Helper()
	srv := concordtest.NewServer(t, apiOpts...)
	return newClient(t, srv.URL, opts...), srv
}

func newClient(t *testing.T, url string, opts ...concord.Option) *concord.Client {
	t.Helper()
	c, err := concord.New(url, append([]concord.Option{quickRetries}, opts...)...)
	if err != nil {
		t.Fatalf("New(%q) = %v", url, err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	if r.Method != want {
		t.Errorf("request method = %s; want %s", r.Method, want)
	}
}

func testHeader(t *testing.T, r *http.Request, name, want string) {
	t.Helper()
	if got := r.Header.Get(name); got != want {
		t.Errorf("request header %s = %q; want %q", name, got, want)
	}
}

func testBody(t *testing.T, r *http.Request, want string) {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("reading request body: %v", err)
	}
	if got := string(b); got != want {
		t.Errorf("request body = %s; want %s", got, want)
	}
}

// seedWidget stores a widget on the fake API and returns its ETag.
func seedWidget(t *testing.T, srv *concordtest.Server, id string, w Widget) string {
	t.Helper()
	etag, err := srv.Seed("widgets", id, w)
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	return etag
}

// trackThenChange seeds a widget, lets a resource on c read (and so track)
// it, then has another writer change it: the resource's next write is
// stale. It returns the resource and the two ETags.
func trackThenChange(t *testing.T, c *concord.Client, srv *concordtest.Server, id string, seen, theirs Widget) (widgets *concord.Resource[Widget], seenETag, theirsETag string) {
	t.Helper()
	seenETag = seedWidget(t, srv, id, seen)
	widgets = concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(context.Background(), id); err != nil {
		t.Fatalf("Get(%q) = %v", id, err)
	}
	return widgets, seenETag, seedWidget(t, srv, id, theirs)
}

// countRequests counts the requests the fake API saw with a method.
func countRequests(srv *concordtest.Server, method string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method {
			n++
		}
	}
	return n
}

// newFakeClock is concordtest's fake clock, started now.
func newFakeClock() *concordtest.Clock { return concordtest.NewClock(time.Now()) }

// docServer is a small API written for one dialect at a time, where
// concordtest speaks another: one document at /widgets/1 with ETags "vN"
// (weak when weak is set, as Apache's mod_dav serves them), 412 for a
// stale If-Match or one on a missing document (RFC 9110), and no
// idempotency keys, as many real servers. It revalidates a GET with
// If-None-Match (304 with the current tag). dropWrites makes the next writes
// take effect and then lose their response.
type docServer struct {
	mu         sync.Mutex
	doc        []byte // nil when absent
	n          int
	weak       bool
	dropWrites int
	writes     int // writes that took effect
	requests   []string
}

func newDocServer(t *testing.T, doc string) (*docServer, *httptest.Server) {
	t.Helper()
	d := &docServer{doc: []byte(doc), n: 1}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return d, srv
}

func (d *docServer) etag() string {
	if d.weak {
		return fmt.Sprintf(`W/"v%d"`, d.n)
	}
	return fmt.Sprintf(`"v%d"`, d.n)
}

// set changes the document as another writer would.
func (d *docServer) set(doc string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.doc, d.n = []byte(doc), d.n+1
}

func (d *docServer) state() (doc string, writes int, requests []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return string(d.doc), d.writes, append([]string(nil), d.requests...)
}

func (d *docServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests = append(d.requests, r.Method+" "+r.Header.Get("If-Match"))
	if r.Method == http.MethodGet {
		if d.doc == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", d.etag())
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.TrimPrefix(inm, "W/") == strings.TrimPrefix(d.etag(), "W/") {
			w.WriteHeader(http.StatusNotModified) // weak comparison, with the current tag
			return
		}
		w.Write(d.doc)
		return
	}
	if im := r.Header.Get("If-Match"); im != "" && (d.doc == nil || d.weak || im != d.etag()) {
		w.WriteHeader(http.StatusPreconditionFailed)
		return
	}
	d.writes++
	switch r.Method {
	case http.MethodDelete:
		d.doc = nil
	default:
		d.doc, d.n = body, d.n+1
		w.Header().Set("ETag", d.etag())
	}
	if d.dropWrites > 0 {
		d.dropWrites--
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	}
	if d.doc == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Write(d.doc)
}

// hintThenServe starts a server that answers its first request with status
// and a Retry-After of hint, and every later one with success and a
// widget, and a client for it with no option but clock, so that every
// limit is the default one.
func hintThenServe(t *testing.T, status int, hint string, clock concord.Clock) *concord.Client {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", hint)
			w.WriteHeader(status)
			return
		}
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	}))
	t.Cleanup(srv.Close)
	c, err := concord.New(srv.URL, concord.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// returnsWithin runs call and fails the test with a message, instead of
// hanging until go test's timeout, if it has not returned within d: for
// the tests whose only failure mode would be a wait that never ends.
func returnsWithin(t *testing.T, d time.Duration, call func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		call()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("the call did not return within %v", d)
	}
}

// weakThenStrong arranges the Apache case: a client reads an item while
// its tag is weak, another writer may change it, and then tags are strong
// again. It returns the server and the reader's resource.
func weakThenStrong(t *testing.T, otherWriter bool) (*docServer, *concord.Resource[Widget]) {
	t.Helper()
	d, srv := newDocServer(t, `{"name":"gear"}`)
	d.weak = true
	c := newClient(t, srv.URL, concord.WithClock(newFakeClock()))
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "1"); err != nil {
		t.Fatal(err)
	}
	if otherWriter {
		d.set(`{"name":"theirs"}`)
	}
	d.mu.Lock()
	d.weak = false // a second later: strong tags
	d.mu.Unlock()
	return d, widgets
}

// bounded returns a context that ends the test's call instead of letting a
// regression hang until go test's timeout.
func bounded(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
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

// lostWriteSetup serves {"name":"gear"} as item 1 of a docServer, reads it
// with a client whose calls are recorded (the read also warms a connection,
// so that net/http reuses it and resends a write on it by itself), and
// makes the server drop the response to the next write. It returns the
// server, the resource, the calls recorded, and the requests the server
// had seen before the write.
func lostWriteSetup(t *testing.T) (d *docServer, widgets *concord.Resource[Widget], calls *[]concord.CallEvent, before []string) {
	t.Helper()
	d, srv := newDocServer(t, `{"name":"gear"}`)
	calls = new([]concord.CallEvent)
	c := newClient(t, srv.URL, concord.WithHooks(concord.Hooks{OnCallDone: func(_ context.Context, e concord.CallEvent) { *calls = append(*calls, e) }}))
	widgets = concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "1"); err != nil {
		t.Fatal(err)
	}
	_, _, before = d.state()
	d.mu.Lock()
	d.dropWrites = 1
	d.mu.Unlock()
	return d, widgets, calls, before
}
