package concord_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// TestWeakForAWhile: tags weak for a second after each write (Apache):
// writes wait for the strong tag, and a delete never removes a state its
// caller did not see.
func TestWeakForAWhile(t *testing.T) {
	clock := newFakeClock()
	c, srv := setupFake(t, []concordtest.Option{concordtest.WeakETags(time.Second), concordtest.Now(clock.Now)}, concord.WithClock(clock))
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.CreateAt(bounded(t), "w1", Widget{Name: "gear"}); err != nil {
		t.Fatal(err)
	}
	res, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { w.Stock++; return nil })
	if err != nil || res.Value.Stock != 1 || len(clock.Sleeps()) == 0 {
		t.Fatalf("Update right after a write = %+v, %v (waits %v); want it written after waiting", res, err, clock.Sleeps())
	}
	seedWidget(t, srv, "w1", Widget{Name: "theirs"})
	if err := widgets.Delete(bounded(t), "w1"); !errors.Is(err, concord.ErrConflict) || srv.Len("widgets") != 1 {
		t.Errorf("Delete after another writer = %v, %d left; want ErrConflict and the item kept", err, srv.Len("widgets"))
	}
}

// TestOpaqueWeakTags: only weak tags, compared as strings (Azure Table):
// with ETagVersion{Opaque: true} separate writers lose nothing.
func TestOpaqueWeakTags(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.WeakETags(0), concordtest.OpaqueETags())
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	var widgets []*concord.Resource[Widget]
	for range 4 { // a client each: they conflict with each other
		c := newClient(t, srv.URL)
		widgets = append(widgets, concord.NewResource[Widget](c, "widgets", concord.WithVersioner(concord.ETagVersion{Opaque: true})))
	}
	concordtest.Contend(t, 1, 4, 5, func(writer, _ int, _ *rand.Rand) error {
		_, err := widgets[writer].Update(context.Background(), "w1", func(w *Widget) error { w.Stock++; return nil })
		return err
	})
	var w Widget
	if doc, _, _ := srv.Doc("widgets", "w1"); json.Unmarshal(doc, &w) != nil || w.Stock != 20 {
		t.Errorf("stock = %d after 4 writers x 5; want 20", w.Stock)
	}
}

// TestUpsertServer: a server that ignores If-None-Match: * (Azure Table)
// replaces on CreateAt, which no client can see: concord's docs say to
// create with Create there, and Create's 409 is ErrAlreadyExists.
func TestUpsertServer(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.IgnoreIfNoneMatch(), concordtest.Unique("widgets", "name")})
	widgets := concord.NewResource[Widget](c, "widgets")
	seedWidget(t, srv, "w1", Widget{Name: "first"})
	if _, err := widgets.CreateAt(bounded(t), "w1", Widget{Name: "second"}); err != nil {
		t.Errorf("CreateAt on an upsert server = %v; the fake upserts, as documented", err)
	}
	if _, err := widgets.Create(bounded(t), Widget{Name: "second"}); !errors.Is(err, concord.ErrAlreadyExists) {
		t.Errorf("Create of a taken name = %v; want ErrAlreadyExists", err)
	}
}

// TestKeysOnPOSTOnly: a server that ignores keys on PUT and DELETE
// answers a retried write after a lost response with 412; concord checks
// and reports the success it was.
func TestKeysOnPOSTOnly(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.KeysOnPOSTOnly()})
	widgets := concord.NewResource[Widget](c, "widgets")
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	if _, err := widgets.Get(bounded(t), "w1"); err != nil {
		t.Fatal(err)
	}
	srv.DropNext(1, "PUT", "/widgets/w1")
	if _, err := widgets.Replace(bounded(t), "w1", Widget{Name: "cog"}); err != nil {
		t.Errorf("Replace whose response was lost = %v; want success", err)
	}
	srv.DropNext(1, "DELETE", "/widgets/w1")
	if err := widgets.Delete(bounded(t), "w1"); err != nil || srv.Len("widgets") != 0 {
		t.Errorf("Delete whose response was lost = %v, %d left; want success", err, srv.Len("widgets"))
	}
}

// TestGenerationInTheQuery: the version travels as ?ifGenerationMatch=
// on every write (Google Cloud Storage).
func TestGenerationInTheQuery(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.GenerationQuery("ifGenerationMatch", "X-Goog-Generation")})
	widgets := concord.NewResource[Widget](c, "widgets", concord.WithVersioner(concord.QueryVersion{Header: "X-Goog-Generation", Param: "ifGenerationMatch", Absent: "0"}))
	if _, err := widgets.CreateAt(bounded(t), "w1", Widget{Name: "gear"}); err != nil {
		t.Fatal(err)
	}
	if _, err := widgets.CreateAt(bounded(t), "w1", Widget{Name: "other"}); !errors.Is(err, concord.ErrAlreadyExists) {
		t.Errorf("CreateAt over an existing item = %v; want ErrAlreadyExists", err)
	}
	if _, err := widgets.Update(bounded(t), "w1", func(w *Widget) error { w.Stock = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	seedWidget(t, srv, "w1", Widget{Name: "theirs"})
	if _, err := widgets.Replace(bounded(t), "w1", Widget{Name: "mine"}); !errors.Is(err, concord.ErrConflict) {
		t.Errorf("stale Replace = %v; want ErrConflict", err)
	}
	if err := widgets.Delete(bounded(t), "w1"); !errors.Is(err, concord.ErrConflict) || srv.Len("widgets") != 1 {
		t.Errorf("stale Delete = %v; want ErrConflict and the item kept", err)
	}
}

// TestErrorDialects: the same outcomes are recognized in every error
// format the fake speaks.
func TestErrorDialects(t *testing.T) {
	for _, d := range []concordtest.ErrorDialect{concordtest.DialectProblemJSON, concordtest.DialectPlainText, concordtest.DialectAzure, concordtest.DialectGoogle, concordtest.DialectS3} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			c, srv := setupFake(t, []concordtest.Option{concordtest.Errors(d)})
			widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "theirs"})
			var conflict *concord.ConflictError
			if _, err := widgets.Replace(bounded(t), "w1", Widget{Name: "mine"}); !errors.As(err, &conflict) || conflict.Kind != concord.KindStaleVersion {
				t.Errorf("stale Replace = %v; want a stale-version *ConflictError", err)
			}
			if _, err := widgets.CreateAt(bounded(t), "w1", Widget{Name: "new"}); !errors.Is(err, concord.ErrAlreadyExists) {
				t.Errorf("CreateAt of an existing item = %v; want ErrAlreadyExists", err)
			}
			if _, err := widgets.Get(bounded(t), "missing"); !errors.Is(err, concord.ErrNotFound) {
				t.Errorf("Get(missing) = %v; want ErrNotFound", err)
			}
		})
	}
}

// TestDoCreateOnlyInTheAPIsTerms: through Do, a create-only condition in
// the query (ifGenerationMatch=0) fails as ErrAlreadyExists when the
// request says CreateOnly.
func TestDoCreateOnlyInTheAPIsTerms(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.GenerationQuery("ifGenerationMatch", "X-Goog-Generation")})
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	req := &concord.Request{Method: "PUT", Path: "/widgets/w1", Query: url.Values{"ifGenerationMatch": {"0"}}, Body: Widget{Name: "cog"}, CreateOnly: true}
	if _, err := c.Do(bounded(t), req, nil); !errors.Is(err, concord.ErrAlreadyExists) {
		t.Errorf("Do(create-only PUT of an existing item) = %v; want ErrAlreadyExists", err)
	}
}
