// Package bench compares concord with the clients a Go service would use
// instead, on the same loopback server in the same run. It is a module of
// its own so that users of concord never download resty or benchstat.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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

// happyServer answers GET /widgets/1 with a widget and its ETag, and a PUT
// carrying If-Match: "v1" with the widget written. It ignores
// If-None-Match, so every client gets the full body.
func happyServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	b.Cleanup(srv.Close)
	return srv
}

// transport is the same tuned transport for every client.
func transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

func BenchmarkGet(b *testing.B) {
	srv := happyServer(b)
	url := srv.URL + "/widgets/1"
	ctx := context.Background()
	check := func(b *testing.B, w Widget) {
		if w.Name != "gear" {
			b.Fatalf("decoded %+v", w)
		}
	}

	b.Run("client=nethttp", func(b *testing.B) {
		hc := &http.Client{Transport: transport()}
		b.ReportAllocs()
		for range b.N {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Accept", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var w Widget
			err = json.NewDecoder(resp.Body).Decode(&w)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err, resp.StatusCode)
			}
			check(b, w)
		}
	})

	b.Run("client=retryablehttp", func(b *testing.B) {
		rc := retryablehttp.NewClient()
		rc.HTTPClient = &http.Client{Transport: transport()}
		rc.Logger = nil // its default logger writes every request to stderr
		b.ReportAllocs()
		for range b.N {
			req, _ := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Accept", "application/json")
			resp, err := rc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var w Widget
			err = json.NewDecoder(resp.Body).Decode(&w)
			resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			check(b, w)
		}
	})

	b.Run("client=resty", func(b *testing.B) {
		rc := resty.NewWithClient(&http.Client{Transport: transport()})
		b.ReportAllocs()
		for range b.N {
			var w Widget
			resp, err := rc.R().SetContext(ctx).SetResult(&w).Get(url)
			if err != nil || resp.StatusCode() != 200 {
				b.Fatal(err)
			}
			check(b, w)
		}
	})

	b.Run("client=concord", func(b *testing.B) {
		c, err := concord.New(srv.URL, concord.WithTransport(transport()))
		if err != nil {
			b.Fatal(err)
		}
		widgets := concord.NewResource[Widget](c, "widgets")
		b.ReportAllocs()
		for range b.N {
			res, err := widgets.Get(ctx, "1")
			if err != nil {
				b.Fatal(err)
			}
			check(b, res.Value)
		}
	})
}

func BenchmarkConditionalPut(b *testing.B) {
	srv := happyServer(b)
	url := srv.URL + "/widgets/1"
	ctx := context.Background()
	in := Widget{ID: "1", Name: "gear", Price: 100, Stock: 11}

	b.Run("client=nethttp", func(b *testing.B) {
		hc := &http.Client{Transport: transport()}
		b.ReportAllocs()
		for range b.N {
			body, _ := json.Marshal(in)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			req.Header.Set("If-Match", widgetETag)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var out Widget
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err, resp.StatusCode)
			}
		}
	})

	b.Run("client=retryablehttp", func(b *testing.B) {
		rc := retryablehttp.NewClient()
		rc.HTTPClient = &http.Client{Transport: transport()}
		rc.Logger = nil
		b.ReportAllocs()
		for range b.N {
			body, _ := json.Marshal(in)
			req, _ := retryablehttp.NewRequestWithContext(ctx, http.MethodPut, url, body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("If-Match", widgetETag)
			resp, err := rc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var out Widget
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err)
			}
		}
	})

	b.Run("client=resty", func(b *testing.B) {
		rc := resty.NewWithClient(&http.Client{Transport: transport()})
		b.ReportAllocs()
		for range b.N {
			var out Widget
			resp, err := rc.R().SetContext(ctx).SetHeader("If-Match", widgetETag).SetBody(in).SetResult(&out).Put(url)
			if err != nil || resp.StatusCode() != 200 {
				b.Fatal(err, resp.StatusCode())
			}
		}
	})

	for _, variant := range []struct {
		name string
		opts []concord.ResourceOption
	}{
		{"client=concord", nil},
		{"client=concord-nokey", []concord.ResourceOption{concord.WithoutIdempotencyKey()}},
	} {
		b.Run(variant.name, func(b *testing.B) {
			c, err := concord.New(srv.URL, concord.WithTransport(transport()), concord.WithVersionCacheBytes(0))
			if err != nil {
				b.Fatal(err)
			}
			widgets := concord.NewResource[Widget](c, "widgets", variant.opts...)
			b.ReportAllocs()
			for range b.N {
				res, err := widgets.Replace(ctx, "1", in, concord.WithVersion(widgetETag))
				if err != nil {
					b.Fatal(err)
				}
				if res.Value.Stock != 11 {
					b.Fatal(fmt.Sprint(res.Value))
				}
			}
		})
	}
}
