// Command github wraps a GitHub-shaped API (tracker.go) and uses it the
// way a service would, against an embedded fake of that API: nested
// routes, Link paging two issues a page, a bearer token the server
// revokes (the wrapper gets a new one on the 401 and resends), and
// GitHub's rate limit (403 with X-RateLimit-Reset), here 20 requests a
// second, waited out. Eight voters vote at once, each with a wrapper of
// its own. It exits non-zero unless every issue was opened once and no
// vote was lost.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "github:", err)
		os.Exit(1)
	}
}

// fake is the embedded GitHub-shaped API, its tokens, and the waits the
// wrappers made for its rate limit.
type fake struct {
	api    *concordtest.API
	tokens *concordtest.Tokens
	mu     sync.Mutex
	issued int
	waits  int
}

func newFake() *fake {
	f := &fake{tokens: concordtest.NewTokens(time.Now)}
	f.api = concordtest.NewAPI(concordtest.Collections("repos/{owner}/issues"), concordtest.PageSize(2),
		concordtest.RequireBearer(f.tokens), concordtest.GitHubRateLimit(20, time.Second))
	return f
}

// counted is the hook that counts the waits for the rate limit.
func (f *fake) counted() concord.Option {
	return concord.WithHooks(concord.Hooks{OnRetry: func(_ context.Context, e concord.RetryEvent) {
		if e.StatusCode == http.StatusForbidden {
			f.mu.Lock()
			f.waits++
			f.mu.Unlock()
		}
	}})
}

// source is the OAuth client of the service: each call issues a token.
func (f *fake) source(context.Context) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued++
	tok := fmt.Sprintf("token-%d", f.issued)
	f.tokens.Issue(tok, time.Hour)
	return tok, time.Now().Add(time.Hour), nil
}

const voters = 8

func run(ctx context.Context, w io.Writer) error {
	f := newFake()
	srv := httptest.NewServer(f.api)
	defer srv.Close()
	tracker, err := NewTracker(srv.URL, "octo", f.source, f.counted())
	if err != nil {
		return err
	}
	for _, title := range []string{"crash on start", "typo in README", "slow search"} {
		id, err := tracker.Open(ctx, title)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "opened #%s %s\n", id, title)
	}
	f.tokens.Revoke("token-1")
	fmt.Fprintln(w, "the server revokes the token")

	var wg sync.WaitGroup
	errs := make(chan error, voters)
	for range voters {
		voter, err := NewTracker(srv.URL, "octo", f.source, f.counted())
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs <- voter.Vote(ctx, 1) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "%d voters voted for #1 at once\n", voters)

	var listed []Issue
	for issue, err := range tracker.Issues(ctx) {
		if err != nil {
			return err
		}
		listed = append(listed, issue)
		fmt.Fprintf(w, "#%s %s: %d votes\n", issue.ID, issue.Title, issue.Votes)
	}
	fmt.Fprintf(w, "tokens issued: %d; waits for the rate limit: %d\n", f.issued, f.waits)
	switch {
	case len(listed) != 3 || f.api.Len("repos/octo/issues") != 3:
		return fmt.Errorf("listed %d issues, %d stored; want 3 and 3", len(listed), f.api.Len("repos/octo/issues"))
	case listed[0].Votes != voters:
		return fmt.Errorf("#1 has %d votes; want %d", listed[0].Votes, voters)
	}
	return nil
}
