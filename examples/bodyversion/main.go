// Command bodyversion runs concord against a Kubernetes-style API that keeps
// each object's version in the document (metadata.resourceVersion) instead
// of an ETag header, and answers a write carrying a stale version with 409.
// Two controllers edit the same Deployment at once: one scales it, one
// rolls out a new image. The second write conflicts, and concord's JSON
// three-way merge keeps both changes. The same code works with ETags or
// CouchDB's _rev by changing the Versioner only.
//
// It runs against an embedded in-process API; -url points it at a real one
// serving /deployments with the version in metadata.resourceVersion, such
// as `go run ./concordtest/cmd/fakeapi -body-version metadata.resourceVersion`.
// It exits non-zero if both changes did not land.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// Deployment is a trimmed Kubernetes-style object.
type Deployment struct {
	Metadata Metadata `json:"metadata"`
	Spec     Spec     `json:"spec"`
}

// Metadata carries the version the API checks on every write.
type Metadata struct {
	Name            string            `json:"name"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// Spec is what the two controllers change.
type Spec struct {
	Replicas int    `json:"replicas"`
	Image    string `json:"image"`
}

func main() {
	url := flag.String("url", "", "base URL of an API serving /deployments with metadata.resourceVersion (default: an embedded API)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, *url); err != nil {
		fmt.Fprintln(os.Stderr, "bodyversion:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, baseURL string) error {
	if baseURL == "" {
		api := concordtest.NewAPI(concordtest.VersionInBody("metadata.resourceVersion", ""))
		srv := httptest.NewServer(api)
		defer srv.Close()
		baseURL = srv.URL
		fmt.Fprintf(w, "embedded API at %s: versions in metadata.resourceVersion, 409 when stale\n\n", baseURL)
	}
	// Each controller has its own client, as two processes would.
	newDeployments := func() (*concord.Resource[Deployment], func(), error) {
		c, err := concord.New(baseURL)
		if err != nil {
			return nil, nil, err
		}
		return concord.NewResource[Deployment](c, "deployments",
			concord.WithVersioner(concord.BodyVersion{Path: "metadata.resourceVersion"}),
		).WithMerge(concord.ThreeWay[Deployment]()), c.CloseIdleConnections, nil
	}
	scaler, closeScaler, err := newDeployments()
	if err != nil {
		return err
	}
	defer closeScaler()
	roller, closeRoller, err := newDeployments()
	if err != nil {
		return err
	}
	defer closeRoller()

	created, err := scaler.CreateAt(ctx, "web", Deployment{Metadata: Metadata{Name: "web"}, Spec: Spec{Replicas: 2, Image: "web:v1"}})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	fmt.Fprintf(w, "created web: %d replicas of %s, resourceVersion %s\n", created.Value.Spec.Replicas, created.Value.Spec.Image, created.Value.Metadata.ResourceVersion)

	scaled, err := scaler.Get(ctx, "web")
	if err != nil {
		return err
	}
	rolling, err := roller.Get(ctx, "web")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "both controllers read resourceVersion", rolling.Value.Metadata.ResourceVersion)

	want := scaled.Value
	want.Spec.Replicas = 5
	if _, err := scaler.Replace(ctx, "web", want); err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	fmt.Fprintln(w, "the scaler sets replicas to 5 and writes first")

	next := rolling.Value
	next.Spec.Image = "web:v2"
	next.Metadata.Labels = map[string]string{"rollout": "v2"}
	res, err := roller.Replace(ctx, "web", next)
	if err != nil {
		return fmt.Errorf("roll out: %w", err)
	}
	fmt.Fprintf(w, "the roller's write of image web:v2 got 409, merged three-way and succeeded: %d conflict(s), %d request(s)\n", res.Conflicts, res.Requests)

	final, err := scaler.Get(ctx, "web")
	if err != nil {
		return err
	}
	d := final.Value
	fmt.Fprintf(w, "final: %d replicas of %s, labels %v, resourceVersion %s\n", d.Spec.Replicas, d.Spec.Image, d.Metadata.Labels, d.Metadata.ResourceVersion)
	if d.Spec.Replicas != 5 || d.Spec.Image != "web:v2" || d.Metadata.Labels["rollout"] != "v2" || res.Conflicts != 1 {
		return fmt.Errorf("want both changes after one conflict, got %+v after %d", d, res.Conflicts)
	}
	return nil
}
