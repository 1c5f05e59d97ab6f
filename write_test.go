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
