package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Option configures a Client in New. An option that gets an invalid value
// makes New return an error. A nil Option is skipped.
type Option interface {
	configure(*Client) error
}

// clientSetting is an Option that configures the client alone.
type clientSetting func(*Client) error

func (f clientSetting) configure(c *Client) error { return f(c) }

// Setting is an option that applies at every level: given to New, to all
// the client's requests; given to NewResource, to all the resource's calls;
// given to a call, to that call. It is an Option and a CallOption, so one
// name serves each idea at every level (WithHeader, WithRetryPolicy).
type Setting struct {
	client func(*Client) error
	call   func(*callOptions)
}

func (s Setting) configure(c *Client) error { return s.client(c) }
func (s Setting) apply(o *callOptions)      { s.call(o) }
func (Setting) resourceOption()             {}

// WithHTTPClient sends requests through hc, so that its transport (TLS,
// proxies, instrumentation), redirect policy and cookie jar apply. Nil means
// concord's default: a client of its own with a clone of
// http.DefaultTransport that keeps up to 64 idle connections per host.
// Either way every attempt is bounded by RetryPolicy.AttemptTimeout and
// concord's redirect rules apply before hc's CheckRedirect (see
// WithSensitive); bound the whole call with the context.
func WithHTTPClient(hc *http.Client) Option {
	return clientSetting(func(c *Client) error {
		c.httpClient = hc
		return nil
	})
}

// WithHeader sets a header on every request of the client (in New), of
// the resource (in NewResource) or of one call. In New it returns an error
// for an invalid name or a value holding a line break.
func WithHeader(name, value string) Setting {
	return Setting{
		client: func(c *Client) error {
			if !validHeaderName(name) || strings.ContainsAny(value, "\r\n\x00") {
				return fmt.Errorf("concord: invalid default header %q", name)
			}
			c.header.Set(name, value)
			return nil
		},
		call: func(o *callOptions) {
			o.header = o.header.Clone()
			if o.header == nil {
				o.header = make(http.Header)
			}
			o.header.Set(name, value)
		},
	}
}

// WithLogger logs retries and conflicts at Info and each request at Debug.
// Nil, the default, logs nothing. Credentials (Authorization, cookies,
// API-key and token headers, passwords and keys in URLs) are never logged.
func WithLogger(l *slog.Logger) Option {
	return clientSetting(func(c *Client) error {
		c.logger = l
		return nil
	})
}

// WithRetryPolicy sets the transport retry policy. In New it is the
// client's: its zero fields keep their defaults, MaxAttempts 1 turns
// transport retries off, and a negative value is an error. In NewResource
// or for one call it overrides the client's, field by field: its zero
// fields keep the client's values (a Delete that must not wait, or a Get
// that may retry more than the client's default, say).
func WithRetryPolicy(p RetryPolicy) Setting {
	return Setting{
		client: func(c *Client) error {
			if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxRetryAfter < 0 || p.AttemptTimeout < 0 {
				return errors.New("concord: retry policy values must not be negative")
			}
			c.retry = p
			return nil
		},
		call: func(o *callOptions) { o.retry = &p },
	}
}

// WithRetryBudget sets the retry budget calls draw on before a transport
// retry. Nil turns the budget off. By default each client has its own
// budget of NewRetryBudget(DefaultBudgetMax, DefaultBudgetRatio); pass one
// budget to several clients to limit them together.
func WithRetryBudget(b *RetryBudget) Option {
	return clientSetting(func(c *Client) error {
		c.budget = b
		return nil
	})
}

// WithConflictPolicy sets how the conflict loop retries. Zero fields keep
// their defaults.
func WithConflictPolicy(p ConflictPolicy) Option {
	return clientSetting(func(c *Client) error {
		if p.MaxAttempts < 0 {
			return errors.New("concord: conflict MaxAttempts must not be negative")
		}
		c.conflict = p
		return nil
	})
}

// WithClock replaces the wall clock, for tests that check schedules without
// sleeping. Nil keeps the wall clock.
func WithClock(clk Clock) Option {
	return clientSetting(func(c *Client) error {
		if clk != nil {
			c.clock = clk
		}
		return nil
	})
}

// WithClassifier adds a conflict classifier for an API's own conflict
// bodies. It runs before the built-in recognizers and may defer to them.
func WithClassifier(cl Classifier) Option {
	return clientSetting(func(c *Client) error {
		c.classifier = cl
		return nil
	})
}

// WithHooks adds callbacks for attempts, retries, conflicts, merges and
// calls. Given more than once, every set of hooks is called, in the order
// given, so tracing and metrics can be combined.
func WithHooks(h Hooks) Option {
	return clientSetting(func(c *Client) error {
		c.hooks = c.hooks.and(h)
		return nil
	})
}

// WithKeyPolicy sets how idempotency keys are made and sent. Zero fields
// keep their defaults.
func WithKeyPolicy(p KeyPolicy) Option {
	return clientSetting(func(c *Client) error {
		if p.Header != "" && !validHeaderName(p.Header) {
			return fmt.Errorf("concord: invalid idempotency key header %q", p.Header)
		}
		if p.Format != KeyBare && p.Format != KeyQuoted {
			return fmt.Errorf("concord: unknown key format %d", p.Format)
		}
		c.keys = p
		return nil
	})
}

// WithInvocationHeaders sends HeaderInvocationID (one ID per logical call)
// and HeaderAttempt (the attempt number) on every request, so server logs
// can tie retries together. Off by default.
func WithInvocationHeaders() Option {
	return clientSetting(func(c *Client) error {
		c.invocationHeaders = true
		return nil
	})
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
	return clientSetting(func(c *Client) error {
		c.writeLocks = nil
		return nil
	})
}

// WithLimits bounds what the client reads and keeps. Zero fields keep
// their defaults; a negative MaxResponseBytes or MaxErrorBodyBytes is an
// error.
func WithLimits(l Limits) Option {
	return clientSetting(func(c *Client) error {
		if l.MaxResponseBytes < 0 || l.MaxErrorBodyBytes < 0 {
			return errors.New("concord: response limits must not be negative")
		}
		c.limits = l
		return nil
	})
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

// Options of a Resource and of its calls, two kinds:
//
//   - ResourceOption: how the API works (versions, routes, paging,
//     patches, keys, locks) and what every call sends (headers, query,
//     retry policy, conflict limit). Given to NewResource, it applies to
//     every call of the resource; given to one call, to that call, over
//     the resource's.
//   - CallOption: what one call says of itself (WithBaseVersion,
//     WithIdempotencyKey), which would be wrong for every call of a
//     resource, and so does not compile in NewResource. Every
//     ResourceOption is a CallOption too.
//
// A call ignores an option that does not concern it: a Get has no base
// version and sends no key.
//
// The merge a Replace uses is typed by the resource: see Resource.WithMerge.
type (
	// CallOption configures one call of a Resource.
	CallOption interface {
		apply(*callOptions)
	}
	// ResourceOption configures a Resource in NewResource, or one call.
	ResourceOption interface {
		CallOption
		resourceOption()
	}
)

// The option kinds, one type each.
type (
	resourceSetting func(*callOptions)
	callSetting     func(*callOptions)
)

func (s resourceSetting) apply(o *callOptions) { s(o) }
func (s callSetting) apply(o *callOptions)     { s(o) }

func (resourceSetting) resourceOption() {}

// callOptions is what a call's options and its resource's options say.
type callOptions struct {
	version       string
	key           string
	noKey         bool
	patch         bool
	unconditional bool
	maxConflicts  int
	versioner     Versioner
	retry         *RetryPolicy
	routes        Routes
	paging        Paging
	header        http.Header
	query         url.Values
	locker        Locker        // WithLocks
	lockTTL       time.Duration // WithLocks
}

// applyOptions applies opts to o, in order. The resource's header and
// query maps are shared with every call: the options that add to them copy
// them first.
func applyOptions[O interface{ apply(*callOptions) }](o *callOptions, opts []O) {
	for _, opt := range opts {
		// A nil option is skipped, so that an optional one can be passed
		// as nil.
		if any(opt) != nil {
			opt.apply(o)
		}
	}
}

// WithVersioner sets how versions are read and sent. The default is
// ETagVersion{}.
func WithVersioner(v Versioner) ResourceOption {
	return resourceSetting(func(o *callOptions) {
		if v != nil {
			o.versioner = v
		}
	})
}

// WithRoutes sets where an item's operations go (see Routes).
func WithRoutes(rt Routes) ResourceOption {
	return resourceSetting(func(o *callOptions) { o.routes = rt })
}

// WithPaging sets how the collection is paged (see Paging).
func WithPaging(p Paging) ResourceOption {
	return resourceSetting(func(o *callOptions) { o.paging = p })
}

// WithPatch sends Replace and Update as an RFC 7396 JSON Merge Patch of the
// members that changed (application/merge-patch+json), still conditional on
// the version. Smaller writes, and the server never sees members this
// writer did not touch.
func WithPatch() ResourceOption {
	return resourceSetting(func(o *callOptions) { o.patch = true })
}

// WithUnconditional lets a write go without a precondition when the server
// gives no usable version, instead of failing with ErrNoVersion. Concurrent
// updates can then be lost: it is for APIs without versions, and so an
// option of the resource rather than of one call.
func WithUnconditional() ResourceOption {
	return resourceSetting(func(o *callOptions) { o.unconditional = true })
}

// WithoutIdempotencyKeys sends the resource's writes without a key, for APIs
// that reject the header. Every write carries one by default: a create, so
// that its retry is answered with the original result; a conditional write
// or delete too, so that a server honoring keys on them replays the answer
// to a retry after a lost response instead of rejecting the retry as stale.
// Without a key a create is sent exactly once, never retried, since a
// repeat could create twice.
func WithoutIdempotencyKeys() ResourceOption {
	return resourceSetting(func(o *callOptions) { o.noKey = true })
}

// WithBaseVersion makes a write conditional on v, the version the written
// value was derived from (the Result.Version of the read it came from; the
// base a merge is given), instead of the version the client tracks: an
// ETag such as `"v3"` for ETag-versioned APIs, the member's raw JSON for
// BodyVersion. Replace, Update and Delete use it; a base version for every
// call would be wrong, so it is no ResourceOption.
func WithBaseVersion(v string) CallOption {
	return callSetting(func(o *callOptions) { o.version = v })
}

// WithMaxConflicts bounds a call's rounds by count (every call's, given
// to NewResource), overriding
// ConflictPolicy.MaxAttempts: all it bounds (writes after a conflict,
// reads waiting for a usable version, sends of a key in progress, lost
// locks taken again).
func WithMaxConflicts(n int) ResourceOption {
	return resourceSetting(func(o *callOptions) { o.maxConflicts = n })
}

// WithIdempotencyKey sets the idempotency key of a write instead of a
// generated one. Store it with the intent to create, and a retry after a
// crash or restart returns the original result. A write whose bytes change
// (after a merge) gets a fresh key, since a key must never be sent with two
// payloads. One key for every write would make them one, so it is no
// ResourceOption.
func WithIdempotencyKey(key string) CallOption {
	return callSetting(func(o *callOptions) { o.key = key })
}

// WithQuery adds a query parameter to the requests of a call (every
// call's, given to NewResource).
func WithQuery(name, value string) ResourceOption {
	return resourceSetting(func(o *callOptions) {
		o.query = cloneValues(o.query)
		o.query.Add(name, value)
	})
}

// WithSensitive names more headers and query parameters that carry
// credentials, beyond the built-in ones. Their values never appear in
// errors, logs or hook events, and a header so named never follows a
// redirect to another origin, even one concord would otherwise show (such
// as a credential an API takes in Prefer). Names are case-insensitive.
func WithSensitive(names ...string) Option {
	return clientSetting(func(c *Client) error {
		for _, n := range names {
			if n == "" {
				return errors.New("concord: WithSensitive got an empty name")
			}
			if c.redact.sensitive == nil {
				c.redact.sensitive = make(map[string]bool)
			}
			c.redact.sensitive[strings.ToLower(n)] = true
		}
		return nil
	})
}

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
	return clientSetting(func(c *Client) error {
		if f == nil {
			return errors.New("concord: nil token source")
		}
		c.tokens = &tokenCache{f: f}
		return nil
	})
}

// WithSigner calls sign on every attempt, retries included, just before it
// is sent, so that a request signature (AWS SigV4, Azure SharedKey, an
// HMAC) covers the attempt's headers and is fresh. The body is available
// through req.GetBody. What sign adds follows the redirect and redaction
// rules: it is never carried to another origin, and shown in logs only if
// allowlisted. An error from sign ends the call with it. Nil is an error
// from New.
func WithSigner(sign func(req *http.Request) error) Option {
	return clientSetting(func(c *Client) error {
		if sign == nil {
			return errors.New("concord: nil signer")
		}
		c.signer = sign
		return nil
	})
}

// WithLocks makes every Replace, Update, Delete and CreateAt of the
// resource's items take the server's lock on the item first, with locker,
// for ttl (DefaultLockTTL when 0; at least a second, the unit of WebDAV's
// Timeout), refreshed every half TTL while the call runs. The
// call's requests carry the lock's proof, so a write whose lock was lost
// is refused by the server; it did not take effect, so the call takes the
// lock again and redoes its round on a fresh read, within the conflict
// policy's budget, and past it returns an error matching ErrLocked.
// The lock is released at the end, on errors, panics and ended contexts
// too. A lock another holder keeps is waited for, with backoff
// and Retry-After, until the context ends or four TTLs pass. Writes keep
// their preconditions as well. Create (a POST to the collection) has no
// item to lock: its idempotency key keeps it single. Locks cost two
// requests per write and make writers take turns: use them where the
// server's preconditions cannot be trusted (concord probe says where).
func WithLocks(locker Locker, ttl time.Duration) ResourceOption {
	return resourceSetting(func(o *callOptions) {
		switch {
		case ttl <= 0:
			ttl = DefaultLockTTL
		case ttl < time.Second:
			ttl = time.Second
		}
		o.locker, o.lockTTL = locker, ttl
	})
}

// WithTrustedETags turns off the check that a server's ETags identify
// content (see ErrETagUnreliable): the client keeps revalidating with them
// and making writes conditional on them whatever it sees. Use it only for
// a server known to change its strong ETag with every change of content.
func WithTrustedETags() Option {
	return clientSetting(func(c *Client) error {
		c.trustETags = true
		return nil
	})
}

// cloneValues is a deep copy of v: the resource's query is shared by every
// call, and a call that adds to it adds to its own copy.
func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
