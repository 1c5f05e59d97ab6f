package concord_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

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

func TestCreateSendsTheSameKeyOnEveryRetry(t *testing.T) {
	c, mux := setup(t)
	var keys []string
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testHeader(t, r, "Content-Type", "application/json")
		testBody(t, r, `{"name":"gear","price":3,"stock":0}`)
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if len(keys) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":"7","name":"gear","price":3}`)
	})
	res, err := concord.NewResource[Widget](c, "widgets").Create(context.Background(), Widget{Name: "gear", Price: 3})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if res.Value.ID != "7" || res.StatusCode != 201 || res.Requests != 3 {
		t.Errorf("Create = %+v (status %d, %d requests); want id 7, 201, 3 requests", res.Value, res.StatusCode, res.Requests)
	}
	if len(keys) != 3 || keys[0] == "" || keys[1] != keys[0] || keys[2] != keys[0] {
		t.Errorf("keys sent = %q; want one non-empty key three times", keys)
	}
}

func TestCreateAfterLostResponseMakesOneResource(t *testing.T) {
	c, srv := setupFake(t, nil)
	srv.DropNext(1, "POST", "/widgets")
	res, err := concord.NewResource[Widget](c, "widgets").Create(context.Background(), Widget{Name: "gear"})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if !res.Replayed || res.Value.ID == "" {
		t.Errorf("Create = %+v, replayed=%v; want the original result, replayed", res.Value, res.Replayed)
	}
	if n := srv.Len("widgets"); n != 1 {
		t.Errorf("stored widgets = %d; want 1", n)
	}
}

func TestCreateWithoutKeyIsSentOnce(t *testing.T) {
	c, srv := setupFake(t, nil)
	srv.DropNext(1, "POST", "/widgets")
	_, err := concord.NewResource[Widget](c, "widgets", concord.WithoutIdempotencyKeys()).Create(context.Background(), Widget{Name: "gear"})
	if err == nil {
		t.Fatal("Create without a key over a dropped connection = nil error; want the transport error")
	}
	var retryErr *concord.RetryError
	if errors.As(err, &retryErr) {
		t.Errorf("Create without a key was retried: %v", err)
	}
	if got := countRequests(srv, "POST"); got != 1 {
		t.Errorf("POSTs sent = %d; want 1", got)
	}
	if n := srv.Len("widgets"); n != 1 {
		t.Errorf("stored widgets = %d; want 1 (committed once, never duplicated)", n)
	}
}

func TestCreateWithCallerKey(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets := concord.NewResource[Widget](c, "widgets")
	first, err := widgets.Create(context.Background(), Widget{Name: "gear"}, concord.WithIdempotencyKey("order-123"))
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	// A second process, after a restart, repeats the create with the stored key.
	c2 := newClient(t, srv.URL)
	second, err := concord.NewResource[Widget](c2, "widgets").Create(context.Background(), Widget{Name: "gear"}, concord.WithIdempotencyKey("order-123"))
	if err != nil {
		t.Fatalf("repeated Create = %v", err)
	}
	if !second.Replayed || second.Value.ID != first.Value.ID || srv.Len("widgets") != 1 {
		t.Errorf("repeated Create = %+v replayed=%v, %d stored; want a replay of %s and 1 stored", second.Value, second.Replayed, srv.Len("widgets"), first.Value.ID)
	}
	_, err = widgets.Create(context.Background(), Widget{Name: "other"}, concord.WithIdempotencyKey("order-123"))
	if !errors.Is(err, concord.ErrIdempotencyKeyReused) {
		t.Errorf("Create with a reused key and another payload = %v; want ErrIdempotencyKeyReused", err)
	}
	_, err = widgets.Create(context.Background(), Widget{Name: "x"}, concord.WithIdempotencyKey("bad key\r\n"))
	if err == nil || srv.Len("widgets") != 1 {
		t.Errorf("Create with an invalid key = %v; want an error before sending", err)
	}
}

func TestCreateWaitsForAKeyInProgress(t *testing.T) {
	c, mux := setup(t, concord.WithConflictPolicy(concord.ConflictPolicy{MaxAttempts: 5}))
	var calls atomic.Int32
	var keys sync.Map
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		keys.Store(r.Header.Get("Idempotency-Key"), true)
		if calls.Add(1) <= 2 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":{"type":"invalid_request_error","code":"idempotency_key_in_use"}}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":"1","name":"gear"}`)
	})
	res, err := concord.NewResource[Widget](c, "widgets").Create(context.Background(), Widget{Name: "gear"})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	distinct := 0
	keys.Range(func(_, _ any) bool { distinct++; return true })
	if calls.Load() != 3 || distinct != 1 || res.Value.ID != "1" {
		t.Errorf("Create made %d requests with %d distinct keys, got %+v; want 3 requests with 1 key", calls.Load(), distinct, res.Value)
	}
}

func TestCreateUniqueViolationIsAlreadyExists(t *testing.T) {
	c, _ := setupFake(t, []concordtest.Option{concordtest.Unique("widgets", "name")})
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Create(context.Background(), Widget{Name: "gear"}); err != nil {
		t.Fatalf("first Create = %v", err)
	}
	_, err := widgets.Create(context.Background(), Widget{Name: "gear"})
	var apiErr *concord.APIError
	if !errors.Is(err, concord.ErrAlreadyExists) || !errors.As(err, &apiErr) || apiErr.Problem.Extensions["member"] != "name" {
		t.Errorf("duplicate Create = %v; want ErrAlreadyExists naming the member", err)
	}
}

func TestCreateAt(t *testing.T) {
	tests := []struct {
		name    string
		seed    *Widget
		wantErr error
		adopted bool
	}{
		{name: "absent", seed: nil},
		{name: "our lost create", seed: &Widget{Name: "gear", Price: 1}, adopted: true},
		{name: "someone else's", seed: &Widget{Name: "gear", Price: 2}, wantErr: concord.ErrAlreadyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := setupFake(t, nil)
			if tt.seed != nil {
				seedWidget(t, srv, "w1", *tt.seed)
			}
			res, err := concord.NewResource[Widget](c, "widgets").CreateAt(context.Background(), "w1", Widget{Name: "gear", Price: 1})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("CreateAt = %v; want %v", err, tt.wantErr)
			}
			if err == nil && res.Adopted != tt.adopted {
				t.Errorf("CreateAt adopted = %v; want %v", res.Adopted, tt.adopted)
			}
			for _, r := range srv.Requests() {
				if r.Method == "PUT" && r.Header.Get("If-None-Match") != "*" {
					t.Errorf("PUT without If-None-Match: *")
				}
			}
			doc, _, _ := srv.Doc("widgets", "w1")
			var stored Widget
			_ = json.Unmarshal(doc, &stored)
			if tt.seed != nil && stored.Price != tt.seed.Price {
				t.Errorf("stored price = %d; want the seeded %d untouched", stored.Price, tt.seed.Price)
			}
		})
	}
}
