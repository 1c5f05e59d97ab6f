package concord_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/concord-go/concord"
)

// TestErrorsInTheAPIsWords: an APIError carries, and its text shows, the
// server's own message and code for each common error format. The bodies
// are each API's documented error format.
func TestErrorsInTheAPIsWords(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		status                  int
		message, shown          string
	}{
		{"GitHub 404", "application/json", `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`, 404,
			"Not Found", "404 Not Found: Not Found"},
		{"GitHub 422", "application/json", `{"message":"Validation Failed","errors":[{"resource":"Issue","field":"title","code":"missing_field"}],"documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue"}`, 422,
			"Validation Failed", "Validation Failed (missing_field)"},
		{"Stripe", "application/json", `{"error":{"code":"resource_missing","doc_url":"https://stripe.com/docs/error-codes/resource-missing","message":"No such customer: 'cus_123'","param":"id","type":"invalid_request_error"}}`, 404,
			"No such customer: 'cus_123'", "No such customer: 'cus_123' (resource_missing)"},
		{"Google", "application/json", `{"error":{"code":412,"message":"Precondition Failed","errors":[{"message":"Precondition Failed","domain":"global","reason":"conditionNotMet"}]}}`, 412,
			"Precondition Failed", "Precondition Failed (conditionNotMet)"},
		{"Azure Table", "application/json", `{"odata.error":{"code":"EntityAlreadyExists","message":{"lang":"en-US","value":"The specified entity already exists.\nRequestId:0f1e"}}}`, 409,
			"The specified entity already exists. RequestId:0f1e", "(EntityAlreadyExists)"},
		{"Azure Resource Manager", "application/json", `{"error":{"code":"ResourceNotFound","message":"The Resource 'x' was not found."}}`, 404,
			"The Resource 'x' was not found.", "The Resource 'x' was not found. (ResourceNotFound)"},
		{"S3", "application/xml", `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a</Key></Error>`, 404,
			"The specified key does not exist.", "The specified key does not exist. (NoSuchKey)"},
		{"Kubernetes", "application/json", `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" not found","reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404}`, 404,
			`pods "web" not found`, `pods "web" not found (NotFound)`},
		{"CouchDB", "application/json", `{"error":"not_found","reason":"missing"}`, 404, "missing", "missing (not_found)"},
		{"FastAPI", "application/json", `{"detail":"Item not found"}`, 404, "Item not found", "404 Not Found: Item not found"},
		{"a bare error string", "application/json", `{"error":"Not Found"}`, 404, "Not Found", "404 Not Found: Not Found"},
		{"an errors list", "application/json", `{"errors":[{"message":"Field 'x' doesn't exist"}]}`, 400, "Field 'x' doesn't exist", "Field 'x' doesn't exist"},
		{"problem+json", "application/problem+json", `{"type":"https://example.com/probs/out-of-credit","title":"You do not have enough credit.","detail":"Your balance is 30."}`, 403,
			"You do not have enough credit. Your balance is 30.", "You do not have enough credit. Your balance is 30."},
		{"a message that forges a log line", "application/json", `{"message":"bad\nlevel=ERROR msg=forged"}`, 400, "bad level=ERROR msg=forged", "bad level=ERROR msg=forged"},
		{"a message that spoofs with invisible characters", "application/json", `{"message":"ok\u202e\u2066gnp.exe\u2069\u200b\ufeff"}`, 400,
			"ok\ufffd\ufffdgnp.exe\ufffd\ufffd\ufffd", "ok\ufffd\ufffdgnp.exe\ufffd\ufffd\ufffd"},
		{"HTML", "text/html", `<html><body>Bad Gateway</body></html>`, 400, "", "400 Bad Request"},
		{"problem+json, title only", "application/problem+json", `{"type":"https://example.com/probs/gone","title":"The widget was archived."}`, 410,
			"The widget was archived.", "410 Gone: The widget was archived."},
		{"a message of 512 bytes", "application/xml", `<Error><Code>X</Code><Message>` + strings.Repeat("m", 512) + `</Message></Error>`, 400,
			strings.Repeat("m", 512), strings.Repeat("m", 512)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t)
			mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			_, err := c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
			var apiErr *concord.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("Do = %v; want an *APIError", err)
			}
			if apiErr.Message != tt.message || !strings.Contains(apiErr.Error(), tt.shown) {
				t.Errorf("Message = %q, Error() = %q; want %q, showing %q", apiErr.Message, apiErr.Error(), tt.message, tt.shown)
			}
		})
	}
	c, mux := setup(t)
	mux.HandleFunc("/long", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"message":%q}`, strings.Repeat("x", 5000))
	})
	_, err := c.Do(bounded(t), &concord.Request{Path: "/long"}, nil)
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) || len(apiErr.Message) > 512+len("…") || len(apiErr.Error()) > 1024 {
		t.Errorf("a 5000-byte message: Message of %d bytes, Error() of %d; want both bounded", len(apiErr.Message), len(apiErr.Error()))
	}
}
