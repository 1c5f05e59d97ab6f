package concord_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
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
		{"a key for every call", `concord.NewResource[W](c, "w", concord.WithIdempotencyKey("k"))`, "does not implement concord.ResourceOption"},
		{"a base version for every call", `concord.NewResource[W](c, "w", concord.WithBaseVersion("x"))`, "does not implement concord.ResourceOption"},
		{"a client option on a call", `r.Get(ctx, "1", concord.WithLogger(nil))`, "does not implement concord.CallOption"},
		{"a call option for the client", `concord.New("https://x", concord.WithQuery("a", "b"))`, "does not implement concord.Option"},
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

// TestKeyPolicy: a create's key is made by KeyPolicy.New, written as
// Format says, in Header.
func TestKeyPolicy(t *testing.T) {
	var got http.Header
	c, mux := setup(t, concord.WithKeyPolicy(concord.KeyPolicy{
		Header: "x-request-key",
		Format: concord.KeyQuoted,
		New:    func() (string, error) { return "k-1", nil },
	}))
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Create(bounded(t), Widget{Name: "gear"}); err != nil {
		t.Fatal(err)
	}
	if k := got.Get("X-Request-Key"); k != `"k-1"` {
		t.Errorf("X-Request-Key = %q; want %q", k, `"k-1"`)
	}
	if k := got.Get(concord.DefaultIdempotencyKeyHeader); k != "" {
		t.Errorf("%s = %q; want none beside the policy's header", concord.DefaultIdempotencyKeyHeader, k)
	}
}

// TestLimits: a zero field keeps its default, a set one bounds, and a
// negative VersionCacheBytes turns remembering off, so that every Update
// reads first.
func TestLimits(t *testing.T) {
	body := `{"name":"` + strings.Repeat("g", 1000) + `"}`
	for _, tt := range []struct {
		limits concord.Limits
		wantOK bool
	}{
		{concord.Limits{}, true},
		{concord.Limits{MaxResponseBytes: 100}, false},
		{concord.Limits{MaxResponseBytes: 2000}, true},
	} {
		c, mux := setup(t, concord.WithLimits(tt.limits))
		mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
		_, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1")
		if (err == nil) != tt.wantOK || err != nil && !errors.Is(err, concord.ErrResponseTooLarge) {
			t.Errorf("Get of %d bytes with %+v = %v; want ok=%v", len(body), tt.limits, err, tt.wantOK)
		}
	}

	for _, tt := range []struct {
		cache     int64
		wantReads int
	}{{0, 0}, {-1, 3}} {
		c, srv := setupFake(t, nil, concord.WithLimits(concord.Limits{VersionCacheBytes: tt.cache}))
		widgets := concord.NewResource[Widget](c, "widgets")
		if _, err := widgets.CreateAt(bounded(t), "1", Widget{Name: "gear"}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := widgets.Update(bounded(t), "1", func(w *Widget) error { w.Stock++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		reads := 0
		for _, r := range srv.Requests() {
			if r.Method == http.MethodGet {
				reads++
			}
		}
		if reads != tt.wantReads {
			t.Errorf("VersionCacheBytes %d: %d GETs for 3 Updates after a create; want %d", tt.cache, reads, tt.wantReads)
		}
	}
}

// TestOptionSurface holds the public surface to one value per idea: at
// most 28 With* options (issue #28: there were 37, several configuring one
// thing each) and 3 option interfaces (Option, ResourceOption,
// CallOption). A new option should first be a field of a policy value.
func TestOptionSurface(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var options, kinds []string
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && strings.HasPrefix(d.Name.Name, "With") {
					options = append(options, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if !ok {
						continue
					}
					if _, iface := ts.Type.(*ast.InterfaceType); iface && ts.Name.IsExported() && strings.HasSuffix(ts.Name.Name, "Option") {
						kinds = append(kinds, ts.Name.Name)
					}
				}
			}
		}
	}
	if len(options) > 28 {
		t.Errorf("%d With* options, more than 28: %v", len(options), options)
	}
	if len(kinds) > 3 {
		t.Errorf("%d option interfaces, more than 3: %v", len(kinds), kinds)
	}
}
