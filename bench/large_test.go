package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/concord-go/concord"
)

// Doc is a large document: a widget with about 1 MiB of tags.
type Doc struct {
	Widget
	Tags []string `json:"tags"`
}

// largeServer holds one document at /docs/1 with a strong ETag that
// changes on every write, and answers a PUT with a stale If-Match 412.
func largeServer(b *testing.B, size int) *httptest.Server {
	var mu sync.Mutex
	doc := Doc{Widget: Widget{ID: "1", Name: "gear"}}
	for n := 0; n < size; n += 24 {
		doc.Tags = append(doc.Tags, fmt.Sprintf("tag-%018d", n))
	}
	body, _ := json.Marshal(doc)
	version := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkUpdateLarge: one read-modify-write of a 1 MiB document, by hand
// with net/http and encoding/json, and with concord's Update (which keeps
// the document it read, so a warm Update skips the GET).
func BenchmarkUpdateLarge(b *testing.B) {
	const size = 1 << 20
	b.Run("client=net-http", func(b *testing.B) {
		srv := largeServer(b, size)
		hc := &http.Client{Transport: transport()}
		b.ReportAllocs()
		for i := range b.N {
			resp, err := hc.Get(srv.URL + "/docs/1")
			if err != nil {
				b.Fatal(err)
			}
			var d Doc
			err = json.NewDecoder(resp.Body).Decode(&d)
			resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			d.Stock = i
			body, _ := json.Marshal(d)
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/docs/1", bytes.NewReader(body))
			req.Header.Set("If-Match", resp.Header.Get("ETag"))
			req.Header.Set("Content-Type", "application/json")
			put, err := hc.Do(req)
			if err != nil || put.StatusCode != http.StatusNoContent {
				b.Fatalf("PUT = %v, %v", put, err)
			}
			put.Body.Close()
		}
	})
	b.Run("client=concord", func(b *testing.B) {
		srv := largeServer(b, size)
		c, err := concord.New(srv.URL, concord.WithTransport(transport()))
		if err != nil {
			b.Fatal(err)
		}
		docs := concord.NewResource[Doc](c, "docs")
		ctx := context.Background()
		b.ReportAllocs()
		for i := range b.N {
			if _, err := docs.Update(ctx, "1", func(d *Doc) error { d.Stock = i + 1; return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
