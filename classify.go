package concord

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
	// KindAlreadyExists: a create found the resource there. The create's
	// ExistsPolicy decides between adopting it and ErrAlreadyExists.
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
)

var kindNames = [...]string{"none", "stale version", "already exists", "in progress", "idempotency key reused", "precondition required", "business rule"}

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
}

// Classifier names the kind of a conflict response. It returns ok=false to
// leave the decision to concord's built-in recognisers, so an API-specific
// classifier only has to know its own API's quirks.
type Classifier func(info ConflictInfo) (kind ConflictKind, ok bool)

// isConflictStatus reports whether a status is one the conflict classifier
// handles.
func isConflictStatus(status int) bool {
	switch status {
	case http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnprocessableEntity, http.StatusPreconditionRequired:
		return true
	}
	return false
}

// classify names the kind of a conflict response: the user's classifier
// first, then the recognisers for problem+json types, Kubernetes Status,
// CouchDB and Stripe bodies, then rules by status and by what was sent.
func classify(user Classifier, info ConflictInfo) (ConflictKind, string) {
	if user != nil {
		if k, ok := user(info); ok {
			return k, ""
		}
	}
	if info.StatusCode == http.StatusPreconditionRequired {
		return KindPreconditionRequired, ""
	}
	if info.Problem != nil {
		if k := kindFromToken(lastSegment(info.Problem.Type)); k != KindNone {
			return k, ""
		}
	}
	k, code := kindFromBody(info)
	if k == KindNone {
		k = kindByStatus(info)
	}
	return k, code
}

// kindByStatus is the fallback when the body names nothing: the meaning
// follows from the status and the precondition the request carried.
func kindByStatus(info ConflictInfo) ConflictKind {
	switch info.StatusCode {
	case http.StatusPreconditionFailed, http.StatusConflict:
		switch {
		case info.CreateOnly:
			return KindAlreadyExists
		case info.Conditional:
			return KindStaleVersion
		case info.StatusCode == http.StatusConflict && info.Keyed:
			// The Idempotency-Key draft uses a bare 409 for "the first request
			// with this key is still running". Waiting and resending the
			// same bytes is harmless when it meant something else: the
			// resend gets the same 409 and the loop's limit ends it.
			return KindInProgress
		}
	}
	return KindBusinessRule
}

// lastSegment returns the final path, fragment or URN segment of a
// problem type URI, lower-cased with '_' folded to '-'.
func lastSegment(uri string) string {
	uri = strings.TrimRight(uri, "/")
	if i := strings.LastIndexAny(uri, "/#:"); i >= 0 {
		uri = uri[i+1:]
	}
	return strings.ReplaceAll(strings.ToLower(uri), "_", "-")
}

// kindFromToken maps the words APIs use in problem types and error codes to
// a kind.
func kindFromToken(tok string) ConflictKind {
	switch tok {
	case "stale-version", "version-mismatch", "precondition-failed", "edit-conflict", "conflict", "aborted", "stale":
		return KindStaleVersion
	case "already-exists", "alreadyexists", "exists", "duplicate", "file-exists", "resource-exists":
		return KindAlreadyExists
	case "in-progress", "idempotency-key-in-use", "request-in-progress", "concurrent-request":
		return KindInProgress
	case "idempotency-key-reused", "idempotency-key-mismatch", "idempotency-error", "key-reused":
		return KindKeyReused
	}
	return KindNone
}

// kindFromBody recognises the conflict bodies of Kubernetes, CouchDB and
// Stripe. It returns the code it recognised for APIError.Code.
func kindFromBody(info ConflictInfo) (ConflictKind, string) {
	body := bytes.TrimSpace(info.Body)
	if len(body) == 0 || body[0] != '{' {
		return KindNone, ""
	}
	var doc struct {
		Kind   string          `json:"kind"`
		Reason string          `json:"reason"`
		Error  json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return KindNone, ""
	}
	// Kubernetes: {"kind":"Status","reason":"Conflict"|"AlreadyExists"}.
	if doc.Kind == "Status" && doc.Reason != "" {
		switch doc.Reason {
		case "Conflict":
			return KindStaleVersion, doc.Reason
		case "AlreadyExists":
			return KindAlreadyExists, doc.Reason
		}
		return KindNone, doc.Reason
	}
	if len(doc.Error) == 0 {
		return KindNone, ""
	}
	// CouchDB: {"error":"conflict"}: a stale _rev, or, for a write that
	// carried no revision, an ID that is already taken.
	var couch string
	if json.Unmarshal(doc.Error, &couch) == nil {
		switch couch {
		case "conflict":
			if info.Conditional {
				return KindStaleVersion, couch
			}
			return KindAlreadyExists, couch
		case "file_exists":
			return KindAlreadyExists, couch
		}
		return KindNone, couch
	}
	// Stripe: {"error":{"type":"idempotency_error","code":"idempotency_key_in_use"}}.
	var stripe struct {
		Type string `json:"type"`
		Code string `json:"code"`
	}
	if json.Unmarshal(doc.Error, &stripe) == nil {
		if k := kindFromToken(lastSegment(stripe.Code)); k != KindNone {
			return k, stripe.Code
		}
		if k := kindFromToken(lastSegment(stripe.Type)); k != KindNone {
			return k, stripe.Type
		}
		if stripe.Code != "" {
			return KindNone, stripe.Code
		}
		return KindNone, stripe.Type
	}
	return KindNone, ""
}

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
