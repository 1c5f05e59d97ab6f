// Package bench compares concord with the clients a Go service would use
// instead, on the same loopback server in the same run: the benchmarks in
// its tests, and cmd/paired and cmd/scenarios. It is a module of its own so
// that users of concord never download resty or benchstat.
//
// Each client's calls are written here once, the way a user of that client
// writes them, and used by both the benchmarks and the harnesses.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/concord-go/concord"
	"github.com/go-resty/resty/v2"
	"github.com/hashicorp/go-retryablehttp"
)

// Widget is the typed resource every client decodes.
type Widget struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price int    `json:"price"`
	Stock int    `json:"stock"`
}

const (
	widgetJSON = `{"id":"1","name":"gear","price":100,"stock":10}`
	widgetETag = `"v1"`
)

// Call makes one request of one client and checks its answer.
type Call func(ctx context.Context) error

// HandlerContext returns the context a service's calls are made under: one
// a server handler would pass on, cancellable and with a deadline (10 s,
// sooner than concord's attempt timeout, as a handler's usually is). It is
// the headline context of the comparisons: context.Background(), which no
// handler has, is their second row. Every client gets the same one.
func HandlerContext() (context.Context, context.CancelFunc) {
	ctx, cancelRequest := context.WithCancel(context.Background())
	ctx, cancelTimeout := context.WithTimeout(ctx, 10*time.Second)
	return ctx, func() { cancelTimeout(); cancelRequest() }
}

// Baseline is the client the others are compared with.
const Baseline = "nethttp"

// HappyClients are the clients of the happy-path cases, the baseline
// first: hand-written net/http with encoding/json, go-retryablehttp used
// directly (its logger off: by default it writes every request to
// stderr), go-resty v2, and concord with default settings.
var HappyClients = []string{Baseline, "retryablehttp", "resty", "concord"}

// NewHappyServer answers GET /widgets/1 with a widget and its ETag, and a
// PUT carrying If-Match: "v1" with the widget written. It ignores
// If-None-Match, so every client gets the full body.
func NewHappyServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/widgets/1" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", widgetETag)
		switch r.Method {
		case http.MethodGet:
			io.WriteString(w, widgetJSON)
		case http.MethodPut:
			if r.Header.Get("If-Match") != widgetETag {
				w.WriteHeader(http.StatusPreconditionFailed)
				return
			}
			body, _ := io.ReadAll(r.Body)
			w.Write(body)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
}

// Transport is the same tuned transport for every client.
func Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// Get returns client's typed GET of /widgets/1 on the server at base, and
// a function that releases the client.
func Get(client, base string) (Call, func()) {
	url := base + "/widgets/1"
	check := func(w Widget) error {
		if w.Name != "gear" {
			return fmt.Errorf("decoded %+v", w)
		}
		return nil
	}
	switch client {
	case "nethttp":
		hc := &http.Client{Transport: Transport()}
		return func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Accept", "application/json")
			resp, err := hc.Do(req)
			return readWidget(resp, err, check)
		}, hc.CloseIdleConnections
	case "retryablehttp":
		rc := retryableClient()
		return func(ctx context.Context) error {
			req, _ := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Accept", "application/json")
			resp, err := rc.Do(req)
			return readWidget(resp, err, check)
		}, rc.HTTPClient.CloseIdleConnections
	case "resty":
		hc := &http.Client{Transport: Transport()}
		rc := resty.NewWithClient(hc)
		return func(ctx context.Context) error {
			var w Widget
			resp, err := rc.R().SetContext(ctx).SetResult(&w).Get(url)
			if err != nil || resp.StatusCode() != 200 {
				return fmt.Errorf("%v: %v", resp.Status(), err)
			}
			return check(w)
		}, hc.CloseIdleConnections
	case "concord":
		c := newConcord(base)
		widgets := concord.NewResource[Widget](c, "widgets")
		return func(ctx context.Context) error {
			res, err := widgets.Get(ctx, "1")
			if err != nil {
				return err
			}
			return check(res.Value)
		}, c.CloseIdleConnections
	}
	panic("bench: no client " + client)
}

// Put returns client's PUT of a widget to /widgets/1 with If-Match and
// the decoding of its answer. concord's is Replace with WithBaseVersion, its
// version cache off, and an idempotency key, as by default;
// "concord-nokey" is the same without the key.
func Put(client, base string) (Call, func()) {
	url := base + "/widgets/1"
	in := Widget{ID: "1", Name: "gear", Price: 100, Stock: 11}
	check := func(w Widget) error {
		if w.Stock != 11 {
			return fmt.Errorf("answered %+v", w)
		}
		return nil
	}
	switch client {
	case "nethttp":
		hc := &http.Client{Transport: Transport()}
		return func(ctx context.Context) error {
			body, _ := json.Marshal(in)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			req.Header.Set("If-Match", widgetETag)
			resp, err := hc.Do(req)
			return readWidget(resp, err, check)
		}, hc.CloseIdleConnections
	case "retryablehttp":
		rc := retryableClient()
		return func(ctx context.Context) error {
			body, _ := json.Marshal(in)
			req, _ := retryablehttp.NewRequestWithContext(ctx, http.MethodPut, url, body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("If-Match", widgetETag)
			resp, err := rc.Do(req)
			return readWidget(resp, err, check)
		}, rc.HTTPClient.CloseIdleConnections
	case "resty":
		hc := &http.Client{Transport: Transport()}
		rc := resty.NewWithClient(hc)
		return func(ctx context.Context) error {
			var out Widget
			resp, err := rc.R().SetContext(ctx).SetHeader("If-Match", widgetETag).SetBody(in).SetResult(&out).Put(url)
			if err != nil || resp.StatusCode() != 200 {
				return fmt.Errorf("%v: %v", resp.Status(), err)
			}
			return check(out)
		}, hc.CloseIdleConnections
	case "concord", "concord-nokey":
		c := newConcord(base, concord.WithLimits(concord.Limits{VersionCacheBytes: -1}))
		var opts []concord.ResourceOption
		if client == "concord-nokey" {
			opts = append(opts, concord.WithoutIdempotencyKeys())
		}
		widgets := concord.NewResource[Widget](c, "widgets", opts...)
		return func(ctx context.Context) error {
			res, err := widgets.Replace(ctx, "1", in, concord.WithBaseVersion(widgetETag))
			if err != nil {
				return err
			}
			return check(res.Value)
		}, c.CloseIdleConnections
	}
	panic("bench: no client " + client)
}

// readWidget is how a user of net/http (or of go-retryablehttp, which
// hands back an *http.Response) reads a widget from a 200 answer.
func readWidget(resp *http.Response, err error, check func(Widget) error) error {
	if err != nil {
		return err
	}
	var w Widget
	err = json.NewDecoder(resp.Body).Decode(&w)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("%d: %v", resp.StatusCode, err)
	}
	return check(w)
}

func retryableClient() *retryablehttp.Client {
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: Transport()}
	rc.Logger = nil // its default logger writes every request to stderr
	return rc
}

func newConcord(base string, opts ...concord.Option) *concord.Client {
	c, err := concord.New(base, append([]concord.Option{concord.WithHTTPClient(&http.Client{Transport: Transport()})}, opts...)...)
	if err != nil {
		panic(err)
	}
	return c
}

// Doc is a large document: a widget with tags of about the size asked.
type Doc struct {
	Widget
	Tags []string `json:"tags"`
}

// LargeClients are the clients of the large-document cases.
var LargeClients = []string{Baseline, "concord"}

// NewLargeServer holds one document of about size bytes at /docs/1 with
// a strong ETag that changes on every write, and answers a PUT with a stale
// If-Match 412. A PUT's answer is 204 with the new ETag, no body, or with
// echo 200 with the document stored.
func NewLargeServer(size int, echo bool) *httptest.Server {
	var mu sync.Mutex
	body, _ := json.Marshal(LargeDoc(size))
	version := 1
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		etag := fmt.Sprintf(`"v%d"`, version)
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("ETag", etag)
			w.Write(body)
		case http.MethodPut:
			if r.Header.Get("If-Match") != etag {
				w.WriteHeader(http.StatusPreconditionFailed)
				return
			}
			body, _ = io.ReadAll(r.Body)
			version++
			w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, version))
			if echo {
				w.Write(body)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}))
}

// LargeGet returns client's typed GET of the large document.
func LargeGet(client, base string) (Call, func()) {
	switch client {
	case "nethttp":
		hc := &http.Client{Transport: Transport()}
		return func(ctx context.Context) error {
			_, _, err := getDoc(ctx, hc, base)
			return err
		}, hc.CloseIdleConnections
	case "concord":
		c := newConcord(base)
		docs := concord.NewResource[Doc](c, "docs")
		return func(ctx context.Context) error {
			res, err := docs.Get(ctx, "1")
			if err == nil && len(res.Value.Tags) == 0 {
				err = errors.New("no tags")
			}
			return err
		}, c.CloseIdleConnections
	}
	panic("bench: no client " + client)
}

// LargeUpdate returns client's read-modify-write of the large document:
// by hand a GET, the change and a PUT with If-Match; with concord an
// Update, which keeps the document it read (within its version cache) and
// so skips the GET when warm.
func LargeUpdate(client, base string) (Call, func()) {
	switch client {
	case "nethttp":
		hc := &http.Client{Transport: Transport()}
		return func(ctx context.Context) error {
			d, etag, err := getDoc(ctx, hc, base)
			if err != nil {
				return err
			}
			d.Stock++
			_, err = putDoc(ctx, hc, base, d, etag)
			return err
		}, hc.CloseIdleConnections
	case "concord":
		c := newConcord(base)
		docs := concord.NewResource[Doc](c, "docs")
		return func(ctx context.Context) error {
			_, err := docs.Update(ctx, "1", func(d *Doc) error { d.Stock++; return nil })
			return err
		}, c.CloseIdleConnections
	}
	panic("bench: no client " + client)
}

func getDoc(ctx context.Context, hc *http.Client, base string) (Doc, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/docs/1", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return Doc{}, "", err
	}
	defer resp.Body.Close()
	var d Doc
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return Doc{}, "", err
	}
	if !strings.HasPrefix(resp.Header.Get("ETag"), `"`) || len(d.Tags) == 0 {
		return Doc{}, "", fmt.Errorf("GET answered %d with ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	return d, resp.Header.Get("ETag"), nil
}

// putDoc PUTs d with If-Match: etag and returns the new ETag. An answer
// with the document (an echoing server) is decoded, as a typed client
// would.
func putDoc(ctx context.Context, hc *http.Client, base string, d Doc, etag string) (string, error) {
	body, _ := json.Marshal(d)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/docs/1", bytes.NewReader(body))
	req.Header.Set("If-Match", etag)
	req.Header.Set("Content-Type", "application/json")
	put, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer put.Body.Close()
	switch put.StatusCode {
	case http.StatusNoContent:
	case http.StatusOK:
		var echoed Doc
		if err := json.NewDecoder(put.Body).Decode(&echoed); err != nil || len(echoed.Tags) != len(d.Tags) {
			return "", fmt.Errorf("PUT answered %d tags, %v", len(echoed.Tags), err)
		}
	default:
		return "", fmt.Errorf("PUT answered %d", put.StatusCode)
	}
	return put.Header.Get("ETag"), nil
}

// LargeChange returns client's change of one member of the large
// document, each against the version the previous one left: by hand a
// conditional PUT of the whole document, which the caller holds, with the
// ETag of the last answer; with concord an Update, which keeps the
// document it wrote last (warm: no GET) and gives mutate a copy of it.
func LargeChange(client, base string, doc Doc) (Call, func()) {
	switch client {
	case "nethttp":
		return handPut(base, func() Doc { doc.Stock++; return doc })
	case "concord":
		return LargeUpdate(client, base)
	}
	panic("bench: no client " + client)
}

// handPut returns hand-written conditional PUTs of the document next
// returns, each with the ETag of the last answer (the first read with a
// GET).
func handPut(base string, next func() Doc) (Call, func()) {
	hc := &http.Client{Transport: Transport()}
	etag := ""
	return func(ctx context.Context) error {
		if etag == "" {
			var err error
			if _, etag, err = getDoc(ctx, hc, base); err != nil {
				return err
			}
		}
		var err error
		etag, err = putDoc(ctx, hc, base, next(), etag)
		return err
	}, hc.CloseIdleConnections
}

// LargePut returns client's conditional PUT of the large document, each
// against the version the previous one left: by hand the ETag of the last
// answer, with concord a Replace, which tracks it.
func LargePut(client, base string, doc Doc) (Call, func()) {
	switch client {
	case "nethttp":
		return handPut(base, func() Doc { return doc })
	case "concord":
		c := newConcord(base)
		docs := concord.NewResource[Doc](c, "docs")
		return func(ctx context.Context) error {
			_, err := docs.Replace(ctx, "1", doc)
			return err
		}, c.CloseIdleConnections
	}
	panic("bench: no client " + client)
}

// LargeDoc is a document of about size bytes, as NewLargeServer holds.
func LargeDoc(size int) Doc {
	doc := Doc{Widget: Widget{ID: "1", Name: "gear"}}
	for n := 0; n < size; n += 24 {
		doc.Tags = append(doc.Tags, fmt.Sprintf("tag-%018d", n))
	}
	return doc
}
