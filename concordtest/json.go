package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
)

// decodeJSON decodes one JSON value with exact numbers and no trailing data.
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

// lookup follows a member path through nested objects.
func lookup(doc map[string]any, path []string) (any, bool) {
	var cur any = doc
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// setPath sets a member, replacing non-object parents with objects.
func setPath(doc map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := doc[p].(map[string]any)
		if !ok {
			next = make(map[string]any)
			doc[p] = next
		}
		doc = next
	}
	doc[path[len(path)-1]] = v
}

// applyMergePatch applies an RFC 7396 JSON Merge Patch.
func applyMergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = make(map[string]any)
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = applyMergePatch(t[k], v)
		}
	}
	return t
}

// cloneDoc deep-copies a decoded JSON object.
func cloneDoc(doc map[string]any) map[string]any {
	b, _ := json.Marshal(doc)
	var out map[string]any
	_ = decodeJSON(b, &out)
	return out
}

// jsonEqual compares decoded JSON values.
func jsonEqual(a, b any) bool { return reflect.DeepEqual(a, b) }
