package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord/concordtest"
)

func probeOf(t *testing.T, collection string, write bool) *report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := probe(ctx, probeConfig{collection: collection, doc: []byte(`{"name":"probe"}`), write: write}, nil)
	if err != nil {
		t.Fatalf("probe(%s) = %v", collection, err)
	}
	return rep
}

func verdict(rep *report, property string) string {
	for _, f := range rep.Findings {
		if f.Property == property {
			return f.Verdict
		}
	}
	return "(missing)"
}

// TestProbeVerdicts: the probe's verdicts against concordtest configured
// to behave each way, and nothing left behind.
func TestProbeVerdicts(t *testing.T) {
	tests := []struct {
		name   string
		opts   []concordtest.Option
		want   map[string]string
		holds  bool
		config string
	}{
		{"concordtest's own dialect", nil, map[string]string{
			"ETag": "strong", "stale If-Match": "rejected (412)", "If-None-Match: *": "honored (412)",
			"idempotency key on POST": "replayed", "key reused with another body": "rejected (422)",
			"idempotency key on PUT": "replayed", "conditional GET": "honored (304)", "PATCH merge patch": "accepted",
			"stale conditional DELETE": "refused (412)", "error format": "problem+json", "unconditional write": "accepted",
		}, true, "concord.NewResource[T](c, path)"},
		{"weak and opaque (Azure Table)", []concordtest.Option{concordtest.WeakETags(0), concordtest.OpaqueETags()}, map[string]string{
			"ETag": "always weak", "weak tag in If-Match": "accepted (compared as an opaque string)",
		}, true, "ETagVersion{Opaque: true}"},
		{"weak for a while (Apache)", []concordtest.Option{concordtest.WeakETags(time.Second)}, map[string]string{
			"ETag": "weak for a while after writes",
		}, true, ""},
		{"upserts", []concordtest.Option{concordtest.IgnoreIfNoneMatch()}, map[string]string{
			"If-None-Match: *": "IGNORED: an upsert",
		}, true, "Create with r.Create"},
		{"keys on POST only", []concordtest.Option{concordtest.KeysOnPOSTOnly()}, map[string]string{
			"idempotency key on PUT": "not replayed (412 on the repeat)", "idempotency key on POST": "replayed",
		}, true, ""},
		{"428", []concordtest.Option{concordtest.RequirePreconditions()}, map[string]string{
			"unconditional write": "refused with 428",
		}, true, ""},
		{"Azure errors", []concordtest.Option{concordtest.Errors(concordtest.DialectAzure)}, map[string]string{
			"error format": "azure",
		}, true, ""},
		{"content-hash tags (S3)", []concordtest.Option{concordtest.ContentHashETags()}, map[string]string{
			"ETag moves with content": "yes", "stale If-Match": "rejected (412)", "conditional GET": "honored (304)",
		}, true, "concord.NewResource[T](c, path)"},
		{"If-Match ignored on DELETE only", []concordtest.Option{concordtest.IgnoreIfMatch(http.MethodDelete)}, map[string]string{
			"stale If-Match": "rejected (412)", "stale conditional DELETE": "IGNORED: the item was deleted",
		}, false, "!! A Delete can remove a newer version"},
		{"If-Match ignored on every write", []concordtest.Option{concordtest.IgnoreIfMatch()}, map[string]string{
			"stale If-Match": "IGNORED: the stale write overwrote", "preconditions": "NONE HONORED", "stale conditional DELETE": "IGNORED: the item was deleted",
		}, false, "!! Updates can be lost"},
		{"upserts and no POST create (WebDAV)", []concordtest.Option{concordtest.IgnoreIfNoneMatch(), concordtest.NoPOSTCreate()}, map[string]string{
			"If-None-Match: *": "IGNORED: an upsert", "idempotency key on POST": "POST create not available (405)", "create-only operation": "NONE",
		}, false, "!! Creates are not safe"},
		{"keys and If-Match ignored", []concordtest.Option{concordtest.IgnoreIdempotencyKeys(), concordtest.IgnoreIfMatch()}, map[string]string{
			"idempotency key on PUT": "IGNORED: executed again, undoing another write", "idempotency key on POST": "IGNORED: a second item was created",
		}, false, ""},
		{"merge patch ignored (json-server)", []concordtest.Option{concordtest.IgnoreMergePatch()}, map[string]string{
			"PATCH merge patch": "IGNORED: answered 200, changed nothing",
		}, true, ""},
		{"locks, If-Match ignored (nginx with dav-ext)", []concordtest.Option{concordtest.Locks(), concordtest.IgnoreIfMatch()}, map[string]string{
			"locks": "WebDAV LOCK, enforced (423)", "preconditions": "NONE HONORED",
		}, true, "concord.WithLocks(concord.WebDAVLocker{}, 0)"},
		{"leases, If-Match ignored", []concordtest.Option{concordtest.Leases(), concordtest.IgnoreIfMatch()}, map[string]string{
			"locks": "Azure Blob lease, enforced (412)",
		}, true, "concord.WithLocks(concord.AzureLeaseLocker{}, 0)"},
		{"no ETags, locks (a tagless WebDAV server)", []concordtest.Option{concordtest.Locks(), concordtest.NoETags()}, map[string]string{
			"preconditions": "NO VERSION TO SEND",
		}, true, "concord.WithLocks(concord.WebDAVLocker{}, 0)"},
		{"locks not asked for", nil, map[string]string{"locks": "none", "If-Match atomic": "no race seen in 12 rounds"}, true, "concord.NewResource[T](c, path)"},
		{"If-Match not atomic (Apache)", []concordtest.Option{concordtest.RacyIfMatch()}, map[string]string{
			"If-Match atomic": "NO: concurrent writes with one tag went through", "stale If-Match": "rejected (412)",
		}, false, "!! Updates can be lost: the server checks If-Match without a lock"},
		{"If-Match not atomic, locks (Apache with its lock database)", []concordtest.Option{concordtest.RacyIfMatch(), concordtest.Locks()}, map[string]string{
			"If-Match atomic": "NO: concurrent writes with one tag went through",
		}, true, "concord.WithLocks(concord.WebDAVLocker{}, 0)"},
		{"collection redirected", []concordtest.Option{concordtest.RedirectCollections(http.StatusMovedPermanently)}, map[string]string{
			"idempotency key on POST": "POST create not available (301)", "stale If-Match": "rejected (412)",
		}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := concordtest.NewServer(t, tt.opts...)
			rep := probeOf(t, srv.URL+"/widgets", true)
			for prop, want := range tt.want {
				if got := verdict(rep, prop); got != want {
					t.Errorf("%s = %q; want %q", prop, got, want)
				}
			}
			if rep.Holds != tt.holds || rep.broken() == tt.holds || !strings.Contains(rep.Config, tt.config) {
				t.Errorf("holds = %v, config %q; want %v, containing %q", rep.Holds, rep.Config, tt.holds, tt.config)
			}
			if !tt.holds && strings.Contains(rep.Config, "r.Create") && verdict(rep, "create-only operation") == "NONE" {
				t.Errorf("config %q recommends a create this run found unavailable", rep.Config)
			}
			if n := srv.Len("widgets"); n != 0 {
				t.Errorf("the probe left %d items behind", n)
			}
		})
	}
}

// ignoringServer overwrites whatever If-Match says and deletes likewise:
// the worst verdicts.
func ignoringServer(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	docs := map[string][]byte{}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == http.MethodPost:
			n++
			id := fmt.Sprint(n)
			docs[id] = body
			w.Header().Set("Location", "/widgets/"+id)
			w.WriteHeader(http.StatusCreated)
		case r.Method == http.MethodGet && docs[strings.TrimPrefix(r.URL.Path, "/widgets/")] != nil:
			w.Header().Set("ETag", `"x"`)
			w.Write(docs[strings.TrimPrefix(r.URL.Path, "/widgets/")])
		case r.Method == http.MethodPut:
			docs[strings.TrimPrefix(r.URL.Path, "/widgets/")] = body
		case r.Method == http.MethodDelete:
			delete(docs, strings.TrimPrefix(r.URL.Path, "/widgets/"))
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestProbeQueryVersions: an API whose writes carry the version in the
// query (Google Cloud Storage's ifGenerationMatch), probed with
// -version-param.
func TestProbeQueryVersions(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.GenerationQuery("ifGenerationMatch", "X-Goog-Generation"))
	var out, errs bytes.Buffer
	code := run([]string{"probe", "-write", "-json", "-version-param", "ifGenerationMatch", srv.URL + "/widgets"}, nil, &out, &errs)
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || code != 0 {
		t.Fatalf("probe = %d %s %s", code, out.String(), errs.String())
	}
	for prop, want := range map[string]string{
		"version": "in X-Goog-Generation", "current ifGenerationMatch": "accepted", "stale ifGenerationMatch": "rejected (412)",
		"ifGenerationMatch=0": "honored (412)", "stale conditional DELETE": "refused (412)",
	} {
		if got := verdict(&rep, prop); got != want {
			t.Errorf("%s = %q; want %q", prop, got, want)
		}
	}
	if !strings.Contains(rep.Config, `QueryVersion{Header: "X-Goog-Generation"`) || srv.Len("widgets") != 0 {
		t.Errorf("config %q, %d items left; want QueryVersion and nothing left", rep.Config, srv.Len("widgets"))
	}
}

func TestProbeShowsWhatNoClientCanHave(t *testing.T) {
	srv := ignoringServer(t)
	var out, errs bytes.Buffer
	code := run([]string{"probe", "-write", srv.URL + "/widgets"}, nil, &out, &errs)
	if code != 1 {
		t.Errorf("exit status = %d; want 1 (a guarantee cannot hold)", code)
	}
	for _, want := range []string{"!! preconditions", "NONE HONORED", "IGNORED: the stale write overwrote", "!! idempotency key on POST", "IGNORED: an upsert", "cannot hold"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestProbeReadOnlyWritesNothing(t *testing.T) {
	srv := concordtest.NewServer(t)
	var out, errs bytes.Buffer
	t.Setenv("CONCORD_HEADERS", "Authorization: Bearer secret-token")
	if code := run([]string{"probe", "-json", srv.URL + "/widgets"}, nil, &out, &errs); code != exitUnverified {
		t.Fatalf("exit status = %d: %s", code, errs.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Wrote || len(rep.Findings) == 0 {
		t.Errorf("-json report = %s, %v; want findings and no writes", out.String(), err)
	}
	for _, r := range srv.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("read-only probe sent %s %s", r.Method, r.Path)
		}
		if r.Header.Get("Authorization") != "Bearer secret-token" {
			t.Errorf("CONCORD_HEADERS not sent: %v", r.Header)
		}
	}
	if strings.Contains(out.String(), "secret-token") {
		t.Error("the report shows the token")
	}
}

// TestProbeFileTimeETags: against tags made of a one-second file time and
// the size (nginx's), the probe sees one tag for two contents, a 304 for
// changed content, and says neither If-Match nor revalidation can be
// trusted. The fake's clock starts on a whole second when the probe does,
// so that the first writes share a second.
func TestProbeFileTimeETags(t *testing.T) {
	start, origin := time.Now(), time.Unix(1_800_000_000, 0)
	srv := concordtest.NewServer(t, concordtest.FileTimeETags(), concordtest.Now(func() time.Time { return origin.Add(time.Since(start)) }))
	rep := probeOf(t, srv.URL+"/widgets", true)
	for prop, want := range map[string]string{
		"ETag": "strong", "ETag moves with content": "NOT WITHIN A SECOND: one tag for two contents", "conditional GET": "UNSAFE: 304 for changed content",
	} {
		if got := verdict(rep, prop); got != want {
			t.Errorf("%s = %q; want %q", prop, got, want)
		}
	}
	if rep.Holds || !rep.broken() || !strings.Contains(rep.Config, "!! Updates can be lost") {
		t.Errorf("holds = %v, config %q; want broken, updates can be lost", rep.Holds, rep.Config)
	}
}

// interceptor runs before the fake API: it may answer a request itself
// (returning true), or let the API answer it.
type interceptor func(w http.ResponseWriter, r *http.Request, api http.Handler) bool

// serveWith starts the fake API behind intercept.
func serveWith(t *testing.T, intercept interceptor, opts ...concordtest.Option) (*httptest.Server, *concordtest.API) {
	t.Helper()
	api := concordtest.NewAPI(opts...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intercept(w, r, api) {
			api.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, api
}

// TestInterruptedProbeClaimsNothing: a probe cut short (Ctrl-C, -timeout)
// claims nothing and exits 2, whatever the checks that failed for it seem
// to say, and still releases its lock and deletes its scratch items; one
// cut short while its create's answer is pending deletes that item too
// (issue #30: it recommended WithLocks on a server that enforces nothing,
// and exited 0).
func TestInterruptedProbeClaimsNothing(t *testing.T) {
	// at: the request during which the user presses Ctrl-C: the first
	// create, or the first request after the lock was granted.
	for _, tc := range []struct{ name, at string }{{"during the lock check", "after LOCK"}, {"while a create is pending", "PUT*"}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			var locked atomic.Bool // the probe's readers run beside its writes
			srv, api := serveWith(t, func(w http.ResponseWriter, r *http.Request, api http.Handler) bool {
				at := r.Method
				if r.Header.Get("If-None-Match") == "*" {
					at += "*"
				}
				if locked.Load() {
					at = "after LOCK"
				}
				if r.Method == "LOCK" {
					locked.Store(true)
				}
				if at != tc.at {
					return false
				}
				hit := false
				once.Do(func() { hit = true })
				if !hit {
					return false
				}
				rec := httptest.NewRecorder()
				api.ServeHTTP(rec, r) // done, and then the user presses Ctrl-C
				cancel()
				<-r.Context().Done()
				return true
			}, concordtest.Locks(), concordtest.IgnoreIfMatch())
			var stdout, stderr bytes.Buffer
			code := runProbe(ctx, []string{"-write", srv.URL + "/widgets"}, &stdout, &stderr)
			if code != exitUsage || strings.Contains(stdout.String(), "Recommended configuration") || strings.Contains(stdout.String(), "WithLocks") {
				t.Errorf("interrupted probe exited %d with\n%s\nwant 2, no configuration, no claim", code, stdout.String())
			}
			if !strings.Contains(stdout.String(), "could not run to the end") {
				t.Errorf("interrupted probe printed\n%s\nwant it to say it could not run to the end", stdout.String())
			}
			if n := api.Len("widgets"); n != 0 {
				t.Errorf("the interrupted probe left %d items behind", n)
			}
		})
	}
}

// TestProbeTouchesOnlyItsOwnItems: a create whose answer names an item the
// probe did not write (a Location to an existing item, as a hostile or
// broken server may send) is not taken for the probe's own: the probe
// writes and deletes nothing there, and says it could not run (issue #30:
// it deleted /widgets/precious and exited 0).
func TestProbeTouchesOnlyItsOwnItems(t *testing.T) {
	srv, api := serveWith(t, func(w http.ResponseWriter, r *http.Request, api http.Handler) bool {
		switch {
		case r.Method == http.MethodPut && r.Header.Get("If-None-Match") == "*":
			w.WriteHeader(http.StatusForbidden) // no create by PUT here
			return true
		case r.Method == http.MethodPost:
			w.Header().Set("Location", "/widgets/precious")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"id":"precious"}`)
			return true
		}
		return false
	})
	if _, err := api.Seed("widgets", "precious", map[string]any{"name": "precious"}); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := runProbe(context.Background(), []string{"-write", srv.URL + "/widgets"}, &stdout, &stderr)
	if doc, _, ok := api.Doc("widgets", "precious"); !ok || !strings.Contains(string(doc), `"name":"precious"`) {
		t.Errorf("after the probe /widgets/precious holds %s (there: %v); want it untouched", doc, ok)
	}
	for _, r := range api.Requests() {
		if r.Path == "/widgets/precious" && r.Method != http.MethodGet {
			t.Errorf("the probe sent %s %s to an item it did not create", r.Method, r.Path)
		}
	}
	if code != exitUsage {
		t.Errorf("probe exited %d with\n%s\nwant 2: it could not run", code, stdout.String())
	}
}

// TestRefusedSampleIsCouldNotRun: a server that refuses the probe's JSON
// sample (it stores only its own format) leaves the probe unable to run:
// exit 2 with advice to pass a sample of the API's shape, not a "!!"
// verdict that no client could have a guarantee (issue #31).
func TestRefusedSampleIsCouldNotRun(t *testing.T) {
	srv, _ := serveWith(t, func(w http.ResponseWriter, r *http.Request, api http.Handler) bool {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return true
		}
		return false
	})
	var stdout, stderr bytes.Buffer
	code := runProbe(context.Background(), []string{"-write", srv.URL + "/widgets"}, &stdout, &stderr)
	if code != exitUsage || strings.Contains(stdout.String(), "!!") || !strings.Contains(stdout.String(), "-d") || strings.Contains(stdout.String(), "Recommended") {
		t.Errorf("probe with its sample refused exited %d with\n%s\nwant 2, advice to pass -d, no !! and no configuration", code, stdout.String())
	}
}

// TestLockThatRefusesItsHoldersWriteIsUnusable: a WebDAV server that
// grants and enforces locks but drops the connection of any request
// carrying an If header (one server seen in issue #31 does so for the
// untagged form) cannot be written under its lock: the probe says so
// after a write with the proof read back, and recommends no WithLocks.
func TestLockThatRefusesItsHoldersWriteIsUnusable(t *testing.T) {
	srv, _ := serveWith(t, func(w http.ResponseWriter, r *http.Request, api http.Handler) bool {
		if r.Header.Get("If") == "" {
			return false
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	}, concordtest.Locks(), concordtest.IgnoreIfMatch())
	rep := probeOf(t, srv.URL+"/widgets", true)
	if got := verdict(rep, "locks"); !strings.HasPrefix(got, "WebDAV LOCK") || !strings.Contains(got, "UNUSABLE") {
		t.Errorf("locks = %q; want the lock UNUSABLE", got)
	}
	if strings.Contains(rep.Config, "WithLocks") || rep.Holds {
		t.Errorf("holds = %v, config %q; want no WithLocks and guarantees that do not hold", rep.Holds, rep.Config)
	}
}

// TestConfigurationIsProvenByRunningIt: the probe runs the promises of the
// configuration it recommends through concord itself, configured as
// printed, and reads back what each call did; a promise broken there is
// !! and exits 1, whatever the request-by-request rows said (issue #31).
// The server here honors every precondition of the probe's own requests
// and drops the one concord's calls send on a method, as a proxy that
// rewrites some clients' requests would.
func TestConfigurationIsProvenByRunningIt(t *testing.T) {
	for _, tc := range []struct{ method, broken string }{
		{http.MethodDelete, "BROKEN: stale Delete"},
		{http.MethodPut, "BROKEN: stale Replace, concurrent Updates, CreateAt of an existing item"},
	} {
		srv, _ := serveWith(t, func(w http.ResponseWriter, r *http.Request, api http.Handler) bool {
			if r.UserAgent() != "concord-probe" && r.Method == tc.method {
				r.Header.Del("If-Match")
				r.Header.Del("If-None-Match")
			}
			return false
		})
		var stdout, stderr bytes.Buffer
		code := runProbe(context.Background(), []string{"-write", "-json", srv.URL + "/widgets"}, &stdout, &stderr)
		var rep report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("probe -json printed %q: %v", stdout.String(), err)
		}
		if got := verdict(&rep, "configuration, run"); code != exitBroken || rep.Holds || got != tc.broken {
			t.Errorf("probe of a server that drops concord's preconditions on %s exited %d, holds %v, configuration row %q; want 1, not holding, %q",
				tc.method, code, rep.Holds, got, tc.broken)
		}
	}
}

// TestProbeTornReads: a server that serves a read during a write with the
// part written so far is a !! row with what was counted, and, where it
// enforces a lock, the lock mode keeps the promise (a Get under it reads
// again under the lock); a server that does not tear reads says none was
// seen, and how many reads that rests on (issue #31).
func TestProbeTornReads(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []concordtest.Option
		prefix  string
		breaks  bool
		withLck bool
	}{
		{"torn", []concordtest.Option{concordtest.TornReads()}, "SEEN: ", true, false},
		{"torn, locks", []concordtest.Option{concordtest.TornReads(), concordtest.Locks()}, "SEEN: ", false, true},
		{"whole", nil, "none seen in ", false, false},
	} {
		srv := concordtest.NewServer(t, tc.opts...)
		rep := probeOf(t, srv.URL+"/widgets", true)
		var row finding
		for _, f := range rep.Findings {
			if f.Property == "torn reads" {
				row = f
			}
		}
		if !strings.HasPrefix(row.Verdict, tc.prefix) || row.Breaks != tc.breaks || strings.HasSuffix(row.Verdict, " 0 reads") || strings.Contains(rep.Config, "WithLocks") != tc.withLck {
			t.Errorf("%s: torn reads = %+v, config %q; want a verdict starting %q, !! %v, WithLocks %v", tc.name, row, rep.Config, tc.prefix, tc.breaks, tc.withLck)
		}
	}
}
