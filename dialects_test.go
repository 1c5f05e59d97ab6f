package concord_test

// Server dialects concordtest does not speak by default, as real servers
// were seen to behave (see the interop module for the real ones): weak
// ETags, plain 409s, resends by net/http itself, keys ignored on PUT.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/concord-go/concord"
)

// TestStaleDeleteWithAWeakTagDeletesNothing: a client holding only a weak
// ETag never sends an unconditional DELETE, so another writer's newer
// document survives (Apache mod_dav serves weak tags after each write).
func TestStaleDeleteWithAWeakTagDeletesNothing(t *testing.T) {
	d, srv := newDocServer(t, `{"name":"gear"}`)
	d.weak = true
	clock := newFakeClock()
	c := newClient(t, srv.URL, concord.WithClock(clock))
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "1"); err != nil {
		t.Fatal(err)
	}
	d.set(`{"name":"theirs"}`) // another writer
	err := widgets.Delete(bounded(t), "1")
	doc, _, reqs := d.state()
	if !errors.Is(err, concord.ErrNoVersion) || doc != `{"name":"theirs"}` {
		t.Errorf("Delete with only weak tags = %v, server holds %s (requests %q); want ErrNoVersion and the document kept", err, doc, reqs)
	}
	for _, r := range reqs {
		if r == "DELETE " {
			t.Errorf("an unconditional DELETE was sent: %q", reqs)
		}
	}
}

// TestWeakTagsWaitForAStrongOne: a server that serves a weak tag for a
// while after each write gets the write once a strong tag is served.
func TestWeakTagsWaitForAStrongOne(t *testing.T) {
	d, srv := newDocServer(t, `{"name":"gear","stock":1}`)
	d.weak = true
	var reads atomic.Int32
	clock := newFakeClock()
	c := newClient(t, srv.URL, concord.WithClock(clock), concord.WithHooks(concord.Hooks{OnAttempt: func(_ context.Context, e concord.AttemptEvent) {
		if e.Method == http.MethodGet && reads.Add(1) == 3 {
			d.mu.Lock()
			d.weak = false // the second has passed: tags are strong again
			d.mu.Unlock()
		}
	}}))
	res, err := concord.NewResource[Widget](c, "widgets").Update(bounded(t), "1", func(w *Widget) error { w.Stock++; return nil })
	doc, _, reqs := d.state()
	if err != nil || res.Value.Stock != 2 || len(clock.Sleeps()) == 0 {
		t.Errorf("Update against weak-for-a-while tags = %v (server %s, requests %q, waits %v); want stock 2 after waiting", err, doc, reqs, clock.Sleeps())
	}
}

// TestOpaqueETagsAreEchoedAsReceived: ETagVersion{Opaque: true} sends a weak
// tag byte for byte, as Azure Table storage requires.
func TestOpaqueETagsAreEchoedAsReceived(t *testing.T) {
	c, mux := setup(t)
	var ifMatch atomic.Value
	mux.HandleFunc("/tables/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `W/"datetime'2026-11-22T07%3A00%3A00Z'"`)
		if r.Method == http.MethodPut {
			ifMatch.Store(r.Header.Get("If-Match"))
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	tables := concord.NewResource[Widget](c, "tables", concord.WithVersioner(concord.ETagVersion{Opaque: true}))
	if _, err := tables.Update(bounded(t), "1", func(w *Widget) error { w.Stock = 3; return nil }); err != nil {
		t.Fatalf("Update with opaque ETags = %v", err)
	}
	if got := ifMatch.Load(); got != `W/"datetime'2026-11-22T07%3A00%3A00Z'"` {
		t.Errorf("If-Match = %v; want the weak tag as received", got)
	}
}

// TestBodyVersionDeleteWithoutQueryIsNotDowngraded: a body version with
// no query parameter cannot make a DELETE conditional, so it is refused.
func TestBodyVersionDeleteWithoutQueryIsNotDowngraded(t *testing.T) {
	c, mux := setup(t)
	var deletes atomic.Int32
	mux.HandleFunc("/docs/1", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			deletes.Add(1)
		}
		fmt.Fprint(w, `{"_rev":"1-a","name":"gear"}`)
	})
	docs := concord.NewResource[Widget](c, "docs", concord.WithVersioner(concord.BodyVersion{Path: "_rev"}))
	if _, err := docs.Get(bounded(t), "1"); err != nil {
		t.Fatal(err)
	}
	if err := docs.Delete(bounded(t), "1"); !errors.Is(err, concord.ErrNoVersion) || deletes.Load() != 0 {
		t.Errorf("Delete = %v after %d DELETEs; want ErrNoVersion before any", err, deletes.Load())
	}
}

// TestLostDeleteResentByNetHTTPIsASuccess: net/http's Transport resends a
// keyed request by itself when a reused connection breaks, so concord's own
// retry count stays 0; the resend's 412 (If-Match on a missing item) must
// be checked, not reported as a conflict.
func TestLostDeleteResentByNetHTTPIsASuccess(t *testing.T) {
	d, srv := newDocServer(t, `{"name":"gear"}`)
	c := newClient(t, srv.URL)
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "1"); err != nil { // also warms the connection, so it is reused
		t.Fatal(err)
	}
	d.mu.Lock()
	d.dropWrites = 1
	d.mu.Unlock()
	err := widgets.Delete(bounded(t), "1")
	doc, writes, reqs := d.state()
	if err != nil || doc != "" || writes != 1 {
		t.Errorf("Delete whose response was lost = %v (server %q after %d deletes, requests %q); want success", err, doc, writes, reqs)
	}
}

// TestRejectedReplaceStaysRejected: a Replace rejected as stale, repeated
// with the same value, is rejected again: the failed call's reads did not
// move the version the value was derived from.
func TestRejectedReplaceStaysRejected(t *testing.T) {
	tests := []struct {
		name  string
		merge concord.MergeFunc[Widget]
	}{
		{"no merge", nil},
		{"a merge that clashes", concord.ThreeWay[Widget]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := setupFake(t, nil)
			widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1}, Widget{Name: "gear", Price: 2})
			mine := Widget{Name: "gear", Price: 3}
			if _, err := widgets.WithMerge(tt.merge).Replace(bounded(t), "w1", mine); !errors.Is(err, concord.ErrConflict) && !errors.Is(err, concord.ErrMergeAborted) {
				t.Fatalf("first Replace = %v; want it rejected", err)
			}
			if _, err := widgets.Replace(bounded(t), "w1", mine); !errors.Is(err, concord.ErrConflict) {
				t.Errorf("Replace repeated = %v; want ErrConflict", err)
			}
			var w Widget
			if doc, _, _ := srv.Doc("widgets", "w1"); json.Unmarshal(doc, &w) != nil || w.Price != 2 {
				t.Errorf("server holds %s; want the other writer's price 2 kept", doc)
			}
		})
	}
}

// TestPlainConflictIsAnsweredOnce: a 409 with nothing saying "in progress"
// is not resent: to a create it means the name is taken, to another write a
// business rule.
func TestPlainConflictIsAnsweredOnce(t *testing.T) {
	c, mux := setup(t)
	var hits atomic.Int32
	conflict := func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, `{"message":"name already taken"}`)
	}
	mux.HandleFunc("/widgets", conflict)
	_, err := concord.NewResource[Widget](c, "widgets").Create(bounded(t), Widget{Name: "gear"})
	if !errors.Is(err, concord.ErrAlreadyExists) || hits.Load() != 1 {
		t.Errorf("Create answered a plain 409 = %v after %d requests; want ErrAlreadyExists after 1", err, hits.Load())
	}
	hits.Store(0)
	mux.HandleFunc("/orders/1/cancel", conflict)
	var apiErr *concord.APIError
	_, err = c.Do(bounded(t), &concord.Request{Method: http.MethodPost, Path: "/orders/1/cancel"}, nil)
	if !errors.As(err, &apiErr) || apiErr.Kind != concord.KindBusinessRule || hits.Load() != 1 {
		t.Errorf("keyed POST answered a plain 409 = %v after %d requests; want a business-rule conflict after 1", err, hits.Load())
	}
}

// TestWeakTagThenStrongDeletesOnlyWhatWasSeen: a client that saw only the
// weak tag of a state deletes that state once its strong tag is served,
// and never a newer state another writer made meanwhile (Apache mod_dav).
func TestWeakTagThenStrongDeletesOnlyWhatWasSeen(t *testing.T) {
	tests := []struct {
		name        string
		otherWriter bool
		wantErr     error
		wantDoc     string
	}{
		{"unchanged", false, nil, ""},
		{"changed by another writer", true, concord.ErrConflict, `{"name":"theirs"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, widgets := weakThenStrong(t, tt.otherWriter)
			err := widgets.Delete(bounded(t), "1")
			doc, _, reqs := d.state()
			if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil || doc != tt.wantDoc {
				t.Errorf("Delete = %v, server holds %q (requests %q); want %v and %q", err, doc, reqs, tt.wantErr, tt.wantDoc)
			}
		})
	}
}

// TestBaseURLQueryReachesEveryRequest: a base URL's query (an Azure SAS,
// api-version) is sent with every request, merged with the call's own, and
// never shown in errors.
func TestBaseURLQueryReachesEveryRequest(t *testing.T) {
	var queries []string
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/widgets/", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		if r.Method == http.MethodGet {
			w.Header().Set("ETag", `"v1"`)
			fmt.Fprint(w, `{"name":"gear"}`)
			return
		}
		w.WriteHeader(http.StatusConflict)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL+"/v1?sv=2023-11-03&sig=SECRET")
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "1", concord.WithQuery("expand", "all")); err != nil {
		t.Fatal(err)
	}
	_, err := widgets.Replace(bounded(t), "1", Widget{Name: "cog"})
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("Replace = %v; want an error that does not show the SAS", err)
	}
	if len(queries) != 2 || queries[0] != "expand=all&sv=2023-11-03&sig=SECRET" || queries[1] != "sv=2023-11-03&sig=SECRET" {
		t.Errorf("queries = %q; want the base query on every request", queries)
	}
}

// TestItemPath: WithItemPath addresses items the API's way.
func TestItemPath(t *testing.T) {
	c, mux := setup(t)
	var got string
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	entities := concord.NewResource[Widget](c, "widgets", concord.WithItemPath(func(id string) string {
		return fmt.Sprintf("widgets(PartitionKey='p',RowKey='%s')", url.PathEscape(id))
	}))
	if _, err := entities.Get(bounded(t), "k 1"); err != nil {
		t.Fatal(err)
	}
	if want := "/widgets(PartitionKey='p',RowKey='k%201')"; got != want {
		t.Errorf("GET path = %s; want %s", got, want)
	}
}

// TestRoutesAndQueryVersion: an API that reads, writes and deletes an item
// at different URLs and takes the version in the query on every write
// (Google Cloud Storage) gets each request where it belongs, and a write's
// receipt is not taken for the document.
func TestRoutesAndQueryVersion(t *testing.T) {
	c, mux := setup(t)
	var seen []string
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("X-Goog-Generation", "5")
			fmt.Fprint(w, `{"name":"gear","stock":1}`)
		case http.MethodPost:
			fmt.Fprint(w, `{"kind":"storage#object","generation":"6"}`)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	objects := concord.NewResource[Widget](c, "o",
		concord.WithRoutes(concord.Routes{
			Read:        func(id string) string { return "o/" + id + "?alt=media" },
			Write:       func(id string) string { return "upload/o?name=" + url.QueryEscape(id) },
			WriteMethod: http.MethodPost,
		}),
		concord.WithVersioner(concord.QueryVersion{Header: "X-Goog-Generation", Member: "generation", Param: "ifGenerationMatch", Absent: "0"}))
	res, err := objects.Update(bounded(t), "w1", func(w *Widget) error { w.Stock = 2; return nil })
	if err != nil || res.Value.Stock != 2 || res.Version != "6" {
		t.Fatalf("Update = %+v, %v; want stock 2 (not the receipt) at version 6", res, err)
	}
	if err := objects.Delete(bounded(t), "w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := objects.CreateAt(bounded(t), "w2", Widget{Name: "cog"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /o/w1?alt=media", "POST /upload/o?name=w1&ifGenerationMatch=5", "DELETE /o/w1?ifGenerationMatch=6", "POST /upload/o?name=w2&ifGenerationMatch=0"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("requests = %q; want %q", seen, want)
	}
}

// TestBodyVersionJSONPointer: a member whose name holds a dot is reached
// with a JSON Pointer.
func TestBodyVersionJSONPointer(t *testing.T) {
	v := concord.BodyVersion{Path: "/odata.etag"}
	body := []byte(`{"odata.etag":"W/\"x\"","odata":{"etag":"wrong"}}`)
	if got := v.Version(nil, body); got != `"W/\"x\""` {
		t.Errorf("Version(%s) = %s; want the odata.etag member", body, got)
	}
	out, err := v.Apply(`"W/\"y\""`, nil, nil, body)
	if err != nil || !strings.Contains(string(out), `"odata.etag":"W/\"y\""`) {
		t.Errorf("Apply = %s, %v; want odata.etag replaced", out, err)
	}
}

// TestRequestsCountsNetHTTPsResends: a call's count of requests is what
// reached the server, reads included, when net/http resends a write on its
// own: here the PUT whose response was lost, net/http's resend (a 412), and
// the read that finds the PUT took effect.
func TestRequestsCountsNetHTTPsResends(t *testing.T) {
	d, srv := newDocServer(t, `{"name":"gear"}`)
	var calls []concord.CallEvent
	c := newClient(t, srv.URL, concord.WithHooks(concord.Hooks{OnCallDone: func(_ context.Context, e concord.CallEvent) { calls = append(calls, e) }}))
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(bounded(t), "1"); err != nil { // also warms the connection, so it is reused
		t.Fatal(err)
	}
	_, _, before := d.state()
	d.mu.Lock()
	d.dropWrites = 1
	d.mu.Unlock()
	if _, err := widgets.Replace(bounded(t), "1", Widget{Name: "cog"}); err != nil {
		t.Fatal(err)
	}
	_, _, reqs := d.state()
	if len(calls) != 2 || calls[1].Requests != len(reqs)-len(before) {
		t.Errorf("Replace's OnCallDone = %+v; want Requests %d, the server's %q", calls[len(calls)-1], len(reqs)-len(before), reqs[len(before):])
	}
}
