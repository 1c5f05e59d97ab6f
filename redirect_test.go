package concord_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord"
)

func TestRedirectsStopAfterTen(t *testing.T) {
	c, mux := setup(t)
	var hits atomic.Int32
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	if _, err := c.Do(bounded(t), &concord.Request{Path: "/loop"}, nil); err == nil || hits.Load() != 10 {
		t.Errorf("a redirect loop = %v after %d requests; want an error after 10 requests, as net/http", err, hits.Load())
	}
}

func TestRedirectOffOriginCarriesOnlySafeHeaders(t *testing.T) {
	credentials := map[string]string{
		"X-Auth-Key":                "k1",
		"Ocp-Apim-Subscription-Key": "k2",
		"X-Functions-Key":           "k3",
		"X-Api-Key":                 "k4",
		"X-Tenant":                  "t1",
		"Cookie":                    "session=s",
	}
	tests := []struct {
		name      string
		sameHost  bool
		sensitive []string
		want      map[string]bool // header -> arrives
	}{
		{"another origin", false, nil, map[string]bool{"Authorization": false, "X-Auth-Key": false, "Ocp-Apim-Subscription-Key": false, "X-Functions-Key": false, "X-Api-Key": false, "X-Tenant": false, "Cookie": false, "User-Agent": true, "Prefer": true}},
		{"same origin", true, nil, map[string]bool{"Authorization": true, "X-Auth-Key": true, "X-Tenant": true, "User-Agent": true}},
		{"another origin, Prefer marked sensitive", false, []string{"prefer"}, map[string]bool{"Prefer": false, "User-Agent": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got http.Header
			target := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Clone()
				fmt.Fprint(w, `{"name":"gear"}`)
			})
			other := httptest.NewServer(target)
			t.Cleanup(other.Close)
			opts := []concord.Option{concord.WithHeader("Authorization", "Bearer "+"tok"), concord.WithHeader("Prefer", "return=minimal"), concord.WithSensitive(tt.sensitive...)}
			for k, v := range credentials {
				opts = append(opts, concord.WithHeader(k, v))
			}
			c, mux := setup(t, opts...)
			mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
				to := other.URL
				if tt.sameHost {
					to = ""
				}
				http.Redirect(w, r, to+"/widgets/moved", http.StatusFound)
			})
			mux.Handle("/widgets/moved", target)
			if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); err != nil {
				t.Fatalf("Get through a redirect = %v", err)
			}
			for name, arrives := range tt.want {
				if (got.Get(name) != "") != arrives {
					t.Errorf("header %s at the redirect target = %q; want it there: %v", name, got.Get(name), arrives)
				}
			}
		})
	}
}

// TestAttemptTimeoutBoundsEveryHop: the attempt timeout bounds one attempt,
// its redirects included: nine same-origin hops of 100ms each do not get a
// fresh 300ms each (issue #30: one attempt ran 2.17 s over 9 hops).
func TestAttemptTimeoutBoundsEveryHop(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1, AttemptTimeout: 300 * time.Millisecond}))
	var hits atomic.Int32
	mux.HandleFunc("/hop/", func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		time.Sleep(100 * time.Millisecond)
		if n < 9 {
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n), http.StatusFound)
			return
		}
		fmt.Fprint(w, `{}`)
	})
	_, err := c.Do(bounded(t), &concord.Request{Path: "/hop/0"}, nil)
	var timeout *concord.AttemptTimeoutError
	if !errors.As(err, &timeout) || hits.Load() >= 9 {
		t.Errorf("nine hops of 100ms under a 300ms attempt timeout = %v after %d hops; want an *AttemptTimeoutError before the ninth", err, hits.Load())
	}
}
