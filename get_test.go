package concord_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/concord-go/concord"
)

// TestLargeBodyKeepsOnlyItsVersion: a body too large for its share of the
// version cache is not kept, and the next Update reads it again instead
// of mutating nothing.
func TestLargeBodyKeepsOnlyItsVersion(t *testing.T) {
	c, srv := setupFake(t, nil, concord.WithLimits(concord.Limits{VersionCacheBytes: 16 << 10}))
	seedWidget(t, srv, "w1", Widget{Name: strings.Repeat("g", 2<<10)})
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "w1"); err != nil {
		t.Fatal(err)
	}
	res, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { w.Stock++; return nil })
	if err != nil || res.Value.Stock != 1 || len(res.Value.Name) != 2<<10 || countRequests(srv, "GET") != 2 {
		t.Errorf("Update of a large cached item = stock %d, %v after %d GETs; want stock 1, the name kept, a second GET", res.Value.Stock, err, countRequests(srv, "GET"))
	}
}

// TestAnnouncedLengthIsNotAllocated: buffers grow with the bytes that
// arrive, not with the Content-Length a server claims.
func TestAnnouncedLengthIsNotAllocated(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(60<<20))
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"name":`)
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 4 {
		if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); err == nil {
			t.Fatal("Get of a body cut short succeeded")
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("4 reads of a body announced as 60 MiB and cut after 8 bytes allocated %d MiB; want a few KiB each", grew>>20)
	}
}

// TestDefaultBodyLimits: with no options, a success body beyond 64 MiB
// (here a gzip bomb that inflates past it) fails with ErrResponseTooLarge,
// and an error body is kept to its first 64 KiB.
func TestDefaultBodyLimits(t *testing.T) {
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 65 {
		zw.Write(zeros)
	}
	zw.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/bomb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(bomb.Bytes())
	})
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte(" "), concord.DefaultMaxResponseBytes))
	})
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		for range 100 {
			w.Write(zeros[:64<<10])
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := concord.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	if _, err := c.Do(bounded(t), &concord.Request{Path: "/bomb"}, nil); !errors.Is(err, concord.ErrResponseTooLarge) {
		t.Errorf("Do(gzip bomb of 65 MiB) = %v; want ErrResponseTooLarge", err)
	}
	if resp, err := c.Do(bounded(t), &concord.Request{Path: "/exact"}, nil); err != nil || len(resp.Body) != concord.DefaultMaxResponseBytes {
		t.Errorf("Do(body of exactly the default limit) = %v; want it read whole", err)
	}
	var apiErr *concord.APIError
	if _, err := c.Do(bounded(t), &concord.Request{Path: "/error"}, nil); !errors.As(err, &apiErr) || len(apiErr.Body) != concord.DefaultMaxErrorBodyBytes || !apiErr.Truncated {
		t.Errorf("Do(6 MiB error body) = %v; want an APIError keeping the first %d bytes", err, concord.DefaultMaxErrorBodyBytes)
	}
}

func TestEndlessBodyIsCut(t *testing.T) {
	c, mux := setup(t, concord.WithLimits(concord.Limits{MaxResponseBytes: 1 << 20}))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); !errors.Is(err, concord.ErrResponseTooLarge) {
		t.Errorf("Get of an endless body = %v; want ErrResponseTooLarge", err)
	}
}

func TestHugeHeadersAreAnError(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Filler", strings.Repeat("a", 2<<20))
		fmt.Fprint(w, `{}`)
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); err == nil {
		t.Error("Get with 2 MiB of headers succeeded; want an error")
	}
}

func TestInvalidIDsAreRefused(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets := concord.NewResource[Widget](c, "widgets")
	ctx := bounded(t)
	for _, id := range []string{"", ".", ".."} {
		calls := map[string]error{}
		_, calls["Get"] = widgets.Get(ctx, id)
		_, calls["CreateAt"] = widgets.CreateAt(ctx, id, Widget{})
		_, calls["Replace"] = widgets.Replace(ctx, id, Widget{})
		_, calls["Update"] = widgets.Update(ctx, id, func(*Widget) error { return nil })
		calls["Delete"] = widgets.Delete(ctx, id)
		for name, err := range calls {
			if !errors.Is(err, concord.ErrInvalidID) {
				t.Errorf("%s(%q) = %v; want ErrInvalidID", name, id, err)
			}
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent for invalid IDs; want none", n)
	}
}

func TestGetTracksVersionAndRevalidates(t *testing.T) {
	c, srv := setupFake(t, nil)
	etag := seedWidget(t, srv, "w1", Widget{Name: "gear", Price: 5})
	widgets := concord.NewResource[Widget](c, "widgets")

	got, err := widgets.Get(context.Background(), "w1")
	if err != nil {
		t.Fatalf("Get(w1) = %v", err)
	}
	if got.Value.Name != "gear" || got.Version != etag || got.ETag != concord.ETag(etag) {
		t.Errorf("Get(w1) = %+v, version %q; want gear at %s", got.Value, got.Version, etag)
	}
	again, err := widgets.Get(context.Background(), "w1")
	if err != nil {
		t.Fatalf("second Get(w1) = %v", err)
	}
	if again.StatusCode != http.StatusNotModified || again.Value.Name != "gear" {
		t.Errorf("second Get(w1) = %d %+v; want 304 with the remembered body", again.StatusCode, again.Value)
	}
	reqs := srv.Requests()
	if inm := reqs[len(reqs)-1].Header.Get("If-None-Match"); inm != etag {
		t.Errorf("revalidation If-None-Match = %q; want %q", inm, etag)
	}
}

func TestGetNotFoundIsTyped(t *testing.T) {
	c, mux := setup(t, concord.WithLimits(concord.Limits{MaxErrorBodyBytes: 64}))
	mux.HandleFunc("/widgets/nope", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Request-Id", "req-42")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"type":"https://example.com/not-found","title":"Not Found","detail":"no widget %s","pad":%q}`, "nope", strings.Repeat("x", 5000))
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "nope")
	if !errors.Is(err, concord.ErrNotFound) {
		t.Fatalf("Get(nope) = %v; want ErrNotFound", err)
	}
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("Get(nope) = %T; want *APIError", err)
	}
	if apiErr.StatusCode != 404 || apiErr.RequestID != "req-42" || apiErr.Method != "GET" || !strings.HasSuffix(apiErr.URL, "/widgets/nope") {
		t.Errorf("APIError = %+v; want 404 GET .../widgets/nope with request ID req-42", apiErr)
	}
	if len(apiErr.Body) != 64 || !apiErr.Truncated {
		t.Errorf("APIError body = %d bytes, truncated=%v; want a 64-byte prefix", len(apiErr.Body), apiErr.Truncated)
	}
	// The problem document is larger than the kept prefix, so it is not parsed.
	if apiErr.Problem != nil {
		t.Errorf("APIError.Problem = %+v from a truncated body; want nil", apiErr.Problem)
	}
}

func TestDecodeErrorNamesURLAndStatus(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"name": 42`)
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	var decErr *concord.DecodeError
	if !errors.As(err, &decErr) || !errors.Is(err, concord.ErrDecode) {
		t.Fatalf("Get(1) = %v; want *DecodeError", err)
	}
	if decErr.StatusCode != 200 || !strings.HasSuffix(decErr.URL, "/widgets/1") || !strings.Contains(decErr.Type, "Widget") {
		t.Errorf("DecodeError = %+v; want status 200, the URL and the type", decErr)
	}
}

func TestResponseTooLarge(t *testing.T) {
	c, mux := setup(t, concord.WithLimits(concord.Limits{MaxResponseBytes: 100}))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"name":%q}`, strings.Repeat("x", 1000))
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	if !errors.Is(err, concord.ErrResponseTooLarge) {
		t.Fatalf("Get(1) = %v; want ErrResponseTooLarge", err)
	}
}

// TestItemPath: Routes.Item addresses items the API's way.
func TestItemPath(t *testing.T) {
	c, mux := setup(t)
	var got string
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	entities := concord.NewResource[Widget](c, "widgets", concord.WithRoutes(concord.Routes{Item: func(id string) string {
		return fmt.Sprintf("widgets(PartitionKey='p',RowKey='%s')", url.PathEscape(id))
	}}))
	if _, err := entities.Get(bounded(t), "k 1"); err != nil {
		t.Fatal(err)
	}
	if want := "/widgets(PartitionKey='p',RowKey='k%201')"; got != want {
		t.Errorf("GET path = %s; want %s", got, want)
	}
}

// TestRoutesAndQueryVersion: an API that reads, writes and deletes an item
// at different URLs and takes the version in the query on every write
// (Google Cloud Storage) gets each request where it belongs, and a write's
// receipt is not taken for the document.
func TestRoutesAndQueryVersion(t *testing.T) {
	c, mux := setup(t)
	var seen []string
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("X-Goog-Generation", "5")
			fmt.Fprint(w, `{"name":"gear","stock":1}`)
		case http.MethodPost:
			fmt.Fprint(w, `{"kind":"storage#object","generation":"6"}`)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	objects := concord.NewResource[Widget](c, "o",
		concord.WithRoutes(concord.Routes{
			Read:        func(id string) string { return "o/" + id + "?alt=media" },
			Write:       func(id string) string { return "upload/o?name=" + url.QueryEscape(id) },
			WriteMethod: http.MethodPost,
		}),
		concord.WithVersioner(concord.QueryVersion{Header: "X-Goog-Generation", Member: "generation", Param: "ifGenerationMatch", Absent: "0"}))
	res, err := objects.Update(bounded(t), "w1", func(w *Widget) error { w.Stock = 2; return nil })
	if err != nil || res.Value.Stock != 2 || res.Version != "6" {
		t.Fatalf("Update = %+v, %v; want stock 2 (not the receipt) at version 6", res, err)
	}
	if err := objects.Delete(bounded(t), "w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := objects.CreateAt(bounded(t), "w2", Widget{Name: "cog"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /o/w1?alt=media", "POST /upload/o?name=w1&ifGenerationMatch=5", "DELETE /o/w1?ifGenerationMatch=6", "POST /upload/o?name=w2&ifGenerationMatch=0"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("requests = %q; want %q", seen, want)
	}
}
