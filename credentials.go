package concord

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
// for again (one caller at a time asks). When the server answers 401 the
// token is asked for again and the request sent once more, since a 401
// means it was not processed. The token follows the redirect and redaction
// rules of any credential. Nil is an error from New.
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

// tokenCache keeps the current token of a TokenFunc.
type tokenCache struct {
	f TokenFunc

	mu     sync.Mutex
	token  string
	expiry time.Time
}

// get returns a token that is not about to expire and is not stale (the
// one a 401 refused), asking f for a new one when needed.
func (t *tokenCache) get(ctx context.Context, now time.Time, stale string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.token != stale && (t.expiry.IsZero() || now.Add(tokenEarly).Before(t.expiry)) {
		return t.token, nil
	}
	tok, exp, err := t.f(ctx)
	if err != nil {
		return "", fmt.Errorf("concord: getting a token: %w", err)
	}
	if tok == "" || strings.ContainsAny(tok, "\r\n\x00") {
		return "", errors.New("concord: the token source returned an empty or malformed token")
	}
	t.token, t.expiry = tok, exp
	return tok, nil
}

// authorize adds the attempt's credentials: a token from the token
// source, then the signer's signature.
func (c *Client) authorize(ctx context.Context, req *http.Request, cl *call) error {
	if c.tokens != nil {
		tok, err := c.tokens.get(ctx, c.clock.Now(), cl.refusedToken)
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
