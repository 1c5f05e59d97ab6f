package concord_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/concord-go/concord"
)

func TestDoWithAnEmptyBodyDecodesNothing(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	var out Widget
	if _, err := c.Do(bounded(t), &concord.Request{Method: http.MethodDelete, Path: "/x"}, &out); err != nil {
		t.Errorf("Do(204 into out) = %v; want no decode error", err)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts []concord.Option
		ok   bool
	}{
		{"https", "https://api.example.com/v1", nil, true},
		{"trailing slash", "http://127.0.0.1:8080/", nil, true},
		{"relative", "/v1", nil, false},
		{"no scheme", "api.example.com", nil, false},
		{"ftp", "ftp://example.com", nil, false},
		{"query (a SAS token)", "https://example.com/?sv=2023&sig=abc", nil, true},
		{"fragment", "https://example.com/#x", nil, false},
		{"malformed query", "https://example.com/?a=%zz", nil, false},
		{"garbage", "http://[::1", nil, false},
		{"bad header", "https://example.com", []concord.Option{concord.WithHeader("Bad Name", "x")}, false},
		{"header injection", "https://example.com", []concord.Option{concord.WithHeader("X-A", "a\r\nX-B: b")}, false},
		{"negative response limit", "https://example.com", []concord.Option{concord.WithLimits(concord.Limits{MaxResponseBytes: -1})}, false},
		{"negative error body limit", "https://example.com", []concord.Option{concord.WithLimits(concord.Limits{MaxErrorBodyBytes: -1})}, false},
		{"no version cache", "https://example.com", []concord.Option{concord.WithLimits(concord.Limits{VersionCacheBytes: -1})}, true},
		{"negative retries", "https://example.com", []concord.Option{concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: -1})}, false},
		{"bad key header", "https://example.com", []concord.Option{concord.WithKeyPolicy(concord.KeyPolicy{Header: "a b"})}, false},
		{"unknown key format", "https://example.com", []concord.Option{concord.WithKeyPolicy(concord.KeyPolicy{Format: 7})}, false},
		{"zero policies mean defaults", "https://example.com", []concord.Option{concord.WithKeyPolicy(concord.KeyPolicy{}), concord.WithLimits(concord.Limits{})}, true},
		{"nil options mean defaults", "https://example.com", []concord.Option{nil, concord.WithHTTPClient(nil), concord.WithClock(nil)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := concord.New(tt.url, tt.opts...)
			if (err == nil) != tt.ok {
				t.Errorf("New(%q) = %v; want ok=%v", tt.url, err, tt.ok)
			}
		})
	}
}

func TestDo(t *testing.T) {
	c, mux := setup(t, concord.WithHeader("Authorization", "Bearer s3cret"), concord.WithHeader("User-Agent", "test/1"), concord.WithHeader("X-Tenant", "t1"))
	mux.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testHeader(t, r, "Authorization", "Bearer s3cret")
		testHeader(t, r, "User-Agent", "test/1")
		testHeader(t, r, "X-Tenant", "t1")
		testHeader(t, r, "X-Extra", "1")
		testHeader(t, r, "Idempotency-Key", "k1")
		testBody(t, r, `{"qty":2}`)
		w.Header().Set("Idempotent-Replayed", "true")
		fmt.Fprint(w, `{"id":"o1"}`)
	})
	var out struct{ ID string }
	resp, err := c.Do(context.Background(), &concord.Request{
		Method: "POST", Path: "/orders", Body: map[string]int{"qty": 2},
		Header: http.Header{"X-Extra": {"1"}}, IdempotencyKey: "k1",
	}, &out)
	if err != nil || out.ID != "o1" || !resp.Replayed {
		t.Errorf("Do = %+v, %v, out %+v; want o1, replayed", resp, err, out)
	}
	var bodies []string
	mux.HandleFunc("/raw", func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		_, _ = io.Copy(b, r.Body)
		bodies = append(bodies, b.String())
		if len(bodies) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	if _, err := c.Do(context.Background(), &concord.Request{Method: "PUT", Path: "/raw", Body: strings.NewReader(`{"raw":true}`)}, nil); err != nil || len(bodies) != 2 || bodies[1] != `{"raw":true}` {
		t.Errorf("Do with a reader body = %v, bodies %q; want the same bytes twice", err, bodies)
	}
	if _, err := c.Do(context.Background(), &concord.Request{Path: "https://elsewhere.example/steal"}, nil); err == nil || !strings.Contains(err.Error(), "outside the client's base URL") {
		t.Errorf("Do to another origin = %v; want it refused before anything is sent", err)
	}
	if _, err := c.Do(context.Background(), &concord.Request{Path: c.BaseURL() + "/raw", Method: "PUT", Body: []byte(`{}`)}, nil); err != nil {
		t.Errorf("Do to an absolute URL below the base = %v", err)
	}
	if _, err := c.Do(context.Background(), &concord.Request{Path: "/x", IfMatch: `W/"w"`}, nil); !errors.Is(err, concord.ErrInvalidETag) {
		t.Errorf("Do with a weak If-Match = %v; want ErrInvalidETag", err)
	}
}

// TestBaseURLQueryReachesEveryRequest: a base URL's query (an Azure SAS,
// api-version) is sent with every request, merged with the call's own, and
// never shown in errors.
func TestBaseURLQueryReachesEveryRequest(t *testing.T) {
	var queries []string
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/widgets/", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		if r.Method == http.MethodGet {
			w.Header().Set("ETag", `"v1"`)
			fmt.Fprint(w, `{"name":"gear"}`)
			return
		}
		w.WriteHeader(http.StatusConflict)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL+"/v1?sv=2023-11-03&sig=SECRET")
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "1", concord.WithQuery("expand", "all")); err != nil {
		t.Fatal(err)
	}
	_, err := widgets.Replace(bounded(t), "1", Widget{Name: "cog"})
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("Replace = %v; want an error that does not show the SAS", err)
	}
	if len(queries) != 2 || queries[0] != "expand=all&sv=2023-11-03&sig=SECRET" || queries[1] != "sv=2023-11-03&sig=SECRET" {
		t.Errorf("queries = %q; want the base query on every request", queries)
	}
}
