package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// TokenFunc returns a bearer token and when it expires (the zero time for
// never). An oauth2.TokenSource adapts as
//
//	func(context.Context) (string, time.Time, error) {
//		t, err := ts.Token()
//		if err != nil {
//			return "", time.Time{}, err
//		}
//		return t.AccessToken, t.Expiry, nil
//	}
type TokenFunc func(ctx context.Context) (token string, expiry time.Time, err error)

// tokenEarly is how long before its expiry a token is refreshed, so that
// it does not expire in flight; a token that lives less than four times
// that is refreshed when a quarter of its life is left.
const tokenEarly = time.Minute

// refreshDue is when a token asked for at asked and expiring at exp is
// refreshed: tokenEarly before its expiry, or a quarter of its life when
// that is shorter, so that a short-lived token is asked for once in its
// life rather than by every call (a 30 s token drew 383 refreshes a
// second). The zero time for a token that does not expire.
func refreshDue(asked, exp time.Time) time.Time {
	if exp.IsZero() {
		return time.Time{}
	}
	return exp.Add(-min(tokenEarly, exp.Sub(asked)/4))
}

// tokenCache keeps the current token of a TokenFunc and runs its
// refreshes: one at a time, each in a goroutine of its own, so that no call
// waits on a token source longer than its own context allows, even one that
// ignores its context (as an oauth2.TokenSource adapter must).
type tokenCache struct {
	f TokenFunc

	mu      sync.Mutex
	token   string
	expiry  time.Time
	due     time.Time     // when token is refreshed (refreshDue); zero: never
	refresh *tokenRefresh // the refresh in flight, nil when none
}

// tokenRefresh is one call of the TokenFunc, shared by every call that
// waits for it.
type tokenRefresh struct {
	done  chan struct{} // closed when token and err are set
	token string
	err   error
}

// get returns a token that is not about to expire and is not stale (the
// one a 401 refused), asking f for a new one when needed. A token that is
// due for refresh but still valid is used while the refresh runs; without
// one, get waits for the refresh or for ctx, whichever ends first. timeout
// bounds a refresh that this call starts.
func (t *tokenCache) get(ctx context.Context, now time.Time, stale string, timeout time.Duration) (string, error) {
	t.mu.Lock()
	usable := t.token != "" && t.token != stale
	if usable && (t.due.IsZero() || now.Before(t.due)) {
		tok := t.token
		t.mu.Unlock()
		return tok, nil
	}
	fl := t.refresh
	if fl == nil {
		fl = t.start(ctx, now, timeout)
	}
	if usable && (t.expiry.IsZero() || now.Before(t.expiry)) {
		tok := t.token
		t.mu.Unlock()
		return tok, nil
	}
	t.mu.Unlock()
	select {
	case <-fl.done:
		return fl.token, fl.err
	case <-ctx.Done():
		return "", fmt.Errorf("concord: waiting for a token: %w", ctx.Err())
	}
}

// start begins a refresh at now, with t.mu held. f runs with ctx's values
// but not its cancellation, since other calls may wait for the same token,
// and with timeout as its deadline; a refresh still running then is given
// up (f's goroutine ends when f returns), so that a hung source costs each
// call its own deadline and the next call a fresh try. A panic in f, on
// this goroutine of concord's, is recovered and is the refresh's error.
func (t *tokenCache) start(ctx context.Context, now time.Time, timeout time.Duration) *tokenRefresh {
	fl := &tokenRefresh{done: make(chan struct{})}
	t.refresh = fl
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	giveUp := time.AfterFunc(timeout, func() {
		t.finish(fl, "", time.Time{}, now, fmt.Errorf("concord: getting a token: the token source did not answer within %v", timeout))
	})
	go func() {
		defer cancel()
		tok, exp, err := t.ask(rctx)
		giveUp.Stop()
		switch {
		case err != nil:
			err = fmt.Errorf("concord: getting a token: %w", err)
		case tok == "" || strings.ContainsAny(tok, "\r\n\x00"):
			err = errors.New("concord: the token source returned an empty or malformed token")
		case !exp.IsZero() && !exp.After(now):
			err = fmt.Errorf("concord: the token source returned a token that expired at %v", exp)
		}
		t.finish(fl, tok, exp, now, err)
	}()
	return fl
}

// ask calls f, a panic in it turned into an error.
func (t *tokenCache) ask(ctx context.Context) (tok string, exp time.Time, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: TokenFunc: %v", errPanicked, p)
		}
	}()
	return t.f(ctx)
}

// finish settles fl, asked at asked, once: the first of its answer and its
// timeout wins.
func (t *tokenCache) finish(fl *tokenRefresh, tok string, exp, asked time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refresh != fl {
		return // settled already
	}
	t.refresh = nil
	if err == nil {
		t.due = refreshDue(asked, exp)
		if tok == t.token && exp.Equal(t.expiry) {
			// The source gave the token it gave before (it caches it):
			// asking again before it expires would get it again.
			t.due = exp
		}
		t.token, t.expiry, fl.token = tok, exp, tok
	}
	fl.err = err
	close(fl.done)
}

// authorize adds the attempt's credentials: a token from the token
// source, then the signer's signature.
func (c *Client) authorize(ctx context.Context, req *http.Request, cl *call) error {
	if c.tokens != nil {
		tok, err := c.tokens.get(ctx, c.clock.Now(), cl.refusedToken, cl.retry.AttemptTimeout)
		if err != nil {
			return err
		}
		cl.token = tok
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if c.signer != nil {
		if err := c.signer(req); err != nil {
			return fmt.Errorf("concord: signing the request: %w", err)
		}
	}
	return nil
}
