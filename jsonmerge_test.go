package concord_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/concord-go/concord"
)

func TestMergeJSON(t *testing.T) {
	tests := []struct {
		name              string
		base, mine, their string
		opts              []concord.MergeOption
		want              string
		clashes           []string
	}{
		{name: "disjoint edits", base: `{"a":1,"b":1}`, mine: `{"a":2,"b":1}`, their: `{"a":1,"b":3}`, want: `{"a":2,"b":3}`},
		{name: "same edit on both sides", base: `{"a":1}`, mine: `{"a":2}`, their: `{"a":2}`, want: `{"a":2}`},
		{name: "only theirs changed", base: `{"a":1}`, mine: `{"a":1}`, their: `{"a":5,"c":1}`, want: `{"a":5,"c":1}`},
		{name: "clash fails", base: `{"a":1,"b":1}`, mine: `{"a":2,"b":1}`, their: `{"a":3,"b":1}`, clashes: []string{"/a"}},
		{name: "clash, mine wins", base: `{"a":1}`, mine: `{"a":2}`, their: `{"a":3}`, opts: []concord.MergeOption{concord.OnClash(concord.ClashKeepMine)}, want: `{"a":2}`},
		{name: "clash, theirs wins", base: `{"a":1}`, mine: `{"a":2}`, their: `{"a":3}`, opts: []concord.MergeOption{concord.OnClash(concord.ClashKeepTheirs)}, want: `{"a":3}`},
		{name: "nested objects merge", base: `{"o":{"x":1,"y":1}}`, mine: `{"o":{"x":2,"y":1}}`, their: `{"o":{"x":1,"y":2}}`, want: `{"o":{"x":2,"y":2}}`},
		{name: "nested clash names the path", base: `{"o":{"x":1},"p":{"a/b":1}}`, mine: `{"o":{"x":2},"p":{"a/b":2}}`, their: `{"o":{"x":3},"p":{"a/b":3}}`, clashes: []string{"/o/x", "/p/a~1b"}},
		{name: "arrays replace whole", base: `{"t":[1,2]}`, mine: `{"t":[1,2,3]}`, their: `{"t":[1,2]}`, want: `{"t":[1,2,3]}`},
		{name: "arrays changed on both sides clash", base: `{"t":[1]}`, mine: `{"t":[1,2]}`, their: `{"t":[1,3]}`, clashes: []string{"/t"}},
		{
			name: "arrays merged by key", opts: []concord.MergeOption{concord.MergeArrayByKey("/items", "id")},
			base:  `{"items":[{"id":"a","n":1},{"id":"b","n":1},{"id":"c","n":1}]}`,
			mine:  `{"items":[{"id":"a","n":2},{"id":"b","n":1},{"id":"d","n":1}]}`,
			their: `{"items":[{"id":"a","n":1},{"id":"b","n":5},{"id":"c","n":1},{"id":"e","n":1}]}`,
			want:  `{"items":[{"id":"a","n":2},{"id":"b","n":5},{"id":"e","n":1},{"id":"d","n":1}]}`,
		},
		{name: "keyed array clash", opts: []concord.MergeOption{concord.MergeArrayByKey("/items", "id")}, base: `{"items":[{"id":1,"n":1}]}`, mine: `{"items":[{"id":1,"n":2}]}`, their: `{"items":[{"id":1,"n":3}]}`, clashes: []string{"/items/1/n"}},
		{name: "mine deletes a member", base: `{"a":1,"b":1}`, mine: `{"b":1}`, their: `{"a":1,"b":2}`, want: `{"b":2}`},
		{name: "null means absent", base: `{"a":1,"b":1}`, mine: `{"a":null,"b":1}`, their: `{"a":1,"b":2}`, want: `{"b":2}`},
		{name: "missing and null agree", base: `{"a":1}`, mine: `{"a":null}`, their: `{}`, want: `{}`},
		{name: "delete against an edit clashes", base: `{"a":1}`, mine: `{}`, their: `{"a":2}`, clashes: []string{"/a"}},
		{name: "both add the same member", base: `{}`, mine: `{"n":1}`, their: `{"n":1}`, want: `{"n":1}`},
		{name: "type change on one side", base: `{"a":1}`, mine: `{"a":{"x":1}}`, their: `{"a":1,"b":2}`, want: `{"a":{"x":1},"b":2}`},
		{name: "type changes on both sides clash", base: `{"a":1}`, mine: `{"a":"s"}`, their: `{"a":[1]}`, clashes: []string{"/a"}},
		{name: "numbers keep their text", base: `{"n":12345678901234567890}`, mine: `{"n":12345678901234567890,"m":1}`, their: `{"n":12345678901234567891}`, want: `{"m":1,"n":12345678901234567891}`},
		{name: "top-level values", base: `1`, mine: `2`, their: `1`, want: `2`},
		{name: "top-level clash", base: `1`, mine: `2`, their: `3`, clashes: []string{"/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := concord.MergeJSON([]byte(tt.base), []byte(tt.mine), []byte(tt.their), tt.opts...)
			if tt.clashes != nil {
				var clash *concord.MergeClashError
				if !errors.As(err, &clash) || !reflect.DeepEqual(clash.Paths, tt.clashes) || !errors.Is(err, concord.ErrMergeAborted) {
					t.Fatalf("MergeJSON(%s, %s, %s) = %s, %v; want clashes at %q", tt.base, tt.mine, tt.their, got, err, tt.clashes)
				}
				return
			}
			if err != nil || !sameJSON(t, got, tt.want) {
				t.Errorf("MergeJSON(%s, %s, %s) = %s, %v; want %s", tt.base, tt.mine, tt.their, got, err, tt.want)
			}
		})
	}
	if _, err := concord.MergeJSON([]byte(`{`), []byte(`{}`), []byte(`{}`)); err == nil {
		t.Error("MergeJSON of malformed base = nil error; want one")
	}
	if _, err := concord.MergeJSON([]byte(`{} {}`), []byte(`{}`), []byte(`{}`)); err == nil {
		t.Error("MergeJSON with trailing data = nil error; want one")
	}
}

// TestMergeJSONOrderInArrays pins the order of a keyed array merge: theirs'
// order first, then the elements only mine added.
func TestMergeJSONOrderInArrays(t *testing.T) {
	got, err := concord.MergeJSON([]byte(`{"l":[]}`), []byte(`{"l":[{"k":"m"}]}`), []byte(`{"l":[{"k":"t"}]}`), concord.MergeArrayByKey("/l", "k"))
	if err != nil || string(got) != `{"l":[{"k":"t"},{"k":"m"}]}` {
		t.Errorf("MergeJSON = %s, %v; want theirs then mine", got, err)
	}
}

func TestMergePatch(t *testing.T) {
	tests := []struct{ base, mine, want string }{
		{`{"a":1,"b":2}`, `{"a":1,"b":3}`, `{"b":3}`},
		{`{"a":1,"b":2}`, `{"a":1}`, `{"b":null}`},
		{`{"o":{"x":1,"y":2}}`, `{"o":{"x":1,"y":3}}`, `{"o":{"y":3}}`},
		{`{"t":[1,2]}`, `{"t":[2]}`, `{"t":[2]}`},
		{`{"a":1}`, `{"a":1}`, `{}`},
		{`{"a":{"x":1}}`, `{"a":5}`, `{"a":5}`},
		{`{"a":null}`, `{}`, `{}`},
	}
	for _, tt := range tests {
		got, err := concord.MergePatch([]byte(tt.base), []byte(tt.mine))
		if err != nil || !sameJSON(t, got, tt.want) {
			t.Errorf("MergePatch(%s, %s) = %s, %v; want %s", tt.base, tt.mine, got, err, tt.want)
		}
	}
}

func TestThreeWayTyped(t *testing.T) {
	base := Widget{Name: "gear", Price: 1, Stock: 1}
	mine := Widget{Name: "gear", Price: 1, Stock: 9, Tags: []string{"new"}}
	theirs := Widget{Name: "gear", Price: 2, Stock: 1}
	got, err := concord.ThreeWay[Widget]()(base, mine, theirs)
	want := Widget{Name: "gear", Price: 2, Stock: 9, Tags: []string{"new"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ThreeWay = %+v, %v; want %+v", got, err, want)
	}
	if mine.Stock != 9 || theirs.Price != 2 || base.Price != 1 {
		t.Error("ThreeWay modified its inputs")
	}
}

// sameJSON compares JSON documents as values, member order aside and
// numbers by their exact text.
func sameJSON(t *testing.T, got []byte, want string) bool {
	t.Helper()
	return bytes.Equal(canonical(got), canonical([]byte(want)))
}

func canonical(b []byte) []byte {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []byte("invalid: " + err.Error())
	}
	out, _ := json.Marshal(v)
	return out
}
