package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Client sends requests to one REST API. It carries the settings and the
// state that outlive a call: the tracked versions of resources and the retry
// budget. A Client is safe for concurrent use; create one per API and share
// it.
type Client struct {
	base       string       // the base URL, without a trailing slash or query
	baseQuery  string       // the base URL's query, added to every request (a SAS token, api-version)
	httpClient *http.Client // the user's client, or concord's default
	sender     *http.Client // httpClient whose idle connections go-retryablehttp cannot close
	transport  *retryablehttp.Client
	header     http.Header
	logger     *slog.Logger
	redact     redactor

	retry    RetryPolicy
	conflict ConflictPolicy
	budget   *RetryBudget
	clock    Clock

	classifier Classifier
	hooks      Hooks
	tokens     *tokenCache                   // nil without WithTokenSource
	signer     func(req *http.Request) error // nil without WithSigner

	keys              KeyPolicy
	invocationHeaders bool

	versions        *versionCache
	trustETags      bool        // WithTrustedETags
	etagsUnreliable atomic.Bool // one strong ETag was seen for two contents
	writeLocks      *writeLocks // nil when WithConcurrentWrites
	limits          Limits
}

// Limits bound what a client reads and keeps (WithLimits). The zero value
// means the defaults in the field comments.
type Limits struct {
	// MaxResponseBytes bounds a success body; a longer one fails with
	// ErrResponseTooLarge. Default DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// MaxErrorBodyBytes bounds the prefix of an error body that is read
	// and kept in APIError.Body. Default DefaultMaxErrorBodyBytes.
	MaxErrorBodyBytes int64
	// VersionCacheBytes bounds what the client remembers of the items it
	// has seen: versions, and bodies that serve as merge bases and for
	// revalidation, least recently used first out. A body counts as the
	// buffer it was read into (up to twice its length when the server sent
	// no Content-Length); one larger than an eighth of the bound is not
	// kept, only its version. Default DefaultVersionCacheBytes; negative
	// turns remembering off: every write then starts with a GET.
	VersionCacheBytes int64
}

func (l Limits) withDefaults() Limits {
	l.MaxResponseBytes = cmp.Or(l.MaxResponseBytes, DefaultMaxResponseBytes)
	l.MaxErrorBodyBytes = cmp.Or(l.MaxErrorBodyBytes, DefaultMaxErrorBodyBytes)
	l.VersionCacheBytes = cmp.Or(l.VersionCacheBytes, DefaultVersionCacheBytes)
	return l
}

// Default sizes, applied to the zero fields of Limits.
const (
	// DefaultMaxResponseBytes bounds a success body (64 MiB).
	DefaultMaxResponseBytes = 64 << 20
	// DefaultMaxErrorBodyBytes bounds the prefix of an error body that is
	// read and kept in APIError.Body (64 KiB).
	DefaultMaxErrorBodyBytes = 64 << 10
)

// New returns a client for the API at baseURL, an absolute http or https
// URL such as "https://api.example.com/v1". Resource paths are joined to it.
// A query in baseURL (an Azure SAS token, "api-version=…") is added to every
// request; it is never shown in errors, logs or events.
// Options override the documented defaults; New returns an error for a bad
// URL or an invalid option.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		// url.Parse's error quotes the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("concord: base URL does not parse: %w", err)
	}
	baseQuery := u.RawQuery
	u.RawQuery, u.ForceQuery = "", false
	// Errors show the base URL without its query, which is all secret.
	shown := redactor{}.url(u.String())
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("concord: base URL %q must be an absolute http or https URL", shown)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("concord: base URL %q must not have a fragment", shown)
	}
	if _, err := url.ParseQuery(baseQuery); err != nil {
		return nil, fmt.Errorf("concord: base URL %q has a malformed query", shown)
	}
	budget, _ := NewRetryBudget(DefaultBudgetMax, DefaultBudgetRatio)
	c := &Client{
		base:       strings.TrimRight(u.String(), "/"),
		baseQuery:  baseQuery,
		header:     http.Header{"User-Agent": {"concord-go"}, "Accept": {"application/json"}},
		budget:     budget,
		redact:     newRedactor(baseQuery),
		clock:      realClock{},
		writeLocks: &writeLocks{byURL: make(map[itemURL]*writeLock)},
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.configure(c); err != nil {
			return nil, err
		}
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{Transport: defaultTransport()}
	}
	c.retry = c.retry.withDefaults()
	c.keys = c.keys.withDefaults()
	c.limits = c.limits.withDefaults()
	c.versions = newVersionCache(max(c.limits.VersionCacheBytes, 0))
	c.redact.keyHeader = c.keys.Header
	c.redact.keep(c.header, baseQuery)
	sender := *c.httpClient
	if sender.Transport == nil {
		sender.Transport = http.DefaultTransport
	}
	sender.Transport = &attemptTransport{next: sender.Transport, deadlines: &sharedDeadlines{timeout: c.retry.AttemptTimeout}}
	sender.CheckRedirect = c.redirectPolicy(sender.CheckRedirect)
	c.sender = &sender
	c.conflict = c.conflict.withDefaults()
	// Each call's own count of retries decides (see call.retriesLeft);
	// RetryMax only has to be out of its way, since a call may allow more
	// than the client (WithRetryPolicy).
	c.transport = newTransport(c.sender, math.MaxInt32)
	return c, nil
}

// defaultTransport is a clone of http.DefaultTransport that keeps more idle
// connections per host (the standard library keeps 2), so that concurrent
// calls to one API reuse connections instead of opening new ones, and that
// reads at most 1 MiB of response headers (the standard library allows 10).
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.MaxResponseHeaderBytes = 1 << 20
	return t
}

// CloseIdleConnections closes the idle connections of the client's
// transport. Call it when done with a client that owns its transport.
func (c *Client) CloseIdleConnections() { c.httpClient.CloseIdleConnections() }

// BaseURL returns the base URL resource paths are joined to.
func (c *Client) BaseURL() string { return c.base }

// Request is one HTTP request for Client.Do.
type Request struct {
	// Method is the HTTP method; empty means GET.
	Method string
	// Path is joined to the client's base URL. An absolute URL is used as
	// it is, but only below the base URL: the client's default headers
	// carry credentials, which must not reach another origin.
	Path string
	// Query is added to the URL.
	Query url.Values
	// Header is added to the client's default headers for this request.
	Header http.Header
	// Body is sent as JSON. Nil sends no body; a []byte, json.RawMessage or
	// io.Reader is sent as it is (a reader is read once, up front, so that
	// retries resend the same bytes); anything else is encoded with
	// encoding/json.
	Body any
	// IdempotencyKey is the key the request carries, whatever its method;
	// for a POST, empty means a fresh key is generated for the call. Reuse a
	// key you stored to make a retry after a restart safe.
	IdempotencyKey string
	// NoIdempotencyKey sends a POST without a key. Such a request is never
	// retried, because a repeat could apply it twice.
	NoIdempotencyKey bool
	// CreateOnly says the request creates only if absent, in the API's own
	// terms (If-None-Match: * in Header, or a query such as Google's
	// ifGenerationMatch=0), so that its failure matches ErrAlreadyExists.
	// If-None-Match: * alone is recognized without it.
	CreateOnly bool
	// RetryPolicy, when set, overrides the client's retry policy for this
	// request; its zero fields keep the client's values.
	RetryPolicy *RetryPolicy
	// IfMatch, when set, makes the request conditional on this strong
	// ETag. A weak ETag is refused with ErrInvalidETag before anything is
	// sent, since If-Match uses strong comparison and would fail forever.
	IfMatch ETag
}

// Response is a response concord has read in full.
type Response struct {
	StatusCode int
	Header     http.Header
	// ETag is the response's entity-tag; empty when absent or malformed.
	ETag ETag
	// Body is the whole body, up to Limits.MaxResponseBytes.
	Body []byte
	// Replayed reports that the server answered from an earlier request
	// with the same idempotency key (Idempotent-Replayed: true): the
	// operation happened once, earlier.
	Replayed bool
	// Requests is the number of HTTP requests the call sent, retries and
	// conflict rounds included. A write's are counted as written on the
	// wire, net/http's own silent resends included, since they can apply
	// it twice; a read's are the attempts concord made, sparing each read
	// the cost of tracing the connection.
	Requests int
}

// Do sends req through the client's machinery (default headers,
// idempotency key, transport retries, hooks) and decodes a JSON success body
// into out, unless out is nil or the body is empty. A response that is not
// 2xx or 304 returns an error holding an *APIError; a body that does not
// decode returns a *DecodeError. Do does not track versions or resolve
// conflicts: Resource does.
func (c *Client) Do(ctx context.Context, req *Request, out any) (resp *Response, err error) {
	if req == nil {
		return nil, errors.New("concord: Do needs a request")
	}
	cl := c.newCall(ctx)
	defer func() { c.callDone(cl, CallEvent{Operation: "Do", Err: err}) }()
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	o := &outgoing{method: method, url: c.resolve(req.Path, req.Query), header: req.Header.Clone()}
	if !strings.HasPrefix(o.url, c.base+"/") && o.url != c.base {
		// Default headers carry credentials: they go to the API's origin
		// and below its base path only.
		return nil, fmt.Errorf("concord: %s is outside the client's base URL %s", c.redact.url(o.url), c.redact.url(c.base))
	}
	if o.header == nil {
		o.header = make(http.Header)
	}
	switch b := req.Body.(type) {
	case nil:
	case []byte:
		o.body = b
	case json.RawMessage:
		o.body = b
	case io.Reader:
		// Read once, so that every attempt can resend the same bytes.
		data, err := io.ReadAll(b)
		if err != nil {
			return nil, fmt.Errorf("concord: reading the request body: %w", err)
		}
		o.body = data
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("concord: encoding the request body: %w", err)
		}
		o.body = data
	}
	if req.IfMatch != "" {
		if err := setIfMatch(o, req.IfMatch); err != nil {
			return nil, err
		}
	}
	o.conditional = o.conditional || o.header.Get("If-Match") != ""
	o.createOnly = req.CreateOnly || o.header.Get("If-None-Match") == "*"
	cl.override(req.RetryPolicy)
	if req.IdempotencyKey != "" || method == http.MethodPost && !req.NoIdempotencyKey {
		var k idempotencyKey
		key, err := c.keyFor(&k, req.IdempotencyKey, string(req.IfMatch), o.body)
		if err != nil {
			return nil, err
		}
		o.key = key
	}
	got, err := c.exchange(cl, o)
	if got.StatusCode != 0 { // else resp stays nil: no response came
		resp = &got
	}
	if err != nil {
		return resp, err
	}
	if out != nil && len(bytes.TrimSpace(resp.Body)) > 0 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			var derr error = &DecodeError{Method: method, URL: c.redact.url(o.url), StatusCode: resp.StatusCode, Type: reflect.TypeOf(out).String(), Err: err}
			if !readOnly(method) && is2xx(resp.StatusCode) {
				derr = fmt.Errorf("%w: %w", ErrWriteApplied, derr)
			}
			return resp, derr
		}
	}
	return resp, nil
}

// setIfMatch makes o conditional on a strong ETag.
func setIfMatch(o *outgoing, tag ETag) error {
	if _, err := ParseETag(string(tag)); err != nil {
		return err
	}
	if tag.IsWeak() {
		return fmt.Errorf("%w: weak ETag %s cannot satisfy If-Match (strong comparison)", ErrInvalidETag, tag)
	}
	o.ifMatch, o.conditional = string(tag), true
	return nil
}

// resolve joins path to the base URL, unless path is already absolute.
func (c *Client) resolve(path string, query url.Values) string {
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = c.base + "/" + strings.TrimLeft(path, "/")
	}
	if len(query) > 0 {
		u = appendQuery(u, query.Encode())
	}
	return u
}

// appendQuery adds an encoded query to a URL that may already have one.
func appendQuery(u, rawQuery string) string {
	if strings.Contains(u, "?") {
		return u + "&" + rawQuery
	}
	return u + "?" + rawQuery
}

// call is the state of one logical call: its ID and the transport retries
// it may still spend, shared by every request it sends.
//
// A call is also the context of its requests: it answers attemptsKey with
// its attempt state, which go-retryablehttp's hooks find there, and leaves
// everything else to the caller's context. Being its own context saves a
// context.WithValue on every call.
type call struct {
	ctx          context.Context // the caller's
	retry        RetryPolicy     // the client's, or the call's own (WithRetryPolicy)
	id           string
	started      time.Time // when the call began: its duration, and its conflict time budget
	maxRounds    int       // the count that bounds the call's rounds, 0 for none (see spent)
	retryBackoff Backoff   // the policy's NewBackoff's, made at the first retry
	ledger                 // what the call sent
	token        string    // the bearer token the last attempt carried
	refusedToken string    // a token the server answered 401 to
	// getBody is the GetBody of the call's writes with a body, made once
	// per call; trace counts the resends of writes without one. Neither
	// is reset: net/http may call them after RoundTrip has returned.
	getBody    func() (io.ReadCloser, error)
	trace      httptrace.ClientTrace
	resentOnce atomic.Bool // the current attempt's request was written once
	// inTransport: a request of the call is inside net/http's Transport,
	// where a GetBody call is a resend. (http.Client calls it outside, to
	// follow a redirect, whose request RoundTrip counts itself.)
	inTransport atomic.Bool
	// attempt is the state of the request being sent; the call's requests
	// go one at a time, so one serves them all, an allocation saved.
	attempt attempts
}

// ledger counts what a call sent, in one place; only its methods change it.
type ledger struct {
	requests int // attempts concord made
	writes   int // of those, attempts of a write
	retries  int // of those, retries, which the call's RetryPolicy bounds
	// wire counts the requests of writes that may have reached the
	// server: one for each attempt, and one for each resend net/http made
	// on its own (see call.resendBody and call.traceResends).
	wire atomic.Int32
}

// attempted counts an attempt that ended (in checkRetry).
func (l *ledger) attempted(write bool) {
	l.requests++
	if write {
		l.writes++
	}
}

// retried counts a retry the call decided on.
func (l *ledger) retried() { l.retries++ }

// onWire counts a request of a write that may reach the server.
func (l *ledger) onWire() { l.wire.Add(1) }

// nextAttempt is the number of the attempt about to be sent, from 1.
func (l *ledger) nextAttempt() int { return l.requests + 1 }

// Deadline, Done and Err are the caller's.
func (cl *call) Deadline() (time.Time, bool) { return cl.ctx.Deadline() }
func (cl *call) Done() <-chan struct{}       { return cl.ctx.Done() }
func (cl *call) Err() error                  { return cl.ctx.Err() }

// Value answers attemptsKey with the call's attempt state, and any other
// key from the caller's context.
func (cl *call) Value(key any) any {
	if _, ok := key.(attemptsKey); ok {
		return &cl.attempt
	}
	return cl.ctx.Value(key)
}

// resendBody returns the GetBody of the call's writes: net/http's Transport
// calls it to send a body again (its own resend of a keyed write over a
// reused connection that broke), so each such call is a request more that
// may have reached the server.
func (cl *call) resendBody() func() (io.ReadCloser, error) {
	if cl.getBody == nil {
		cl.getBody = func() (io.ReadCloser, error) {
			if cl.inTransport.Load() {
				cl.onWire()
			}
			return bodyReader(cl.attempt.out.body), nil
		}
	}
	return cl.getBody
}

// traceResends returns the trace that counts what net/http writes of a
// write without a body beyond once an attempt: it resends such a request
// when it carries an Idempotency-Key, without a GetBody to tell.
func (cl *call) traceResends() *httptrace.ClientTrace {
	if cl.trace.WroteRequest == nil {
		cl.trace.WroteRequest = func(info httptrace.WroteRequestInfo) {
			if info.Err == nil && cl.resentOnce.Swap(true) {
				cl.onWire()
			}
		}
	}
	return &cl.trace
}

// bodyReader is one sending of a write's body: a *bytes.Reader in a
// NopCloser, which net/http knows to be in memory, so it writes the body
// with the headers instead of flushing them first.
func bodyReader(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

// override replaces the call's retry policy with p, whose zero (or
// negative) fields keep the call's values. It is used before the call
// sends anything.
func (cl *call) override(p *RetryPolicy) {
	if p == nil {
		return
	}
	r := cl.retry
	if p.MaxAttempts > 0 {
		r.MaxAttempts = p.MaxAttempts
	}
	if p.BaseDelay > 0 {
		r.BaseDelay = p.BaseDelay
	}
	if p.MaxDelay > 0 {
		r.MaxDelay = p.MaxDelay
	}
	if p.MaxRetryAfter > 0 {
		r.MaxRetryAfter = p.MaxRetryAfter
	}
	if p.AttemptTimeout > 0 {
		r.AttemptTimeout = p.AttemptTimeout
	}
	if p.NewBackoff != nil {
		r.NewBackoff = p.NewBackoff
	}
	if p.Retryable != nil {
		r.Retryable = p.Retryable
	}
	cl.retry = r
}

// wireMark returns a mark of what the call has written so far, for
// resentSince.
func (l *ledger) wireMark() int32 { return l.wire.Load() }

// resentSince reports whether the request sent after mark went out more
// than once (a retry, net/http's own resend): then a refusal may answer
// the call's own earlier copy, which took effect.
func (l *ledger) resentSince(mark int32) bool { return l.wire.Load()-mark > 1 }

// sent returns how many requests the call has sent: concord's attempts,
// and the writes net/http resent on its own beyond them.
func (l *ledger) sent() int { return l.requests + max(0, int(l.wire.Load())-l.writes) }

// retryDelay returns the wait before the call's next retry, or false when
// its Backoff stopped: full jitter by default, else the policy's own
// Backoff, made at the first retry.
func (cl *call) retryDelay() (time.Duration, bool) {
	if cl.retry.NewBackoff == nil {
		return fullJitter(cl.retry.BaseDelay, cl.retry.MaxDelay, cl.retries, rand.Float64), true
	}
	if cl.retryBackoff == nil {
		cl.retryBackoff = cl.retry.NewBackoff()
	}
	d, ok := cl.retryBackoff.Next(cl.retries)
	return max(d, 0), ok
}

// retriesLeft is how many retries the call may still spend.
func (cl *call) retriesLeft() int { return cl.retry.MaxAttempts - 1 - cl.retries }

// newCall starts a call made under ctx. Every request of the call is made
// under ctx, through the call (see call.Value).
func (c *Client) newCall(ctx context.Context) *call {
	cl := new(call)
	c.initCall(cl, ctx)
	return cl
}

// initCall starts cl, a new call made under ctx, in place: a Resource's
// call keeps it in its op, to take one allocation.
func (c *Client) initCall(cl *call, ctx context.Context) {
	cl.ctx, cl.retry, cl.started, cl.maxRounds = ctx, c.retry, c.clock.Now(), c.conflict.MaxAttempts
	if c.invocationHeaders || c.logger != nil || c.hooks.set() {
		// Only pay for an ID when something will read it.
		cl.id, _ = newUUIDKey()
	}
}

// outgoing is one HTTP request as concord builds it, before
// go-retryablehttp sends it (perhaps several times).
type outgoing struct {
	method      string
	url         string
	header      http.Header // per-request headers, added to the defaults
	ownHeader   bool        // header is this request's own, not the call's
	body        []byte
	contentType string // default application/json when there is a body
	key         string // idempotency key, if any
	ifMatch     string // If-Match: the version a write is conditional on
	ifNoneMatch string // If-None-Match: "*" for a create, a tag to revalidate
	conditional bool   // carries a version: If-Match or a body version
	createOnly  bool   // carries If-None-Match: *
	create      bool   // creates a resource: Resource.Create or CreateAt
}

// setQuery adds q to the request's URL.
func (o *outgoing) setQuery(q url.Values) {
	if len(q) > 0 {
		o.url = appendQuery(o.url, q.Encode())
	}
}

// ensureHeader returns the request's own header map to add to: the call's
// headers are shared with every request of the resource, so they are
// copied first.
func (o *outgoing) ensureHeader() http.Header {
	if !o.ownHeader {
		o.header, o.ownHeader = o.header.Clone(), true
	}
	if o.header == nil {
		o.header = make(http.Header)
	}
	return o.header
}

// wait sleeps for d unless that would pass ctx's deadline, in which case it
// returns an error wrapping ErrWaitTooLong at once.
func (c *Client) wait(ctx context.Context, d time.Duration) error {
	if c.beyondDeadline(ctx, d) {
		return fmt.Errorf("%w: %v would pass the context deadline", ErrWaitTooLong, d)
	}
	return c.clock.Sleep(ctx, d)
}

// send makes one request of the call, under its context, with transport
// retries, and reads its response.
func (c *Client) send(cl *call, o *outgoing) (Response, error) {
	// The attempt state holds a copy of o, so that o stays on its caller's
	// stack.
	a := &cl.attempt
	*a = attempts{c: c, call: cl, out: *o}
	target := o.url
	if c.baseQuery != "" {
		// Added here, at the last moment, so that no URL concord shows or
		// keys its cache by carries it.
		target = appendQuery(target, c.baseQuery)
	}
	// concord gives go-retryablehttp no body, and sets each attempt's
	// itself (here and in prepareRetry): go-retryablehttp's own handling
	// costs five allocations a write, and its GetBody could not count
	// net/http's resends.
	req, err := retryablehttp.NewRequestWithContext(cl, o.method, target, nil)
	if err != nil {
		return Response{}, fmt.Errorf("concord: building %s %s: %w", o.method, c.redact.url(o.url), err)
	}
	a.setBody(req.Request)
	c.setHeader(req.Header, cl, o)
	if err := c.authorize(cl.ctx, req.Request, cl); err != nil {
		return Response{}, err
	}
	hresp, err := c.transport.Do(req)
	if err != nil {
		return Response{}, a.wrap(a.applied(c.redact.err(err)))
	}
	resp := Response{
		StatusCode: hresp.StatusCode,
		Header:     hresp.Header,
		Body:       a.body,
		Replayed:   replayed(hresp.Header),
		Requests:   cl.sent(),
	}
	if v := hresp.Header.Get("ETag"); v != "" {
		if tag, err := ParseETag(v); err == nil {
			resp.ETag = tag
		} else if c.logger != nil {
			c.logger.LogAttrs(cl.ctx, slog.LevelWarn, "concord: ignoring malformed ETag", slog.String("url", c.redact.url(o.url)), slog.String("error", err.Error()))
		}
	}
	if a.bodyErr != nil {
		// The status and headers came; the body did not. A write answered
		// 2xx took effect all the same: the caller gets what is known
		// (status, headers, Location, version) with ErrWriteApplied.
		return resp, a.wrap(a.applied(a.bodyErr))
	}
	if is2xx(hresp.StatusCode) || hresp.StatusCode == http.StatusNotModified && readOnly(o.method) {
		// 304 answers a conditional read only: to a write it means nothing
		// was stored, so it is an error like any other non-2xx.
		return resp, nil
	}
	return resp, a.wrap(a.applied(a.apiError(hresp)))
}

// setHeader fills h with an attempt's headers, before any credential: the
// client's defaults, the request's own, then concord's (content type,
// If-Match, If-None-Match, idempotency key, invocation ID and attempt
// number). Every attempt starts from these, so that a signer signs exactly
// what is sent and never sees an earlier attempt's signature.
func (c *Client) setHeader(h http.Header, cl *call, o *outgoing) {
	for k, v := range c.header {
		h[k] = v
	}
	for k, v := range o.header {
		h[k] = v
	}
	// The values concord adds share one backing array: one allocation
	// instead of one per header. Each is its own full slice, so an Add to
	// one (by a signer, say) cannot write into the next.
	var names, values [concordHeaders]string
	n := 0
	if o.body != nil && h.Get("Content-Type") == "" {
		names[n], values[n] = "Content-Type", o.contentType
		if o.contentType == "" {
			values[n] = "application/json"
		}
		n++
	}
	if o.ifMatch != "" {
		names[n], values[n] = "If-Match", o.ifMatch
		n++
	}
	if o.ifNoneMatch != "" {
		names[n], values[n] = "If-None-Match", o.ifNoneMatch
		n++
	}
	if o.key != "" {
		names[n], values[n] = c.keys.Header, c.keyValue(o.key)
		n++
	}
	if c.invocationHeaders {
		names[n], values[n] = HeaderInvocationID, cl.id
		names[n+1], values[n+1] = HeaderAttempt, strconv.Itoa(cl.nextAttempt())
		n += 2
	}
	shared := append([]string(nil), values[:n]...) // nil, unallocated, when n is 0
	for i := range n {
		h[names[i]] = shared[i : i+1 : i+1]
	}
}

// concordHeaders is how many headers setHeader may add: Content-Type,
// If-Match, If-None-Match, the idempotency key, the invocation ID and the
// attempt number.
const concordHeaders = 6

// apiError builds the error for a response that was not a success,
// classifying conflicts.
func (a *attempts) apiError(resp *http.Response) *APIError {
	c, o, body, truncated := a.c, &a.out, a.body, a.truncated
	prefix := body
	if int64(len(prefix)) > c.limits.MaxErrorBodyBytes {
		prefix, truncated = prefix[:c.limits.MaxErrorBodyBytes], true
	}
	e := &APIError{
		Method:     o.method,
		URL:        c.redact.url(o.url),
		StatusCode: resp.StatusCode,
		Header:     resp.Header,
		RequestID:  requestID(resp.Header),
		Problem:    parseProblem(resp.Header, prefix),
		Body:       prefix,
		Truncated:  truncated,
	}
	info := ConflictInfo{
		Method: o.method, StatusCode: resp.StatusCode, Header: resp.Header, Body: prefix, Problem: e.Problem,
		Conditional: o.conditional, CreateOnly: o.createOnly, Keyed: o.key != "", Create: o.create,
	}
	e.Dialect, e.Code = errorCode(resp.Header, prefix, e.Problem)
	e.Message = serverMessage(prefix)
	if p := e.Problem; p != nil && (p.Title != "" || p.Detail != "") {
		e.Message = printable(strings.TrimSpace(p.Title+" "+p.Detail), maxMessage)
	}
	// A server may echo what the client sent, its credentials included.
	e.Message = c.redact.scrub(e.Message, a.call.token)
	if isConflictStatus(resp.StatusCode) {
		e.Kind, e.Code = classify(c.classifier, info)
	}
	return e
}
