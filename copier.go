package concord

// Layer: Memory (ARCHITECTURE.md).

import (
	"encoding"
	"encoding/json"
	"reflect"
)

// A copier copies values of one type without JSON, so that a warm Update
// of a large document can give mutate a value of its own without decoding
// the bytes the client wrote (a decode of 1 MiB costs several times the
// write itself).
//
// It copies only types that JSON sees whole: every struct field exported
// and not tagged "-", no interface, func, channel or complex number, and
// no type with a JSON or text marshaler of its own. For those, a copy of a
// value encodes to exactly what the value encodes to, and it shares no
// memory that either side can change: slices, maps and pointers are
// copied, strings (which cannot change) are shared. Any other type is
// decoded, as before.
type copier struct {
	// ok reports that the type can be copied.
	ok bool
}

// minCopiedBody is the smallest body whose decoded value the client keeps
// beside it, so that an Update copies it instead of decoding: a smaller
// document decodes in microseconds, not worth the copy at every write.
const minCopiedBody = 64 << 10

func newCopier(t reflect.Type) copier {
	return copier{ok: copyable(t, map[reflect.Type]bool{})}
}

var (
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// copyable reports whether values of t can be copied field by field with
// the same JSON; seen holds the types being checked, for recursive ones.
func copyable(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return true
	}
	seen[t] = true
	for _, m := range []reflect.Type{jsonMarshaler, jsonUnmarshaler, textMarshaler, textUnmarshaler} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return false
		}
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Array, reflect.Slice, reflect.Pointer:
		return copyable(t.Elem(), seen)
	case reflect.Map:
		return copyable(t.Key(), seen) && copyable(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" || !copyable(f.Type, seen) {
				return false
			}
		}
		return true
	}
	return false
}

// copyValue sets dst, settable, to a copy of src, of a copyable type, and
// returns the bytes the copy holds beyond its own inline size: what it
// allocated, and the strings it shares with src, which it keeps alive once
// src is gone. That is what the version cache charges for it: a value's
// memory can far exceed its JSON (a row of 26 empty omitempty strings is
// 2 bytes of JSON and 416 of memory).
func copyValue(dst, src reflect.Value) int64 {
	switch src.Kind() {
	case reflect.String:
		dst.Set(src)
		return int64(src.Len())
	case reflect.Pointer:
		if src.IsNil() {
			dst.SetZero()
			return 0
		}
		p := reflect.New(src.Type().Elem())
		held := int64(src.Type().Elem().Size()) + copyValue(p.Elem(), src.Elem())
		dst.Set(p)
		return held
	case reflect.Slice:
		if src.IsNil() {
			dst.SetZero()
			return 0
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		held := int64(src.Len()) * int64(src.Type().Elem().Size())
		if bare(src.Type().Elem()) {
			reflect.Copy(s, src)
		} else {
			for i := range src.Len() {
				held += copyValue(s.Index(i), src.Index(i))
			}
		}
		dst.Set(s)
		return held
	case reflect.Map:
		if src.IsNil() {
			dst.SetZero()
			return 0
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		elem := reflect.New(src.Type().Elem()).Elem()
		key := reflect.New(src.Type().Key()).Elem()
		entry := int64(src.Type().Key().Size()+src.Type().Elem().Size()) + mapEntryOverhead
		held := int64(src.Len()) * entry
		for it := src.MapRange(); it.Next(); {
			held += copyValue(elem, it.Value()) + copyValue(key, it.Key())
			m.SetMapIndex(key, elem)
		}
		dst.Set(m)
		return held
	case reflect.Struct:
		if bare(src.Type()) {
			dst.Set(src)
			return 0
		}
		var held int64
		for i := range src.NumField() {
			held += copyValue(dst.Field(i), src.Field(i))
		}
		return held
	case reflect.Array:
		if bare(src.Type()) {
			dst.Set(src)
			return 0
		}
		var held int64
		for i := range src.Len() {
			held += copyValue(dst.Index(i), src.Index(i))
		}
		return held
	default:
		dst.Set(src)
		return 0
	}
}

// mapEntryOverhead approximates what a map entry costs beyond its key and
// value: its share of the buckets, their control bytes and spare slots.
const mapEntryOverhead = 16

// bare reports whether t refers to nothing outside itself: no slice, map,
// pointer or string, so that a copy of it is the copy of its bytes and
// holds nothing more.
func bare(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.String:
		return false
	case reflect.Array:
		return bare(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !bare(t.Field(i).Type) {
				return false
			}
		}
	}
	return true
}

// copyOf returns a copy of v that shares nothing changeable with it, and
// the bytes the copy holds (see copyValue), its own size included. Its
// type must be copyable.
func copyOf[T any](v *T) (T, int64) {
	var out T
	held := copyValue(reflect.ValueOf(&out).Elem(), reflect.ValueOf(v).Elem())
	return out, held + int64(reflect.TypeFor[T]().Size())
}
