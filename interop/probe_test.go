package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-go/concord"
)

// TestProbeAgainstRealServers runs `concord probe -write` against the real
// servers and checks its verdicts against what the suite knows of each
// and, where the server takes plain writes to item URLs, against ground
// truth the test measures itself with net/http; its recommended
// configuration against the one the suite uses; and that it leaves
// nothing behind. Where a server cannot give a guarantee (fake-gcs-server
// deletes whatever ifGenerationMatch says; nginx and json-server ignore
// preconditions), the probe must say so, with exit status 1.
func TestProbeAgainstRealServers(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "concord")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/concord").CombinedOutput(); err != nil {
		t.Fatalf("building concord: %v\n%s", err, out)
	}
	tests := []struct {
		server string
		path   string // the collection, under the base URL
		args   []string
		want   map[string]string
		config string
		breaks bool            // a guarantee cannot hold on this server
		list   concord.Request // lists the collection, to see that nothing was left behind
		// create, when set, makes an item for the ground truth (its URL
		// and body), the way this server creates.
		create func(ctx context.Context, collection, item, body string) error
	}{
		{server: "Apache httpd 2.4 mod_dav", path: "files", want: map[string]string{
			"ETag": "weak for a while after writes", "stale If-Match": "rejected (412)", "If-None-Match: *": "honored (412)", "stale conditional DELETE": "refused (412)",
			"ETag moves with content": "yes",
			// Its If-Match race shows in some runs and not others: where it
			// shows, the lock mode must be recommended (checked below).
		}, config: "concord.NewResource[T](c, path", list: concord.Request{Method: "PROPFIND", Path: "files/", Header: http.Header{"Depth": {"1"}}}, create: putCreate},
		{server: "nginx 1.22 WebDAV (Debian nginx-light)", path: "files", want: map[string]string{
			"ETag": "strong", "ETag moves with content": "NOT WITHIN A SECOND: one tag for two contents", "conditional GET": "UNSAFE: 304 for changed content",
			"stale If-Match": "IGNORED: the stale write overwrote", "preconditions": "NONE HONORED", "If-None-Match: *": "IGNORED: an upsert",
			"create-only operation": "NONE", "stale conditional DELETE": "IGNORED: the item was deleted",
		}, config: "!! Updates can be lost", breaks: true, list: concord.Request{Path: "files/"}, create: putCreate},
		{server: "nginx 1.22 WebDAV with dav-ext locks (Debian)", path: "files", want: map[string]string{
			"locks": "WebDAV LOCK (DAV class 2), enforced (423)", "preconditions": "NONE HONORED", "conditional GET": "UNSAFE: 304 for changed content",
		}, config: "concord.WithLocks(concord.WebDAVLocker{}, 0)", breaks: true, list: concord.Request{Path: "files/"}, create: putCreate},
		{server: "json-server 0.17 (Express)", path: "widgets", want: map[string]string{
			"ETag": "always weak", "ETag moves with content": "yes", "stale If-Match": "IGNORED: the stale write overwrote", "preconditions": "NONE HONORED",
			"idempotency key on POST": "IGNORED: a second item was created", "PATCH merge patch": "IGNORED: answered 200, changed nothing",
			"stale conditional DELETE": "IGNORED: the item was deleted", "error format": "plain",
		}, config: "!! Updates can be lost", breaks: true, list: concord.Request{Path: "widgets"}, create: postCreate},
		{server: "pouchdb-server 4.2 (CouchDB API)", path: "widgets", want: map[string]string{
			"stale If-Match": "IGNORED: the stale write overwrote", "stale body version": "rejected (409)", "write answer": "a receipt naming the new version in \"rev\"", "If-None-Match: *": "honored (409)",
			"idempotency key on POST": "IGNORED: a second item was created", "stale conditional DELETE": "refused (404) with ?rev=; If-Match IGNORED", "error format": "couchdb",
		}, config: `concord.BodyVersion{Path: "_rev", Query: "rev", Receipt: "rev"}`, list: concord.Request{Path: "widgets/_all_docs"}},
		{server: "Azurite 3.35 Blob", path: "widgets", args: []string{"-H", "X-Ms-Blob-Type: BlockBlob"}, want: map[string]string{
			"ETag": "strong", "stale If-Match": "rejected (412)", "If-None-Match: *": "honored (409)", "stale conditional DELETE": "refused (412)", "error format": "azure",
		}, config: "concord.NewResource[T](c, path)", list: concord.Request{Path: "widgets", Query: url.Values{"restype": {"container"}, "comp": {"list"}}}},
		// The sample document carries its own keys, as Table's POST create
		// needs: a POST of it twice is refused the second time (409).
		{server: "Azurite 3.35 Table", path: "widgets", args: []string{"-item", "widgets(PartitionKey='p',RowKey='{id}')", "-d", `{"PartitionKey":"p","RowKey":"concord-probe-post","name":"concord-probe"}`}, want: map[string]string{
			"ETag": "always weak", "stale If-Match": "rejected (412)", "weak tag in If-Match": "accepted (compared as an opaque string)", "If-None-Match: *": "IGNORED: an upsert",
			"idempotency key on POST": "not replayed: the repeat was refused (409)",
		}, config: "ETagVersion{Opaque: true}", list: concord.Request{Path: "widgets()"}},
		{server: "lighttpd 1.4 mod_webdav with locks (Debian)", path: "files", want: map[string]string{
			"ETag": "absent", "preconditions": "NO VERSION TO SEND", "If-None-Match: *": "honored (412)", "stale conditional DELETE": "refused (412)",
			"locks": "WebDAV LOCK (DAV class 2), enforced (423)", "configuration, run": "kept",
		}, config: "concord.WithLocks(concord.WebDAVLocker{}, 0)", list: concord.Request{Method: "PROPFIND", Path: "files/", Header: http.Header{"Depth": {"1"}}}, create: putCreate},
		{server: "gofakes3 1.2 (S3 API)", path: "widgets", want: map[string]string{
			"ETag": "strong", "ETag moves with content": "yes", "stale If-Match": "rejected (412)", "If-None-Match: *": "honored (412)",
			"stale conditional DELETE": "IGNORED: the item was deleted", "error format": "s3", "configuration, run": "kept",
		}, config: "concord.NewResource[T](c, path)", breaks: true, list: concord.Request{Path: "widgets"}, create: putCreate},
		{server: gcs.name, path: "storage/v1/b/widgets/o", args: []string{
			"-read-item", "o/{id}?alt=media", "-write-item", "/upload/storage/v1/b/widgets/o?uploadType=media&name={id}",
			"-write-method", "POST", "-version-param", "ifGenerationMatch",
		}, want: map[string]string{
			"version": "in X-Goog-Generation", "stale ifGenerationMatch": "rejected (412)", "ifGenerationMatch=0": "honored (412)",
			"stale conditional DELETE": "IGNORED: the item was deleted", "error format": "google",
		}, config: `QueryVersion{Header: "X-Goog-Generation", Member: "generation", Param: "ifGenerationMatch", Absent: "0"}`, breaks: true,
			list: concord.Request{Path: "storage/v1/b/widgets/o"}},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			s := serverNamed(t, tt.server)
			base := s.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c, err := concord.New(base)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.setup(ctx, c); err != nil {
				t.Fatal(err)
			}
			collection := strings.Replace(base, "?", "/"+tt.path+"?", 1)
			if !strings.Contains(base, "?") {
				collection = base + "/" + tt.path
			}
			args := append(append([]string{"probe", "-write", "-json"}, tt.args...), collection)
			out, err := exec.CommandContext(ctx, bin, args...).Output()
			var rep struct {
				Findings []struct{ Property, Verdict string }
				Config   string
				Holds    bool
			}
			if jerr := json.Unmarshal(out, &rep); jerr != nil {
				t.Fatalf("probe = %v, output %s", err, out)
			}
			got := map[string]string{}
			for _, f := range rep.Findings {
				got[f.Property] = f.Verdict
			}
			for prop, want := range tt.want {
				if got[prop] != want {
					t.Errorf("%s = %q; want %q", prop, got[prop], want)
				}
			}
			t.Logf("If-Match atomic: %s; torn reads: %s; configuration, run: %s", got["If-Match atomic"], got["torn reads"], got["configuration, run"])
			// The configuration it recommends was run through concord and
			// kept every promise it names (read back): wherever the probe
			// holds, and wherever a lock keeps what the rows found broken.
			if run := got["configuration, run"]; (!tt.breaks || strings.Contains(tt.config, "WithLocks")) && run != "kept" {
				t.Errorf("configuration, run = %q; want kept", run)
			}
			if strings.HasPrefix(got["If-Match atomic"], "NO") && strings.HasPrefix(got["locks"], "WebDAV") && !strings.Contains(rep.Config, "WithLocks") {
				t.Errorf("If-Match not atomic and locks enforced, but config %q does not take the lock", rep.Config)
			}
			if tt.create != nil {
				for prop, truth := range measure(ctx, t, base+"/"+tt.path, tt.create) {
					if !truth(got[prop]) {
						t.Errorf("%s = %q, which the server's own behavior, measured with net/http, contradicts", prop, got[prop])
					}
				}
			}
			if rep.Holds == tt.breaks || (err != nil) != tt.breaks || !strings.Contains(rep.Config, tt.config) {
				t.Errorf("holds = %v (exit %v), config %q; want %v and %q", rep.Holds, err, rep.Config, !tt.breaks, tt.config)
			}
			// Nothing left behind: the collection holds no probe item.
			listed, err := c.Do(ctx, &tt.list, nil)
			if err != nil {
				t.Fatalf("listing the collection: %v", err)
			}
			if strings.Contains(string(listed.Body), "concord-probe") {
				t.Errorf("the probe left items behind: %s", listed.Body)
			}
		})
	}
}

// putCreate creates an item by PUT to its URL.
func putCreate(ctx context.Context, _, item, body string) error {
	return expect(plain(ctx, http.MethodPut, item, nil, body), http.StatusCreated, http.StatusOK, http.StatusNoContent)
}

// postCreate creates an item by POST to the collection with its id in the
// body, as json-server does.
func postCreate(ctx context.Context, collection, item, body string) error {
	body = strings.Replace(body, "{", `{"id":"`+path.Base(item)+`",`, 1)
	return expect(plain(ctx, http.MethodPost, collection, nil, body), http.StatusCreated)
}

// reply is one plain HTTP exchange of the ground truth.
type reply struct {
	status int
	etag   string
	body   string
	err    error
}

// plain sends one request with net/http alone: no concord, no retries.
func plain(ctx context.Context, method, u string, h http.Header, body string) reply {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, etag: resp.Header.Get("ETag"), body: string(b), err: err}
}

func expect(r reply, statuses ...int) error {
	if r.err != nil {
		return r.err
	}
	for _, s := range statuses {
		if r.status == s {
			return nil
		}
	}
	return fmt.Errorf("status %d: %s", r.status, r.body)
}

// measure finds out with plain HTTP, on an item of its own, what the
// server does with the preconditions the probe judges: each returned
// predicate says whether a verdict agrees with it.
func measure(ctx context.Context, t *testing.T, collection string, create func(ctx context.Context, collection, item, body string) error) map[string]func(string) bool {
	t.Helper()
	item := collection + "/ground-truth-" + fmt.Sprint(time.Now().UnixNano())
	doc := func(v string) string { return `{"name":"ground truth","v":"` + v + `"}` }
	shows := func(v string) bool { return strings.Contains(plain(ctx, http.MethodGet, item, nil, "").body, v) }
	if err := create(ctx, collection, item, doc("aaaaaaaa")); err != nil {
		t.Fatalf("ground truth: creating %s: %v", item, err)
	}
	bogus := http.Header{"If-Match": {`"ground-truth-bogus"`}}
	plain(ctx, http.MethodPut, item, bogus, doc("bbbbbbbb"))
	staleWrite := shows("bbbbbbbb")
	// Two writes of one size in quick succession: does the tag move?
	plain(ctx, http.MethodPut, item, nil, doc("cccccccc"))
	tag1 := plain(ctx, http.MethodGet, item, nil, "").etag
	plain(ctx, http.MethodPut, item, nil, doc("dddddddd"))
	tag2 := plain(ctx, http.MethodGet, item, nil, "").etag
	plain(ctx, http.MethodPut, item, http.Header{"If-None-Match": {"*"}}, doc("eeeeeeee"))
	upsert := shows("eeeeeeee")
	patch := plain(ctx, http.MethodPatch, item, http.Header{"Content-Type": {"application/merge-patch+json"}}, `{"patched":"ffffffff"}`)
	patched := shows("ffffffff")
	plain(ctx, http.MethodDelete, item, bogus, "")
	gone := plain(ctx, http.MethodGet, item, nil, "").status == http.StatusNotFound
	if !gone {
		plain(ctx, http.MethodDelete, item, nil, "")
	}
	t.Logf("ground truth: stale write %v, tags %s then %s, upsert %v, patch %d applied %v, stale delete %v", staleWrite, tag1, tag2, upsert, patch.status, patched, gone)
	ignored := func(v string) bool { return strings.HasPrefix(v, "IGNORED") }
	return map[string]func(string) bool{
		"stale If-Match":           func(v string) bool { return ignored(v) == staleWrite },
		"If-None-Match: *":         func(v string) bool { return ignored(v) == upsert },
		"stale conditional DELETE": func(v string) bool { return ignored(v) == gone },
		// Tags that stayed for two contents must not be called moving;
		// tags that moved at once must not be called stuck.
		// Weak tags may repeat for two contents (RFC 9110): only strong
		// ones are held to it.
		"ETag moves with content": func(v string) bool {
			return strings.HasPrefix(tag1, "W/") || strings.HasPrefix(tag2, "W/") || (v == "yes") == (tag1 != tag2)
		},
		"PATCH merge patch": func(v string) bool {
			switch {
			case patched:
				return v == "accepted"
			case patch.status >= 200 && patch.status < 300:
				return ignored(v)
			}
			return strings.HasPrefix(v, "not accepted")
		},
	}
}
