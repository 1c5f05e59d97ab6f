package concord_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/concord-go/concord"
)

// TestStatus300IsNotASuccess: only 2xx is a success (and 304 to a read); a
// 300 to a write does not say it took effect, and its body is an error
// body, kept to its bounded prefix.
func TestStatus300IsNotASuccess(t *testing.T) {
	c, mux := setup(t, concord.WithLimits(concord.Limits{MaxErrorBodyBytes: 10, MaxResponseBytes: 20}))
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMultipleChoices)
		fmt.Fprint(w, strings.Repeat("choice ", 10))
	})
	_, err := c.Do(bounded(t), &concord.Request{Method: http.MethodPut, Path: "/x", Body: "{}"}, nil)
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 300 || errors.Is(err, concord.ErrWriteApplied) || !apiErr.Truncated || len(apiErr.Body) != 10 {
		t.Errorf("PUT answered 300 = %v; want an APIError, not applied, body cut to 10 bytes", err)
	}
}

func TestErrorBodyOfExactlyTheLimitIsWhole(t *testing.T) {
	c, mux := setup(t, concord.WithLimits(concord.Limits{MaxErrorBodyBytes: 10}))
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, "0123456789")
	})
	_, err := c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) || apiErr.Truncated || string(apiErr.Body) != "0123456789" {
		t.Errorf("409 with a body of exactly the limit = %+v; want it whole, not truncated", apiErr)
	}
}

func TestAPIErrorTextAndSentinels(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-7")
		w.WriteHeader(http.StatusGone)
	})
	mux.HandleFunc("/stale", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusPreconditionFailed) })
	mux.HandleFunc("/taken", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusConflict) })
	_, err := c.Do(bounded(t), &concord.Request{Path: "/gone"}, nil)
	if !errors.Is(err, concord.ErrNotFound) || !strings.Contains(err.Error(), "[request req-7]") || strings.Contains(err.Error(), "(") {
		t.Errorf("410 = %v; want ErrNotFound, the request ID, no conflict kind", err)
	}
	if _, err := c.Do(bounded(t), &concord.Request{Method: http.MethodPost, Path: "/taken"}, nil); !errors.Is(err, concord.ErrConflict) {
		t.Errorf("409 = %v; want ErrConflict", err)
	}
	_, err = c.Do(bounded(t), &concord.Request{Method: http.MethodPut, Path: "/stale", IfMatch: `"v1"`}, nil)
	if !errors.Is(err, concord.ErrConflict) || !strings.Contains(err.Error(), "(stale version)") || strings.Contains(err.Error(), "[request") {
		t.Errorf("412 to a conditional PUT = %v; want ErrConflict naming the stale version, no request ID", err)
	}
}

func TestOddStatusesAreTyped(t *testing.T) {
	for _, status := range []int{299, 302, 418, 599, 999} {
		c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
		mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
		resp, err := c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
		var apiErr *concord.APIError
		switch {
		case status < 300:
			if err != nil || resp.StatusCode != status {
				t.Errorf("Do answered %d = %v; want success", status, err)
			}
		case !errors.As(err, &apiErr) || apiErr.StatusCode != status:
			t.Errorf("Do answered %d = %v; want an *APIError with that status", status, err)
		}
	}
}

func TestProblemDetailsAreParsed(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		io := `{"type":"https://example.com/probs/out-of-credit","title":"You do not have enough credit.","detail":"Your balance is 30.","balance":30}`
		fmt.Fprint(w, io)
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) || apiErr.Problem == nil {
		t.Fatalf("Get(1) = %v; want *APIError with a Problem", err)
	}
	p := apiErr.Problem
	if p.Type != "https://example.com/probs/out-of-credit" || p.Title != "You do not have enough credit." || p.Extensions["balance"] != 30.0 {
		t.Errorf("Problem = %+v; want the out-of-credit document", p)
	}
	if !strings.Contains(err.Error(), "enough credit") {
		t.Errorf("error text %q does not carry the problem title", err)
	}
}
