package concord_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// collect ranges over All and returns the names and the first error.
func collect(seq func(func(Widget, error) bool)) ([]string, error) {
	var names []string
	for w, err := range seq {
		if err != nil {
			return names, err
		}
		names = append(names, w.Name)
	}
	return names, nil
}

func TestAllPagesOfTheFake(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.PageSize(2)})
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		seedWidget(t, srv, id, Widget{Name: "w" + id})
	}
	names, err := collect(concord.NewResource[Widget](c, "widgets").All(bounded(t)))
	if first := srv.Requests()[0].Path; first != "/widgets" {
		t.Errorf("first page asked for %s; want /widgets", first)
	}
	if err != nil || strings.Join(names, ",") != "w1,w2,w3,w4,w5" || countRequests(srv, "GET") != 3 {
		t.Errorf("All = %v, %v after %d GETs; want w1..w5 in 3 pages", names, err, countRequests(srv, "GET"))
	}
}

// TestPagingStyles: each common style of paging, served the way the API
// that uses it does.
func TestPagingStyles(t *testing.T) {
	pages := [][]string{{"a", "b"}, {"c"}}
	item := func(name string) string { return fmt.Sprintf(`{"id":"id-%s","name":%q}`, name, name) }
	list := func(names []string) string {
		var parts []string
		for _, n := range names {
			parts = append(parts, item(n))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	tests := []struct {
		name  string
		serve func(w http.ResponseWriter, r *http.Request) // answers page 0 or 1
	}{
		{"bare array with Link (GitHub)", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("page") == "2" {
				fmt.Fprint(w, list(pages[1]))
				return
			}
			w.Header().Set("Link", `<`+r.URL.Path+`?page=2>; rel="next", <`+r.URL.Path+`?page=2>; rel="last"`)
			fmt.Fprint(w, list(pages[0]))
		}},
		{"data with has_more (Stripe)", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("starting_after") == "id-b" {
				fmt.Fprintf(w, `{"object":"list","data":%s,"has_more":false}`, list(pages[1]))
				return
			}
			fmt.Fprintf(w, `{"object":"list","data":%s,"has_more":true}`, list(pages[0]))
		}},
		{"items with metadata.continue (Kubernetes)", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("continue") == "tok" {
				fmt.Fprintf(w, `{"kind":"List","items":%s,"metadata":{}}`, list(pages[1]))
				return
			}
			fmt.Fprintf(w, `{"kind":"List","items":%s,"metadata":{"continue":"tok"}}`, list(pages[0]))
		}},
		{"value with nextLink (Azure)", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("skip") == "2" {
				fmt.Fprintf(w, `{"value":%s}`, list(pages[1]))
				return
			}
			fmt.Fprintf(w, `{"value":%s,"nextLink":"http://%s%s?skip=2"}`, list(pages[0]), r.Host, r.URL.Path)
		}},
		{"nextPageToken (Google)", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("pageToken") == "p2" {
				fmt.Fprintf(w, `{"items":%s}`, list(pages[1]))
				return
			}
			fmt.Fprintf(w, `{"items":%s,"nextPageToken":"p2"}`, list(pages[0]))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t)
			mux.HandleFunc("/widgets", tt.serve)
			names, err := collect(concord.NewResource[Widget](c, "widgets").All(bounded(t)))
			if err != nil || strings.Join(names, ",") != "a,b,c" {
				t.Errorf("All = %v, %v; want a,b,c", names, err)
			}
		})
	}
}

func TestPagingStopsAndRefuses(t *testing.T) {
	c, mux := setup(t)
	var gets int
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		gets++
		switch r.URL.Query().Get("p") {
		case "evil":
			w.Header().Set("Link", `<https://attacker.example/steal>; rel="next"`)
		case "loop":
			w.Header().Set("Link", `</widgets?p=loop>; rel="next"`)
		default:
			w.Header().Set("Link", fmt.Sprintf(`</widgets?p=%d>; rel="next"`, gets))
		}
		fmt.Fprint(w, `[{"name":"x"},{"name":"y"}]`)
	})
	widgets := concord.NewResource[Widget](c, "widgets")
	n := 0
	for _, err := range widgets.All(bounded(t)) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if gets != 2 {
		t.Errorf("breaking after 3 items fetched %d pages; want 2", gets)
	}
	if _, err := collect(widgets.All(bounded(t), concord.WithQuery("p", "evil"))); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("All following a Link to another origin = %v; want it refused", err)
	}
	if _, err := collect(widgets.All(bounded(t), concord.WithQuery("p", "loop"))); !errors.Is(err, concord.ErrPageLoop) {
		t.Errorf("All following a Link to the same page = %v; want ErrPageLoop", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := collect(widgets.All(ctx)); !errors.Is(err, context.Canceled) {
		t.Errorf("All with a canceled context = %v; want context.Canceled", err)
	}
	page, err := widgets.Page(bounded(t), "")
	if err != nil || len(page.Items) != 2 || page.Next == "" {
		t.Fatalf("Page(first) = %+v, %v", page, err)
	}
	if next, err := widgets.Page(bounded(t), page.Next); err != nil || len(next.Items) != 2 {
		t.Errorf("Page(next) = %+v, %v; want the following page", next, err)
	}
}

// TestAllEndsOnACycleOfPages: a collection whose pages lead back to one
// already read, by Link header or by an alternating cursor, ends with
// ErrPageLoop after each page was read once, instead of looping forever.
func TestAllEndsOnACycleOfPages(t *testing.T) {
	tests := []struct {
		name  string
		serve func(w http.ResponseWriter, r *http.Request)
	}{
		{"Link", func(w http.ResponseWriter, r *http.Request) {
			next := map[string]string{"": "1", "1": "2", "2": "1"}[r.URL.Query().Get("p")]
			w.Header().Set("Link", fmt.Sprintf(`</widgets?p=%s>; rel="next"`, next))
			fmt.Fprint(w, `[{"name":"x"}]`)
		}},
		{"cursor", func(w http.ResponseWriter, r *http.Request) {
			next := map[string]string{"": "a", "a": "b", "b": "a"}[r.URL.Query().Get("cursor")]
			fmt.Fprintf(w, `{"data":[{"name":"x"}],"next_cursor":%q}`, next)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t)
			var gets atomic.Int32
			mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
				if gets.Add(1) > 10 {
					w.WriteHeader(http.StatusTeapot) // the loop was not caught
					return
				}
				tt.serve(w, r)
			})
			items, err := collect(concord.NewResource[Widget](c, "widgets").All(bounded(t)))
			if !errors.Is(err, concord.ErrPageLoop) || len(items) != 3 || gets.Load() != 3 {
				t.Errorf("All over a cycle of pages = %d items, %v after %d pages; want 3 items, then ErrPageLoop", len(items), err, gets.Load())
			}
		})
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
