package concord

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"
)

// Option configures a Client in New. An option that gets an invalid value
// makes New return an error.
type Option func(*Client) error

// WithHTTPClient sends requests through hc, so that its transport (TLS,
// proxies, instrumentation), redirect policy and cookie jar apply. Nil means
// concord's default: a client of its own with a clone of
// http.DefaultTransport that keeps up to 64 idle connections per host.
// Either way every attempt is bounded by RetryPolicy.AttemptTimeout and
// concord's redirect rules apply before hc's CheckRedirect (see
// WithSensitive); bound the whole call with the context.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		c.httpClient = hc
		return nil
	}
}

// WithTransport sends requests through rt inside a client of concord's own.
// Nil means the default transport (see WithHTTPClient).
func WithTransport(rt http.RoundTripper) Option {
	return func(c *Client) error {
		if rt != nil {
			c.httpClient = &http.Client{Transport: rt}
		}
		return nil
	}
}

// WithHeader adds a header to every request. It returns an error from New
// for an invalid name or a value holding a line break.
func WithHeader(name, value string) Option {
	return func(c *Client) error {
		if !validHeaderName(name) || strings.ContainsAny(value, "\r\n\x00") {
			return fmt.Errorf("concord: invalid default header %q", name)
		}
		c.header.Set(name, value)
		return nil
	}
}

// WithBearerToken sends "Authorization: Bearer token" with every request.
// concord never logs it.
func WithBearerToken(token string) Option {
	return func(c *Client) error {
		if token == "" {
			return errors.New("concord: empty bearer token")
		}
		return WithHeader("Authorization", "Bearer "+token)(c)
	}
}

// WithUserAgent sets the User-Agent header. The default is "concord-go".
func WithUserAgent(ua string) Option { return WithHeader("User-Agent", ua) }

// WithLogger logs retries and conflicts at Info and each request at Debug.
// Nil, the default, logs nothing. Credentials (Authorization, cookies,
// API-key and token headers, passwords and keys in URLs) are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		c.logger = l
		return nil
	}
}

// WithRetryPolicy sets the transport retry policy. Its zero fields keep
// their defaults; MaxAttempts 1 turns transport retries off.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *Client) error {
		if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxRetryAfter < 0 || p.AttemptTimeout < 0 {
			return errors.New("concord: retry policy values must not be negative")
		}
		c.retry = p
		return nil
	}
}

// WithRetryBudget sets the retry budget calls draw on before a transport
// retry. Nil turns the budget off. By default each client has its own
// budget of NewRetryBudget(DefaultBudgetMax, DefaultBudgetRatio); pass one
// budget to several clients to limit them together.
func WithRetryBudget(b *RetryBudget) Option {
	return func(c *Client) error {
		c.budget = b
		return nil
	}
}

// WithConflictPolicy sets how the conflict loop retries. Zero fields keep
// their defaults.
func WithConflictPolicy(p ConflictPolicy) Option {
	return func(c *Client) error {
		if p.MaxAttempts < 0 {
			return errors.New("concord: conflict MaxAttempts must not be negative")
		}
		c.conflict = p
		return nil
	}
}

// WithClock replaces the wall clock, for tests that check schedules without
// sleeping. Nil keeps the wall clock.
func WithClock(clk Clock) Option {
	return func(c *Client) error {
		if clk != nil {
			c.clock = clk
		}
		return nil
	}
}

// WithJitterSource replaces the random source behind the transport backoff's
// jitter. f returns a number in [0, 1) and must be safe for concurrent use.
// Nil keeps math/rand/v2's Float64.
func WithJitterSource(f func() float64) Option {
	return func(c *Client) error {
		if f != nil {
			c.rand = f
		}
		return nil
	}
}

// WithClassifier adds a conflict classifier for an API's own conflict
// bodies. It runs before the built-in recognisers and may defer to them.
func WithClassifier(cl Classifier) Option {
	return func(c *Client) error {
		c.classifier = cl
		return nil
	}
}

// WithHooks adds callbacks for attempts, retries, conflicts, merges and
// calls. Given more than once, every set of hooks is called, in the order
// given, so tracing and metrics can be combined.
func WithHooks(h Hooks) Option {
	return func(c *Client) error {
		c.hooks = c.hooks.and(h)
		return nil
	}
}

// WithIdempotencyKeyHeader sets the header idempotency keys are sent in.
// The default is DefaultIdempotencyKeyHeader.
func WithIdempotencyKeyHeader(name string) Option {
	return func(c *Client) error {
		if !validHeaderName(name) {
			return fmt.Errorf("concord: invalid idempotency key header %q", name)
		}
		c.keyHeader = textproto.CanonicalMIMEHeaderKey(name)
		return nil
	}
}

// WithIdempotencyKeyFunc replaces the key generator (a random UUID by
// default). It must be safe for concurrent use and return unique keys.
func WithIdempotencyKeyFunc(f func() (string, error)) Option {
	return func(c *Client) error {
		if f == nil {
			return errors.New("concord: nil idempotency key function")
		}
		c.newKey = f
		return nil
	}
}

// WithIdempotencyKeyFormat sets how keys are written: KeyBare (default) or
// KeyQuoted.
func WithIdempotencyKeyFormat(f KeyFormat) Option {
	return func(c *Client) error {
		if f != KeyBare && f != KeyQuoted {
			return fmt.Errorf("concord: unknown key format %d", f)
		}
		c.keyFormat = f
		return nil
	}
}

// WithInvocationHeaders sends HeaderInvocationID (one ID per logical call)
// and HeaderAttempt (the attempt number) on every request, so server logs
// can tie retries together. Off by default.
func WithInvocationHeaders() Option {
	return func(c *Client) error {
		c.invocationHeaders = true
		return nil
	}
}

// WithVersionCacheBytes bounds in bytes what the client remembers of the
// resources it has seen: versions, and bodies that serve as merge bases and
// for revalidation (DefaultVersionCacheBytes by default), least recently
// used first out. A body larger than an eighth of it is not kept, only its
// version. 0 turns tracking off: every write then starts with a GET.
func WithVersionCacheBytes(n int64) Option {
	return func(c *Client) error {
		if n < 0 {
			return errors.New("concord: negative version cache size")
		}
		c.versions = newVersionCache(n)
		return nil
	}
}

// WithConcurrentWrites lets calls on one client write the same resource at
// the same time. By default they take turns: Replace, Update and Delete
// calls on one resource URL through one client run one at a time (waiting
// ends with the context), so goroutines of one process never conflict with
// each other, only with other writers. A merge or mutate function that
// writes its own resource through the same client would wait for its own
// turn forever, and gets ErrReentrantWrite instead; turn this on if yours
// must.
func WithConcurrentWrites() Option {
	return func(c *Client) error {
		c.writeLocks = nil
		return nil
	}
}

// WithMaxResponseBytes bounds a success body; a longer one fails with
// ErrResponseTooLarge. The default is DefaultMaxResponseBytes.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return errors.New("concord: max response bytes must be positive")
		}
		c.maxBody = n
		return nil
	}
}

// WithMaxErrorBodyBytes bounds the prefix of an error body kept in
// APIError.Body. The default is DefaultMaxErrorBodyBytes.
func WithMaxErrorBodyBytes(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return errors.New("concord: max error body bytes must be positive")
		}
		c.maxErrorBody = n
		return nil
	}
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7F || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
