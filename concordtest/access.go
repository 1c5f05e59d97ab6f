package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tokens are the bearer tokens an API accepts (see RequireBearer), for
// testing code that gets, refreshes and loses them. It is safe for
// concurrent use.
type Tokens struct {
	now func() time.Time

	mu      sync.Mutex
	expires map[string]time.Time // zero: never
}

// NewTokens returns an empty set of tokens whose expiries follow now; nil
// means time.Now (pass a Clock's Now to expire tokens without sleeping).
func NewTokens(now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{now: now, expires: make(map[string]time.Time)}
}

// Issue makes token valid for ttl from now, or forever when ttl is 0.
func (t *Tokens) Issue(token string, ttl time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var exp time.Time
	if ttl > 0 {
		exp = t.now().Add(ttl)
	}
	t.expires[token] = exp
}

// Revoke makes token invalid at once, as a server does when a credential
// leaks.
func (t *Tokens) Revoke(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.expires, token)
}

// check says why token is refused: "" when it is valid.
func (t *Tokens) check(token string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.expires[token]
	switch {
	case !ok:
		return "the token is not valid"
	case !exp.IsZero() && !t.now().Before(exp):
		return "the token expired"
	}
	return ""
}

// RequireBearer answers every request without a valid
// "Authorization: Bearer" token from tokens with 401 and a
// WWW-Authenticate challenge (RFC 6750: error="invalid_token" when a token
// was sent, none when it was missing). A refused request changes nothing.
func RequireBearer(tokens *Tokens) Option { return func(c *config) { c.tokens = tokens } }

// authorize returns the 401 for a request whose token is missing or not
// valid, or nil.
func (c *config) authorize(r *http.Request) *reply {
	if c.tokens == nil {
		return nil
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	challenge := `Bearer realm="concordtest"`
	why := "a bearer token is required"
	if ok && token != "" {
		if why = c.tokens.check(token); why == "" {
			return nil
		}
		challenge += `, error="invalid_token", error_description="` + why + `"`
	}
	rep := problem(http.StatusUnauthorized, ProblemUnauthorized, why, "")
	rep.header.Set("WWW-Authenticate", challenge)
	return rep
}

// rateLimit counts requests in fixed windows.
type rateLimit struct {
	limit  int
	window time.Duration
	github bool // GitHub's 403 and X-RateLimit-* headers, else 429 and RateLimit-*

	mu    sync.Mutex
	start time.Time
	used  int
}

// RateLimit lets limit requests through in each window and answers the
// rest with 429 and Retry-After, with RateLimit-Limit, -Remaining and
// -Reset (seconds) on every response, as the IETF draft has them.
func RateLimit(limit int, window time.Duration) Option {
	return func(c *config) { c.rateLimit = &rateLimit{limit: limit, window: window} }
}

// GitHubRateLimit lets limit requests through in each window and answers
// the rest as GitHub does: 403 with {"message":"API rate limit exceeded"},
// with X-RateLimit-Limit, -Remaining and -Reset (a Unix time) on every
// response and no Retry-After.
func GitHubRateLimit(limit int, window time.Duration) Option {
	return func(c *config) { c.rateLimit = &rateLimit{limit: limit, window: window, github: true} }
}

// take counts one request at now and returns the headers every response
// carries, and the reply for a request over the limit (nil when it may
// pass).
func (l *rateLimit) take(now time.Time) (http.Header, *reply) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() || !now.Before(l.start.Add(l.window)) {
		l.start, l.used = now, 0
	}
	l.used++
	reset := l.start.Add(l.window)
	remaining := max(l.limit-l.used, 0)
	wait := strconv.Itoa(int((reset.Sub(now) + time.Second - 1) / time.Second))
	h := http.Header{}
	if l.github {
		h.Set("X-RateLimit-Limit", strconv.Itoa(l.limit))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		h.Set("X-RateLimit-Reset", strconv.FormatInt((reset.UnixNano()+int64(time.Second)-1)/int64(time.Second), 10))
	} else {
		h.Set("RateLimit-Limit", strconv.Itoa(l.limit))
		h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
		h.Set("RateLimit-Reset", wait)
	}
	if l.used <= l.limit {
		return h, nil
	}
	var rep *reply
	if l.github {
		rep = jsonReply(http.StatusForbidden, map[string]string{"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"})
	} else {
		rep = problem(http.StatusTooManyRequests, ProblemRateLimited, fmt.Sprintf("more than %d requests in %v", l.limit, l.window), "")
		rep.header.Set("Retry-After", wait)
	}
	for k, v := range h {
		rep.header[k] = v
	}
	return h, rep
}
