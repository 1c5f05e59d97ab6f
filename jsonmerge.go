package concord

// Layer: Values (ARCHITECTURE.md).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// ClashPolicy decides a three-way merge where both sides changed the same
// member to different values.
type ClashPolicy int

const (
	// ClashFail stops the merge with a *MergeClashError naming every
	// clashing member. It is the default: nobody's edit is dropped
	// silently.
	ClashFail ClashPolicy = iota
	// ClashKeepMine keeps this writer's value.
	ClashKeepMine
	// ClashKeepTheirs keeps the value already on the server.
	ClashKeepTheirs
)

// MergeOption configures MergeJSON and ThreeWay.
type MergeOption func(*mergeConfig)

type mergeConfig struct {
	clash     ClashPolicy
	arrayKeys map[string]string // JSON Pointer of an array -> member identifying its elements
}

// OnClash sets the clash policy (ClashFail by default).
func OnClash(p ClashPolicy) MergeOption { return func(m *mergeConfig) { m.clash = p } }

// MergeArrayByKey merges the array at pointer (the JSON Pointer of an
// array reached through objects, such as "/items" or "/spec/containers")
// element by element, matching the elements of the three versions by their
// member key (such as "id" or "name"), instead of replacing it whole.
// Elements added on either side are kept (theirs' order first, then mine's
// additions), elements removed on either side are removed, and a clash
// inside an element is reported at pointer/<key value>/<member>.
func MergeArrayByKey(pointer, key string) MergeOption {
	return func(m *mergeConfig) {
		if m.arrayKeys == nil {
			m.arrayKeys = make(map[string]string)
		}
		m.arrayKeys[pointer] = key
	}
}

// MergeJSON merges three JSON documents: the members mine changed relative
// to base are applied onto theirs. Nested objects merge member by member;
// arrays are replaced whole unless MergeArrayByKey names a key for them. As
// in RFC 7396, null and a missing member mean the same: absent. A member
// both sides changed to different values is a clash, settled by OnClash.
func MergeJSON(base, mine, theirs []byte, opts ...MergeOption) ([]byte, error) {
	cfg := mergeConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	var b, m, t any
	for _, d := range []struct {
		name string
		src  []byte
		dst  *any
	}{{"base", base, &b}, {"mine", mine, &m}, {"theirs", theirs, &t}} {
		if err := decodeJSON(d.src, d.dst); err != nil {
			return nil, fmt.Errorf("concord: merge: %s is not JSON: %w", d.name, err)
		}
	}
	var clashes []string
	out := cfg.merge3(b, m, t, "", &clashes)
	if len(clashes) > 0 {
		sort.Strings(clashes)
		return nil, &MergeClashError{Paths: clashes}
	}
	if out == absent {
		out = nil
	}
	return json.Marshal(out)
}

// absent marks a member that is missing or null.
var absent = &struct{ absent bool }{true}

func orAbsent(v any, ok bool) any {
	if !ok || v == nil {
		return absent
	}
	return v
}

func (cfg *mergeConfig) merge3(base, mine, theirs any, ptr string, clashes *[]string) any {
	switch {
	case jsonEqual(mine, base):
		return theirs
	case jsonEqual(theirs, base), jsonEqual(mine, theirs):
		return mine
	}
	bo, bok := base.(map[string]any)
	mo, mok := mine.(map[string]any)
	to, tok := theirs.(map[string]any)
	if mok && tok {
		if !bok {
			bo = map[string]any{}
		}
		return cfg.mergeObjects(bo, mo, to, ptr, clashes)
	}
	if key, ok := cfg.arrayKeys[ptr]; ok {
		if merged, ok := cfg.mergeArrays(base, mine, theirs, key, ptr, clashes); ok {
			return merged
		}
	}
	switch cfg.clash {
	case ClashKeepMine:
		return mine
	case ClashKeepTheirs:
		return theirs
	}
	if ptr == "" {
		ptr = "/"
	}
	*clashes = append(*clashes, ptr)
	return theirs
}

func (cfg *mergeConfig) mergeObjects(base, mine, theirs map[string]any, ptr string, clashes *[]string) any {
	out := make(map[string]any, len(theirs))
	seen := make(map[string]bool, len(base)+len(mine)+len(theirs))
	for _, obj := range []map[string]any{base, mine, theirs} {
		for k := range obj {
			if seen[k] {
				continue
			}
			seen[k] = true
			b, bok := base[k]
			m, mok := mine[k]
			t, tok := theirs[k]
			v := cfg.merge3(orAbsent(b, bok), orAbsent(m, mok), orAbsent(t, tok), ptr+"/"+escapePointer(k), clashes)
			if v != absent {
				out[k] = v
			}
		}
	}
	return out
}

// mergeArrays merges arrays of objects by a key member. ok is false when
// any of the three is not such an array; the caller then treats it as a
// whole value.
func (cfg *mergeConfig) mergeArrays(base, mine, theirs any, key, ptr string, clashes *[]string) ([]any, bool) {
	index := func(v any) (map[string]any, []string, bool) {
		if v == absent {
			return map[string]any{}, nil, true
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, nil, false
		}
		byKey := make(map[string]any, len(arr))
		order := make([]string, 0, len(arr))
		for _, el := range arr {
			obj, ok := el.(map[string]any)
			if !ok {
				return nil, nil, false
			}
			k, err := json.Marshal(obj[key])
			if err != nil || obj[key] == nil {
				return nil, nil, false
			}
			byKey[string(k)] = el
			order = append(order, string(k))
		}
		return byKey, order, true
	}
	b, _, okB := index(base)
	m, mOrder, okM := index(mine)
	t, tOrder, okT := index(theirs)
	if !okB || !okM || !okT {
		return nil, false
	}
	out := []any{}
	done := make(map[string]bool, len(tOrder)+len(mOrder))
	for _, k := range append(tOrder, mOrder...) {
		if done[k] {
			continue
		}
		done[k] = true
		bv, bok := b[k]
		mv, mok := m[k]
		tv, tok := t[k]
		if v := cfg.merge3(orAbsent(bv, bok), orAbsent(mv, mok), orAbsent(tv, tok), ptr+"/"+escapePointer(strings.Trim(k, `"`)), clashes); v != absent {
			out = append(out, v)
		}
	}
	return out, true
}

// escapePointer escapes a member name for a JSON Pointer (RFC 6901).
func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// jsonEqual compares two decoded JSON values, numbers by their text.
func jsonEqual(a, b any) bool {
	if a == absent || b == absent {
		return a == b
	}
	return reflect.DeepEqual(a, b)
}

// decodeJSON decodes one JSON value, keeping numbers exact, and rejects
// trailing data.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// More() misses a stray closing bracket; only EOF means nothing follows.
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// MergePatch returns the RFC 7396 JSON Merge Patch that turns base into
// mine: changed members with their new values, removed members as null,
// arrays whole.
func MergePatch(base, mine []byte) ([]byte, error) {
	var b, m any
	if err := decodeJSON(base, &b); err != nil {
		return nil, fmt.Errorf("concord: merge patch: base is not JSON: %w", err)
	}
	if err := decodeJSON(mine, &m); err != nil {
		return nil, fmt.Errorf("concord: merge patch: mine is not JSON: %w", err)
	}
	return json.Marshal(diffPatch(b, m))
}

func diffPatch(base, mine any) any {
	bo, bok := base.(map[string]any)
	mo, mok := mine.(map[string]any)
	if !bok || !mok {
		return mine
	}
	patch := make(map[string]any)
	for k, bv := range bo {
		if mv, ok := mo[k]; !ok || mv == nil {
			if bv != nil {
				patch[k] = nil
			}
		}
	}
	for k, mv := range mo {
		if mv == nil {
			continue
		}
		bv, ok := bo[k]
		if !ok || !reflect.DeepEqual(bv, mv) {
			if _, isObj := mv.(map[string]any); isObj && ok {
				patch[k] = diffPatch(bv, mv)
			} else {
				patch[k] = mv
			}
		}
	}
	return patch
}

// sameJSON reports whether two JSON documents are equal as values (member
// order and number spelling aside), ignoring the members at the paths in
// ignore.
func sameJSON(a, b []byte, ignore ...[]string) bool {
	var x, y any
	if decodeJSON(a, &x) != nil || decodeJSON(b, &y) != nil {
		return false
	}
	for _, p := range ignore {
		if len(p) == 0 {
			continue
		}
		deletePath(x, p)
		deletePath(y, p)
	}
	return reflect.DeepEqual(normalizeNumbers(x), normalizeNumbers(y))
}

func deletePath(doc any, path []string) {
	parent, ok := lookup(doc, path[:len(path)-1])
	if obj, isObj := parent.(map[string]any); ok && isObj {
		delete(obj, path[len(path)-1])
	}
}

// normalizeNumbers rewrites json.Numbers in a canonical form so that 1 and
// 1.0 compare equal.
func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return f
		}
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = normalizeNumbers(e)
		}
	}
	return v
}
