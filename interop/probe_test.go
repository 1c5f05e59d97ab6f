package interop

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-go/concord"
)

// TestProbeAgainstRealServers runs `concord probe -write` against the real
// servers and checks its verdicts against what the suite knows of each,
// its recommended configuration against the one the suite uses, and that
// it leaves nothing behind. Where a server cannot give a guarantee
// (fake-gcs-server deletes whatever ifGenerationMatch says), the probe
// must say so, with exit status 1.
func TestProbeAgainstRealServers(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "concord")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/concord").CombinedOutput(); err != nil {
		t.Fatalf("building concord: %v\n%s", err, out)
	}
	tests := []struct {
		server string
		path   string // the collection, under the base URL
		args   []string
		want   map[string]string
		config string
		breaks bool            // a guarantee cannot hold on this server
		list   concord.Request // lists the collection, to see that nothing was left behind
	}{
		{server: "Apache httpd 2.4 mod_dav", path: "files", want: map[string]string{
			"ETag": "weak for a while after writes", "stale If-Match": "rejected (412)", "If-None-Match: *": "honored (412)", "stale conditional DELETE": "refused (412)",
		}, config: "concord.NewResource[T](c, path)", list: concord.Request{Method: "PROPFIND", Path: "files/", Header: http.Header{"Depth": {"1"}}}},
		{server: "pouchdb-server 4.2 (CouchDB API)", path: "widgets", want: map[string]string{
			"stale If-Match": "IGNORED: the stale write overwrote", "stale body version": "rejected (409)", "If-None-Match: *": "honored (409)",
			"idempotency key on POST": "IGNORED: a second item was created", "stale conditional DELETE": "refused (404)", "error format": "couchdb",
		}, config: `concord.BodyVersion{Path: "_rev", Query: "rev"}`, list: concord.Request{Path: "widgets/_all_docs"}},
		{server: "Azurite 3.35 Blob", path: "widgets", args: []string{"-H", "X-Ms-Blob-Type: BlockBlob"}, want: map[string]string{
			"ETag": "strong", "stale If-Match": "rejected (412)", "If-None-Match: *": "honored (409)", "stale conditional DELETE": "refused (412)", "error format": "azure",
		}, config: "concord.NewResource[T](c, path)", list: concord.Request{Path: "widgets", Query: url.Values{"restype": {"container"}, "comp": {"list"}}}},
		{server: "Azurite 3.35 Table", path: "widgets", args: []string{"-item", "widgets(PartitionKey='p',RowKey='{id}')"}, want: map[string]string{
			"ETag": "always weak", "stale If-Match": "rejected (412)", "weak tag in If-Match": "accepted (compared as an opaque string)", "If-None-Match: *": "IGNORED: an upsert",
		}, config: "ETagVersion{Opaque: true}", list: concord.Request{Path: "widgets()"}},
		{server: gcs.name, path: "storage/v1/b/widgets/o", args: []string{
			"-read-item", "o/{id}?alt=media", "-write-item", "/upload/storage/v1/b/widgets/o?uploadType=media&name={id}",
			"-write-method", "POST", "-version-param", "ifGenerationMatch",
		}, want: map[string]string{
			"version": "in X-Goog-Generation", "stale ifGenerationMatch": "rejected (412)", "ifGenerationMatch=0": "honored (412)",
			"stale conditional DELETE": "IGNORED: the item was deleted", "error format": "google",
		}, config: `QueryVersion{Header: "X-Goog-Generation", Member: "generation", Param: "ifGenerationMatch", Absent: "0"}`, breaks: true,
			list: concord.Request{Path: "storage/v1/b/widgets/o"}},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			var s server
			for _, x := range servers {
				if x.name == tt.server {
					s = x
				}
			}
			base := s.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c, err := concord.New(base)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.setup(ctx, c); err != nil {
				t.Fatal(err)
			}
			collection := strings.Replace(base, "?", "/"+tt.path+"?", 1)
			if !strings.Contains(base, "?") {
				collection = base + "/" + tt.path
			}
			args := append(append([]string{"probe", "-write", "-json"}, tt.args...), collection)
			out, err := exec.CommandContext(ctx, bin, args...).Output()
			var rep struct {
				Findings []struct{ Property, Verdict string }
				Config   string
				Holds    bool
			}
			if jerr := json.Unmarshal(out, &rep); jerr != nil {
				t.Fatalf("probe = %v, output %s", err, out)
			}
			got := map[string]string{}
			for _, f := range rep.Findings {
				got[f.Property] = f.Verdict
			}
			for prop, want := range tt.want {
				if got[prop] != want {
					t.Errorf("%s = %q; want %q", prop, got[prop], want)
				}
			}
			if rep.Holds == tt.breaks || (err != nil) != tt.breaks || !strings.Contains(rep.Config, tt.config) {
				t.Errorf("holds = %v (exit %v), config %q; want %v and %q", rep.Holds, err, rep.Config, !tt.breaks, tt.config)
			}
			// Nothing left behind: the collection holds no probe item.
			listed, err := c.Do(ctx, &tt.list, nil)
			if err != nil {
				t.Fatalf("listing the collection: %v", err)
			}
			if strings.Contains(string(listed.Body), "concord-probe") {
				t.Errorf("the probe left items behind: %s", listed.Body)
			}
		})
	}
}
