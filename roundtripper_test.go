package concord_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRoundTripper(t *testing.T) {
	c, mux := setup(t)
	var keys []string
	var hits atomic.Int32
	mux.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusNotFound) })
	hc := &http.Client{Transport: c.RoundTripper()}
	resp, err := hc.Post(c.BaseURL()+"/orders", "application/json", strings.NewReader(`{"qty":2}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || string(body) != `{"qty":2}` || len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Errorf("POST = %d %s with keys %q; want 201 after a retry with the same key", resp.StatusCode, body, keys)
	}
	resp, err = hc.Get(c.BaseURL() + "/missing")
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET of a missing item = %v, %v; want the 404 as a response", resp, err)
	} else {
		resp.Body.Close()
	}
	if _, err := hc.Get("http://attacker.example/steal"); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("GET outside the base URL = %v; want it refused", err)
	}
}

// TestRoundTripperRetriesOnlyWhatIsSafe: a PATCH is retried only with a
// precondition or a key; the caller's key is kept, and none is added to a
// PUT.
func TestRoundTripperRetriesOnlyWhatIsSafe(t *testing.T) {
	c, mux := setup(t)
	var hits atomic.Int32
	var keys []string
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if hits.Add(1)%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	hc := &http.Client{Transport: c.RoundTripper()}
	for _, tt := range []struct {
		method string
		header map[string]string
		want   int32
		key    string
	}{
		{"PATCH", nil, 1, ""},
		{"PATCH", map[string]string{"If-Match": `"v1"`}, 2, ""},
		{"PATCH", map[string]string{"Idempotency-Key": "k-1"}, 2, "k-1"},
		{"PUT", nil, 2, ""},
	} {
		hits.Store(0)
		keys = nil
		req, _ := http.NewRequest(tt.method, c.BaseURL()+"/x", strings.NewReader("{}"))
		for k, v := range tt.header {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if hits.Load() != tt.want || keys[0] != tt.key {
			t.Errorf("%s %v: %d requests with key %q; want %d with %q", tt.method, tt.header, hits.Load(), keys[0], tt.want, tt.key)
		}
	}
}
