package concord

// Layer: Credentials and redaction (ARCHITECTURE.md).

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
// it does not expire in flight.
const tokenEarly = time.Minute

// WithTokenSource sends "Authorization: Bearer <token>" on every attempt,
// with the token from f: kept until a minute before it expires, then asked
// for again, one refresh at a time, which concurrent calls share. A token
// that is due but not yet expired is used while its refresh runs. A call
// never waits for a token past its own context, whatever f does with the
// context it is given (the call's values without its cancellation, and
// the attempt timeout as deadline, after which the refresh is given up).
// When the server answers 401 the token is asked for again and the request
// sent once more, since a 401 means it was not processed: that resend is
// an allowance of its own, made even when the retry policy allows no
// retry, and does not use up the call's retries. The token
// follows the redirect and redaction rules of any credential. Nil is an
// error from New.
func WithTokenSource(f TokenFunc) Option {
	return func(c *Client) error {
		if f == nil {
			return errors.New("concord: nil token source")
		}
		c.tokens = &tokenCache{f: f}
		return nil
	}
}

// WithSigner calls sign on every attempt, retries included, just before it
// is sent, so that a request signature (AWS SigV4, Azure SharedKey, an
// HMAC) covers the attempt's headers and is fresh. The body is available
// through req.GetBody. What sign adds follows the redirect and redaction
// rules: it is never carried to another origin, and shown in logs only if
// allowlisted. An error from sign ends the call with it. Nil is an error
// from New.
func WithSigner(sign func(req *http.Request) error) Option {
	return func(c *Client) error {
		if sign == nil {
			return errors.New("concord: nil signer")
		}
		c.signer = sign
		return nil
	}
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
	if usable && (t.expiry.IsZero() || now.Add(tokenEarly).Before(t.expiry)) {
		tok := t.token
		t.mu.Unlock()
		return tok, nil
	}
	fl := t.refresh
	if fl == nil {
		fl = t.start(ctx, timeout)
	}
	if usable && now.Before(t.expiry) {
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

// start begins a refresh, with t.mu held. f runs with ctx's values but not
// its cancellation, since other calls may wait for the same token, and
// with timeout as its deadline; a refresh still running then is given up
// (f's goroutine ends when f returns), so that a hung source costs each
// call its own deadline and the next call a fresh try.
func (t *tokenCache) start(ctx context.Context, timeout time.Duration) *tokenRefresh {
	fl := &tokenRefresh{done: make(chan struct{})}
	t.refresh = fl
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	giveUp := time.AfterFunc(timeout, func() {
		t.finish(fl, "", time.Time{}, fmt.Errorf("concord: getting a token: the token source did not answer within %v", timeout))
	})
	go func() {
		defer cancel()
		tok, exp, err := t.f(rctx)
		giveUp.Stop()
		switch {
		case err != nil:
			err = fmt.Errorf("concord: getting a token: %w", err)
		case tok == "" || strings.ContainsAny(tok, "\r\n\x00"):
			err = errors.New("concord: the token source returned an empty or malformed token")
		}
		t.finish(fl, tok, exp, err)
	}()
	return fl
}

// finish settles fl, once: the first of its answer and its timeout wins.
func (t *tokenCache) finish(fl *tokenRefresh, tok string, exp time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refresh != fl {
		return // settled already
	}
	t.refresh = nil
	if err == nil {
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
