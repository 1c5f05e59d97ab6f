package concord_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

func TestMergedWriteGetsAFreshIdempotencyKey(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1}, Widget{Name: "gear", Price: 2})
	_, err := widgets.WithMerge(concord.ThreeWay[Widget]()).Replace(context.Background(), "w1", Widget{Name: "gear", Price: 1, Stock: 4},
		concord.WithIdempotencyKey("op-1"))
	if err != nil {
		t.Fatalf("Replace = %v", err)
	}
	var keys []string
	for _, r := range srv.Requests() {
		if r.Method == "PUT" {
			keys = append(keys, r.Header.Get("Idempotency-Key"))
		}
	}
	if len(keys) != 2 || keys[0] != "op-1" || keys[1] == "" || keys[1] == "op-1" {
		t.Errorf("keys of the two PUTs = %q; want op-1, then a fresh key for the merged bytes", keys)
	}
}

func TestConflictThatPersistsStops(t *testing.T) {
	c, mux := setup(t)
	var puts int
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Method == "PUT" {
			puts++
			w.WriteHeader(http.StatusPreconditionFailed) // whatever we send
			return
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	_, err := concord.NewResource[Widget](c, "widgets").WithMerge(concord.MineWins[Widget]()).Replace(context.Background(), "1", Widget{Name: "cog"})
	var conflict *concord.ConflictError
	if !errors.Is(err, concord.ErrConflictPersists) || !errors.As(err, &conflict) || conflict.Version != `"v1"` {
		t.Fatalf("Replace against a server rejecting its own version = %v; want ErrConflictPersists", err)
	}
	if puts != 1 {
		t.Errorf("PUTs = %d; want 1, no spinning", puts)
	}
}

func TestConflictAttemptLimit(t *testing.T) {
	c, mux := setup(t, concord.WithConflictPolicy(concord.ConflictPolicy{MaxAttempts: 3}))
	var version int
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		version++ // every request sees a newer version: a writer that always wins
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, version))
		if r.Method == "PUT" {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	_, err := concord.NewResource[Widget](c, "widgets").Update(context.Background(), "1", func(w *Widget) error { w.Stock++; return nil })
	var conflict *concord.ConflictError
	if !errors.As(err, &conflict) || conflict.Attempts != 3 || conflict.Kind != concord.KindStaleVersion {
		t.Fatalf("Update against a hot resource = %v; want a *ConflictError after 3 attempts", err)
	}
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 412 {
		t.Errorf("the last response is not reachable: %v", err)
	}
}

func TestUpdateMutateErrorsAndNoOps(t *testing.T) {
	c, srv := setupFake(t, nil)
	seedWidget(t, srv, "w1", Widget{Name: "gear", Stock: 1})
	widgets := concord.NewResource[Widget](c, "widgets")
	stop := errors.New("out of stock")
	if _, err := widgets.Update(context.Background(), "w1", func(*Widget) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Update whose mutate fails = %v; want its error", err)
	}
	res, err := widgets.Update(context.Background(), "w1", func(w *Widget) error { w.Stock = 1; return nil })
	if err != nil || !res.Unchanged || res.ETag == "" || res.ETag != concord.ETag(res.Version) || countRequests(srv, "PUT") != 0 {
		t.Errorf("no-op Update = %+v, %v, %d PUTs; want unchanged without a write", res, err, countRequests(srv, "PUT"))
	}
	if _, err := widgets.Update(context.Background(), "missing", func(w *Widget) error { return nil }); !errors.Is(err, concord.ErrNotFound) {
		t.Errorf("Update(missing) = %v; want ErrNotFound", err)
	}
}

// TestCouchDBStyle runs the same Update against an API that keeps the
// version in _rev, answers stale writes with 409, and takes ?rev= on DELETE.
func TestCouchDBStyle(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.VersionInBody("_rev", "rev")})
	type Doc struct {
		Rev   string `json:"_rev,omitempty"`
		Count int    `json:"count"`
	}
	docs := concord.NewResource[Doc](c, "docs", concord.WithVersioner(concord.BodyVersion{Path: "_rev", Query: "rev"}))
	if _, err := srv.Seed("docs", "d1", Doc{}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := docs.Update(context.Background(), "d1", func(d *Doc) error { d.Count++; return nil }); err != nil {
			t.Fatalf("Update = %v", err)
		}
		// Another writer bumps the revision each time.
		raw, _, _ := srv.Doc("docs", "d1")
		var other map[string]any
		_ = json.Unmarshal(raw, &other)
		if _, err := srv.Seed("docs", "d1", other); err != nil {
			t.Fatal(err)
		}
	}
	raw, _, _ := srv.Doc("docs", "d1")
	var got Doc
	if err := json.Unmarshal(raw, &got); err != nil || got.Count != 3 {
		t.Errorf("doc = %s; want count 3", raw)
	}
	if st := srv.Stats(); st.Conflicts != 2 {
		t.Errorf("conflicts = %d; want 2 (the second and third updates started stale)", st.Conflicts)
	}
	if _, err := docs.Get(context.Background(), "d1"); err != nil {
		t.Fatal(err)
	}
	if err := docs.Delete(context.Background(), "d1"); err != nil || srv.Len("docs") != 0 {
		t.Errorf("Delete with ?rev= = %v, %d left", err, srv.Len("docs"))
	}
}

func TestCustomClassifier(t *testing.T) {
	// An API that reports stale versions as 422 with its own code.
	classifier := func(info concord.ConflictInfo) (concord.ConflictKind, bool) {
		if info.StatusCode == 422 && string(info.Body) == `{"code":"STALE"}` {
			return concord.KindStaleVersion, true
		}
		return concord.KindNone, false
	}
	c, mux := setup(t, concord.WithClassifier(classifier))
	var puts int
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" {
			puts++
			if puts == 1 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(422)
				fmt.Fprint(w, `{"code":"STALE"}`)
				return
			}
		}
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, puts))
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	res, err := concord.NewResource[Widget](c, "widgets").Update(context.Background(), "1", func(w *Widget) error { w.Stock = 7; return nil })
	if err != nil || res.Conflicts != 1 || puts != 2 {
		t.Errorf("Update = %v after %d PUTs; want success after one classified conflict", err, puts)
	}
}

func TestConflictAndMergeHooks(t *testing.T) {
	var (
		conflicts []concord.ConflictEvent
		merges    []concord.MergeEvent
	)
	hooks := concord.Hooks{
		OnConflict: func(_ context.Context, e concord.ConflictEvent) { conflicts = append(conflicts, e) },
		OnMerge:    func(_ context.Context, e concord.MergeEvent) { merges = append(merges, e) },
	}
	c, srv := setupFake(t, nil, concord.WithHooks(hooks))
	widgets, etag, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1}, Widget{Name: "gear", Price: 2})
	if _, err := widgets.WithMerge(concord.ThreeWay[Widget]()).Replace(context.Background(), "w1", Widget{Name: "gear", Price: 1, Stock: 3}); err != nil {
		t.Fatal(err)
	}
	if len(conflicts) != 1 || conflicts[0].Kind != concord.KindStaleVersion || conflicts[0].StatusCode != 412 || conflicts[0].Version != etag || conflicts[0].InvocationID == "" {
		t.Errorf("conflict events = %+v; want one stale version against %s", conflicts, etag)
	}
	if len(merges) != 1 || merges[0].Outcome != concord.MergeMerged || merges[0].Attempt != 1 {
		t.Errorf("merge events = %+v; want one merged", merges)
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

func TestReplaceMergesOnConflict(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, theirsTag := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1, Stock: 5}, Widget{Name: "gear", Price: 2, Stock: 5})

	var calls int
	merge := func(base, mine, theirs Widget) (Widget, error) {
		calls++
		if base.Price != 1 || mine.Stock != 9 || theirs.Price != 2 {
			t.Errorf("merge(%+v, %+v, %+v); want base price 1, mine stock 9, theirs price 2", base, mine, theirs)
		}
		mine.Price = theirs.Price
		return mine, nil
	}
	res, err := widgets.WithMerge(merge).Replace(context.Background(), "w1", Widget{Name: "gear", Price: 1, Stock: 9})
	if err != nil {
		t.Fatalf("Replace = %v", err)
	}
	if calls != 1 || res.Conflicts != 1 || res.Value.Price != 2 || res.Value.Stock != 9 {
		t.Errorf("Replace = %+v after %d merges, %d conflicts; want price 2 stock 9 after 1", res.Value, calls, res.Conflicts)
	}
	puts := []concordtest.Request{}
	for _, r := range srv.Requests() {
		if r.Method == "PUT" {
			puts = append(puts, r)
		}
	}
	if len(puts) != 2 || puts[1].Header.Get("If-Match") != theirsTag {
		t.Fatalf("PUTs = %d, the retry's If-Match = %q; want 2, %s", len(puts), puts[len(puts)-1].Header.Get("If-Match"), theirsTag)
	}
	var sent Widget
	if err := json.Unmarshal(puts[1].Body, &sent); err != nil || sent.Price != 2 || sent.Stock != 9 {
		t.Errorf("merged body sent = %s; want price 2, stock 9", puts[1].Body)
	}
}

func TestReplaceMergeOutcomes(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		merge     concord.MergeFunc[Widget]
		wantErr   error
		unchanged bool
		puts      int
	}{
		{"aborted", func(_, _, _ Widget) (Widget, error) { return Widget{}, concord.ErrMergeAborted }, concord.ErrMergeAborted, false, 1},
		{"own error", func(_, _, _ Widget) (Widget, error) { return Widget{}, boom }, boom, false, 1},
		{"theirs wins", concord.TheirsWins[Widget](), nil, true, 1},
		{"mine wins", concord.MineWins[Widget](), nil, false, 2},
		{"clash fails", concord.ThreeWay[Widget](), concord.ErrMergeAborted, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := setupFake(t, nil)
			widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1}, Widget{Name: "gear", Price: 2})
			res, err := widgets.WithMerge(tt.merge).Replace(context.Background(), "w1", Widget{Name: "gear", Price: 3})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Replace = %v; want %v", err, tt.wantErr)
			}
			if err == nil && res.Unchanged != tt.unchanged {
				t.Errorf("Replace unchanged = %v; want %v", res.Unchanged, tt.unchanged)
			}
			if got := countRequests(srv, "PUT"); got != tt.puts {
				t.Errorf("PUTs = %d; want %d", got, tt.puts)
			}
		})
	}
}
