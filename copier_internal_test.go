package concord

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
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
	cp := copyOf(&orig)
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
	if got := copyOf(&empty); !reflect.DeepEqual(got, empty) {
		t.Errorf("copyOf(zero) = %+v; want the zero value (nil slices and maps kept nil)", got)
	}
}
