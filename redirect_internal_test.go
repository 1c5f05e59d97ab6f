package concord

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestRedirectPolicyComparesOrigins: the credentials' fate on a redirect
// depends on scheme, host and port, not on the host alone: https to http
// on the same host is another origin and gets no credentials.
func TestRedirectPolicyComparesOrigins(t *testing.T) {
	tests := []struct {
		from, to  string
		keepCreds bool
	}{
		{"https://api.example.com/a", "http://api.example.com/a", false},
		{"https://api.example.com/a", "https://api.example.com:8443/a", false},
		{"https://api.example.com/a", "https://cdn.example.com/a", false},
		{"https://api.example.com/a", "https://API.example.com:443/b", true},
		{"http://api.example.com/a", "http://api.example.com:80/b?x=1", true},
	}
	for _, tt := range tests {
		from, _ := url.Parse(tt.from)
		to, _ := url.Parse(tt.to)
		req := &http.Request{URL: to, Header: http.Header{"Authorization": {"Bearer t"}, "X-Api-Key": {"k"}, "Accept": {"application/json"}}}
		c := &Client{}
		if err := c.redirectPolicy(nil)(req, []*http.Request{{URL: from}}); err != nil {
			t.Fatal(err)
		}
		got := req.Header.Get("Authorization") != "" && req.Header.Get("X-Api-Key") != ""
		if got != tt.keepCreds || req.Header.Get("Accept") == "" {
			t.Errorf("redirect %s -> %s: credentials kept = %v; want %v (and Accept kept)", tt.from, tt.to, got, tt.keepCreds)
		}
	}
}

func TestDefaultAttemptTimeout(t *testing.T) {
	c, err := New("https://api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.retry.AttemptTimeout; got != 30*time.Second {
		t.Errorf("default AttemptTimeout = %v; want 30s", got)
	}
	if got := c.sender.Transport.(*attemptTransport).deadlines.timeout; got != DefaultAttemptTimeout {
		t.Errorf("transport's attempt timeout = %v; want %v", got, DefaultAttemptTimeout)
	}
}

// TestWritesAreNotRedirectedAway: a write's redirect is followed only
// within its origin with its method kept; to another origin, or turned
// into a GET, the redirect is the answer.
func TestWritesAreNotRedirectedAway(t *testing.T) {
	tests := []struct {
		method, from, to, redirected string
		follow                       bool
	}{
		{"PUT", "https://api.example.com/a", "https://api.example.com/b", "PUT", true},
		{"PUT", "https://api.example.com/a", "https://other.example.com/a", "PUT", false},
		{"POST", "https://api.example.com/a", "http://api.example.com/a", "POST", false},
		{"POST", "https://api.example.com/a", "https://api.example.com/b", "GET", false},
		{"DELETE", "https://api.example.com/a", "https://api.example.com/b", "GET", false},
		{"GET", "https://api.example.com/a", "https://other.example.com/a", "GET", true},
		{"HEAD", "https://api.example.com/a", "https://api.example.com/b", "HEAD", true},
	}
	for _, tt := range tests {
		from, _ := url.Parse(tt.from)
		to, _ := url.Parse(tt.to)
		req := &http.Request{Method: tt.redirected, URL: to, Header: http.Header{}}
		err := (&Client{}).redirectPolicy(nil)(req, []*http.Request{{Method: tt.method, URL: from}})
		if follow := err == nil; follow != tt.follow || !follow && err != http.ErrUseLastResponse {
			t.Errorf("%s %s redirected to %s %s: %v; want followed: %v", tt.method, tt.from, tt.redirected, tt.to, err, tt.follow)
		}
	}
}
