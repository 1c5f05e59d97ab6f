package main

import (
	"context"
	"iter"
	"net/http"

	"github.com/concord-go/concord"
)

// Issue is an issue of the GitHub-shaped API.
type Issue struct {
	ID    string `json:"id,omitempty"`
	Title string `json:"title"`
	Votes int    `json:"votes"`
}

// Tracker is the wrapper a service writes around a GitHub-shaped API:
// issues under /repos/{owner}/issues, numbered, paged with Link headers,
// behind an expiring bearer token and GitHub's rate limit (403 with
// X-RateLimit-Reset). Its tests (tracker_test.go) run it against
// concordtest alone.
type Tracker struct{ issues *concord.Resource[Issue] }

// NewTracker wraps the issues of owner at base, with tokens from source.
func NewTracker(base, owner string, source concord.TokenFunc, opts ...concord.Option) (*Tracker, error) {
	c, err := concord.New(base, append(opts,
		concord.WithTokenSource(source),
		// GitHub's limit is per hour, and a wait for its reset costs no
		// server work: more attempts than the default four.
		concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 10, Retryable: func(resp *http.Response, err error) bool {
			return concord.DefaultRetryable(resp, err) || concord.RateLimited(resp)
		}}))...)
	if err != nil {
		return nil, err
	}
	return &Tracker{issues: concord.NewResource[Issue](c, "repos/"+owner+"/issues")}, nil
}

// Open files an issue: never twice, whatever is retried.
func (t *Tracker) Open(ctx context.Context, title string) (string, error) {
	res, err := t.issues.Create(ctx, Issue{Title: title})
	if err != nil {
		return "", err
	}
	return res.Value.ID, nil
}

// Vote adds a vote to an issue: never lost, however many vote at once.
func (t *Tracker) Vote(ctx context.Context, number int) error {
	_, err := t.issues.Update(ctx, concord.ID(number), func(i *Issue) error { i.Votes++; return nil })
	return err
}

// Issues lists every issue, page after page.
func (t *Tracker) Issues(ctx context.Context) iter.Seq2[Issue, error] { return t.issues.All(ctx) }
