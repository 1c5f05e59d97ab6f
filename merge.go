package concord

// Layer: Operations (ARCHITECTURE.md).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
)

// MergeFunc resolves a stale-version conflict. base is the version mine was
// derived from (theirs, when concord never saw the base), mine is what this
// writer wants, theirs is what the server holds now. It returns the value to
// write against theirs' version. All three are private copies. Returning an
// error (ErrMergeAborted, or any other) stops the call without writing; a
// result equal to theirs ends the call without writing.
type MergeFunc[T any] func(base, mine, theirs T) (T, error)

// MineWins writes mine over whatever the server holds, now conditional on
// the fresh version: a deliberate, visible "force". It drops theirs'
// changes to members mine did not change, which ThreeWay with
// OnClash(ClashKeepMine) keeps; and unlike WithUnconditional (for APIs
// without versions) it still never overwrites a state it has not seen.
func MineWins[T any]() MergeFunc[T] {
	return func(_, mine, _ T) (T, error) { return mine, nil }
}

// TheirsWins keeps the server's version: the call ends without writing and
// returns theirs, with Result.Unchanged set.
func TheirsWins[T any]() MergeFunc[T] {
	return func(_, _, theirs T) (T, error) { return theirs, nil }
}

// MergeMutate turns a mutate function into a merge that re-applies the
// intent to theirs: the read-modify-write that Update performs.
func MergeMutate[T any](mutate func(*T) error) MergeFunc[T] {
	return func(_, _, theirs T) (T, error) {
		err := mutate(&theirs)
		return theirs, err
	}
}

// ThreeWay is a JSON three-way merge (see MergeJSON): the members mine
// changed relative to base are applied onto theirs; clashing edits follow
// OnClash, failing by default with a *MergeClashError naming them.
func ThreeWay[T any](opts ...MergeOption) MergeFunc[T] {
	return func(base, mine, theirs T) (T, error) {
		var zero T
		var docs [3][]byte
		for i, v := range []T{base, mine, theirs} {
			b, err := json.Marshal(v)
			if err != nil {
				return zero, fmt.Errorf("concord: three-way merge: encoding %T: %w", v, err)
			}
			docs[i] = b
		}
		merged, err := MergeJSON(docs[0], docs[1], docs[2], opts...)
		if err != nil {
			return zero, err
		}
		var out T
		if err := json.Unmarshal(merged, &out); err != nil {
			return zero, fmt.Errorf("concord: three-way merge result does not decode into %T: %w", out, err)
		}
		return out, nil
	}
}

// merged is what a merge gave: the value to write, its encoding, and
// whether it leaves nothing to write (it equals theirs).
type merged[T any] struct {
	value     T
	body      []byte
	unchanged bool
}

// mergeOnto runs the write's merge function with (base, mine, theirs) on
// private copies, decoded from the bytes (mine from what the write
// encoded, base from theirs when the base is unknown), and reports the
// merge to the hooks.
func (w *write[T]) mergeOnto(theirs snapshot) (m merged[T], err error) {
	baseBody := w.base.body
	if baseBody == nil {
		baseBody = theirs.body
	}
	var base, mine, their T
	for _, d := range []struct {
		body []byte
		dst  *T
	}{{baseBody, &base}, {w.mineBody, &mine}, {theirs.body, &their}} {
		if err := json.Unmarshal(d.body, d.dst); err != nil {
			return m, &DecodeError{Method: http.MethodGet, URL: w.url(), Type: fmt.Sprintf("%T", *d.dst), Err: err}
		}
	}
	theirBody, err := json.Marshal(their) // before the merge function can touch it
	if err != nil {
		return m, fmt.Errorf("concord: encoding %T: %w", their, err)
	}
	event := MergeEvent{InvocationID: w.cl.id, URL: w.url(), Attempt: w.round}
	w.turn.callback(func() { m.value, err = safeMerge(w.merge, base, mine, their) })
	if err != nil {
		event.Outcome, event.Err = MergeFailed, err
		w.r.c.observeMerge(w.cl.ctx, event)
		return m, fmt.Errorf("concord: merge for %s: %w", w.url(), err)
	}
	if m.body, err = json.Marshal(m.value); err != nil {
		return m, fmt.Errorf("concord: encoding the merge result: %w", err)
	}
	m.unchanged = bytes.Equal(m.body, theirBody)
	event.Outcome = MergeMerged
	if m.unchanged {
		event.Outcome = MergeUnchanged
	}
	w.r.c.observeMerge(w.cl.ctx, event)
	return m, nil
}

// safeMerge calls a user's merge function, turning a panic into a
// *PanicError.
func safeMerge[T any](fn MergeFunc[T], base, mine, theirs T) (out T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Func: "merge", Value: p, Stack: debug.Stack()}
		}
	}()
	return fn(base, mine, theirs)
}

// safeMutate calls a user's mutate function, turning a panic into a
// *PanicError.
func safeMutate[T any](fn func(*T) error, v *T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Func: "mutate", Value: p, Stack: debug.Stack()}
		}
	}()
	return fn(v)
}
