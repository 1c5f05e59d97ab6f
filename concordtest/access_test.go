package concordtest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/concord-go/concord/concordtest"
)

// TestCollectionsAtAnyPath: a declared pattern serves nested collections,
// one per value of its parameters, and items below them.
func TestCollectionsAtAnyPath(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.Collections("repos/{owner}/issues"))
	resp, body := call(t, srv, "POST", "/repos/octo/issues", `{"title":"a"}`)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/repos/octo/issues/1" {
		t.Fatalf("POST /repos/octo/issues = %d at %q: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if resp, _ := call(t, srv, "GET", "/repos/octo/issues/1", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET the issue = %d", resp.StatusCode)
	}
	if n, m := srv.Len("repos/octo/issues"), srv.Len("repos/other/issues"); n != 1 || m != 0 {
		t.Errorf("collections hold %d and %d; want one per owner", n, m)
	}
	if resp, _ := call(t, srv, "GET", "/repos/octo/pulls/1/x", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET an undeclared deep path = %d; want 404", resp.StatusCode)
	}
}

// TestMountedUnderAPrefix: behind http.StripPrefix, the Location of a
// create and the next-page links carry the prefix the client used.
func TestMountedUnderAPrefix(t *testing.T) {
	api := concordtest.NewAPI(concordtest.PageSize(1))
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", api))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for range 2 {
		resp, err := http.Post(srv.URL+"/api/widgets", "application/json", strings.NewReader(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/api/widgets/") {
			t.Errorf("Location = %q; want it under /api", loc)
		}
	}
	resp, err := http.Get(srv.URL + "/api/widgets")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if link := resp.Header.Get("Link"); !strings.HasPrefix(link, "</api/widgets?page_token=") {
		t.Errorf("Link = %q; want the next page under /api", link)
	}
}

// TestBearerTokens: without a valid token, 401 with a challenge; a token
// that expires or is revoked stops working.
func TestBearerTokens(t *testing.T) {
	clock := concordtest.NewClock(time.Unix(1000, 0))
	tokens := concordtest.NewTokens(clock.Now)
	tokens.Issue("short", time.Minute)
	tokens.Issue("forever", 0)
	srv := concordtest.NewServer(t, concordtest.RequireBearer(tokens))
	tests := []struct {
		token     string
		status    int
		challenge string
	}{
		{"", 401, `Bearer realm="concordtest"`},
		{"nope", 401, `error="invalid_token"`},
		{"short", 200, ""},
		{"forever", 200, ""},
	}
	check := func(when string) {
		for _, tt := range tests {
			var h []string
			if tt.token != "" {
				h = []string{"Authorization", "Bearer " + tt.token}
			}
			resp, _ := call(t, srv, "GET", "/widgets", "", h...)
			if resp.StatusCode != tt.status || !strings.Contains(resp.Header.Get("WWW-Authenticate"), tt.challenge) {
				t.Errorf("%s: token %q = %d %q; want %d %q", when, tt.token, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tt.status, tt.challenge)
			}
		}
	}
	check("fresh")
	clock.Sleep(context.Background(), time.Minute)
	tests[2].status, tests[2].challenge = 401, "expired"
	tokens.Revoke("forever")
	tests[3].status, tests[3].challenge = 401, `error="invalid_token"`
	check("after expiry and revocation")
}

// TestRateLimits: over the limit, 429 with Retry-After (the IETF draft's
// headers) or GitHub's 403 with X-RateLimit-*; a new window lets requests
// through again.
func TestRateLimits(t *testing.T) {
	clock := concordtest.NewClock(time.Unix(1_800_000_000, 0))
	tests := []struct {
		name      string
		opt       func(int, time.Duration) concordtest.Option
		status    int
		remaining string
		reset     string
	}{
		{"IETF", concordtest.RateLimit, 429, "Ratelimit-Remaining", "Retry-After"},
		{"GitHub", concordtest.GitHubRateLimit, 403, "X-Ratelimit-Remaining", "X-Ratelimit-Reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := concordtest.NewServer(t, tt.opt(2, time.Minute), concordtest.Now(clock.Now))
			for i, want := range []int{200, 200, tt.status} {
				resp, _ := call(t, srv, "GET", "/widgets", "")
				if resp.StatusCode != want {
					t.Errorf("request %d = %d; want %d", i+1, resp.StatusCode, want)
				}
				if i == 2 && (resp.Header.Get(tt.remaining) != "0" || resp.Header.Get(tt.reset) == "") {
					t.Errorf("limited answer headers %v; want %s 0 and %s", resp.Header, tt.remaining, tt.reset)
				}
			}
			clock.Sleep(context.Background(), time.Minute)
			if resp, _ := call(t, srv, "GET", "/widgets", ""); resp.StatusCode != 200 {
				t.Errorf("in the next window = %d; want 200", resp.StatusCode)
			}
		})
	}
}
