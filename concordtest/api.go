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

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Problem types the API uses in its application/problem+json bodies.
// concord's classifier recognises each by its last segment.
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
	rng         *rand.Rand
	revision    int64
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

// BodyVersion keeps each resource's version in the document at path (dots
// between members: "version", "metadata.resourceVersion", "_rev") as a
// string that changes on every write. A write whose body carries another
// version gets 409 unless ConflictStatus says otherwise; query, when not
// empty, names the query parameter a DELETE carries it in (CouchDB's
// "rev"). ETags and If-Match keep working alongside.
func BodyVersion(path, query string) Option {
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

// Seed makes the random choices of FailFraction repeatable; 1 by default.
func Seed(seed uint64) Option { return func(c *config) { c.seed = seed } }

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

// collection is one named set of documents.
type collection struct {
	docs   map[string]*resource
	nextID int
}

type resource struct {
	doc     map[string]any
	etag    string // quoted, strong
	rev     string // the body version, when BodyVersion is on
	gen     string // the revision number, for GenerationQuery
	written time.Time
}

// keyEntry is the remembered outcome of a request with an idempotency key.
type keyEntry struct {
	fingerprint [32]byte
	done        bool
	reply       *reply
	expires     time.Time
}

// reply is a response the API has decided on, before it is written (or
// dropped, or stored for replay).
type reply struct {
	status int
	header http.Header
	body   []byte
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

// Len returns the number of documents in a collection.
func (a *API) Len(collection string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.collections[collection]; c != nil {
		return len(c.docs)
	}
	return 0
}

// Doc returns a stored document and its ETag.
func (a *API) Doc(collection, id string) (doc json.RawMessage, etag string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.collections[collection]
	if c == nil {
		return nil, "", false
	}
	r := c.docs[id]
	if r == nil {
		return nil, "", false
	}
	b, _ := json.Marshal(r.doc)
	return b, r.etag, true
}

// Seed stores doc (anything that encodes to a JSON object) as
// collection/id, replacing what was there, and returns its ETag. It is
// arrangement, not traffic: Stats does not count it.
func (a *API) Seed(collection, id string, doc any) (etag string, err error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	var obj map[string]any
	if err := decodeJSON(raw, &obj); err != nil || obj == nil {
		return "", fmt.Errorf("concordtest: Seed needs a JSON object, got %s", raw)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.store(collection, id, obj)
	return r.etag, nil
}

// store writes a document and gives it a new version. Callers hold a.mu.
func (a *API) store(coll, id string, doc map[string]any) *resource {
	c := a.collection(coll)
	a.revision++
	rev := strconv.FormatInt(a.revision, 10)
	r := &resource{doc: doc, etag: `"r` + rev + `"`, gen: rev, written: a.cfg.now()}
	if a.cfg.bodyVersion != nil {
		r.rev = rev
		setPath(doc, a.cfg.bodyVersion, rev)
	}
	c.docs[id] = r
	return r
}

func (a *API) collection(name string) *collection {
	c := a.collections[name]
	if c == nil {
		c = &collection{docs: make(map[string]*resource)}
		a.collections[name] = c
	}
	return c
}

// ServeHTTP serves the collections at /{collection} and
// /{collection}/{id}.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, a.cfg.maxBody+1))
	if err != nil {
		return // the client went away
	}
	a.mu.Lock()
	a.stats.Requests++
	a.requests = append(a.requests, Request{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	fault := a.matchFault(r)
	latency := a.latency
	a.mu.Unlock()

	if int64(len(body)) > a.cfg.maxBody {
		writeReply(w, problem(http.StatusRequestEntityTooLarge, ProblemBadRequest, "body too large", ""))
		return
	}
	if fault != nil && fault.Status != 0 {
		rep := problem(fault.Status, ProblemInjected, "injected fault", "")
		if fault.RetryAfter != "" {
			rep.header.Set("Retry-After", fault.RetryAfter)
		}
		writeReply(w, a.cfg.inDialect(rep))
		return
	}
	rep := a.withIdempotency(r, body, latency)
	if rep == nil {
		return // the client went away during the latency
	}
	if fault != nil && fault.DropAfterCommit && rep.status < 300 {
		a.mu.Lock()
		a.stats.Dropped++
		a.mu.Unlock()
		dropConnection(w)
		return
	}
	writeReply(w, a.cfg.inDialect(rep))
}

// withIdempotency runs a write (POST, PUT, PATCH or DELETE) under the
// Idempotency-Key rules of the IETF draft: a repeated key with the same
// request replays the stored response, with another request gets 422,
// while the first is still running gets 409. The draft names POST and PATCH;
// honouring keys on every write also makes a retried conditional PUT whose
// answer was lost replay that answer instead of failing as stale.
func (a *API) withIdempotency(r *http.Request, body []byte, latency time.Duration) *reply {
	key := strings.Trim(strings.TrimSpace(r.Header.Get(a.cfg.keyHeader)), `"`)
	if a.cfg.keysPOSTOnly && r.Method != http.MethodPost {
		key = ""
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead || key == "" {
		if a.cfg.requireKey && r.Method == http.MethodPost {
			return problem(http.StatusBadRequest, ProblemKeyMissing, "an Idempotency-Key header is required", "")
		}
		a.mu.Lock()
		a.inFlight++
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			a.inFlight--
			a.mu.Unlock()
		}()
		if !sleep(r, latency) {
			return nil
		}
		return a.handle(r, body)
	}
	fp := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + string(body)))
	a.mu.Lock()
	now := a.cfg.now()
	e, seen := a.keys[key]
	if seen && now.After(e.expires) {
		seen = false
	}
	switch {
	case seen && e.fingerprint != fp:
		a.mu.Unlock()
		return problem(http.StatusUnprocessableEntity, ProblemKeyReused, "idempotency key reused with a different request", "")
	case seen && !e.done:
		a.mu.Unlock()
		rep := problem(http.StatusConflict, ProblemRequestInProgress, "a request with this idempotency key is in progress", "")
		rep.header.Set("Retry-After", "1")
		return rep
	case seen:
		a.stats.Replays++
		rep := e.reply.clone()
		a.mu.Unlock()
		rep.header.Set("Idempotent-Replayed", "true")
		return rep
	}
	e = &keyEntry{fingerprint: fp, expires: now.Add(a.cfg.keyTTL)}
	a.keys[key] = e
	a.inFlight++
	a.mu.Unlock()

	if !sleep(r, latency) {
		a.mu.Lock()
		delete(a.keys, key)
		a.inFlight--
		a.mu.Unlock()
		return nil
	}
	rep := a.handle(r, body)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inFlight--
	if rep.status >= 500 {
		delete(a.keys, key) // not processed: the key may be used again
	} else {
		e.done, e.reply = true, rep.clone()
	}
	return rep
}

// sleep waits d or until the request is cancelled, reporting whether the
// request is still wanted.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-t.C:
		return true
	}
}

// handle decides the response to one request.
func (a *API) handle(r *http.Request, body []byte) *reply {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if parts[0] == "" || len(parts) > 2 {
		return problem(http.StatusNotFound, ProblemNotFound, "no such route", r.URL.Path)
	}
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(parts) == 1 {
		switch r.Method {
		case http.MethodGet:
			return a.list(r, parts[0])
		case http.MethodPost:
			return a.create(r, parts[0], body)
		}
		return methodNotAllowed("GET, POST")
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return a.get(r, parts[0], parts[1])
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return a.write(r, parts[0], parts[1], body)
	case http.MethodPost:
		if a.cfg.postUpdates {
			return a.write(r, parts[0], parts[1], body)
		}
	}
	return methodNotAllowed("GET, HEAD, PUT, PATCH, DELETE")
}

func (a *API) list(r *http.Request, coll string) *reply {
	c := a.collection(coll)
	ids := make([]string, 0, len(c.docs))
	for id := range c.docs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if len(ids[i]) != len(ids[j]) {
			return len(ids[i]) < len(ids[j])
		}
		return ids[i] < ids[j]
	})
	if a.cfg.pageSize > 0 {
		return a.page(r, c, ids)
	}
	docs := make([]map[string]any, len(ids))
	for i, id := range ids {
		docs[i] = c.docs[id].doc
	}
	return jsonReply(http.StatusOK, docs)
}

func (a *API) create(r *http.Request, coll string, body []byte) *reply {
	doc, rep := parseDoc(r, body)
	if rep != nil {
		return rep
	}
	if rep := a.checkUnique(coll, "", doc); rep != nil {
		return rep
	}
	c := a.collection(coll)
	c.nextID++
	id := strconv.Itoa(c.nextID)
	doc["id"] = id
	res := a.store(coll, id, doc)
	a.stats.Writes++
	rep = a.representation(http.StatusCreated, res)
	rep.header.Set("Location", "/"+url.PathEscape(coll)+"/"+url.PathEscape(id))
	return rep
}

func (a *API) get(r *http.Request, coll, id string) *reply {
	res := a.collection(coll).docs[id]
	if res == nil {
		return problem(http.StatusNotFound, ProblemNotFound, "no such resource", r.URL.Path)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && matchesAny(inm, res.etag, false) {
		rep := &reply{status: http.StatusNotModified, header: http.Header{"Etag": {a.servedETag(res)}}}
		if a.cfg.genHeader != "" {
			rep.header.Set(a.cfg.genHeader, res.gen)
		}
		return rep
	}
	return a.representation(http.StatusOK, res)
}

// write handles PUT, PATCH and DELETE of one resource, preconditions first.
func (a *API) write(r *http.Request, coll, id string, body []byte) *reply {
	c := a.collection(coll)
	res := c.docs[id]
	var doc map[string]any
	if r.Method != http.MethodDelete {
		var rep *reply
		if doc, rep = parseDoc(r, body); rep != nil {
			return rep
		}
	}
	if rep := a.preconditions(r, res, doc); rep != nil {
		return rep
	}
	switch r.Method {
	case http.MethodDelete:
		if res == nil {
			return problem(http.StatusNotFound, ProblemNotFound, "no such resource", r.URL.Path)
		}
		delete(c.docs, id)
		a.stats.Writes++
		return &reply{status: http.StatusNoContent, header: http.Header{}}
	case http.MethodPatch:
		if res == nil {
			return problem(http.StatusNotFound, ProblemNotFound, "no such resource", r.URL.Path)
		}
		doc = applyMergePatch(cloneDoc(res.doc), doc).(map[string]any)
	}
	if rep := a.checkUnique(coll, id, doc); rep != nil {
		return rep
	}
	status := http.StatusOK
	if res == nil {
		status = http.StatusCreated
	}
	stored := a.store(coll, id, doc)
	a.stats.Writes++
	return a.representation(status, stored)
}

// preconditions evaluates If-None-Match: *, If-Match and the body version,
// in RFC 9110's order, for a write to res (nil when absent).
func (a *API) preconditions(r *http.Request, res *resource, doc map[string]any) *reply {
	ifMatch := r.Header.Get("If-Match")
	bodyRev, hasBodyRev := a.requestVersion(r, doc)
	if r.Header.Get("If-None-Match") == "*" && res != nil && !a.cfg.ignoreINM {
		a.stats.Conflicts++
		return problem(http.StatusPreconditionFailed, ProblemAlreadyExists, "the resource already exists", r.URL.Path)
	}
	if a.cfg.genParam != "" && r.URL.Query().Has(a.cfg.genParam) {
		switch g := r.URL.Query().Get(a.cfg.genParam); {
		case g == "0" && res != nil:
			a.stats.Conflicts++
			return problem(http.StatusPreconditionFailed, ProblemAlreadyExists, "the resource already exists", r.URL.Path)
		case g != "0" && (res == nil || g != res.gen):
			a.stats.Conflicts++
			return a.stale(r, res, http.StatusPreconditionFailed)
		}
	}
	if ifMatch != "" && (res == nil || !a.ifMatch(ifMatch, res)) {
		a.stats.Conflicts++
		return a.stale(r, res, a.cfg.conflictStatusFor(false))
	}
	if hasBodyRev && (res == nil || bodyRev != res.rev) {
		a.stats.Conflicts++
		return a.stale(r, res, a.cfg.conflictStatusFor(true))
	}
	if a.cfg.requirePrecond && res != nil && ifMatch == "" && !hasBodyRev {
		return problem(http.StatusPreconditionRequired, ProblemPreconditionRequired, "this API requires If-Match on writes", r.URL.Path)
	}
	return nil
}

// conflictStatusFor is the status of a stale version: ConflictStatus when
// set, else 412 for If-Match and 409 for a body version.
func (c config) conflictStatusFor(body bool) int {
	if body && c.bodyVersion != nil {
		return c.conflictStatus
	}
	if c.conflictStatus == http.StatusConflict {
		return http.StatusConflict
	}
	return http.StatusPreconditionFailed
}

// requestVersion returns the body version a write carried: in the body,
// or for DELETE in the version query parameter.
func (a *API) requestVersion(r *http.Request, doc map[string]any) (string, bool) {
	if a.cfg.bodyVersion == nil {
		return "", false
	}
	if r.Method == http.MethodDelete {
		if a.cfg.versionQuery == "" || !r.URL.Query().Has(a.cfg.versionQuery) {
			return "", false
		}
		return r.URL.Query().Get(a.cfg.versionQuery), true
	}
	v, ok := lookup(doc, a.cfg.bodyVersion)
	if !ok || v == nil {
		return "", false
	}
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	}
	return fmt.Sprint(v), true
}

// stale is the answer to a write against an old version.
func (a *API) stale(r *http.Request, res *resource, status int) *reply {
	if a.cfg.conflictState && res != nil {
		return a.representation(status, res)
	}
	rep := problem(status, ProblemStaleVersion, "the resource has changed", r.URL.Path)
	if res == nil {
		rep = problem(status, ProblemStaleVersion, "the resource does not exist", r.URL.Path)
	}
	return rep
}

// checkUnique answers 409 when doc would duplicate a unique member of
// another document in the collection.
func (a *API) checkUnique(coll, id string, doc map[string]any) *reply {
	for _, member := range a.cfg.unique[coll] {
		v, ok := doc[member]
		if !ok {
			continue
		}
		for otherID, other := range a.collection(coll).docs {
			if otherID != id && jsonEqual(other.doc[member], v) {
				a.stats.Conflicts++
				rep := problem(http.StatusConflict, ProblemAlreadyExists, "a resource with this "+member+" already exists", "")
				rep.extend("member", member)
				return rep
			}
		}
	}
	return nil
}

func (a *API) representation(status int, res *resource) *reply {
	rep := jsonReply(status, res.doc)
	rep.header.Set("ETag", a.servedETag(res))
	if a.cfg.genHeader != "" {
		rep.header.Set(a.cfg.genHeader, res.gen)
	}
	return rep
}

// ifMatch evaluates If-Match against res: strong comparison with the tag
// served now (a weak one never matches), or as opaque strings with
// OpaqueETags.
func (a *API) ifMatch(list string, res *resource) bool {
	served := a.servedETag(res)
	if a.cfg.opaque {
		for _, t := range strings.Split(list, ",") {
			if t = strings.TrimSpace(t); t == "*" || t == served {
				return true
			}
		}
		return false
	}
	return !strings.HasPrefix(served, "W/") && matchesAny(list, res.etag, true)
}

// matchesAny evaluates an If-Match or If-None-Match list against etag,
// with strong (If-Match) or weak (If-None-Match) comparison.
func matchesAny(list, etag string, strong bool) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if strong && strings.HasPrefix(t, "W/") {
			continue
		}
		if strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// parseDoc decodes a request body that must be a JSON object.
func parseDoc(r *http.Request, body []byte) (map[string]any, *reply) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil ||
		(mt != "application/json" && mt != "application/merge-patch+json") {
		return nil, problem(http.StatusUnsupportedMediaType, ProblemBadRequest, "send application/json or application/merge-patch+json", "")
	}
	var doc map[string]any
	if err := decodeJSON(body, &doc); err != nil || doc == nil {
		return nil, problem(http.StatusBadRequest, ProblemBadRequest, "the body must be a JSON object", "")
	}
	return doc, nil
}

func methodNotAllowed(allow string) *reply {
	rep := problem(http.StatusMethodNotAllowed, ProblemBadRequest, "method not allowed", "")
	rep.header.Set("Allow", allow)
	return rep
}

func jsonReply(status int, v any) *reply {
	b, _ := json.Marshal(v)
	return &reply{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: b}
}

// problem builds an RFC 9457 problem document.
func problem(status int, typ, title, instance string) *reply {
	doc := map[string]any{"type": typ, "title": title, "status": status}
	if instance != "" {
		doc["instance"] = instance
	}
	rep := jsonReply(status, doc)
	rep.header.Set("Content-Type", "application/problem+json")
	return rep
}

// extend adds a member to a problem document.
func (rep *reply) extend(k string, v any) {
	var doc map[string]any
	_ = json.Unmarshal(rep.body, &doc)
	doc[k] = v
	rep.body, _ = json.Marshal(doc)
}

func (rep *reply) clone() *reply {
	return &reply{status: rep.status, header: rep.header.Clone(), body: bytes.Clone(rep.body)}
}

func writeReply(w http.ResponseWriter, rep *reply) {
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// dropConnection closes the connection without a response: the client
// sees the write fail although it committed.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
