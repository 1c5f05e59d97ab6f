package interop

import (
	"context"
	"fmt"
	"os/exec"
	"testing"

	"github.com/concord-go/concord"
)

// startS3 serves the S3 API with gofakes3 (Go module proxy), in memory,
// with a bucket "widgets", and returns its base URL. Like Amazon S3's
// general purpose buckets, it honors If-Match and If-None-Match: * on PUT
// (412), its ETags are the MD5 of the content, and it deletes an object
// whatever the DELETE's precondition says.
func startS3(t *testing.T) string {
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(tool(t, "gofakes3"), "-host", fmt.Sprintf("127.0.0.1:%d", port), "-backend", "memory", "-initialbucket", "widgets", "-quiet")
	cmd.Dir = t.TempDir()
	start(t, "gofakes3", cmd, answers(base+"/"))
	return base
}

func init() {
	servers = append(servers, server{
		name:       "gofakes3 1.2 (S3 API)",
		start:      startS3,
		collection: "widgets",
		setup:      func(context.Context, *concord.Client) error { return nil }, // -initialbucket
		options:    "none",
		// It deletes an object whatever If-Match says.
		ignoresDeleteVersion: true,
	})
}
