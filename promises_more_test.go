package concord_test

// More promises found unprotected by mutation testing (TESTING.md lists
// the run); each test names the promise it keeps.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

func TestDoSendsTheCallersKeyOnAnyMethod(t *testing.T) {
	c, mux := setup(t)
	var key string
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) { key = r.Header.Get("Idempotency-Key") })
	if _, err := c.Do(bounded(t), &concord.Request{Method: http.MethodPut, Path: "/x", IdempotencyKey: "k-put"}, nil); err != nil || key != "k-put" {
		t.Errorf("Do(PUT with a key) = %v, key %q; want k-put", err, key)
	}
	if _, err := c.Do(bounded(t), &concord.Request{Method: http.MethodPut, Path: "/x"}, nil); err != nil || key != "" {
		t.Errorf("Do(PUT without a key) = %v, key %q; want none", err, key)
	}
}

func TestDoWithAnEmptyBodyDecodesNothing(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	var out Widget
	if _, err := c.Do(bounded(t), &concord.Request{Method: http.MethodDelete, Path: "/x"}, &out); err != nil {
		t.Errorf("Do(204 into out) = %v; want no decode error", err)
	}
}

func TestInvocationHeadersAloneNameEveryAttempt(t *testing.T) {
	c, mux := setup(t, concord.WithInvocationHeaders())
	var ids, attempts []string
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		ids = append(ids, r.Header.Get(concord.HeaderInvocationID))
		attempts = append(attempts, r.Header.Get(concord.HeaderAttempt))
		if len(ids) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
	if len(ids) != 2 || ids[0] == "" || ids[0] != ids[1] || strings.Join(attempts, ",") != "1,2" {
		t.Errorf("invocation IDs %q, attempts %q; want one ID on both attempts, numbered 1,2", ids, attempts)
	}
}

// TestEachHookAloneGetsTheInvocationID: an invocation ID is made whenever
// anything reads it, whichever single hook that is.
func TestEachHookAloneGetsTheInvocationID(t *testing.T) {
	var got atomic.Value
	record := func(id string) {
		if id != "" {
			got.Store(id)
		}
	}
	hooks := map[string]concord.Hooks{
		"OnAttempt":     {OnAttempt: func(_ context.Context, e concord.AttemptEvent) { record(e.InvocationID) }},
		"OnRetry":       {OnRetry: func(_ context.Context, e concord.RetryEvent) { record(e.InvocationID) }},
		"OnConflict":    {OnConflict: func(_ context.Context, e concord.ConflictEvent) { record(e.InvocationID) }},
		"OnMerge":       {OnMerge: func(_ context.Context, e concord.MergeEvent) { record(e.InvocationID) }},
		"OnAttemptDone": {OnAttemptDone: func(_ context.Context, e concord.AttemptDoneEvent) { record(e.InvocationID) }},
		"OnCallDone":    {OnCallDone: func(_ context.Context, e concord.CallEvent) { record(e.InvocationID) }},
	}
	for name, h := range hooks {
		t.Run(name, func(t *testing.T) {
			got.Store("")
			c, srv := setupFake(t, nil, concord.WithHooks(h))
			widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "gear", Price: 2})
			srv.FailNext(1, "PUT", "/widgets/w1", http.StatusServiceUnavailable, "")
			if _, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { w.Stock++; return nil }); err != nil {
				t.Fatal(err)
			}
			if got.Load() == "" {
				t.Errorf("%s saw no invocation ID", name)
			}
		})
	}
}

func TestDebugLogNumbersAttempts(t *testing.T) {
	var logs bytes.Buffer
	c, mux := setup(t, concord.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {})
	c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
	if !strings.Contains(logs.String(), "attempt=1") || strings.Contains(logs.String(), `invocation=""`) || !strings.Contains(logs.String(), "invocation=") {
		t.Errorf("debug log = %s; want attempt=1 and an invocation ID", logs.String())
	}
}

// TestInProgressRoundsAreBounded: a key reported in progress is resent at
// most ConflictPolicy.MaxAttempts times in all.
func TestInProgressRoundsAreBounded(t *testing.T) {
	clock := newFakeClock()
	c, mux := setup(t, concord.WithClock(clock), concord.WithConflictPolicy(concord.ConflictPolicy{MaxAttempts: 3}))
	var hits atomic.Int32
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusConflict)
	})
	_, err := concord.NewResource[Widget](c, "widgets").Create(bounded(t), Widget{Name: "gear"})
	var ce *concord.ConflictError
	if !errors.As(err, &ce) || ce.Kind != concord.KindInProgress || ce.Attempts != 3 || hits.Load() != 3 {
		t.Errorf("Create always in progress = %v after %d requests; want a ConflictError after 3", err, hits.Load())
	}
}

// TestStatus300IsNotASuccess: only 2xx is a success (and 304 to a read); a
// 300 to a write does not say it took effect, and its body is an error
// body, kept to its bounded prefix.
func TestStatus300IsNotASuccess(t *testing.T) {
	c, mux := setup(t, concord.WithMaxErrorBodyBytes(10), concord.WithMaxResponseBytes(20))
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMultipleChoices)
		fmt.Fprint(w, strings.Repeat("choice ", 10))
	})
	_, err := c.Do(bounded(t), &concord.Request{Method: http.MethodPut, Path: "/x", Body: "{}"}, nil)
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 300 || errors.Is(err, concord.ErrWriteApplied) || !apiErr.Truncated || len(apiErr.Body) != 10 {
		t.Errorf("PUT answered 300 = %v; want an APIError, not applied, body cut to 10 bytes", err)
	}
}

func TestErrorBodyOfExactlyTheLimitIsWhole(t *testing.T) {
	c, mux := setup(t, concord.WithMaxErrorBodyBytes(10))
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, "0123456789")
	})
	_, err := c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) || apiErr.Truncated || string(apiErr.Body) != "0123456789" {
		t.Errorf("409 with a body of exactly the limit = %+v; want it whole, not truncated", apiErr)
	}
}

func TestAPIErrorTextAndSentinels(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-7")
		w.WriteHeader(http.StatusGone)
	})
	mux.HandleFunc("/stale", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusPreconditionFailed) })
	mux.HandleFunc("/taken", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusConflict) })
	_, err := c.Do(bounded(t), &concord.Request{Path: "/gone"}, nil)
	if !errors.Is(err, concord.ErrNotFound) || !strings.Contains(err.Error(), "[request req-7]") || strings.Contains(err.Error(), "(") {
		t.Errorf("410 = %v; want ErrNotFound, the request ID, no conflict kind", err)
	}
	if _, err := c.Do(bounded(t), &concord.Request{Method: http.MethodPost, Path: "/taken"}, nil); !errors.Is(err, concord.ErrConflict) {
		t.Errorf("409 = %v; want ErrConflict", err)
	}
	_, err = c.Do(bounded(t), &concord.Request{Method: http.MethodPut, Path: "/stale", IfMatch: `"v1"`}, nil)
	if !errors.Is(err, concord.ErrConflict) || !strings.Contains(err.Error(), "(stale version)") || strings.Contains(err.Error(), "[request") {
		t.Errorf("412 to a conditional PUT = %v; want ErrConflict naming the stale version, no request ID", err)
	}
}

func TestRedirectsStopAfterTen(t *testing.T) {
	c, mux := setup(t)
	var hits atomic.Int32
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	if _, err := c.Do(bounded(t), &concord.Request{Path: "/loop"}, nil); err == nil || hits.Load() != 10 {
		t.Errorf("a redirect loop = %v after %d requests; want an error after 10 requests, as net/http", err, hits.Load())
	}
}

func TestCreateWithAnEmptyBodyReturnsTheValueSent(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	res, err := concord.NewResource[Widget](c, "widgets").Create(bounded(t), Widget{Name: "gear"})
	if err != nil || res.Value.Name != "gear" {
		t.Errorf("Create answered 201 without a body = %+v, %v; want the value sent", res, err)
	}
}

// TestCreateRemembersTheLocation: a create answered with Location, a body
// and an ETag is tracked, so the next Get revalidates instead of reading.
func TestCreateRemembersTheLocation(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets := concord.NewResource[Widget](c, "widgets")
	res, err := widgets.Create(bounded(t), Widget{Name: "gear"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := widgets.Get(bounded(t), res.Value.ID); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if inm := reqs[len(reqs)-1].Header.Get("If-None-Match"); inm == "" || inm != string(res.ETag) {
		t.Errorf("Get after Create sent If-None-Match %q; want the created ETag %s", inm, res.ETag)
	}
}

// TestCreateAtAdoptsDespiteServerMembers: the adopt check compares what T
// holds, so members the server adds do not make our own lost create look
// like someone else's (TestAdoptIgnoresTheVersionMember: the version).
func TestCreateAtAdoptsDespiteServerMembers(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, `{"name":"gear","price":1,"createdAt":"2026-11-22T08:00:00Z"}`)
	})
	res, err := concord.NewResource[Widget](c, "widgets").CreateAt(bounded(t), "1", Widget{Name: "gear", Price: 1})
	if err != nil || !res.Adopted {
		t.Errorf("CreateAt of our own lost create = %+v, %v; want it adopted", res, err)
	}
}

// TestWhatAWriteAnswered: a write answered with the document (with what
// the server added) returns that; one answered with something else (an
// HTML page, a CouchDB receipt without the body version) returns the value
// written.
func TestWhatAWriteAnswered(t *testing.T) {
	tests := []struct {
		name, get, answer string
		opts              []concord.ResourceOption
		want              Widget
	}{
		{"the document", `{"name":"gear"}`, `{"name":"gear","stock":1,"color":"set by the server"}`, nil, Widget{Name: "gear", Stock: 1, Color: "set by the server"}},
		{"an HTML page", `{"name":"gear"}`, `<html>Created</html>`, nil, Widget{Name: "gear", Stock: 1}},
		{"a CouchDB receipt", `{"_rev":"1-a","name":"gear"}`, `{"ok":true,"id":"1","rev":"2-b"}`,
			[]concord.ResourceOption{concord.WithVersioner(concord.BodyVersion{Path: "_rev"})}, Widget{Name: "gear", Stock: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t)
			mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("ETag", `"v1"`)
				if r.Method == http.MethodGet {
					fmt.Fprint(w, tt.get)
					return
				}
				w.Header().Set("ETag", `"v2"`)
				fmt.Fprint(w, tt.answer)
			})
			res, err := concord.NewResource[Widget](c, "widgets", tt.opts...).Update(bounded(t), "1", func(w *Widget) error { w.Stock = 1; return nil })
			if err != nil || res.Value.Name != tt.want.Name || res.Value.Stock != tt.want.Stock || res.Value.Color != tt.want.Color {
				t.Errorf("Update answered with %s = %+v, %v; want %+v", tt.name, res, err, tt.want)
			}
		})
	}
}

func TestStaleDeleteReportsTheCurrentVersion(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, theirs := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "theirs"})
	err := widgets.Delete(bounded(t), "w1")
	var ce *concord.ConflictError
	if !errors.As(err, &ce) || ce.Version != theirs {
		t.Errorf("stale Delete = %v; want a ConflictError naming the current version %s", err, theirs)
	}
}

// TestBodyVersionDeleteReadsItsVersion: a Delete on a body-versioned API
// with nothing tracked reads the version and deletes with it.
func TestBodyVersionDeleteReadsItsVersion(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.VersionInBody("_rev", "rev")})
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	docs := concord.NewResource[Widget](c, "widgets", concord.WithVersioner(concord.BodyVersion{Path: "_rev", Query: "rev"}))
	if err := docs.Delete(bounded(t), "w1"); err != nil || srv.Len("widgets") != 0 {
		t.Errorf("Delete = %v, %d left; want it deleted with the version read", err, srv.Len("widgets"))
	}
}

// TestWeakTagChangedMeanwhileIsAConflict: a Replace whose value was derived
// from a state seen only with a weak tag does not overwrite a newer state
// once the strong tag appears.
func TestWeakTagChangedMeanwhileIsAConflict(t *testing.T) {
	d, widgets := weakThenStrong(t, true)
	_, err := widgets.Replace(bounded(t), "1", Widget{Name: "mine"})
	if doc, _, _ := d.state(); !errors.Is(err, concord.ErrConflict) || doc != `{"name":"theirs"}` {
		t.Errorf("Replace = %v, server holds %s; want ErrConflict and theirs kept", err, doc)
	}
}

// TestStaleReplaceChecksTheServerOnlyAfterAResend: the applied-write check
// (a GET) is made only when the write went out more than once.
func TestStaleReplaceChecksTheServerOnlyAfterAResend(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "theirs"})
	before := countRequests(srv, "GET")
	if _, err := widgets.Replace(bounded(t), "w1", Widget{Name: "mine"}); !errors.Is(err, concord.ErrConflict) {
		t.Fatal(err)
	}
	if got := countRequests(srv, "GET") - before; got != 0 {
		t.Errorf("a stale Replace sent once made %d GETs; want none", got)
	}
}

// TestPatchNeedsABase: with WithPatch but no base body (a version given
// with WithBaseVersion), the whole document is sent with PUT.
func TestPatchNeedsABase(t *testing.T) {
	c, srv := setupFake(t, nil)
	etag := seedWidget(t, srv, "w1", Widget{Name: "gear"})
	_, err := concord.NewResource[Widget](c, "widgets", concord.WithPatch()).Replace(bounded(t), "w1", Widget{Name: "cog"}, concord.WithBaseVersion(etag))
	if err != nil || countRequests(srv, "PUT") != 1 || countRequests(srv, "PATCH") != 0 {
		t.Errorf("Replace with a patch and no base = %v, %d PUTs, %d PATCHes; want one PUT", err, countRequests(srv, "PUT"), countRequests(srv, "PATCH"))
	}
}

func TestOptionLimitsMustBePositive(t *testing.T) {
	for name, opt := range map[string]concord.Option{
		"WithMaxResponseBytes(0)":  concord.WithMaxResponseBytes(0),
		"WithMaxErrorBodyBytes(0)": concord.WithMaxErrorBodyBytes(0),
	} {
		if _, err := concord.New("https://api.example.com", opt); err == nil {
			t.Errorf("New(%s) succeeded; want an error", name)
		}
	}
	if _, err := concord.New("https://api.example.com", concord.WithVersionCacheBytes(0)); err != nil {
		t.Errorf("New(WithVersionCacheBytes(0)) = %v; 0 turns tracking off", err)
	}
}

// TestLargeConflictStateIsUsed: a 412 or 409 carrying the current
// representation is read whole (up to the success limit, not the error
// limit), so the merge uses it without a refetch.
func TestLargeConflictStateIsUsed(t *testing.T) {
	for _, status := range []int{http.StatusPreconditionFailed, http.StatusConflict} {
		c, srv := setupFake(t, []concordtest.Option{concordtest.ConflictWithState(), concordtest.ConflictStatus(status)}, concord.WithMaxErrorBodyBytes(64))
		big := strings.Repeat("t", 200)
		widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Color: big}, Widget{Name: "gear", Color: big, Price: 2})
		before := countRequests(srv, "GET")
		if _, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { w.Stock++; return nil }); err != nil {
			t.Fatal(err)
		}
		if got := countRequests(srv, "GET") - before; got != 0 {
			t.Errorf("Update with a %d carrying 200+ bytes of state made %d GETs; want none", status, got)
		}
	}
}

// TestWeakTagChangedMeanwhileIsMerged: Update over a state seen with a weak
// tag and changed meanwhile counts the conflict and merges onto theirs.
func TestWeakTagChangedMeanwhileIsMerged(t *testing.T) {
	d, widgets := weakThenStrong(t, true)
	res, err := widgets.Update(bounded(t), "1", func(w *Widget) error { w.Stock = 3; return nil })
	if doc, _, _ := d.state(); err != nil || res.Conflicts != 1 || !strings.Contains(doc, `"theirs"`) || res.Value.Stock != 3 {
		t.Errorf("Update = %+v, %v (server %s); want theirs with stock 3 after 1 conflict", res, err, doc)
	}
}

// TestStaleReplaceAfterItsOwnReadIsNotChecked: a Replace that read the
// item first and then met a conflict on its single PUT reports it without
// the applied-write check, which only a resent write needs.
func TestStaleReplaceAfterItsOwnReadIsNotChecked(t *testing.T) {
	var srv *concordtest.Server
	var once atomic.Bool
	hooks := concord.Hooks{OnAttempt: func(_ context.Context, e concord.AttemptEvent) {
		if e.Method == http.MethodPut && once.CompareAndSwap(false, true) {
			seedWidget(t, srv, "w1", Widget{Name: "theirs"}) // another writer, just before our PUT
		}
	}}
	var c *concord.Client
	c, srv = setupFake(t, nil, concord.WithHooks(hooks))
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	if _, err := concord.NewResource[Widget](c, "widgets").Replace(bounded(t), "w1", Widget{Name: "mine"}); !errors.Is(err, concord.ErrConflict) {
		t.Fatalf("Replace = %v; want ErrConflict", err)
	}
	if got := countRequests(srv, "GET"); got != 1 {
		t.Errorf("GETs = %d; want only Replace's own read", got)
	}
}

func TestPagesOfNothing(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/stripe", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"data":[],"has_more":true}`) })
	if _, err := concord.NewResource[Widget](c, "empty").Page(bounded(t), ""); err == nil {
		t.Error("a page with an empty body: no error; want a decode error")
	}
	page, err := concord.NewResource[Widget](c, "stripe").Page(bounded(t), "")
	if err != nil || len(page.Items) != 0 || page.Next != "" {
		t.Errorf("an empty page saying has_more = %+v, %v; want no items and no next page", page, err)
	}
}

// TestCreateWithoutABodyIsNotTracked: a 201 with a Location but no body
// leaves nothing to merge from, so the next Update reads the item.
func TestCreateWithoutABodyIsNotTracked(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/widgets/1")
		w.Header().Set("ETag", `"v1"`)
		w.WriteHeader(http.StatusCreated)
	})
	var gets atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Method == http.MethodGet {
			gets.Add(1)
			fmt.Fprint(w, `{"name":"gear"}`)
			return
		}
		w.Header().Set("ETag", `"v2"`)
		fmt.Fprint(w, `{"name":"gear","stock":1}`)
	})
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Create(bounded(t), Widget{Name: "gear"}); err != nil {
		t.Fatal(err)
	}
	if _, err := widgets.Update(bounded(t), "1", func(w *Widget) error { w.Stock = 1; return nil }); err != nil || gets.Load() != 1 {
		t.Errorf("Update after a bodiless create = %v after %d GETs; want it to read the item once", err, gets.Load())
	}
}

// TestAdoptIgnoresTheVersionMember: a T that holds the body version still
// adopts our own lost create, whose sent body had no version.
func TestAdoptIgnoresTheVersionMember(t *testing.T) {
	type versioned struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
	}
	c, srv := setupFake(t, []concordtest.Option{concordtest.VersionInBody("version", "")})
	if _, err := srv.Seed("things", "1", versioned{Name: "gear"}); err != nil {
		t.Fatal(err)
	}
	res, err := concord.NewResource[versioned](c, "things", concord.WithVersioner(concord.BodyVersion{Path: "version"})).CreateAt(bounded(t), "1", versioned{Name: "gear"})
	if err != nil || !res.Adopted {
		t.Errorf("CreateAt = %+v, %v; want it adopted, the version member aside", res, err)
	}
}
