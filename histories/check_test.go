package histories

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestAllIsAReadOfEachItem: an All is checked as a read of every item
// during its call, so a listing that misses an item written before it was
// called, or shows a version overwritten before then, is a violation.
func TestAllIsAReadOfEachItem(t *testing.T) {
	created := Record{Worker: 0, Input: Input{Kind: KindCreateAt, Item: "a", N: 1, Token: "w0-0"}, Output: Output{Outcome: OK, Doc: Doc{N: 1, W: "w0-0"}}, Call: 1, Return: 2}
	replaced := Record{Worker: 0, Input: Input{Kind: KindReplace, Item: "a", N: 2, Token: "w0-1", Base: "w0-0"}, Output: Output{Outcome: OK, Doc: Doc{N: 2, W: "w0-1"}}, Call: 3, Return: 4}
	all := func(listed ...Doc) Record {
		return Record{Worker: 1, Input: Input{Kind: KindAll, Token: "w1-0"}, Output: Output{Outcome: OK, Listed: listed}, Call: 5, Return: 6}
	}
	for _, tc := range []struct {
		name string
		all  Record
		want porcupine.CheckResult
	}{
		{"the newest version", all(Doc{N: 2, W: "w0-1"}), porcupine.Ok},
		{"nothing", all(), porcupine.Illegal},
		{"an overwritten version", all(Doc{N: 1, W: "w0-0"}), porcupine.Illegal},
	} {
		got, _ := Check([]Record{created, replaced, tc.all}, Limits{}, filepath.Join(t.TempDir(), "viz.html"), 10*time.Second)
		if got != tc.want {
			t.Errorf("Check of an All listing %s = %v; want %v", tc.name, got, tc.want)
		}
	}
}

// TestReappliedUpdateMayApplyEarlier: where an Update may apply its mutate
// once per lost answer (Limits.Reapplied), an earlier application may show
// before other writes that the final one follows, as CI saw on "keys on
// POST only, answers cut after commit"; without the limit that history is
// a violation.
func TestReappliedUpdateMayApplyEarlier(t *testing.T) {
	history := []Record{
		{Worker: 0, Input: Input{Kind: KindCreateAt, Item: "a", N: 0, Token: "c"}, Output: Output{Outcome: OK, Doc: Doc{N: 0, W: "c"}}, Call: 0, Return: 1},
		{Worker: 1, Input: Input{Kind: KindUpdate, Item: "a", Token: "u"}, Output: Output{Outcome: OK, Doc: Doc{N: 11, W: "u"}}, Call: 2, Return: 100},
		{Worker: 2, Input: Input{Kind: KindGet, Item: "a", Token: "g"}, Output: Output{Outcome: OK, Doc: Doc{N: 1, W: "u"}}, Call: 10, Return: 20},
		{Worker: 2, Input: Input{Kind: KindReplace, Item: "a", N: 10, Token: "r", Base: "u"}, Output: Output{Outcome: OK, Doc: Doc{N: 10, W: "r"}}, Call: 30, Return: 40},
	}
	for _, tc := range []struct {
		limits Limits
		want   porcupine.CheckResult
	}{{Limits{Reapplied: true}, porcupine.Ok}, {Limits{}, porcupine.Illegal}} {
		if got, _ := Check(history, tc.limits, filepath.Join(t.TempDir(), "viz.html"), 10*time.Second); got != tc.want {
			t.Errorf("Check with %+v = %v; want %v", tc.limits, got, tc.want)
		}
	}
}
