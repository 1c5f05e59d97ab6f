package concord_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/concord-go/concord"
)

// tally counts its encodings and decodings.
type tally struct{ N int }

var tallyEncodes, tallyDecodes atomic.Int32

func (t tally) MarshalJSON() ([]byte, error) {
	tallyEncodes.Add(1)
	return json.Marshal(map[string]int{"n": t.N})
}

func (t *tally) UnmarshalJSON(b []byte) error {
	tallyDecodes.Add(1)
	var v map[string]int
	err := json.Unmarshal(b, &v)
	t.N = v["n"]
	return err
}

// putServer holds one document, served with a strong ETag that changes on
// every write, and answers a PUT with the right If-Match with 204 or, for
// answer "echo", with the document stored; a stale one with 412.
func putServer(answer string, body []byte) http.HandlerFunc {
	var mu sync.Mutex
	version := 1
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		etag := fmt.Sprintf(`"v%d"`, version)
		if r.Method == http.MethodPut {
			if r.Header.Get("If-Match") != etag {
				w.WriteHeader(http.StatusPreconditionFailed)
				return
			}
			body, _ = io.ReadAll(r.Body)
			version++
			etag = fmt.Sprintf(`"v%d"`, version)
			if answer == "204" {
				w.Header().Set("ETag", etag)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		w.Header().Set("ETag", etag)
		w.Write(body)
	}
}

// TestWarmUpdateEncodesOnce: an Update of the item the client itself
// wrote last decodes its copy once and encodes the change once: the no-op
// check compares with the bytes it wrote, and an answer that repeats those
// bytes is not decoded again.
func TestWarmUpdateEncodesOnce(t *testing.T) {
	for _, answer := range []string{"204", "echo"} {
		t.Run(answer, func(t *testing.T) {
			c, mux := setup(t)
			mux.HandleFunc("/tallies/1", putServer(answer, []byte(`{"n":0}`)))
			tallies := concord.NewResource[tally](c, "tallies")
			inc := func(v *tally) error { v.N++; return nil }
			if _, err := tallies.Update(bounded(t), "1", inc); err != nil {
				t.Fatal(err)
			}
			tallyEncodes.Store(0)
			tallyDecodes.Store(0)
			res, err := tallies.Update(bounded(t), "1", inc)
			if err != nil || res.Value.N != 2 {
				t.Fatalf("second Update = %+v, %v; want n 2", res, err)
			}
			if e, d := tallyEncodes.Load(), tallyDecodes.Load(); e != 1 || d != 1 {
				t.Errorf("warm Update with %s answers encoded %d times and decoded %d; want 1 and 1", answer, e, d)
			}
		})
	}
}

// TestRedirectedWriteCountsTwoRequests: a write redirected within its
// origin (307) is two requests on the wire, one of them a resend of its
// body, and Response.Requests says two, for a body and without one.
func TestRedirectedWriteCountsTwoRequests(t *testing.T) {
	for _, method := range []string{http.MethodPut, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			c, mux := setup(t)
			var got atomic.Int32
			mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
				got.Add(1)
				http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
			})
			mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
				got.Add(1)
				w.WriteHeader(http.StatusNoContent)
			})
			req := &concord.Request{Method: method, Path: "/old", IfMatch: `"v1"`}
			if method == http.MethodPut {
				req.Body = map[string]string{"name": "gear"}
			}
			resp, err := c.Do(bounded(t), req, nil)
			if err != nil || resp.Requests != 2 || got.Load() != 2 {
				t.Errorf("Do(%s redirected once) = %+v, %v; want Requests 2, the server's count %d", method, resp, err, got.Load())
			}
		})
	}
}

type bigDoc struct {
	Stock int      `json:"stock"`
	Tags  []string `json:"tags"`
}

// TestWarmUpdateOfALargeDocumentCopiesWithoutDecoding: a warm Update of a
// large document the client wrote starts from a copy of what it wrote, not
// a decode of it (which makes an allocation per string: here far fewer are
// made), and that copy is its own: neither the caller changing the
// previous Result.Value nor a mutate that fails reaches the next Update.
func TestWarmUpdateOfALargeDocumentCopiesWithoutDecoding(t *testing.T) {
	doc := bigDoc{}
	for i := range 10000 {
		doc.Tags = append(doc.Tags, fmt.Sprintf("tag-%08d", i))
	}
	body, _ := json.Marshal(doc)
	c, mux := setup(t)
	mux.HandleFunc("/docs/1", putServer("204", body))
	docs := concord.NewResource[bigDoc](c, "docs")
	ctx := bounded(t)
	inc := func(d *bigDoc) error { d.Stock++; return nil }
	res, err := docs.Update(ctx, "1", inc) // reads, then writes: the client now holds what it wrote
	if err != nil {
		t.Fatal(err)
	}
	res.Value.Tags[0] = "changed by the caller"
	_, err = docs.Update(ctx, "1", func(d *bigDoc) error {
		d.Tags[1] = "changed by a mutate that fails"
		return errors.New("no")
	})
	if err == nil {
		t.Fatal("Update with a failing mutate succeeded")
	}
	var failed error
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := docs.Update(ctx, "1", inc); err != nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs > 1000 {
		t.Errorf("a warm Update of %d tags made %.0f allocations; want far fewer than one per tag (no decode)", len(doc.Tags), allocs)
	}
	got, err := docs.Get(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Value.Stock != 7 || got.Value.Tags[0] != "tag-00000000" || got.Value.Tags[1] != "tag-00000001" {
		t.Errorf("after the Updates the server holds stock %d, tags %q...; want stock 7 and the tags unchanged", got.Value.Stock, got.Value.Tags[:2])
	}
}

// TestConcurrentUpdatesOfALargeDocumentShareNoCopy: Updates of one large
// document at once (WithConcurrentWrites, so they do not take turns) each
// start from a value of their own: one claims the copy the client kept,
// the others decode. Run with -race; every increment is kept.
func TestConcurrentUpdatesOfALargeDocumentShareNoCopy(t *testing.T) {
	doc := bigDoc{}
	for i := range 10000 {
		doc.Tags = append(doc.Tags, fmt.Sprintf("tag-%08d", i))
	}
	body, _ := json.Marshal(doc)
	c, mux := setup(t, concord.WithConcurrentWrites())
	mux.HandleFunc("/docs/1", putServer("204", body))
	docs := concord.NewResource[bigDoc](c, "docs")
	ctx := bounded(t)
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				_, err := docs.Update(ctx, "1", func(d *bigDoc) error {
					d.Stock++
					d.Tags[0] = fmt.Sprint(d.Stock) // a change in place, which a shared copy would race on
					return nil
				})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := docs.Get(ctx, "1")
	if err != nil || got.Value.Stock != 12 || got.Value.Tags[0] != "12" {
		t.Errorf("after 12 concurrent Updates Get = stock %d, tags[0] %q, %v; want 12, \"12\"", got.Value.Stock, got.Value.Tags[0], err)
	}
}
