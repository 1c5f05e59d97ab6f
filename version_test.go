package concord_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/concord-go/concord"
)

// TestBodyVersionJSONPointer: a member whose name holds a dot is reached
// with a JSON Pointer.
func TestBodyVersionJSONPointer(t *testing.T) {
	v := concord.BodyVersion{Path: "/odata.etag"}
	body := []byte(`{"odata.etag":"W/\"x\"","odata":{"etag":"wrong"}}`)
	if got := v.Version(nil, body); got != `"W/\"x\""` {
		t.Errorf("Version(%s) = %s; want the odata.etag member", body, got)
	}
	out, err := v.Apply(`"W/\"y\""`, nil, nil, body)
	if err != nil || !strings.Contains(string(out), `"odata.etag":"W/\"y\""`) {
		t.Errorf("Apply = %s, %v; want odata.etag replaced", out, err)
	}
}

// headerVersion is a Versioner of an API that takes the expected version
// in a header of its own, not If-Match.
type headerVersion struct{}

func (headerVersion) Version(h http.Header, _ []byte) string { return h.Get("X-Version") }

func (headerVersion) Apply(version string, h http.Header, _ url.Values, body []byte) ([]byte, error) {
	h.Set("X-Expected-Version", version)
	return body, nil
}

// TestVersionerHeaderJoinsTheCallHeaders: a Versioner that writes a header
// adds it to the headers the resource and the call set, and loses none of
// them.
func TestVersionerHeaderJoinsTheCallHeaders(t *testing.T) {
	c, mux := setup(t)
	var got http.Header
	mux.HandleFunc("/widgets/w1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", "3")
		if r.Method == http.MethodPut {
			got = r.Header.Clone()
			w.Header().Set("X-Version", "4")
		}
		io.WriteString(w, `{"name":"gear"}`)
	})
	r := concord.NewResource[Widget](c, "widgets", concord.WithVersioner(headerVersion{}), concord.WithHeader("X-Tenant", "acme"))
	if _, err := r.Get(context.Background(), "w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Replace(context.Background(), "w1", Widget{Name: "cog"}, concord.WithHeader("X-Trace", "t1")); err != nil {
		t.Fatalf("Replace = %v", err)
	}
	for name, want := range map[string]string{"X-Expected-Version": "3", "X-Tenant": "acme", "X-Trace": "t1"} {
		if v := got.Get(name); v != want {
			t.Errorf("PUT's %s = %q; want %q", name, v, want)
		}
	}
}
