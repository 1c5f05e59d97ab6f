package main

// Layer: Commands (ARCHITECTURE.md).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/concord-go/concord"
)

// clashMember is the member edit adds to a document to show the clashes a
// merge left for a person; it is removed before writing.
const clashMember = "__concord_clashes__"

func runEdit(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	bodyVersion := fs.String("body-version", "", `the member holding the version when the API keeps it in the document ("_rev", "metadata.resourceVersion")`)
	if !parse(fs, args, stderr, "concord edit [flags] URL-of-an-item   ($EDITOR opens the document)") {
		return 2
	}
	header, err := parseHeaders(common.headers, os.Getenv("CONCORD_HEADERS"))
	if err != nil {
		fmt.Fprintln(stderr, "concord edit:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, common.timeout)
	defer cancel()
	e, err := newEditor(fs.Arg(0), header, *bodyVersion, stdin, stdout, stderr)
	if err == nil {
		err = e.run(ctx)
	}
	if err != nil {
		fmt.Fprintln(stderr, "concord edit:", err)
		return 1
	}
	return 0
}

// editor edits one item.
type editor struct {
	r              *concord.Resource[map[string]any]
	stdin          io.Reader
	stdout, stderr io.Writer
}

func newEditor(itemURL string, header http.Header, bodyVersion string, stdin io.Reader, stdout, stderr io.Writer) (*editor, error) {
	u, err := url.Parse(itemURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("the item must be an absolute http or https URL")
	}
	if err := userCredentials(u, header); err != nil {
		return nil, err
	}
	opts := []concord.Option{concord.WithHeader("User-Agent", "concord-edit")}
	for name, values := range header {
		for _, v := range values {
			opts = append(opts, concord.WithHeader(name, v))
		}
	}
	c, err := concord.New(u.Scheme+"://"+u.Host, opts...)
	if err != nil {
		return nil, err
	}
	path := strings.TrimPrefix(u.RequestURI(), "/")
	ropts := []concord.ResourceOption{concord.WithRoutes(concord.Routes{Item: func(string) string { return path }})}
	if bodyVersion != "" {
		ropts = append(ropts, concord.WithVersioner(concord.BodyVersion{Path: bodyVersion}))
	}
	return &editor{r: concord.NewResource[map[string]any](c, "", ropts...), stdin: stdin, stdout: stdout, stderr: stderr}, nil
}

// run reads the item, lets the person edit it and writes it back; on a
// conflict it merges, and reopens the editor while clashes remain.
func (e *editor) run(ctx context.Context) error {
	res, err := e.r.Get(ctx, "item")
	if err != nil {
		return err
	}
	base := res.Value
	edited, changed, err := e.edit(base)
	if err != nil || !changed {
		if err == nil {
			fmt.Fprintln(e.stdout, "no changes")
		}
		return err
	}
	version := res.Version
	for {
		out, err := e.r.WithMerge(concord.ThreeWay[map[string]any]()).Replace(ctx, "item", edited, concord.WithBaseVersion(version))
		if err == nil {
			fmt.Fprintf(e.stdout, "written (version %s, %d conflict(s) merged)\n", out.Version, out.Conflicts)
			return nil
		}
		var clash *concord.MergeClashError
		if !errors.As(err, &clash) {
			return err
		}
		// The merge needs a person: show theirs with the clashes marked.
		theirs, gerr := e.r.Get(ctx, "item")
		if gerr != nil {
			return errors.Join(err, gerr)
		}
		marked := markClashes(theirs.Value, edited, clash.Paths)
		fmt.Fprintf(e.stderr, "concord edit: someone else changed %s meanwhile; resolve them in %s\n", strings.Join(clash.Paths, ", "), clashMember)
		resolved, _, eerr := e.edit(marked)
		if eerr != nil {
			return eerr
		}
		delete(resolved, clashMember)
		// The person resolved against theirs: that is the new base.
		edited, version = resolved, theirs.Version
	}
}

// edit writes doc to a temporary file, runs $EDITOR on it and reads it
// back.
func (e *editor) edit(doc map[string]any) (map[string]any, bool, error) {
	before, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, false, err
	}
	dir, err := os.MkdirTemp("", "concord-edit-")
	if err != nil {
		return nil, false, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "item.json")
	if err := os.WriteFile(file, append(before, '\n'), 0o600); err != nil {
		return nil, false, err
	}
	name := os.Getenv("EDITOR")
	if name == "" {
		name = "vi"
	}
	argv := strings.Fields(name)
	cmd := exec.Command(argv[0], append(argv[1:], file)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
	if err := cmd.Run(); err != nil {
		return nil, false, fmt.Errorf("the editor failed: %w", err)
	}
	after, err := os.ReadFile(file)
	if err != nil {
		return nil, false, err
	}
	var out map[string]any
	if err := json.Unmarshal(after, &out); err != nil || out == nil {
		return nil, false, fmt.Errorf("the edited document is not a JSON object: %v", err)
	}
	normal, _ := json.MarshalIndent(out, "", "  ")
	return out, !bytes.Equal(bytes.TrimSpace(normal), bytes.TrimSpace(before)), nil
}

// markClashes returns theirs with a member listing, for each clashing JSON
// Pointer, both values.
func markClashes(theirs, mine map[string]any, paths []string) map[string]any {
	out := make(map[string]any, len(theirs)+1)
	for k, v := range theirs {
		out[k] = v
	}
	clashes := make(map[string]any, len(paths))
	for _, p := range paths {
		clashes[p] = map[string]any{"mine": pointer(mine, p), "theirs": pointer(theirs, p)}
	}
	out[clashMember] = clashes
	return out
}

// pointer returns the value at a JSON Pointer, or nil.
func pointer(doc map[string]any, p string) any {
	var v any = doc
	for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
	}
	return v
}
