package concord_test

import (
	"encoding/json"
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

// TestWarmUpdateEncodesOnce: an Update of the item the client itself
// wrote last decodes its copy once and encodes the change once: the no-op
// check compares with the bytes it wrote, and an answer that repeats those
// bytes is not decoded again.
func TestWarmUpdateEncodesOnce(t *testing.T) {
	for _, answer := range []string{"204", "echo"} {
		t.Run(answer, func(t *testing.T) {
			var mu sync.Mutex
			body, version := []byte(`{"n":0}`), 1
			c, mux := setup(t)
			mux.HandleFunc("/tallies/1", func(w http.ResponseWriter, r *http.Request) {
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
			})
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
