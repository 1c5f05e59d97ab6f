package interop

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"testing"

	"github.com/concord-go/concord"
)

// startFakeGCS serves the Google Cloud Storage JSON API with
// fake-gcs-server (Go module proxy), in memory, and returns its base URL.
func startFakeGCS(t *testing.T) string {
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(tool(t, "fake-gcs-server"), "-scheme", "http", "-host", "127.0.0.1",
		"-port", fmt.Sprint(port), "-backend", "memory", "-public-host", fmt.Sprintf("127.0.0.1:%d", port), "-log-level", "error")
	cmd.Dir = t.TempDir()
	start(t, "fake-gcs-server", cmd, answers(base+"/storage/v1/b"))
	return base
}

// gcs is a bucket's objects holding JSON documents: read as media, written
// by media upload, versioned by generation.
var gcs = server{
	name:       "fake-gcs-server 1.56 (Google Cloud Storage JSON API)",
	start:      startFakeGCS,
	collection: "storage/v1/b/widgets/o",
	setup: func(ctx context.Context, c *concord.Client) error {
		_, err := c.Do(ctx, &concord.Request{Method: http.MethodPost, Path: "storage/v1/b", Body: map[string]string{"name": "widgets"}}, nil)
		return err
	},
	resourceOptions: []concord.ResourceOption{
		concord.WithRoutes(concord.Routes{
			Read: func(id string) string { return "storage/v1/b/widgets/o/" + url.PathEscape(id) + "?alt=media" },
			Write: func(id string) string {
				return "upload/storage/v1/b/widgets/o?uploadType=media&name=" + url.QueryEscape(id)
			},
			WriteMethod: http.MethodPost,
		}),
		concord.WithVersioner(concord.QueryVersion{Header: "X-Goog-Generation", Member: "generation", Param: "ifGenerationMatch", Absent: "0"}),
	},
	// It deletes an object whatever ifGenerationMatch says (the real
	// service honors it).
	ignoresDeleteVersion: true,
	options:              "`WithRoutes(Routes{Read, Write, WriteMethod: \"POST\"})`, `WithVersioner(QueryVersion{Header: \"X-Goog-Generation\", Member: \"generation\", Param: \"ifGenerationMatch\", Absent: \"0\"})`",
}

func init() { servers = append(servers, gcs) }
