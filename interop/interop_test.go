// Package interop runs concord against real servers that nobody on this
// project wrote, installed from package registries by scripts/interop.sh:
// each server's own dialect, not concordtest's, decides whether concord
// keeps its promises.
package interop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-go/concord"
)

// doc is the document every scenario writes.
type doc struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

// server is one real server and what concord needs to talk to it. The
// README's "Works with" table is checked against these rows.
type server struct {
	name string
	// start starts the server and returns its base URL.
	start func(t *testing.T) string
	// collection is the resource path; setup creates it.
	collection string
	setup      func(ctx context.Context, c *concord.Client) error
	// clientOptions and resourceOptions are what the README lists as the
	// options this server needs.
	clientOptions   []concord.Option
	resourceOptions []concord.CallOption
	options         string // the same, as the README shows them
}

var servers = []server{
	{
		name:       "Apache httpd 2.4 mod_dav",
		start:      startApache,
		collection: "files",
		setup: func(ctx context.Context, c *concord.Client) error {
			_, err := c.Do(ctx, &concord.Request{Method: "MKCOL", Path: "files/"}, nil)
			return err
		},
		// Its ETags are weak for a second after each write; concord waits
		// for a strong one, so a contended counter needs more rounds than
		// the default.
		clientOptions: []concord.Option{concord.WithConflictPolicy(concord.ConflictPolicy{MaxAttempts: 200})},
		options:       "`WithConflictPolicy(ConflictPolicy{MaxAttempts: 200})` under contention",
	},
	{
		name:       "pouchdb-server 4.2 (CouchDB API)",
		start:      startPouchDB,
		collection: "widgets",
		setup: func(ctx context.Context, c *concord.Client) error {
			_, err := c.Do(ctx, &concord.Request{Method: http.MethodPut, Path: "widgets"}, nil)
			return err
		},
		resourceOptions: []concord.CallOption{concord.WithVersioner(concord.BodyVersion{Path: "_rev", Query: "rev"})},
		options:         "`WithVersioner(BodyVersion{Path: \"_rev\", Query: \"rev\"})`",
	},
}

func TestServers(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			base := s.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			newClient := func() *concord.Client {
				c, err := concord.New(base, s.clientOptions...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(c.CloseIdleConnections)
				return c
			}
			if err := s.setup(ctx, newClient()); err != nil {
				t.Fatalf("creating the collection: %v", err)
			}
			resource := func(c *concord.Client) *concord.Resource[doc] {
				return concord.NewResource[doc](c, s.collection, s.resourceOptions...)
			}
			t.Run("create if absent", func(t *testing.T) { createIfAbsent(ctx, t, resource(newClient())) })
			t.Run("read then conditional write", func(t *testing.T) { readThenWrite(ctx, t, resource(newClient())) })
			t.Run("stale write detected", func(t *testing.T) { staleWrite(ctx, t, resource(newClient()), resource(newClient())) })
			t.Run("8 clients x 5 increments", func(t *testing.T) {
				var rs []*concord.Resource[doc]
				for range 8 {
					rs = append(rs, resource(newClient()))
				}
				counter(ctx, t, rs)
			})
			t.Run("conditional delete never deletes a newer version", func(t *testing.T) {
				staleDelete(ctx, t, resource(newClient()), resource(newClient()))
			})
		})
	}
}

func createIfAbsent(ctx context.Context, t *testing.T, r *concord.Resource[doc]) {
	if _, err := r.CreateAt(ctx, "created", doc{Name: "first"}); err != nil {
		t.Fatalf("CreateAt(created) = %v", err)
	}
	if _, err := r.CreateAt(ctx, "created", doc{Name: "second"}); !errors.Is(err, concord.ErrAlreadyExists) {
		t.Errorf("CreateAt(created) over another value = %v; want ErrAlreadyExists", err)
	}
	res, err := r.CreateAt(ctx, "created", doc{Name: "first"})
	if err != nil || !res.Adopted {
		t.Errorf("CreateAt(created) with the same value = %+v, %v; want it adopted (a create whose response was lost)", res, err)
	}
	if got := get(ctx, t, r, "created"); got.Name != "first" {
		t.Errorf("server holds %+v; want the first create", got)
	}
}

func readThenWrite(ctx context.Context, t *testing.T, r *concord.Resource[doc]) {
	if _, err := r.CreateAt(ctx, "rw", doc{Name: "rw", N: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, "rw"); err != nil {
		t.Fatal(err)
	}
	res, err := r.Update(ctx, "rw", func(d *doc) error { d.N = 2; return nil })
	if err != nil || res.Value.N != 2 {
		t.Fatalf("Update(rw) = %+v, %v", res, err)
	}
	if got := get(ctx, t, r, "rw"); got.N != 2 {
		t.Errorf("server holds %+v; want n=2", got)
	}
}

func staleWrite(ctx context.Context, t *testing.T, a, b *concord.Resource[doc]) {
	if _, err := a.CreateAt(ctx, "stale", doc{Name: "base"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "stale"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update(ctx, "stale", func(d *doc) error { d.Name = "theirs"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Replace(ctx, "stale", doc{Name: "mine"}); !errors.Is(err, concord.ErrConflict) {
		t.Errorf("stale Replace = %v; want ErrConflict", err)
	}
	if _, err := a.Replace(ctx, "stale", doc{Name: "mine"}); !errors.Is(err, concord.ErrConflict) {
		t.Errorf("stale Replace repeated = %v; want ErrConflict again", err)
	}
	if got := get(ctx, t, a, "stale"); got.Name != "theirs" {
		t.Errorf("server holds %+v; want the other writer's value kept", got)
	}
}

func counter(ctx context.Context, t *testing.T, rs []*concord.Resource[doc]) {
	if _, err := rs[0].CreateAt(ctx, "counter", doc{Name: "counter"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, err := r.Update(ctx, "counter", func(d *doc) error { d.N++; return nil }); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("increment failed: %v", err)
	}
	if got := get(ctx, t, rs[0], "counter"); got.N != 40 {
		t.Errorf("counter = %d after 8 clients x 5 increments; want 40", got.N)
	}
}

func staleDelete(ctx context.Context, t *testing.T, a, b *concord.Resource[doc]) {
	if _, err := a.CreateAt(ctx, "del", doc{Name: "base"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "del"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update(ctx, "del", func(d *doc) error { d.Name = "newer"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "del"); !errors.Is(err, concord.ErrConflict) {
		t.Errorf("Delete with a stale version = %v; want ErrConflict", err)
	}
	if got := get(ctx, t, a, "del"); got.Name != "newer" {
		t.Errorf("server holds %+v; want the newer version kept", got)
	}
	if _, err := a.Get(ctx, "del"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "del"); err != nil {
		t.Errorf("Delete with the current version = %v", err)
	}
	if _, err := a.Get(ctx, "del"); !errors.Is(err, concord.ErrNotFound) {
		t.Errorf("Get after Delete = %v; want ErrNotFound", err)
	}
}

// get reads a document's current value on the server.
func get(ctx context.Context, t *testing.T, r *concord.Resource[doc], id string) doc {
	t.Helper()
	res, err := r.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get(%s) = %v", id, err)
	}
	return res.Value
}

// TestReadmeListsEveryServer: the README's "Works with" table has a row
// for each server here, with the options the suite uses.
func TestReadmeListsEveryServer(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		row := fmt.Sprintf("| %s | %s |", s.name, s.options)
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no row starting %q", row)
		}
	}
}
