// Package concordtest is a fake REST API for tests: in-memory JSON
// collections with the semantics of a careful real API (strong ETags that
// change on every write, If-Match and If-None-Match, 304, 412, 409, 428,
// Idempotency-Key replays, unique fields, RFC 9457 problem bodies) and
// scriptable, seeded fault injection (failed requests, Retry-After,
// latency, connections dropped after a write committed).
//
// NewServer starts it on an httptest server closed when the test ends;
// NewAPI returns the bare http.Handler, which cmd/fakeapi serves for trying
// clients by hand. Every method is safe for concurrent use.
package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Problem types the API uses in its application/problem+json bodies.
// concord's classifier recognizes each by its last segment.
const (
	ProblemStaleVersion         = "urn:concordtest:problem:stale-version"
	ProblemAlreadyExists        = "urn:concordtest:problem:already-exists"
	ProblemRequestInProgress    = "urn:concordtest:problem:request-in-progress"
	ProblemKeyReused            = "urn:concordtest:problem:idempotency-key-reused"
	ProblemKeyMissing           = "urn:concordtest:problem:idempotency-key-missing"
	ProblemPreconditionRequired = "urn:concordtest:problem:precondition-required"
	ProblemNotFound             = "urn:concordtest:problem:not-found"
	ProblemBadRequest           = "urn:concordtest:problem:bad-request"
	ProblemInjected             = "urn:concordtest:problem:injected-fault"
	ProblemUnauthorized         = "urn:concordtest:problem:unauthorized"
	ProblemRateLimited          = "urn:concordtest:problem:rate-limited"
)

// API is the fake REST API, an http.Handler. Create it with NewAPI.
type API struct {
	cfg config

	mu          sync.Mutex
	collections map[string]*collection
	keys        map[string]*keyEntry
	faults      []*Fault
	latency     time.Duration
	failRate    float64
	failStatus  int
	dropRate    float64
	cutRate     float64
	rng         *rand.Rand
	revision    int64
	locks       map[string]*lock // by "collection/id" (locks.go)
	inFlight    int
	requests    []Request
	stats       Stats
}

type config struct {
	conflictStatus int
	requirePrecond bool
	bodyVersion    []string // member path of the body version, nil for ETag only
	versionQuery   string
	conflictState  bool
	requireKey     bool
	keyHeader      string
	keyTTL         time.Duration
	unique         map[string][]string // collection -> unique members
	seed           uint64
	now            func() time.Time
	maxBody        int64

	// Dialects (dialects.go).
	weak         bool
	weakWindow   time.Duration
	opaque       bool
	ignoreINM    bool
	keysPOSTOnly bool
	genParam     string
	genHeader    string
	errors       ErrorDialect
	pageSize     int
	postUpdates  bool

	// Servers that break promises (dialects.go), for testing what a client
	// or concord probe makes of them.
	etagStyle      etagStyle
	ignoreIfMatch  map[string]bool // methods whose If-Match is ignored
	noPOSTCreate   bool
	racyIfMatch    bool
	tornReads      bool // TornReads: a read during a write gets half of it
	ignoreKeys     bool
	ignorePatch    bool
	redirectStatus int // answers a collection without its trailing slash

	routes [][]string // Collections' patterns, split in segments

	locks       bool          // Locks: WebDAV LOCK and UNLOCK (locks.go)
	leases      bool          // Leases: Azure Blob leases (locks.go)
	lockTimeout time.Duration // LockTimeout: what every lock is granted (locks.go)
	noETags     bool          // NoETags: no ETag on any answer (dialects.go)
	bareWrites  bool          // BareWriteAnswers: a write answered by its status alone (dialects.go)
	receipts    bool          // Receipts: a write answered by a receipt, as CouchDB's (dialects.go)

	// Access (access.go).
	tokens    *Tokens
	rateLimit *rateLimit
}

// Option configures an API.
type Option func(*config)

// ConflictStatus sets the status for a stale If-Match or body version: 412
// (the default for If-Match, as RFC 9110 says) or 409 (as APIs that use 409
// for stale versions do).
func ConflictStatus(code int) Option { return func(c *config) { c.conflictStatus = code } }

// RequirePreconditions answers a PUT, PATCH or DELETE of an existing
// resource that carries no version with 428 Precondition Required.
func RequirePreconditions() Option { return func(c *config) { c.requirePrecond = true } }

// VersionInBody keeps each resource's version in the document at path (dots
// between members: "version", "metadata.resourceVersion", "_rev") as a
// string that changes on every write. A write whose body carries another
// version gets 409 unless ConflictStatus says otherwise; query, when not
// empty, names the query parameter a DELETE carries it in (CouchDB's
// "rev"). ETags and If-Match keep working alongside.
func VersionInBody(path, query string) Option {
	return func(c *config) { c.bodyVersion, c.versionQuery = strings.Split(path, "."), query }
}

// ConflictWithState makes conflict responses carry the current
// representation and its ETag instead of a problem document, as some APIs
// do, so a client can merge without refetching.
func ConflictWithState() Option { return func(c *config) { c.conflictState = true } }

// RequireIdempotencyKey answers a POST without a key with 400.
func RequireIdempotencyKey() Option { return func(c *config) { c.requireKey = true } }

// IdempotencyKeyHeader sets the key header; "Idempotency-Key" by default.
func IdempotencyKeyHeader(name string) Option { return func(c *config) { c.keyHeader = name } }

// IdempotencyKeyTTL sets how long keys are remembered; 24h by default.
func IdempotencyKeyTTL(d time.Duration) Option { return func(c *config) { c.keyTTL = d } }

// Unique declares a member of a collection's documents unique: a create or
// write that would duplicate a value gets 409 with a problem document
// naming the member.
func Unique(collection, member string) Option {
	return func(c *config) {
		if c.unique == nil {
			c.unique = make(map[string][]string)
		}
		c.unique[collection] = append(c.unique[collection], member)
	}
}

// FaultSeed makes the random choices of FailFraction and DropFraction
// repeatable; 1 by default.
func FaultSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// Now replaces the clock used for key expiry.
func Now(now func() time.Time) Option { return func(c *config) { c.now = now } }

// NewAPI returns an API with no data.
func NewAPI(opts ...Option) *API {
	cfg := config{
		keyHeader: "Idempotency-Key",
		keyTTL:    24 * time.Hour,
		seed:      1,
		now:       time.Now,
		maxBody:   8 << 20,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.conflictStatus == 0 {
		cfg.conflictStatus = http.StatusPreconditionFailed
		if cfg.bodyVersion != nil {
			cfg.conflictStatus = http.StatusConflict
		}
	}
	return &API{
		cfg:         cfg,
		collections: make(map[string]*collection),
		keys:        make(map[string]*keyEntry),
		rng:         rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9E3779B97F4A7C15)),
	}
}

// Request is one request the API saw.
type Request struct {
	Method string
	Path   string // path and query
	Header http.Header
	Body   []byte
}

// Stats counts what the API did.
type Stats struct {
	Requests  int // requests received
	Writes    int // writes committed (creates, replaces, patches, deletes)
	Conflicts int // 409 and 412 answers for stale versions or existing resources
	Replays   int // responses replayed for a repeated idempotency key
	Faults    int // requests answered by an injected fault
	Dropped   int // connections dropped after a committed write
}

// Requests returns a copy of the requests seen so far, oldest first.
func (a *API) Requests() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Request(nil), a.requests...)
}

// Stats returns the counters.
func (a *API) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// InFlight returns the number of requests being processed now: past the
// fault checks (and, for a keyed write, with its key registered), before
// the response. Tests use it to act while a request is in progress.
func (a *API) InFlight() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inFlight
}
