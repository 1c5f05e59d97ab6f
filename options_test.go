package concord_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/concord-go/concord"
)

// TestMisappliedOptionsDoNotCompile: an option given to a call it does not
// apply to, or a merge of another type than the resource's, is a compile
// error rather than an option silently ignored. Each line below is
// compiled, and each must fail with the type error named.
func TestMisappliedOptionsDoNotCompile(t *testing.T) {
	tests := []struct {
		name, code, want string
	}{
		{"a version on a create", `r.Create(ctx, W{}, concord.WithBaseVersion("x"))`, "does not implement concord.CreateOption"},
		{"a version on a read", `r.Get(ctx, "1", concord.WithBaseVersion("x"))`, "does not implement concord.CallOption"},
		{"a key on a read", `r.Get(ctx, "1", concord.WithIdempotencyKey("k"))`, "does not implement concord.CallOption"},
		{"a conflict bound on a create", `r.CreateAt(ctx, "1", W{}, concord.WithMaxConflicts(2))`, "does not implement concord.CreateOption"},
		{"an API setting on one call", `r.Replace(ctx, "1", W{}, concord.WithPatch())`, "does not implement concord.WriteOption"},
		{"a key for every call", `concord.NewResource[W](c, "w", concord.WithIdempotencyKey("k"))`, "does not implement concord.ResourceOption"},
		{"a merge of another type", `r.WithMerge(concord.MineWins[string]())`, "cannot use concord.MineWins[string]()"},
	}
	var src strings.Builder
	src.WriteString("package misapplied\n\nimport (\n\t\"context\"\n\n\t\"github.com/concord-go/concord\"\n)\n\ntype W struct{}\n\n")
	src.WriteString("func use(ctx context.Context, c *concord.Client, r *concord.Resource[W]) {\n")
	lines := map[int]int{} // line of the source -> index in tests
	line := strings.Count(src.String(), "\n") + 1
	for i, tt := range tests {
		src.WriteString("\t_, _ = " + tt.code + ", 0\n")
		lines[line] = i
		line++
	}
	src.WriteString("}\n")
	// Inside the module, so that the import resolves to this tree; a
	// leading "_" keeps ./... from ever seeing it.
	dir, err := os.MkdirTemp(".", "_misapplied")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "use.go"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "build", "-gcflags=-e", "./"+dir).CombinedOutput()
	if err == nil {
		t.Fatalf("the misapplied options compiled:\n%s", src.String())
	}
	found := make([]string, len(tests))
	for _, l := range strings.Split(string(out), "\n") {
		for n, i := range lines {
			if strings.Contains(l, "use.go:"+strconv.Itoa(n)+":") {
				found[i] += l
			}
		}
	}
	for i, tt := range tests {
		if !strings.Contains(found[i], tt.want) {
			t.Errorf("%s: %s compiles, or fails otherwise (%q); want %q", tt.name, tt.code, found[i], tt.want)
		}
	}
}

func TestOptionLimitsMustBePositive(t *testing.T) {
	for name, opt := range map[string]concord.Option{
		"WithMaxResponseBytes(0)":  concord.WithMaxResponseBytes(0),
		"WithMaxErrorBodyBytes(0)": concord.WithMaxErrorBodyBytes(0),
	} {
		if _, err := concord.New("https://api.example.com", opt); err == nil {
			t.Errorf("New(%s) succeeded; want an error", name)
		}
	}
	if _, err := concord.New("https://api.example.com", concord.WithVersionCacheBytes(0)); err != nil {
		t.Errorf("New(WithVersionCacheBytes(0)) = %v; 0 turns tracking off", err)
	}
}

// TestWithHeaderAtEveryLevel: one WithHeader serves the client, a resource
// and a call; the nearer level wins for one name.
func TestWithHeaderAtEveryLevel(t *testing.T) {
	var got http.Header
	c, mux := setup(t, concord.WithHeader("X-Client", "c"), concord.WithHeader("X-Level", "client"))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("ETag", `"v1"`)
		w.Write([]byte(`{"name":"gear"}`))
	})
	widgets := concord.NewResource[Widget](c, "widgets", concord.WithHeader("X-Resource", "r"), concord.WithHeader("X-Level", "resource"))
	if _, err := widgets.Get(bounded(t), "1", concord.WithHeader("X-Call", "x"), concord.WithHeader("X-Level", "call")); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"X-Client": "c", "X-Resource": "r", "X-Call": "x", "X-Level": "call"} {
		if got.Get(name) != want {
			t.Errorf("the request's %s = %q; want %q", name, got.Get(name), want)
		}
	}
}
