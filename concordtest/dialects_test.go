package concordtest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concord-go/concord/concordtest"
)

func TestWeakETagsForAWhile(t *testing.T) {
	now := time.Unix(1000, 0)
	srv := concordtest.NewServer(t, concordtest.WeakETags(time.Second), concordtest.Now(func() time.Time { return now }))
	resp, _ := call(t, srv, "PUT", "/widgets/1", `{"n":1}`)
	weak := resp.Header.Get("ETag")
	if !strings.HasPrefix(weak, `W/"`) {
		t.Fatalf("ETag right after a write = %q; want weak", weak)
	}
	if resp, _ := call(t, srv, "PUT", "/widgets/1", `{"n":2}`, "If-Match", weak); resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("If-Match with the weak tag = %d; want 412 (strong comparison)", resp.StatusCode)
	}
	now = now.Add(2 * time.Second)
	resp, _ = call(t, srv, "GET", "/widgets/1", "")
	strong := resp.Header.Get("ETag")
	if strong != strings.TrimPrefix(weak, "W/") {
		t.Fatalf("ETag a second later = %q; want the strong form of %q", strong, weak)
	}
	if resp, _ := call(t, srv, "PUT", "/widgets/1", `{"n":2}`, "If-Match", strong); resp.StatusCode != http.StatusOK {
		t.Errorf("If-Match with the strong tag = %d; want 200", resp.StatusCode)
	}
}

func TestOpaqueWeakETags(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.WeakETags(0), concordtest.OpaqueETags())
	resp, _ := call(t, srv, "PUT", "/widgets/1", `{"n":1}`)
	tag := resp.Header.Get("ETag")
	if resp, _ := call(t, srv, "PUT", "/widgets/1", `{"n":2}`, "If-Match", strings.TrimPrefix(tag, "W/")); resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("If-Match with the tag rewritten strong = %d; want 412", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "PUT", "/widgets/1", `{"n":2}`, "If-Match", tag); resp.StatusCode != http.StatusOK {
		t.Errorf("If-Match with the weak tag as served = %d; want 200", resp.StatusCode)
	}
}

func TestIgnoreIfNoneMatch(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.IgnoreIfNoneMatch())
	call(t, srv, "PUT", "/widgets/1", `{"n":1}`)
	if resp, body := call(t, srv, "PUT", "/widgets/1", `{"n":2}`, "If-None-Match", "*"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"n":2`) {
		t.Errorf("PUT If-None-Match: * over an existing item = %d %s; want an upsert", resp.StatusCode, body)
	}
}

func TestKeysOnPOSTOnly(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.KeysOnPOSTOnly())
	call(t, srv, "POST", "/widgets", `{"n":1}`, "Idempotency-Key", "k1")
	if resp, _ := call(t, srv, "POST", "/widgets", `{"n":1}`, "Idempotency-Key", "k1"); resp.Header.Get("Idempotent-Replayed") != "true" || srv.Len("widgets") != 1 {
		t.Errorf("repeated keyed POST: replayed %q, %d items; want a replay", resp.Header.Get("Idempotent-Replayed"), srv.Len("widgets"))
	}
	call(t, srv, "PUT", "/widgets/9", `{"n":1}`, "Idempotency-Key", "k2")
	if resp, _ := call(t, srv, "PUT", "/widgets/9", `{"n":1}`, "Idempotency-Key", "k2"); resp.Header.Get("Idempotent-Replayed") != "" {
		t.Error("repeated keyed PUT was replayed; want it processed again")
	}
}

func TestGenerationQuery(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.GenerationQuery("ifGenerationMatch", "X-Goog-Generation"))
	resp, _ := call(t, srv, "PUT", "/widgets/1?ifGenerationMatch=0", `{"n":1}`)
	gen := resp.Header.Get("X-Goog-Generation")
	if resp.StatusCode != http.StatusCreated || gen == "" {
		t.Fatalf("create-only PUT = %d, generation %q", resp.StatusCode, gen)
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"?ifGenerationMatch=0", http.StatusPreconditionFailed},
		{"?ifGenerationMatch=999", http.StatusPreconditionFailed},
		{"?ifGenerationMatch=" + gen, http.StatusOK},
	} {
		if resp, _ := call(t, srv, "PUT", "/widgets/1"+tt.query, `{"n":2}`); resp.StatusCode != tt.want {
			t.Errorf("PUT %s = %d; want %d", tt.query, resp.StatusCode, tt.want)
		}
	}
}

func TestErrorFormats(t *testing.T) {
	tests := []struct {
		dialect concordtest.ErrorDialect
		header  string
		body    string
	}{
		{concordtest.DialectPlainText, "", "Not Found"},
		{concordtest.DialectAzure, "ResourceNotFound", `"odata.error":{"code":"ResourceNotFound"`},
		{concordtest.DialectGoogle, "", `"reason":"notFound"`},
		{concordtest.DialectS3, "", "<Code>NoSuchKey</Code>"},
	}
	for _, tt := range tests {
		srv := concordtest.NewServer(t, concordtest.Errors(tt.dialect))
		resp, body := call(t, srv, "GET", "/widgets/missing", "")
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Ms-Error-Code") != tt.header || !strings.Contains(body, tt.body) {
			t.Errorf("%v: GET missing = %d %q %s; want 404 with %s", tt.dialect, resp.StatusCode, resp.Header.Get("X-Ms-Error-Code"), body, tt.body)
		}
	}
}

func TestPostUpdates(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.PostUpdates())
	resp, _ := call(t, srv, "PUT", "/widgets/1", `{"n":1}`)
	tag := resp.Header.Get("ETag")
	if resp, body := call(t, srv, "POST", "/widgets/1", `{"n":2}`, "If-Match", tag); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"n":2`) {
		t.Errorf("POST to the item = %d %s; want it written", resp.StatusCode, body)
	}
	if resp, _ := call(t, srv, "POST", "/widgets/1", `{"n":3}`, "If-Match", tag); resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("stale POST to the item = %d; want 412", resp.StatusCode)
	}
}
