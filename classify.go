package concord

// Layer: Values (ARCHITECTURE.md).

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
)

// ConflictKind says what a 409, 412, 422 or 428 response meant, which decides
// what concord does next (see the table in the package documentation).
type ConflictKind int

const (
	// KindNone: the response was not a conflict.
	KindNone ConflictKind = iota
	// KindStaleVersion: the write was made against an old version. concord
	// refetches, merges and retries.
	KindStaleVersion
	// KindAlreadyExists: a create found the resource there. CreateAt adopts
	// it if it equals what was sent; otherwise ErrAlreadyExists.
	KindAlreadyExists
	// KindInProgress: a request with the same idempotency key is still being
	// processed. concord waits and resends the same key and bytes.
	KindInProgress
	// KindKeyReused: the idempotency key was used before with another
	// payload. Permanent: a bug in the caller.
	KindKeyReused
	// KindPreconditionRequired: the server wants a conditional write (428).
	// concord fetches the version and retries once conditionally.
	KindPreconditionRequired
	// KindBusinessRule: any other conflict (a state machine, a uniqueness
	// rule the classifier cannot name). Permanent; the body is in the error.
	KindBusinessRule
	// KindLocked: another holder has the server's lock on the resource
	// (423 Locked, Azure's LeaseAlreadyPresent), or a write under a lock
	// was refused because the lock was lost (Azure's LeaseLost). Taking a
	// lock waits for it (see WithLocks); a write under a lost lock is
	// reported, never retried blindly.
	KindLocked
)

var kindNames = [...]string{"none", "stale version", "already exists", "in progress", "idempotency key reused", "precondition required", "business rule", "locked"}

// String returns a short lower-case name such as "stale version".
func (k ConflictKind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "unknown"
	}
	return kindNames[k]
}

// ConflictInfo is what a Classifier sees: the response and what the request
// that caused it carried.
type ConflictInfo struct {
	Method     string
	StatusCode int
	Header     http.Header
	// Body is the bounded prefix of the response body.
	Body []byte
	// Problem is the parsed problem+json document, when there was one.
	Problem *Problem
	// Conditional: the request carried a version (If-Match or a body
	// version).
	Conditional bool
	// CreateOnly: the request carried If-None-Match: *.
	CreateOnly bool
	// Keyed: the request carried an idempotency key.
	Keyed bool
	// Create: the request creates a resource (Resource.Create or CreateAt),
	// so an otherwise unexplained 409 means the resource is already there.
	Create bool
}

// Classifier names the kind of a conflict response. It returns ok=false to
// leave the decision to concord's built-in recognizers, so an API-specific
// classifier only has to know its own API's quirks.
type Classifier func(info ConflictInfo) (kind ConflictKind, ok bool)

// isConflictStatus reports whether a status is one the conflict classifier
// handles.
func isConflictStatus(status int) bool {
	switch status {
	case http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnprocessableEntity, http.StatusPreconditionRequired, http.StatusLocked:
		return true
	}
	return false
}

// classify names the kind of a conflict response: the user's classifier
// first, then the error code the body or headers carry in any of the
// dialects concord reads (see errorCode), then rules by status and by what
// the request carried. It also returns the code, for APIError.Code.
func classify(user Classifier, info ConflictInfo) (ConflictKind, string) {
	dialect, code := errorCode(info.Header, info.Body, info.Problem)
	if user != nil {
		if k, ok := user(info); ok {
			return k, code
		}
	}
	if info.StatusCode == http.StatusPreconditionRequired {
		return KindPreconditionRequired, code
	}
	if k := kindOfCode(dialect, code, info); k != KindNone {
		if k == KindStaleVersion && info.CreateOnly {
			// A create-only write has no version to be stale: a failed
			// condition means the resource is there (Google's
			// conditionNotMet to ifGenerationMatch=0, say).
			k = KindAlreadyExists
		}
		return k, code
	}
	return kindByStatus(info), code
}

// kindByStatus is the fallback when no code names the conflict: the
// meaning follows from the status and the precondition the request carried.
func kindByStatus(info ConflictInfo) ConflictKind {
	switch info.StatusCode {
	case http.StatusLocked:
		return KindLocked
	case http.StatusPreconditionFailed, http.StatusConflict:
		switch {
		case info.CreateOnly:
			return KindAlreadyExists
		case info.Conditional:
			return KindStaleVersion
		case info.StatusCode == http.StatusConflict && info.Keyed && info.Header.Get("Retry-After") != "":
			// The Idempotency-Key draft uses 409 for "the first request
			// with this key is still running", but so does every API for
			// "name taken" or "wrong state". Only a 409 that says when to
			// come back is taken for "in progress": anything else would be
			// resent for nothing and reported as something it was not.
			return KindInProgress
		case info.StatusCode == http.StatusConflict && info.Create:
			return KindAlreadyExists
		}
	}
	return KindBusinessRule
}

// codeKinds maps error codes, folded by foldCode, to what they mean. Codes
// from every dialect share the table: the same word means the same thing
// whoever sends it.
var codeKinds = map[string]ConflictKind{
	// A write against an old version.
	"stale": KindStaleVersion, "staleversion": KindStaleVersion, "versionmismatch": KindStaleVersion,
	"preconditionfailed": KindStaleVersion, "editconflict": KindStaleVersion, "aborted": KindStaleVersion,
	"updateconditionnotsatisfied": KindStaleVersion, // Azure Table
	"conditionnotmet":             KindStaleVersion, // Azure Blob, Google Cloud Storage
	"conditionalrequestconflict":  KindStaleVersion, // S3
	// The resource is already there.
	"alreadyexists": KindAlreadyExists, "exists": KindAlreadyExists, "duplicate": KindAlreadyExists,
	"fileexists": KindAlreadyExists, "resourceexists": KindAlreadyExists, "resourcealreadyexists": KindAlreadyExists,
	"entityalreadyexists": KindAlreadyExists, "blobalreadyexists": KindAlreadyExists, // Azure
	"containeralreadyexists": KindAlreadyExists, "tablealreadyexists": KindAlreadyExists,
	// Another holder has the lock, or ours was lost (Azure Blob leases).
	"leasealreadypresent": KindLocked, "leaseidmissing": KindLocked, "leaselost": KindLocked,
	"leaseidmismatchwithbloboperation": KindLocked, "leasenotpresentwithbloboperation": KindLocked,
	"leaseidmismatchwithleaseoperation": KindLocked, "locked": KindLocked,
	// The same idempotency key is still being processed.
	"inprogress": KindInProgress, "idempotencykeyinuse": KindInProgress, "requestinprogress": KindInProgress,
	"concurrentrequest": KindInProgress,
	// The idempotency key was used with another request.
	"idempotencykeyreused": KindKeyReused, "idempotencykeymismatch": KindKeyReused, "idempotencyerror": KindKeyReused,
	"keyreused": KindKeyReused,
}

// kindOfCode returns what an error code means. A bare "conflict" depends
// on the dialect and the request: against a version it is a stale write,
// on a create the name is taken.
func kindOfCode(dialect, code string, info ConflictInfo) ConflictKind {
	if code == "" {
		return KindNone
	}
	folded := foldCode(lastSegment(code))
	if folded == "conflict" {
		switch {
		case info.Conditional || dialect == dialectKubernetes:
			// Kubernetes says Conflict only for a stale resourceVersion.
			return KindStaleVersion
		case info.Create || info.CreateOnly || dialect == dialectCouchDB:
			// CouchDB says conflict for a write without a rev to an ID
			// that is taken.
			return KindAlreadyExists
		}
		return KindNone
	}
	return codeKinds[folded]
}

// foldCode lower-cases a code and drops separators, so that
// "EntityAlreadyExists", "entity_already_exists" and "entity-already-exists"
// are one code.
func foldCode(code string) string {
	var b strings.Builder
	b.Grow(len(code))
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c == '-' || c == '_' || c == ' ' || c == '.':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// lastSegment returns the final path, fragment or URN segment of a
// problem type URI (or a plain code, unchanged).
func lastSegment(uri string) string {
	uri = strings.TrimRight(uri, "/")
	if i := strings.LastIndexAny(uri, "/#:"); i >= 0 {
		uri = uri[i+1:]
	}
	return uri
}

// Error dialects concord reads a machine-readable code from, in the order
// they are tried. One table, so that adding an API's format is one entry.
//
//	dialect          where the code is
//	problem+json     type (RFC 9457), its last segment
//	azure            x-ms-error-code header; {"odata.error":{"code"}}; {"error":{"code"}}
//	kubernetes       {"kind":"Status","reason"}
//	couchdb          {"error":"conflict","reason":...}
//	stripe           {"error":{"type","code"}}
//	google           {"error":{"status","errors":[{"reason"}]}}
//	github           {"message", "errors":[{"code"}]}
//	s3               <Error><Code>PreconditionFailed</Code></Error>
const (
	dialectNone       = ""
	dialectProblem    = "problem+json"
	dialectAzure      = "azure"
	dialectKubernetes = "kubernetes"
	dialectCouchDB    = "couchdb"
	dialectStripe     = "stripe"
	dialectGoogle     = "google"
	dialectGitHub     = "github"
	dialectS3         = "s3"
)

// errorDoc holds every member the JSON dialects keep their code in; one
// decode serves them all.
type errorDoc struct {
	Kind   string          `json:"kind"`
	Reason string          `json:"reason"`
	Error  json.RawMessage `json:"error"`
	OData  *struct {
		Code string `json:"code"`
	} `json:"odata.error"`
	Message string `json:"message"`
	Errors  []struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

// errorObject is the {"error":{...}} member of Stripe, Google and Azure.
type errorObject struct {
	Type   string          `json:"type"`   // Stripe
	Code   json.RawMessage `json:"code"`   // a string (Stripe, Azure) or the status (Google)
	Status string          `json:"status"` // Google: "FAILED_PRECONDITION", "ABORTED", "ALREADY_EXISTS"
	Errors []struct {
		Reason string `json:"reason"` // Google: "conditionNotMet"
	} `json:"errors"`
}

// errorCode returns the dialect and the machine-readable code of an error
// response, or "" for both when it carries none that concord can read.
func errorCode(h http.Header, body []byte, p *Problem) (dialect, code string) {
	if p != nil && p.Type != "" && p.Type != "about:blank" {
		return dialectProblem, p.Type
	}
	if c := h.Get("X-Ms-Error-Code"); c != "" {
		return dialectAzure, truncate(c, 128)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return dialectNone, ""
	}
	if body[0] == '<' {
		if c := xmlCode(body); c != "" {
			return dialectS3, c
		}
		return dialectNone, ""
	}
	if body[0] != '{' {
		return dialectNone, ""
	}
	var doc errorDoc
	if json.Unmarshal(body, &doc) != nil {
		return dialectNone, ""
	}
	switch {
	case doc.Kind == "Status" && doc.Reason != "":
		return dialectKubernetes, doc.Reason
	case doc.OData != nil && doc.OData.Code != "":
		return dialectAzure, doc.OData.Code
	case len(doc.Error) > 0 && doc.Error[0] == '"':
		var couch string
		if json.Unmarshal(doc.Error, &couch) == nil {
			if doc.Reason == "" {
				// {"error":"Not Found"} is many servers' shape, not
				// CouchDB's, which always gives a reason.
				return dialectNone, couch
			}
			return dialectCouchDB, couch
		}
	case len(doc.Error) > 0 && doc.Error[0] == '{':
		return objectCode(doc.Error)
	case len(doc.Errors) > 0 && doc.Errors[0].Code != "":
		return dialectGitHub, doc.Errors[0].Code
	case doc.Message != "":
		return dialectGitHub, ""
	}
	return dialectNone, ""
}

// objectCode reads the code of an {"error":{...}} member.
func objectCode(raw json.RawMessage) (dialect, code string) {
	var e errorObject
	if json.Unmarshal(raw, &e) != nil {
		return dialectNone, ""
	}
	if len(e.Errors) > 0 && e.Errors[0].Reason != "" {
		return dialectGoogle, e.Errors[0].Reason
	}
	if e.Status != "" {
		return dialectGoogle, e.Status
	}
	var s string
	if json.Unmarshal(e.Code, &s) == nil && s != "" {
		if e.Type != "" {
			return dialectStripe, s
		}
		return dialectAzure, s
	}
	if e.Type != "" {
		return dialectStripe, e.Type
	}
	return dialectNone, ""
}

// xmlCode returns the text of the first <Code> element (S3 and Azure's
// XML errors), bounded and without markup.
func xmlCode(body []byte) string { return xmlElement(body, "Code", 128) }

// parseProblem decodes an RFC 9457 document when the media type says it is
// one. A document that does not parse gives nil: it stays in the raw body.
func parseProblem(h http.Header, body []byte) *Problem {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "application/problem+json" {
		return nil
	}
	var all map[string]any
	if json.Unmarshal(body, &all) != nil {
		return nil
	}
	p := &Problem{Type: "about:blank"}
	for k, v := range all {
		switch k {
		case "type":
			p.Type, _ = v.(string)
		case "title":
			p.Title, _ = v.(string)
		case "detail":
			p.Detail, _ = v.(string)
		case "instance":
			p.Instance, _ = v.(string)
		case "status":
			if f, ok := v.(float64); ok {
				p.Status = int(f)
			}
		default:
			if p.Extensions == nil {
				p.Extensions = make(map[string]any)
			}
			p.Extensions[k] = v
		}
	}
	return p
}

// requestID returns the request identifier a server sent, under the header
// names in common use.
func requestID(h http.Header) string {
	for _, name := range [...]string{"X-Request-Id", "Request-Id", "X-Amzn-Requestid", "X-Correlation-Id"} {
		if v := h.Get(name); v != "" {
			return truncate(v, 128)
		}
	}
	return ""
}
