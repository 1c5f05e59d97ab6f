package concord

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

type copyNode struct {
	Name     string
	Children []*copyNode
}

type copyDoc struct {
	ID    string             `json:"id"`
	Tags  []string           `json:"tags"`
	Attrs map[string][]int   `json:"attrs,omitempty"`
	Owner *struct{ N int }   `json:"owner"`
	Grid  [2][]float64       `json:"grid"`
	Nest  map[string]copyDoc `json:"nest,omitempty"`
}

func TestCopyable(t *testing.T) {
	tests := []struct {
		name string
		t    reflect.Type
		want bool
	}{
		{"struct of slices, maps, pointers and arrays", reflect.TypeFor[copyDoc](), true},
		{"recursive type", reflect.TypeFor[copyNode](), true},
		{"unexported field", reflect.TypeFor[struct{ a int }](), false},
		{`field tagged "-"`, reflect.TypeFor[struct {
			A int `json:"-"`
		}](), false},
		{"interface", reflect.TypeFor[struct{ A any }](), false},
		{"JSON marshaler", reflect.TypeFor[json.RawMessage](), false},
		{"text marshaler (time.Time)", reflect.TypeFor[struct{ At time.Time }](), false},
		{"func", reflect.TypeFor[struct{ F func() }](), false},
		{"complex number", reflect.TypeFor[struct{ C complex128 }](), false},
	}
	for _, tt := range tests {
		if got := newCopier(tt.t).ok; got != tt.want {
			t.Errorf("newCopier(%s).ok = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestCopyOfSharesNothing: a copy encodes as its original does, and
// changing the copy's slices, maps and pointers leaves the original as it
// was.
func TestCopyOfSharesNothing(t *testing.T) {
	orig := copyDoc{
		ID: "1", Tags: []string{"a", "b"}, Attrs: map[string][]int{"x": {1, 2}},
		Owner: &struct{ N int }{7}, Grid: [2][]float64{{1.5}, nil},
		Nest: map[string]copyDoc{"in": {Tags: []string{"c"}}},
	}
	before, _ := json.Marshal(orig)
	cp, _ := copyOf(&orig)
	if after, _ := json.Marshal(cp); !bytes.Equal(after, before) {
		t.Fatalf("copy encodes as %s; want %s", after, before)
	}
	cp.Tags[0], cp.Attrs["x"][0], cp.Owner.N, cp.Grid[0][0] = "z", 9, 8, 2.5
	cp.Nest["in"].Tags[0] = "d"
	cp.Attrs["y"] = nil
	if now, _ := json.Marshal(orig); !bytes.Equal(now, before) {
		t.Errorf("after changing the copy the original encodes as %s; want %s", now, before)
	}
	var empty copyDoc
	if got, _ := copyOf(&empty); !reflect.DeepEqual(got, empty) {
		t.Errorf("copyOf(zero) = %+v; want the zero value (nil slices and maps kept nil)", got)
	}
}

// sparseRow is 26 strings, all omitempty: a row of empty ones is "{}" in
// JSON and 416 bytes in memory.
type sparseRow struct {
	A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X, Y, Z string `json:",omitempty"`
}

// TestCopyIsChargedAtItsMemory: what copyOf says a copy holds is at least
// what the heap grew by to hold it, for shapes whose memory far exceeds
// their JSON (issue #30: the cache charged JSON size, and three 600 KB
// documents kept 240 MiB alive against 3.4 MiB counted).
func TestCopyIsChargedAtItsMemory(t *testing.T) {
	rows := struct{ Rows []sparseRow }{Rows: make([]sparseRow, 200_000)}
	pointers := struct{ Items []*struct{ N [8]int64 } }{}
	for range 50_000 {
		pointers.Items = append(pointers.Items, &struct{ N [8]int64 }{})
	}
	maps := struct{ M map[string][]int }{M: map[string][]int{}}
	for i := range 50_000 {
		maps.M[fmt.Sprint(i)] = []int{i}
	}
	measure := func(name string, copy func() (any, int64)) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		kept, held := copy()
		runtime.GC()
		runtime.ReadMemStats(&after)
		grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		if held < grew*9/10 {
			t.Errorf("%s: copyOf says the copy holds %d bytes; the heap grew by %d", name, held, grew)
		}
		runtime.KeepAlive(kept)
	}
	measure("rows of empty strings", func() (any, int64) { c, n := copyOf(&rows); return &c, n })
	measure("pointers", func() (any, int64) { c, n := copyOf(&pointers); return &c, n })
	measure("a map", func() (any, int64) { c, n := copyOf(&maps); return &c, n })
}

// TestCopyHoldsWhatItAllocates: what copyOf says a copy holds, for small
// values whose every allocation can be counted: the value itself, what its
// pointers, slices and maps allocate, and the strings it shares.
func TestCopyHoldsWhatItAllocates(t *testing.T) {
	type item struct {
		N int64
		S string
	}
	str := int64(unsafe.Sizeof(""))
	ptr := &item{S: "abc"}
	m := map[string]int64{"ab": 1, "cde": 2}
	sl := []string{"ab", "c"}
	ms := map[string]string{"ab": "xyz"}
	tests := []struct {
		name      string
		got, want int64
	}{
		{"a pointer to a struct with a string", heldBy(&ptr), int64(unsafe.Sizeof(ptr)+unsafe.Sizeof(item{})) + 3},
		{"a map of two strings", heldBy(&m), int64(unsafe.Sizeof(m)) + 2*(str+8+mapEntryOverhead) + 5},
		{"a map of a string to a string", heldBy(&ms), int64(unsafe.Sizeof(ms)) + (str + str + mapEntryOverhead) + 5},
		{"a slice of two strings", heldBy(&sl), int64(unsafe.Sizeof(sl)) + 2*str + 3},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("copyOf(%s) holds %d bytes; want %d", tt.name, tt.got, tt.want)
		}
	}
}

func heldBy[T any](v *T) int64 {
	_, held := copyOf(v)
	return held
}

// TestCacheRefusesACopyLargerThanItsShare: a document whose JSON fits the
// cache's share but whose copy does not is kept without the copy.
func TestCacheRefusesACopyLargerThanItsShare(t *testing.T) {
	c, err := New("http://127.0.0.1:1", WithLimits(Limits{VersionCacheBytes: 1 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	type doc struct{ Rows []sparseRow }
	r := NewResource[doc](c, "docs")
	v := doc{Rows: make([]sparseRow, 40_000)} // 120 KB of JSON, 16 MiB of memory
	body, _ := json.Marshal(v)
	p, err := start(r, context.Background(), "1", []CallOption(nil))
	if err != nil {
		t.Fatal(err)
	}
	p.written(&Response{StatusCode: 204}, v, body, 0)
	snap, ok := c.versions.get("http://127.0.0.1:1/docs/1")
	if !ok || snap.value != nil || c.versions.bytes > 1<<20 {
		t.Errorf("after writing the document the cache holds it=%v with a copy=%v, %d bytes counted; want it without its copy, within 1 MiB", ok, snap.value != nil, c.versions.bytes)
	}
}
