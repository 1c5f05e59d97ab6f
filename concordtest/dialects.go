package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Dialects: options that make the fake behave like real servers whose
// conventions differ from concordtest's own, so that code written against
// concord can be tested against each (see concord's README, "Works with").

// WeakETags serves weak ETags (W/"…") for window after each write, as
// Apache's mod_dav does for about a second, or always when window is 0,
// as Azure Table storage does. If-Match compares strongly, as RFC 9110
// says, so a weak tag never satisfies it: a client must wait for a strong
// one (or, with OpaqueETags, echo the weak one).
func WeakETags(window time.Duration) Option {
	return func(c *config) { c.weak, c.weakWindow = true, window }
}

// OpaqueETags compares If-Match as an opaque string, weak tags included,
// as Azure Table storage does.
func OpaqueETags() Option { return func(c *config) { c.opaque = true } }

// IgnoreIfNoneMatch treats PUT with If-None-Match: * as a plain PUT, an
// upsert, as Azure Table storage does: a create-if-absent silently
// replaces what is there.
func IgnoreIfNoneMatch() Option { return func(c *config) { c.ignoreINM = true } }

// KeysOnPOSTOnly honors idempotency keys on POST only, as the IETF draft's
// examples and many servers do: a PUT, PATCH or DELETE repeated after a
// lost response is processed again.
func KeysOnPOSTOnly() Option { return func(c *config) { c.keysPOSTOnly = true } }

// PostUpdates takes a POST to an item as a write of its new state, as
// Stripe updates objects, preconditions and keys included.
func PostUpdates() Option { return func(c *config) { c.postUpdates = true } }

// GenerationQuery versions each resource with a generation number sent in
// the response header and taken from the query parameter param on every
// write, as Google Cloud Storage does with X-Goog-Generation and
// ifGenerationMatch: a write whose param is not the current generation
// gets 412, and "0" means "only if absent".
func GenerationQuery(param, header string) Option {
	return func(c *config) { c.genParam, c.genHeader = param, header }
}

// etagStyle is how the fake makes a resource's ETag.
type etagStyle int

const (
	etagRevision    etagStyle = iota // "r<revision>": moves with every write
	etagContentHash                  // a hash of the content, as S3's MD5
	etagFileTime                     // "<unix seconds>-<size>", as nginx's
)

// BareWriteAnswers answers a write with its status alone (204, or 201 for
// a create), no body and no ETag, as Apache mod_dav answers a PUT: the
// client learns the new version only by reading.
func BareWriteAnswers() Option { return func(c *config) { c.bareWrites = true } }

// Receipts answers a write with a receipt instead of the document, as
// CouchDB does: {"ok":true,"id":…,"rev":…}, the new body version (see
// VersionInBody) in member "rev", with the ETag. A client learns the new
// version from the receipt, or by reading.
func Receipts() Option { return func(c *config) { c.receipts = true } }

// NoETags sends no ETag at all, as some WebDAV servers do: a client has no
// version to make a write conditional on, and an If-Match it makes up
// never matches (412).
func NoETags() Option { return func(c *config) { c.noETags = true } }

// ContentHashETags makes each ETag a hash of the document's content, as
// S3's MD5 and Express's tags are: a write of the same content keeps the
// tag, so a tag is stale only once the content has changed.
func ContentHashETags() Option { return func(c *config) { c.etagStyle = etagContentHash } }

// FileTimeETags makes each strong ETag the write's time in whole seconds
// and the document's size, as nginx's "mtime-size" tags are: two writes of
// one size within a second share a tag, so the tag does not identify the
// content, If-Match cannot tell a stale write, and a revalidating GET is
// answered 304 for changed content.
func FileTimeETags() Option { return func(c *config) { c.etagStyle = etagFileTime } }

// IgnoreIfMatch ignores If-Match on the given methods (every write when
// none is given), as nginx and json-server do on every write and some
// servers on DELETE only: a stale write or delete goes through.
func IgnoreIfMatch(methods ...string) Option {
	return func(c *config) {
		if len(methods) == 0 {
			methods = []string{http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost}
		}
		c.ignoreIfMatch = make(map[string]bool)
		for _, m := range methods {
			c.ignoreIfMatch[m] = true
		}
	}
}

// RacyIfMatch checks If-Match and then writes without holding anything in
// between, as Apache mod_dav does: two writes carrying one current tag can
// both go through, and concurrent writers can lose an update whatever the
// client does (a client that takes the server's lock, with Locks, does
// not).
func RacyIfMatch() Option { return func(c *config) { c.racyIfMatch = true } }

// TornReads serves a read that comes while a write of the item is in
// progress (each write takes a few milliseconds) with the first half of
// the document being written, status 200 and no ETag, as two WebDAV
// servers were seen to (they write the file in place): a body that no
// write wrote. Writes of one item still take turns, each checking its
// preconditions against the last one's result. A reader that holds the
// server's lock (Locks) sees no write in progress: no one else writes the
// item while it holds the lock.
func TornReads() Option { return func(c *config) { c.tornReads = true } }

// NoPOSTCreate refuses a POST to a collection with 405, as a WebDAV server
// does: items are created only by a write to their own URL.
func NoPOSTCreate() Option { return func(c *config) { c.noPOSTCreate = true } }

// IgnoreIdempotencyKeys processes every request afresh whatever key it
// carries, as most servers do: a resent POST creates a second item, a
// resent PUT writes again.
func IgnoreIdempotencyKeys() Option { return func(c *config) { c.ignoreKeys = true } }

// IgnoreMergePatch answers a PATCH with 200 and the document as it was,
// changing nothing, as json-server does with application/merge-patch+json.
func IgnoreMergePatch() Option { return func(c *config) { c.ignorePatch = true } }

// RedirectCollections answers a request to a collection's URL without its
// trailing slash with status (301, 302, 307, 308) and a Location with the
// slash, as many servers do for a folder.
func RedirectCollections(status int) Option { return func(c *config) { c.redirectStatus = status } }

// ErrorDialect is the error format the fake answers in.
type ErrorDialect int

const (
	// DialectProblemJSON: RFC 9457 problem documents (the default).
	DialectProblemJSON ErrorDialect = iota
	// DialectPlainText: a bare status with a text/plain body, as many APIs and
	// proxies answer.
	DialectPlainText
	// DialectAzure: x-ms-error-code and {"odata.error":{"code":…}}.
	DialectAzure
	// DialectGoogle: {"error":{"code":…,"status":…,"errors":[{"reason":…}]}}.
	DialectGoogle
	// DialectS3: <Error><Code>…</Code></Error>.
	DialectS3
)

// Errors sets the error format.
func Errors(d ErrorDialect) Option { return func(c *config) { c.errors = d } }

// dialectCodes are each dialect's codes for the fake's problem types.
var dialectCodes = map[string][4]string{ // azure, google reason, google status, s3
	ProblemStaleVersion:      {"UpdateConditionNotSatisfied", "conditionNotMet", "FAILED_PRECONDITION", "PreconditionFailed"},
	ProblemAlreadyExists:     {"EntityAlreadyExists", "conflict", "ALREADY_EXISTS", "ObjectAlreadyExists"},
	ProblemNotFound:          {"ResourceNotFound", "notFound", "NOT_FOUND", "NoSuchKey"},
	ProblemRequestInProgress: {"OperationInProgress", "conflict", "ABORTED", "OperationAborted"},
}

// inDialect rewrites a problem reply in the configured error format.
func (c config) inDialect(rep *reply) *reply {
	if c.errors == DialectProblemJSON || rep.header.Get("Content-Type") != "application/problem+json" {
		return rep
	}
	var p struct {
		Type  string `json:"type"`
		Title string `json:"title"`
	}
	_ = json.Unmarshal(rep.body, &p)
	codes, ok := dialectCodes[p.Type]
	if !ok {
		codes = [4]string{"InvalidInput", "invalid", "INVALID_ARGUMENT", "InvalidRequest"}
	}
	out := &reply{status: rep.status, header: rep.header.Clone()}
	out.header.Del("Content-Type")
	switch c.errors {
	case DialectPlainText:
		out.header.Set("Content-Type", "text/plain; charset=utf-8")
		out.body = []byte(http.StatusText(rep.status) + "\n")
	case DialectAzure:
		out.header.Set("X-Ms-Error-Code", codes[0])
		doc := map[string]any{"odata.error": map[string]any{"code": codes[0], "message": map[string]string{"lang": "en-US", "value": p.Title}}}
		out.body, _ = json.Marshal(doc)
		out.header.Set("Content-Type", "application/json")
	case DialectGoogle:
		doc := map[string]any{"error": map[string]any{"code": rep.status, "message": p.Title, "status": codes[2],
			"errors": []map[string]string{{"domain": "global", "reason": codes[1], "message": p.Title}}}}
		out.body, _ = json.Marshal(doc)
		out.header.Set("Content-Type", "application/json")
	case DialectS3:
		out.header.Set("Content-Type", "application/xml")
		out.body = []byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + codes[3] + `</Code><Message>` +
			strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;").Replace(p.Title) + `</Message></Error>`)
	}
	return out
}

// servedETag is the tag a response shows for res: weak while WeakETags
// says so.
func (a *API) servedETag(res *resource) string {
	if a.cfg.weak && (a.cfg.weakWindow == 0 || a.cfg.now().Sub(res.written) < a.cfg.weakWindow) {
		return "W/" + res.etag
	}
	return res.etag
}

// String names the dialect.
func (d ErrorDialect) String() string {
	switch d {
	case DialectProblemJSON:
		return "problem+json"
	case DialectPlainText:
		return "plain"
	case DialectAzure:
		return "azure"
	case DialectGoogle:
		return "google"
	case DialectS3:
		return "s3"
	}
	return "unknown"
}
