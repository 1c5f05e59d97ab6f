package concord

import (
	"net/http"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		info     ConflictInfo
		want     ConflictKind
		wantCode string
	}{
		{"412 after If-Match", ConflictInfo{StatusCode: 412, Conditional: true}, KindStaleVersion, ""},
		{"409 after If-Match", ConflictInfo{StatusCode: 409, Conditional: true}, KindStaleVersion, ""},
		{"412 after If-None-Match: *", ConflictInfo{StatusCode: 412, CreateOnly: true}, KindAlreadyExists, ""},
		{"412 without a precondition", ConflictInfo{StatusCode: 412}, KindBusinessRule, ""},
		{"bare 409", ConflictInfo{StatusCode: 409}, KindBusinessRule, ""},
		{"bare 409 to a keyed request", ConflictInfo{StatusCode: 409, Keyed: true}, KindBusinessRule, ""},
		{"409 to a keyed request with Retry-After", ConflictInfo{StatusCode: 409, Keyed: true, Header: http.Header{"Retry-After": {"1"}}}, KindInProgress, ""},
		{"bare 409 to a keyed create", ConflictInfo{StatusCode: 409, Keyed: true, Create: true, Body: []byte(`{"message":"name already taken"}`)}, KindAlreadyExists, ""},
		{"428", ConflictInfo{StatusCode: 428}, KindPreconditionRequired, ""},
		{"bare 422", ConflictInfo{StatusCode: 422, Keyed: true}, KindBusinessRule, ""},
		{"problem: stale", ConflictInfo{StatusCode: 409, Problem: &Problem{Type: "https://api.example.com/problems/stale-version"}}, KindStaleVersion, "https://api.example.com/problems/stale-version"},
		{"problem: exists", ConflictInfo{StatusCode: 409, Conditional: true, Problem: &Problem{Type: "urn:x:already_exists"}}, KindAlreadyExists, "urn:x:already_exists"},
		{"problem: in progress", ConflictInfo{StatusCode: 409, Problem: &Problem{Type: "https://example.com/errors#request-in-progress"}}, KindInProgress, "https://example.com/errors#request-in-progress"},
		{"problem: key reused", ConflictInfo{StatusCode: 422, Problem: &Problem{Type: "https://example.com/idempotency-key-mismatch/"}}, KindKeyReused, "https://example.com/idempotency-key-mismatch/"},
		{"problem: unknown type falls back", ConflictInfo{StatusCode: 409, Conditional: true, Problem: &Problem{Type: "about:blank"}}, KindStaleVersion, ""},
		{"kubernetes conflict", ConflictInfo{StatusCode: 409, Body: []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict","code":409}`)}, KindStaleVersion, "Conflict"},
		{"kubernetes exists", ConflictInfo{StatusCode: 409, Body: []byte(`{"kind":"Status","reason":"AlreadyExists"}`)}, KindAlreadyExists, "AlreadyExists"},
		{"kubernetes other", ConflictInfo{StatusCode: 409, Body: []byte(`{"kind":"Status","reason":"Invalid"}`)}, KindBusinessRule, "Invalid"},
		{"couchdb with rev", ConflictInfo{StatusCode: 409, Conditional: true, Body: []byte(`{"error":"conflict","reason":"Document update conflict."}`)}, KindStaleVersion, "conflict"},
		{"couchdb create", ConflictInfo{StatusCode: 409, Body: []byte(`{"error":"conflict","reason":"Document update conflict."}`)}, KindAlreadyExists, "conflict"},
		{"couchdb file_exists", ConflictInfo{StatusCode: 412, Body: []byte(`{"error":"file_exists","reason":"The database could not be created, the file already exists."}`)}, KindAlreadyExists, "file_exists"},
		{"bare error string", ConflictInfo{StatusCode: 412, Body: []byte(`{"error":"file_exists"}`)}, KindAlreadyExists, "file_exists"},
		{"stripe in use", ConflictInfo{StatusCode: 409, Body: []byte(`{"error":{"type":"invalid_request_error","code":"idempotency_key_in_use"}}`)}, KindInProgress, "idempotency_key_in_use"},
		{"stripe reuse", ConflictInfo{StatusCode: 400 + 22, Body: []byte(`{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}}`)}, KindKeyReused, "idempotency_error"},
		{"stripe exists", ConflictInfo{StatusCode: 409, Body: []byte(`{"error":{"type":"invalid_request_error","code":"resource_already_exists"}}`)}, KindAlreadyExists, "resource_already_exists"},
		{"stripe other code", ConflictInfo{StatusCode: 409, Body: []byte(`{"error":{"type":"invalid_request_error","code":"charge_already_refunded"}}`)}, KindBusinessRule, "charge_already_refunded"},
		{"azure table exists (header)", ConflictInfo{StatusCode: 409, Keyed: true, Header: http.Header{"X-Ms-Error-Code": {"EntityAlreadyExists"}}}, KindAlreadyExists, "EntityAlreadyExists"},
		{"azure table exists (odata body)", ConflictInfo{StatusCode: 409, Keyed: true, Body: []byte(`{"odata.error":{"code":"EntityAlreadyExists","message":{"lang":"en-US","value":"The specified entity already exists."}}}`)}, KindAlreadyExists, "EntityAlreadyExists"},
		{"azure table stale", ConflictInfo{StatusCode: 412, Conditional: true, Header: http.Header{"X-Ms-Error-Code": {"UpdateConditionNotSatisfied"}}}, KindStaleVersion, "UpdateConditionNotSatisfied"},
		{"azure blob exists on If-None-Match: *", ConflictInfo{StatusCode: 409, CreateOnly: true, Body: []byte(`<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobAlreadyExists</Code><Message>The specified blob already exists.</Message></Error>`)}, KindAlreadyExists, "BlobAlreadyExists"},
		{"azure blob stale", ConflictInfo{StatusCode: 412, Conditional: true, Body: []byte(`<Error><Code>ConditionNotMet</Code></Error>`)}, KindStaleVersion, "ConditionNotMet"},
		{"azure json error", ConflictInfo{StatusCode: 409, Body: []byte(`{"error":{"code":"ResourceExists","message":"exists"}}`)}, KindAlreadyExists, "ResourceExists"},
		{"google reason", ConflictInfo{StatusCode: 412, Conditional: true, Body: []byte(`{"error":{"code":412,"message":"Precondition Failed","errors":[{"message":"Precondition Failed","domain":"global","reason":"conditionNotMet"}]}}`)}, KindStaleVersion, "conditionNotMet"},
		{"google status", ConflictInfo{StatusCode: 409, Body: []byte(`{"error":{"code":409,"message":"exists","status":"ALREADY_EXISTS"}}`)}, KindAlreadyExists, "ALREADY_EXISTS"},
		{"google aborted", ConflictInfo{StatusCode: 409, Body: []byte(`{"error":{"code":409,"status":"ABORTED"}}`)}, KindStaleVersion, "ABORTED"},
		{"google create-only", ConflictInfo{StatusCode: 412, CreateOnly: true, Body: []byte(`{"error":{"code":412,"errors":[{"reason":"conditionNotMet"}]}}`)}, KindAlreadyExists, "conditionNotMet"},
		{"s3 precondition", ConflictInfo{StatusCode: 412, Conditional: true, Body: []byte(`<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>`)}, KindStaleVersion, "PreconditionFailed"},
		{"s3 conditional conflict", ConflictInfo{StatusCode: 409, Body: []byte(`<Error><Code>ConditionalRequestConflict</Code></Error>`)}, KindStaleVersion, "ConditionalRequestConflict"},
		{"github validation", ConflictInfo{StatusCode: 422, Body: []byte(`{"message":"Validation Failed","errors":[{"resource":"Label","code":"already_exists","field":"name"}]}`)}, KindAlreadyExists, "already_exists"},
		{"github plain message to an update", ConflictInfo{StatusCode: 409, Keyed: true, Body: []byte(`{"message":"name already taken"}`)}, KindBusinessRule, ""},
		{"xml without a code", ConflictInfo{StatusCode: 409, Body: []byte(`<Error><Code><b>x</b></Code></Error>`)}, KindBusinessRule, ""},
		{"garbage body", ConflictInfo{StatusCode: 409, Conditional: true, Body: []byte(`{"error":`)}, KindStaleVersion, ""},
		{"html body", ConflictInfo{StatusCode: 409, Body: []byte(`<html>conflict</html>`)}, KindBusinessRule, ""},
	}
	for _, tt := range tests {
		kind, code := classify(nil, tt.info)
		if kind != tt.want || code != tt.wantCode {
			t.Errorf("%s: classify = %v, %q; want %v, %q", tt.name, kind, code, tt.want, tt.wantCode)
		}
	}
	custom := func(info ConflictInfo) (ConflictKind, bool) {
		if info.Header.Get("X-Locked") != "" {
			return KindInProgress, true
		}
		return KindNone, false
	}
	if k, _ := classify(custom, ConflictInfo{StatusCode: 409, Header: http.Header{"X-Locked": {"1"}}}); k != KindInProgress {
		t.Errorf("custom classifier ignored: %v", k)
	}
	if k, _ := classify(custom, ConflictInfo{StatusCode: 412, Conditional: true, Header: http.Header{}}); k != KindStaleVersion {
		t.Errorf("custom classifier did not defer: %v", k)
	}
}

func TestParseProblem(t *testing.T) {
	tests := []struct {
		ct, body string
		want     *Problem
	}{
		{"application/problem+json", `{"title":"t","status":409}`, &Problem{Type: "about:blank", Title: "t", Status: 409}},
		{"application/problem+json; charset=utf-8", `{"type":"x","detail":"d","instance":"/i"}`, &Problem{Type: "x", Detail: "d", Instance: "/i"}},
		{"application/json", `{"type":"x"}`, nil},
		{"application/problem+json", `not json`, nil},
		{"application/problem+json", `{"type":5,"status":"x"}`, &Problem{}},
	}
	for _, tt := range tests {
		got := parseProblem(http.Header{"Content-Type": {tt.ct}}, []byte(tt.body))
		if (got == nil) != (tt.want == nil) || got != nil && (got.Type != tt.want.Type || got.Title != tt.want.Title || got.Status != tt.want.Status || got.Detail != tt.want.Detail || got.Instance != tt.want.Instance) {
			t.Errorf("parseProblem(%q, %s) = %+v; want %+v", tt.ct, tt.body, got, tt.want)
		}
	}
}

// TestCouchDBNeedsItsReason: {"error":"..."} alone is many servers' shape
// (json-server, Express apps), not CouchDB's, which always gives a reason.
func TestCouchDBNeedsItsReason(t *testing.T) {
	tests := []struct{ body, dialect, code string }{
		{`{"error":"Not Found"}`, "", "Not Found"},
		{`{"error":"not_found","reason":"missing"}`, "couchdb", "not_found"},
	}
	for _, tt := range tests {
		if d, c := errorCode(nil, []byte(tt.body), nil); d != tt.dialect || c != tt.code {
			t.Errorf("errorCode(%s) = %q, %q; want %q, %q", tt.body, d, c, tt.dialect, tt.code)
		}
	}
}

func TestConflictKindNames(t *testing.T) {
	for k, want := range map[ConflictKind]string{-1: "unknown", KindNone: "none", KindBusinessRule: "business rule", KindLocked: "locked", KindLocked + 1: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("ConflictKind(%d).String() = %q; want %q", int(k), got, want)
		}
	}
}

func TestErrorCodeParsing(t *testing.T) {
	long := strings.Repeat("A", 128)
	tests := []struct {
		body          string
		dialect, code string
	}{
		{`<Code>PreconditionFailed</Code>`, dialectS3, "PreconditionFailed"},
		{`<Error><Code>` + long + `</Code></Error>`, dialectS3, long},
		{`<Error><Code>` + long + `A</Code></Error>`, dialectNone, ""},
		{`{"error":{"type":"invalid_request_error","code":"resource_missing"}}`, dialectStripe, "resource_missing"},
		{`{"error":{"code":"BlobNotFound"}}`, dialectAzure, "BlobNotFound"},
	}
	for _, tt := range tests {
		if d, c := errorCode(nil, []byte(tt.body), nil); d != tt.dialect || c != tt.code {
			t.Errorf("errorCode(%.40s) = %q, %q; want %q, %q", tt.body, d, c, tt.dialect, tt.code)
		}
	}
	if got := lastSegment("#request-in-progress"); got != "request-in-progress" {
		t.Errorf("lastSegment(#request-in-progress) = %q", got)
	}
}
