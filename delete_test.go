package concord_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

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

// TestDeleteWithCallerKeySendsItOnce: one key state per Delete call, so
// the caller's key is never sent with two different requests (the
// unconditional DELETE and the conditional one after a 428).
func TestDeleteWithCallerKeySendsItOnce(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.RequirePreconditions()})
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	err := concord.NewResource[Widget](c, "widgets", concord.WithUnconditional()).Delete(bounded(t), "w1", concord.WithIdempotencyKey("del-1"))
	if err != nil || srv.Len("widgets") != 0 {
		t.Fatalf("Delete = %v, %d left; want the item deleted", err, srv.Len("widgets"))
	}
	keys := map[string]int{}
	for _, r := range srv.Requests() {
		if r.Method == http.MethodDelete {
			keys[r.Header.Get("Idempotency-Key")]++
		}
	}
	if keys["del-1"] != 1 || len(keys) != 2 {
		t.Errorf("DELETE keys = %v; want del-1 once and a fresh key for the conditional DELETE", keys)
	}
}

// TestDeleteAnswered404ReadsBack: a conditional DELETE that went out once
// and is answered 404 is read back before it is reported. Item gone:
// another writer's delete, not a lost one of ours, so ErrNotFound as for
// any missing item, and not a conflict. Item there with a newer version: a
// server that answers a stale version 404 (pouchdb-server's "missing"
// revision) refused a stale delete, so a ConflictError naming the current
// version. The read is not counted as a send of the delete.
func TestDeleteAnswered404ReadsBack(t *testing.T) {
	tests := []struct {
		name         string
		afterGet     func(w http.ResponseWriter, r *http.Request) // what another writer left
		wantConflict bool
	}{
		{"another writer deleted it", http.NotFound, false},
		{"another writer changed it", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"v2"`)
			fmt.Fprint(w, `{"name":"theirs"}`)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t)
			var gotten atomic.Bool
			var deletes atomic.Int32
			mux.HandleFunc("/widgets/w1", func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodDelete:
					deletes.Add(1)
					http.NotFound(w, r)
				case gotten.Load():
					tt.afterGet(w, r)
				default:
					w.Header().Set("ETag", `"v1"`)
					fmt.Fprint(w, `{"name":"gear"}`)
				}
			})
			widgets := concord.NewResource[Widget](c, "widgets")
			if _, err := widgets.Get(bounded(t), "w1"); err != nil {
				t.Fatal(err)
			}
			gotten.Store(true)
			err := widgets.Delete(bounded(t), "w1")
			var conflict *concord.ConflictError
			if isConflict := errors.As(err, &conflict); isConflict != tt.wantConflict || deletes.Load() != 1 {
				t.Fatalf("Delete answered 404 = %v after %d DELETEs; want a conflict: %v, after 1", err, deletes.Load(), tt.wantConflict)
			}
			if tt.wantConflict && conflict.Version != `"v2"` {
				t.Errorf("ConflictError.Version = %s; want \"v2\"", conflict.Version)
			}
			if !tt.wantConflict && !errors.Is(err, concord.ErrNotFound) {
				t.Errorf("Delete of an item another writer deleted = %v; want ErrNotFound", err)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	t.Run("conditional on the tracked version", func(t *testing.T) {
		c, srv := setupFake(t, nil)
		etag := seedWidget(t, srv, "w1", Widget{Name: "gear"})
		widgets := concord.NewResource[Widget](c, "widgets")
		if _, err := widgets.Get(context.Background(), "w1"); err != nil {
			t.Fatal(err)
		}
		if err := widgets.Delete(context.Background(), "w1"); err != nil {
			t.Fatalf("Delete = %v", err)
		}
		reqs := srv.Requests()
		if got := reqs[len(reqs)-1].Header.Get("If-Match"); got != etag || srv.Len("widgets") != 0 {
			t.Errorf("DELETE If-Match = %q, %d left; want %s, 0 left", got, srv.Len("widgets"), etag)
		}
	})
	t.Run("stale version", func(t *testing.T) {
		c, srv := setupFake(t, nil)
		widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "changed"})
		err := widgets.Delete(context.Background(), "w1")
		var conflict *concord.ConflictError
		if !errors.As(err, &conflict) || srv.Len("widgets") != 1 {
			t.Errorf("Delete of a changed resource = %v; want *ConflictError and the resource kept", err)
		}
	})
	t.Run("lost response", func(t *testing.T) {
		c, srv := setupFake(t, nil)
		seedWidget(t, srv, "w1", Widget{Name: "gear"})
		widgets := concord.NewResource[Widget](c, "widgets")
		if _, err := widgets.Get(context.Background(), "w1"); err != nil {
			t.Fatal(err)
		}
		srv.DropNext(1, "DELETE", "/widgets/w1")
		if err := widgets.Delete(context.Background(), "w1"); err != nil {
			t.Errorf("Delete whose response was lost = %v; want success", err)
		}
	})
	t.Run("precondition required", func(t *testing.T) {
		c, srv := setupFake(t, []concordtest.Option{concordtest.RequirePreconditions()})
		etag := seedWidget(t, srv, "w1", Widget{Name: "gear"})
		if err := concord.NewResource[Widget](c, "widgets").Delete(context.Background(), "w1"); err != nil {
			t.Fatalf("Delete against a server requiring If-Match = %v", err)
		}
		reqs := srv.Requests()
		if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[1].Header.Get("If-Match") != etag || srv.Len("widgets") != 0 {
			t.Errorf("requests = %d (last If-Match %q), %d left; want GET, DELETE If-Match %s", len(reqs), reqs[len(reqs)-1].Header.Get("If-Match"), srv.Len("widgets"), etag)
		}
	})
	t.Run("unconditional by choice, precondition required", func(t *testing.T) {
		c, srv := setupFake(t, []concordtest.Option{concordtest.RequirePreconditions()})
		etag := seedWidget(t, srv, "w1", Widget{Name: "gear"})
		if err := concord.NewResource[Widget](c, "widgets", concord.WithUnconditional()).Delete(context.Background(), "w1"); err != nil {
			t.Fatalf("Delete against a server requiring If-Match = %v", err)
		}
		reqs := srv.Requests()
		if len(reqs) != 3 || reqs[0].Header.Get("If-Match") != "" || reqs[1].Method != "GET" || reqs[2].Header.Get("If-Match") != etag || srv.Len("widgets") != 0 {
			t.Errorf("requests = %d (last If-Match %q), %d left; want DELETE 428, GET, DELETE If-Match %s", len(reqs), reqs[len(reqs)-1].Header.Get("If-Match"), srv.Len("widgets"), etag)
		}
	})
	t.Run("missing", func(t *testing.T) {
		c, _ := setupFake(t, nil)
		err := concord.NewResource[Widget](c, "widgets").Delete(context.Background(), "nope")
		if !errors.Is(err, concord.ErrNotFound) {
			t.Errorf("Delete(nope) = %v; want ErrNotFound", err)
		}
	})
}

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
	d, widgets, calls, before := lostWriteSetup(t)
	err := widgets.Delete(bounded(t), "1")
	doc, writes, reqs := d.state()
	if err != nil || doc != "" || writes != 1 {
		t.Errorf("Delete whose response was lost = %v (server %q after %d deletes, requests %q); want success", err, doc, writes, reqs)
	}
	// The resend had no body (no GetBody to count it): the trace did.
	if len(*calls) != 2 || (*calls)[1].Requests != len(reqs)-len(before) {
		t.Errorf("Delete's OnCallDone events = %+v; want 2, the last with Requests %d, the server's %q", *calls, len(reqs)-len(before), reqs[len(before):])
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

// TestDeleteAfterPreconditionRequiredIsNotFoundWhenGone: a Delete the
// server answered 428 goes again, conditional; when that one finds the
// item gone (another writer deleted it meanwhile), the call says so: its
// second request went out once, so the item was not deleted by it.
func TestDeleteAfterPreconditionRequiredIsNotFoundWhenGone(t *testing.T) {
	c, mux := setup(t)
	var deletes atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete && r.Header.Get("If-Match") == "":
			w.WriteHeader(http.StatusPreconditionRequired)
		case r.Method == http.MethodDelete:
			deletes.Add(1)
			http.NotFound(w, r)
		case deletes.Load() == 0:
			w.Header().Set("ETag", `"v1"`)
			w.Write([]byte(`{"name":"gear"}`))
		default:
			http.NotFound(w, r)
		}
	})
	err := concord.NewResource[Widget](c, "widgets", concord.WithUnconditional()).Delete(bounded(t), "1")
	if !errors.Is(err, concord.ErrNotFound) {
		t.Errorf("Delete after a 428 that found the item gone = %v; want ErrNotFound", err)
	}
}

// TestDeleteWithAnOlderBaseThanTheClientKnows: a Delete given the version
// the caller saw (WithBaseVersion) deletes only that version, even when
// the client has since tracked a newer one (its own later write): the
// caller did not see that one, so the Delete is refused, and the item
// stays.
func TestDeleteWithAnOlderBaseThanTheClientKnows(t *testing.T) {
	c, _ := setupFake(t, nil)
	widgets := concord.NewResource[Widget](c, "widgets")
	seen, err := widgets.CreateAt(bounded(t), "w1", Widget{Name: "gear"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := widgets.Replace(bounded(t), "w1", Widget{Name: "newer"}); err != nil {
		t.Fatal(err)
	}
	err = widgets.Delete(bounded(t), "w1", concord.WithBaseVersion(seen.Version))
	if !errors.Is(err, concord.ErrConflict) {
		t.Errorf("Delete(WithBaseVersion(%s)) after a newer write = %v; want ErrConflict", seen.Version, err)
	}
	if got, err := widgets.Get(bounded(t), "w1"); err != nil || got.Value.Name != "newer" {
		t.Errorf("after the refused Delete, Get = %+v, %v; want the newer item", got, err)
	}
}
