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

// TestBrokenServers: the options that break a promise, each as the real
// server it stands for does.
func TestBrokenServers(t *testing.T) {
	t.Run("ContentHashETags", func(t *testing.T) {
		srv := concordtest.NewServer(t, concordtest.ContentHashETags())
		r1, _ := call(t, srv, "PUT", "/widgets/1", `{"n":1}`)
		r2, _ := call(t, srv, "PUT", "/widgets/1", `{"n":1}`)
		r3, _ := call(t, srv, "PUT", "/widgets/1", `{"n":2}`)
		if a, b, c := r1.Header.Get("ETag"), r2.Header.Get("ETag"), r3.Header.Get("ETag"); a != b || b == c || strings.HasPrefix(a, "W/") {
			t.Errorf("tags for n=1, n=1, n=2 = %s %s %s; want one strong tag per content", a, b, c)
		}
	})
	t.Run("FileTimeETags", func(t *testing.T) {
		now := time.Unix(1000, 0)
		srv := concordtest.NewServer(t, concordtest.FileTimeETags(), concordtest.Now(func() time.Time { return now }))
		r1, _ := call(t, srv, "PUT", "/widgets/1", `{"n":1}`)
		tag := r1.Header.Get("ETag")
		r2, _ := call(t, srv, "PUT", "/widgets/1", `{"n":2}`, "If-Match", tag)
		if r2.StatusCode != http.StatusOK || r2.Header.Get("ETag") != tag {
			t.Errorf("a write of one size within the second = %d with %s; want 200 and the same tag %s", r2.StatusCode, r2.Header.Get("ETag"), tag)
		}
		if resp, _ := call(t, srv, "GET", "/widgets/1", "", "If-None-Match", tag); resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET If-None-Match with the tag of the first content = %d; want 304, as such a server answers", resp.StatusCode)
		}
		now = now.Add(time.Second)
		if r3, _ := call(t, srv, "PUT", "/widgets/1", `{"n":3}`); r3.Header.Get("ETag") == tag {
			t.Errorf("a write a second later kept the tag %s", tag)
		}
	})
	t.Run("IgnoreIfMatch on DELETE", func(t *testing.T) {
		srv := concordtest.NewServer(t, concordtest.IgnoreIfMatch(http.MethodDelete))
		call(t, srv, "PUT", "/widgets/1", `{"n":1}`)
		if resp, _ := call(t, srv, "PUT", "/widgets/1", `{"n":2}`, "If-Match", `"stale"`); resp.StatusCode != http.StatusPreconditionFailed {
			t.Errorf("stale PUT = %d; want 412", resp.StatusCode)
		}
		if resp, _ := call(t, srv, "DELETE", "/widgets/1", "", "If-Match", `"stale"`); resp.StatusCode != http.StatusNoContent || srv.Len("widgets") != 0 {
			t.Errorf("stale DELETE = %d, %d left; want it deleted", resp.StatusCode, srv.Len("widgets"))
		}
	})
	t.Run("NoPOSTCreate and IgnoreIdempotencyKeys", func(t *testing.T) {
		srv := concordtest.NewServer(t, concordtest.NoPOSTCreate())
		if resp, _ := call(t, srv, "POST", "/widgets", `{"n":1}`); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST = %d; want 405", resp.StatusCode)
		}
		keyless := concordtest.NewServer(t, concordtest.IgnoreIdempotencyKeys())
		call(t, keyless, "POST", "/widgets", `{"n":1}`, "Idempotency-Key", "k1")
		call(t, keyless, "POST", "/widgets", `{"n":1}`, "Idempotency-Key", "k1")
		if n := keyless.Len("widgets"); n != 2 {
			t.Errorf("one keyed POST twice made %d items; want 2", n)
		}
	})
	t.Run("IgnoreMergePatch", func(t *testing.T) {
		srv := concordtest.NewServer(t, concordtest.IgnoreMergePatch())
		call(t, srv, "PUT", "/widgets/1", `{"n":1}`)
		resp, body := call(t, srv, "PATCH", "/widgets/1", `{"m":2}`, "Content-Type", "application/merge-patch+json")
		if resp.StatusCode != http.StatusOK || strings.Contains(body, `"m"`) {
			t.Errorf("PATCH = %d %s; want 200 and nothing changed", resp.StatusCode, body)
		}
	})
	t.Run("RedirectCollections", func(t *testing.T) {
		srv := concordtest.NewServer(t, concordtest.RedirectCollections(http.StatusMovedPermanently))
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Post(srv.URL+"/widgets", "application/json", strings.NewReader(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/widgets/" {
			t.Errorf("POST /widgets = %d to %q; want 301 to /widgets/", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}
