// Package histories checks concord's promises over random concurrent
// histories: several clients (separate Client values, and one separate OS
// process) run random operations on a few items of one server, through a
// fault proxy (toxiproxy) that delays, resets and cuts connections; every
// operation's call, return, input and outcome is recorded, and porcupine
// checks that the history is linearizable against a model of an item.
// An example proves the path its author imagined; a history checked
// against a model proves every path the random schedule took.
package histories

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Doc is the document every item holds: a counter and the token of the
// write that wrote it, unique per write, so that a version can be named
// by the write that made it.
type Doc struct {
	N int    `json:"n"`
	W string `json:"w"`
}

// Kind is an operation of the workload.
type Kind string

// The operations the workload runs on an item.
const (
	KindGet      Kind = "Get"
	KindUpdate   Kind = "Update"   // N+1, W set to the op's token
	KindReplace  Kind = "Replace"  // to {N, W: token}, conditional on Base
	KindCreateAt Kind = "CreateAt" // {N, W: token}, create-only
	KindDelete   Kind = "Delete"   // conditional on Base
	KindCreate   Kind = "Create"   // a POST to the collection, keyed; checked by count, not by the model
	KindAll      Kind = "All"      // lists the items; checked as a Get of each item during the call (see reads)
)

// Input is what an operation was asked to do.
type Input struct {
	Kind  Kind   `json:"kind"`
	Item  string `json:"item"`
	N     int    `json:"n"`     // the value a Replace or CreateAt writes
	Token string `json:"token"` // the W a write writes
	// Base is the W of the version a Replace or Delete is conditional on:
	// the one its client last saw (WithBaseVersion, or the version the
	// client tracks); "" for a Replace that creates.
	Base string `json:"base"`
}

// Outcome is how an operation ended, as its caller can tell.
type Outcome string

// The outcomes. Unknown is an error after which the write may or may not
// have taken effect (a timeout, a connection reset): porcupine lets it
// take effect at any time after its call, or never.
const (
	OK       Outcome = "ok"
	NotFound Outcome = "not-found"
	Conflict Outcome = "conflict" // refused as stale: the item is not at the base
	Refused  Outcome = "refused"  // given up before writing (no usable version, no lock): did not take effect
	Exists   Outcome = "exists"   // a create found the item there
	Applied  Outcome = "applied"  // took effect, its answer lost (ErrWriteApplied)
	Unknown  Outcome = "unknown"
)

// Output is what an operation returned.
type Output struct {
	Outcome Outcome `json:"outcome"`
	Doc     Doc     `json:"doc"`              // for OK: what a read or write returned
	Listed  []Doc   `json:"listed,omitempty"` // for an All that ended OK: the items it listed
	Err     string  `json:"err,omitempty"`    // the error, for the reader
	// Resent names a write of the operation that the client saw answered
	// 2xx and sent again (see resends): never allowed.
	Resent string `json:"resent,omitempty"`
}

// state is one item's state in the model.
type state struct {
	Exists bool
	Doc    Doc
}

// Limits are what a server cannot give any client, as docs/servers.md
// says, and the model therefore allows there (and only there).
type Limits struct {
	// StaleReads: a read may return an older version (nginx answers a
	// revalidation 304 for content changed within the same second).
	StaleReads bool
	// Reapplied: an Update may apply its mutate more than once, once more
	// for each attempt whose answer was lost, since the server ignores
	// idempotency keys on PUT (most do): the resend is refused as stale,
	// and the conflict loop applies mutate again to a state that holds
	// the earlier application, which other writes may have followed.
	// docs/resources.md says to prefer absolute mutations there. Check
	// gives each Update maxReapplied-1 earlier applications that may have
	// happened at any time during its call (see reapplied).
	Reapplied bool
	// RacyPreconditions: the server checks a precondition and then
	// writes, holding nothing in between (Apache mod_dav's If-Match), so
	// a conditional write or delete may go through on a version another
	// writer wrote after the check: the model lets each succeed from any
	// state. Reads are still checked against what was written.
	RacyPreconditions bool
	// BlindDeletes: a Delete takes effect whatever its precondition
	// (fake-gcs-server's ifGenerationMatch on DELETE).
	BlindDeletes bool
}

// maxReapplied bounds the applications of one Update that Limits.Reapplied
// allows: a call's attempts are bounded, and more would only slow the
// checker.
const maxReapplied = 4

// step returns the states an item can be in after op, from s: none when
// the outcome is impossible from s, given the server's limits.
func step(s state, in Input, out Output, limits Limits) []state {
	if out.Outcome == Refused {
		return []state{s}
	}
	written := state{Exists: true, Doc: Doc{N: in.N, W: in.Token}}
	switch in.Kind {
	case KindGet:
		if limits.StaleReads {
			return []state{s}
		}
		switch out.Outcome {
		case OK:
			return when(s.Exists && (s.Doc == out.Doc || s.Doc.N == anyN && s.Doc.W == out.Doc.W), s)
		case NotFound:
			return when(!s.Exists, s)
		}
		return []state{s} // a failed read changes nothing
	case KindUpdate:
		if limits.RacyPreconditions {
			return racyUpdate(s, in, out)
		}
		next := []state{{Exists: true, Doc: Doc{N: s.Doc.N + 1, W: in.Token}}}
		switch out.Outcome {
		case OK:
			for _, n := range next {
				if s.Exists && out.Doc == n.Doc {
					return []state{n}
				}
			}
			return nil
		case Applied:
			if !s.Exists {
				return nil
			}
			return next
		case NotFound:
			return when(!s.Exists, s)
		case Conflict:
			return []state{s}
		}
		if !s.Exists {
			return []state{s}
		}
		return append([]state{s}, next...)
	case KindCreateAt:
		switch out.Outcome {
		case OK, Applied:
			return when(!s.Exists || limits.RacyPreconditions, written)
		case Exists, Conflict:
			return when(s.Exists, s)
		}
		return []state{s, written}
	case KindReplace:
		// With a base, conditional on it. Without one (its client saw no
		// item), an upsert: concord reads the item and creates it, or
		// writes conditionally on the version it just read, as documented.
		// A racy precondition lets the write through from any version,
		// but what refused it was a check of the version then.
		holds := in.Base == "" || s.Exists && s.Doc.W == in.Base
		switch out.Outcome {
		case OK, Applied:
			return when(holds || limits.RacyPreconditions, written)
		case Conflict:
			return when(in.Base == "" || !holds || ambiguous(s, in, limits), s)
		case NotFound:
			return when(!s.Exists, s)
		}
		return []state{s, written}
	case KindDelete:
		gone := state{}
		switch out.Outcome {
		case OK, Applied:
			// Delete is idempotent: an item already gone (an earlier
			// attempt's, or another writer's) is the success it was.
			return when(!s.Exists || s.Doc.W == in.Base || limits.RacyPreconditions || limits.BlindDeletes, gone)
		case Conflict:
			return when(s.Exists && (s.Doc.W != in.Base || ambiguous(s, in, limits)), s)
		case NotFound:
			return when(!s.Exists, s)
		}
		return []state{s, gone}
	}
	return nil
}

// racyUpdate is an Update's step on a server whose preconditions hold
// nothing between their check and the write (Limits.RacyPreconditions):
// it may have written from any version it read, even of an item deleted
// since, so what it wrote is known only from its answer; without one, its
// counter is anyN.
func racyUpdate(s state, in Input, out Output) []state {
	written := state{Exists: true, Doc: Doc{N: anyN, W: in.Token}}
	switch out.Outcome {
	case OK:
		return when(out.Doc.W == in.Token, state{Exists: true, Doc: out.Doc})
	case NotFound:
		return when(!s.Exists, s)
	case Conflict:
		return []state{s}
	case Applied:
		return []state{written}
	}
	return []state{s, written}
}

// anyN is the counter of a version whose counter the model cannot know
// (see racyUpdate): a read of it may find any.
const anyN = -1

// ambiguous reports whether the version in names by its Base may not be
// the one the item holds although its W is: an Update applied more than
// once (Limits.Reapplied) writes versions that share a W, so a write
// conditional on one of them may be refused on another.
func ambiguous(s state, in Input, limits Limits) bool {
	return limits.Reapplied && s.Exists && s.Doc.W == in.Base
}

// when returns []state{s} if ok, none otherwise.
func when(ok bool, s state) []state {
	if !ok {
		return nil
	}
	return []state{s}
}

// Model is the porcupine model of the items: each a register holding a Doc,
// or absent, checked on its own (partitioned by item), on a server with
// limits.
func Model(limits Limits) porcupine.Model {
	m := porcupine.NondeterministicModel{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byItem := map[string][]porcupine.Operation{}
			var items []string
			for _, op := range history {
				item := op.Input.(Input).Item
				if _, ok := byItem[item]; !ok {
					items = append(items, item)
				}
				byItem[item] = append(byItem[item], op)
			}
			out := make([][]porcupine.Operation, 0, len(items))
			for _, item := range items {
				out = append(out, byItem[item])
			}
			return out
		},
		Init: func() []interface{} { return []interface{}{state{}} },
		Step: func(s, in, out interface{}) []interface{} {
			var next []interface{}
			for _, n := range step(s.(state), in.(Input), out.(Output), limits) {
				next = append(next, n)
			}
			return next
		},
		DescribeOperation: func(in, out interface{}) string {
			i, o := in.(Input), out.(Output)
			d := fmt.Sprintf("%s(%s n=%d w=%s base=%s) -> %s %+v", i.Kind, i.Item, i.N, i.Token, i.Base, o.Outcome, o.Doc)
			if o.Err != "" {
				d += " (" + o.Err + ")"
			}
			return d
		},
		DescribeState: func(s interface{}) string {
			st := s.(state)
			if !st.Exists {
				return "absent"
			}
			return fmt.Sprintf("n=%d w=%s", st.Doc.N, st.Doc.W)
		},
	}
	return m.ToModel()
}
