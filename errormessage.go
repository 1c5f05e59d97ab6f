package concord

// Layer: Values (ARCHITECTURE.md).

// The server's own message in an error response,
// read from each common error format, so that an APIError shows what the
// API said ("Validation Failed") and not only its status.

import (
	"bytes"
	"encoding/json"
	"strings"
)

// maxMessage bounds the server's message an APIError keeps and shows.
const maxMessage = 512

// messageDoc holds the members JSON error formats put their message in.
type messageDoc struct {
	Kind    string          `json:"kind"`    // Kubernetes: "Status"
	Message json.RawMessage `json:"message"` // GitHub, Kubernetes and many: a string
	Detail  json.RawMessage `json:"detail"`  // FastAPI, Django REST framework: a string
	Reason  string          `json:"reason"`  // CouchDB's message (Kubernetes' is a code)
	Error   json.RawMessage `json:"error"`   // a string, or {"message": ...} (Stripe, Google, Azure)
	OData   *struct {
		Message struct {
			Value string `json:"value"`
		} `json:"message"`
	} `json:"odata.error"` // Azure Table
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"` // GraphQL-style lists, JSON:API's "detail" aside
	ErrorDescription string `json:"error_description"` // OAuth 2.0
}

// serverMessage returns the human-readable message of an error body, or
// "" when it has none concord can find: Azure's odata.error, an error
// object's message (Stripe, Google, Azure), a top-level message (GitHub,
// Kubernetes), detail (FastAPI), CouchDB's reason, a bare error string,
// the first of an errors list, an OAuth error_description, or an XML
// <Message> (S3, Azure Blob). It is printable and at most maxMessage bytes.
func serverMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	if body[0] == '<' {
		return printable(xmlElement(body, "Message", maxMessage), maxMessage)
	}
	var doc messageDoc
	if body[0] != '{' || json.Unmarshal(body, &doc) != nil {
		return ""
	}
	for _, m := range doc.candidates() {
		if m = strings.TrimSpace(m); m != "" {
			return printable(m, maxMessage)
		}
	}
	return ""
}

// candidates are doc's messages, most specific first.
func (doc *messageDoc) candidates() []string {
	var out []string
	if doc.OData != nil {
		out = append(out, doc.OData.Message.Value)
	}
	var errObj struct {
		Message string `json:"message"`
	}
	var errStr string
	if json.Unmarshal(doc.Error, &errObj) == nil {
		out = append(out, errObj.Message)
	}
	out = append(out, rawString(doc.Message), rawString(doc.Detail))
	if doc.Kind != "Status" {
		out = append(out, doc.Reason)
	}
	if json.Unmarshal(doc.Error, &errStr) == nil {
		out = append(out, errStr)
	}
	for _, e := range doc.Errors {
		out = append(out, e.Message)
	}
	return append(out, doc.ErrorDescription)
}

// rawString is a JSON string's value, "" for anything else.
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// xmlElement returns the text of the first <name> element in body, when
// it is at most limit bytes of plain text.
func xmlElement(body []byte, name string, limit int) string {
	open, end := []byte("<"+name+">"), []byte("</"+name+">")
	i := bytes.Index(body, open)
	if i < 0 {
		return ""
	}
	rest := body[i+len(open):]
	j := bytes.Index(rest, end)
	if j < 0 || j > limit || bytes.ContainsAny(rest[:j], "<>") {
		return ""
	}
	return string(bytes.TrimSpace(rest[:j]))
}
