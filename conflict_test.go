package concord_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/concord-go/concord"
)

// TestConflictErrorVersionIsTheNewestTheCallKnows: ConflictError.Version
// means one thing for Replace and Delete: the version the server holds
// when the call read the item after the refusal, else the version the
// refused request carried.
func TestConflictErrorVersionIsTheNewestTheCallKnows(t *testing.T) {
	tests := []struct {
		name string
		call func(r *concord.Resource[Widget]) error
		want string
	}{
		{"Replace refused, nothing read", func(r *concord.Resource[Widget]) error {
			_, err := r.Replace(bounded(t), "1", Widget{Name: "cog"}, concord.WithBaseVersion(`"v1"`))
			return err
		}, `"v1"`},
		{"Replace on a weak base, changed before writing", func(r *concord.Resource[Widget]) error {
			_, err := r.Replace(bounded(t), "1", Widget{Name: "cog"}, concord.WithBaseVersion(`W/"v1"`))
			return err
		}, `"v2"`},
		{"Delete refused, then read", func(r *concord.Resource[Widget]) error {
			return r.Delete(bounded(t), "1", concord.WithBaseVersion(`"v1"`))
		}, `"v2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setup(t)
			mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("ETag", `"v2"`)
				if r.Method != http.MethodGet && r.Header.Get("If-Match") != `"v2"` {
					w.WriteHeader(http.StatusPreconditionFailed)
					return
				}
				w.Write([]byte(`{"name":"gear"}`))
			})
			err := tt.call(concord.NewResource[Widget](c, "widgets"))
			var ce *concord.ConflictError
			if !errors.As(err, &ce) || ce.Version != tt.want {
				t.Errorf("%s = %v; want a *ConflictError with Version %s", tt.name, err, tt.want)
			}
		})
	}
}
