package concord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// MergeFunc resolves a stale-version conflict. base is the version mine was
// derived from (theirs, when concord never saw the base), mine is what this
// writer wants, theirs is what the server holds now. It returns the value to
// write against theirs' version. All three are private copies. Returning an
// error (ErrMergeAborted, or any other) stops the call without writing; a
// result equal to theirs ends the call without writing.
type MergeFunc[T any] func(base, mine, theirs T) (T, error)

// MineWins writes mine over whatever the server holds, now conditional on
// the fresh version: a deliberate, visible "force".
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

// ConflictPolicy sets how the conflict loop retries a write after a
// stale-version conflict (and how long Create waits for a key that is in
// progress). The zero value means the defaults below.
type ConflictPolicy struct {
	// MaxAttempts bounds the writes one call makes, the first included.
	// Default 10.
	MaxAttempts int
	// NewBackOff returns a fresh backoff for each call; concord calls
	// NextBackOff before each refetch and stops on backoff.Stop. Default:
	// exponential from 10ms, doubling, ±50% jitter, at most 1s per wait,
	// no elapsed-time limit (the context's deadline bounds it).
	NewBackOff func() backoff.BackOff
}

// Default conflict settings.
const (
	DefaultConflictAttempts        = 10
	DefaultConflictInitialInterval = 10 * time.Millisecond
	DefaultConflictMaxInterval     = time.Second
)

func (p ConflictPolicy) withDefaults() ConflictPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultConflictAttempts
	}
	if p.NewBackOff == nil {
		p.NewBackOff = defaultConflictBackOff
	}
	return p
}

// defaultConflictBackOff makes one backoff per call: cenkalti's values hold
// per-call state and are not safe to share between goroutines.
func defaultConflictBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(DefaultConflictInitialInterval),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxInterval(DefaultConflictMaxInterval),
		backoff.WithMaxElapsedTime(0),
	)
	return b
}

// Replace writes mine as the new state of item id, conditional on the
// version the client tracks for it (or WithVersion). With no version known
// it first GETs the item, and creates it with If-None-Match: * when it does
// not exist. On a stale-version conflict it fetches the current version
// (theirs), calls the resource's merge (see WithMerge) with (base, mine, theirs) and
// writes the result against theirs' version, with backoff, until it
// succeeds, the merge gives up or ConflictPolicy's limit or the context's
// deadline is reached. Without a merge function it returns a
// *ConflictError rather than overwrite. With WithUnconditional and no
// version known it writes blindly, and answers a 428 Precondition Required
// by fetching the version and writing once more, conditionally.
//
// Replace never overwrites a version mine was not derived from: the
// precondition is WithVersion's version (pass Result.Version of the read
// mine came from), or else the version this client last read or wrote for
// the item. A failed call leaves that version where it was, so repeating a
// rejected Replace is rejected again rather than taken against whatever the
// conflict loop saw meanwhile. Another goroutine's Get through the same
// client does move it: goroutines that share a client and read the same
// item should pass WithVersion.
func (r *Resource[T]) Replace(ctx context.Context, id string, mine T, opts ...WriteOption) (res *Result[T], err error) {
	cl, start := r.c.newCall(), r.c.clock.Now()
	defer func() { r.c.callDone(ctx, "Replace", r.path, id, cl, start, conflictsOf(res, err), err) }()
	o := withOptions(&r.base, opts)
	cl.override(o.retry)
	u, err := r.itemURL(id, o)
	if err != nil {
		return nil, err
	}
	turn, err := r.c.writeLocks.lock(ctx, u)
	if err != nil {
		return nil, err
	}
	defer r.c.writeLocks.unlock(u)
	base, known := r.c.versions.get(u)
	switch {
	case o.version != "":
		if base.version != o.version {
			base = snapshot{version: o.version} // the base is unknown: merge from theirs
		}
	case !known && !o.unconditional:
		f, err := r.fetch(ctx, cl, u, o, true)
		if errors.Is(err, ErrNotFound) {
			return r.createAt(ctx, cl, id, mine, o)
		}
		if err != nil {
			return nil, err
		}
		base = f.snap
	}
	return r.writeLoop(ctx, &write[T]{url: u, mine: mine, base: base, merge: r.mergeFunc, opts: o, call: cl, turn: turn})
}

// Update applies mutate to the current value of item id and writes the
// result conditionally: a read-modify-write that never loses a concurrent
// update. It starts from the tracked copy (or GETs one), and after each
// conflict re-applies mutate to a fresh copy of the newest version. mutate
// may run several times and must depend only on its argument; returning an
// error (such as ErrMergeAborted) stops the call without writing. A mutate
// that changes nothing writes nothing. Calls on one resource through one
// client take turns (see WithConcurrentWrites), so mutate must not write
// that resource through the same client: such a write fails at once with
// ErrReentrantWrite.
func (r *Resource[T]) Update(ctx context.Context, id string, mutate func(*T) error, opts ...WriteOption) (res *Result[T], err error) {
	cl, start := r.c.newCall(), r.c.clock.Now()
	defer func() { r.c.callDone(ctx, "Update", r.path, id, cl, start, conflictsOf(res, err), err) }()
	o := withOptions(&r.base, opts)
	cl.override(o.retry)
	u, err := r.itemURL(id, o)
	if err != nil {
		return nil, err
	}
	turn, err := r.c.writeLocks.lock(ctx, u)
	if err != nil {
		return nil, err
	}
	defer r.c.writeLocks.unlock(u)
	base, cached := r.c.versions.get(u)
	cached = cached && base.body != nil // a version without its body: read it
	for {
		if !cached {
			f, err := r.fetch(ctx, cl, u, o, true)
			if err != nil {
				return nil, err
			}
			base = f.snap
		}
		var mine T
		if err := decode(r.c, &Response{Body: base.body}, http.MethodGet, u, &mine); err != nil {
			return nil, err
		}
		// The no-op check compares encodings of T before and after mutate:
		// one encode more, instead of decoding both into generic maps.
		before, err := json.Marshal(mine)
		if err != nil {
			return nil, fmt.Errorf("concord: encoding %T: %w", mine, err)
		}
		turn.callback(func() { err = safeMutate(mutate, &mine) })
		if err != nil {
			return nil, fmt.Errorf("concord: update %s: %w", r.c.redact.url(u), err)
		}
		mineBody, err := json.Marshal(mine)
		if err != nil {
			return nil, fmt.Errorf("concord: encoding %T: %w", mine, err)
		}
		if !bytes.Equal(mineBody, before) {
			return r.writeLoop(ctx, &write[T]{url: u, mine: mine, mineBody: mineBody, base: base, merge: MergeMutate(mutate), opts: o, call: cl, turn: turn})
		}
		if cached {
			// Nothing to write according to the tracked copy, which may be
			// stale: check against the server once before saying so.
			cached = false
			continue
		}
		return &Result[T]{Value: mine, Version: base.version, Unchanged: true, Response: Response{Body: base.body, ETag: etagOf(base.version), Requests: cl.sent()}}, nil
	}
}

// write is the state of one conditional write through the conflict loop.
type write[T any] struct {
	url      string
	mine     T
	mineBody []byte   // mine encoded, when already known; nil otherwise
	base     snapshot // body nil when the base is unknown
	merge    MergeFunc[T]
	opts     *callOptions
	call     *call
	turn     *writeLock // nil with WithConcurrentWrites
}

// writeLoop sends a conditional write and resolves stale-version conflicts
// by refetching (or reading the state the conflict response carried),
// merging and writing again against the new version. The reads it makes on
// its own are not remembered as the tracked version: only a write that
// succeeds moves it.
func (r *Resource[T]) writeLoop(ctx context.Context, w *write[T]) (*Result[T], error) {
	c, o := r.c, w.opts
	limit := c.conflict.MaxAttempts
	if o.maxConflicts > 0 {
		limit = o.maxConflicts
	}
	var (
		bo          backoff.BackOff // made at the first wait: most calls never wait
		key         idempotencyKey
		required    bool // a 428 was answered once already
		conflicts   int
		conflictErr = func(kind ConflictKind, round int, version string, err error) error {
			return &ConflictError{Kind: kind, Attempts: round, Version: version, Err: err}
		}
		backOff = func() error {
			if bo == nil {
				bo = c.conflict.NewBackOff()
			}
			d := bo.NextBackOff()
			if d == backoff.Stop {
				return errors.New("concord: the conflict backoff stopped")
			}
			return c.wait(ctx, d)
		}
	)
	for round := 1; ; round++ {
		out, sent, err := r.buildWrite(w, &key)
		if errors.Is(err, ErrNoVersion) && !o.unconditional {
			// No version the versioner can send (a weak ETag, as Apache
			// serves for a second after each write): never write without
			// one, but wait for the server to serve a usable one.
			f, ferr := r.awaitVersion(ctx, w.call, w.url, o, limit, backOff)
			if ferr != nil {
				return nil, fmt.Errorf("concord: write to %s: %w", r.c.redact.url(w.url), ferr)
			}
			if w.base.version != "" && !sameVersion(w.base.version, f.snap.version) {
				// The item changed since the version mine came from: a
				// stale conflict, found before writing.
				conflicts++
				if w.merge == nil {
					return nil, conflictErr(KindStaleVersion, round, w.base.version, fmt.Errorf("%w: the item changed since version %s", ErrConflict, w.base.version))
				}
				if res, err := r.mergeRound(ctx, w, w.mineBody, f, round, conflicts); res != nil || err != nil {
					return res, err
				}
				continue
			}
			w.base = f.snap
			out, sent, err = r.buildWrite(w, &key)
		}
		if err != nil {
			return nil, fmt.Errorf("concord: write to %s: %w", r.c.redact.url(w.url), err)
		}
		wireBefore := w.call.wire.Load()
		resp, err := c.exchange(ctx, w.call, &out)
		if err == nil {
			return r.written(&resp, w.url, w.mine, sent, o, conflicts), nil
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || (apiErr.Kind != KindStaleVersion && apiErr.Kind != KindPreconditionRequired) {
			return nil, err
		}
		conflicts++
		c.observeConflict(ctx, ConflictEvent{InvocationID: w.call.id, Method: out.method, URL: r.c.redact.url(w.url), Kind: apiErr.Kind, StatusCode: apiErr.StatusCode, Attempt: round, Version: w.base.version})
		switch {
		case apiErr.Kind == KindPreconditionRequired && (required || out.conditional):
			return nil, err
		case apiErr.Kind == KindStaleVersion && w.merge == nil:
			if w.call.wire.Load()-wireBefore > 1 {
				// The write went out more than once (a retry, or net/http's
				// own resend): the 412 may answer our own write that took
				// effect. If the server holds exactly what we sent, it did.
				if res := r.appliedAlready(ctx, w, sent, conflicts); res != nil {
					return res, nil
				}
			}
			return nil, conflictErr(apiErr.Kind, round, w.base.version, err)
		case round >= limit:
			return nil, conflictErr(apiErr.Kind, round, w.base.version, err)
		}
		// The current state. After a first conflict, the state the
		// conflict response carried (when the API sends it) is used at
		// once: it is as fresh as it will ever be, and waiting would only
		// let it go stale. A second conflict means real contention: then
		// concord backs off and fetches after the wait, so that it sees what
		// the other writers did meanwhile. (Retrying at once every time
		// herds the writers: measured, it sent three times the requests.)
		var theirs *fetched
		if round == 1 {
			theirs = r.carried(w, &resp)
		}
		if theirs == nil {
			if apiErr.Kind == KindStaleVersion {
				if werr := backOff(); werr != nil {
					return nil, conflictErr(apiErr.Kind, round, w.base.version, errors.Join(werr, err))
				}
			}
			f, ferr := r.fetch(ctx, w.call, w.url, o, false)
			if ferr != nil {
				return nil, ferr
			}
			theirs = &f
		}
		if apiErr.Kind == KindPreconditionRequired {
			// The server wants a precondition: send the same value once,
			// conditional on the version it holds.
			required = true
			w.base = theirs.snap
			continue
		}
		if theirs.snap.version != "" && theirs.snap.version == w.base.version {
			return nil, conflictErr(apiErr.Kind, round, w.base.version, fmt.Errorf("%w: %w", ErrConflictPersists, err))
		}
		if res, err := r.mergeRound(ctx, w, sent, theirs, round, conflicts); res != nil || err != nil {
			return res, err
		}
	}
}

// mergeRound merges mine (encoded as sent) onto theirs. It returns the
// call's result when nothing is left to write, an error when the merge
// gave up, or neither when w now holds the merged write for the next round.
func (r *Resource[T]) mergeRound(ctx context.Context, w *write[T], sent []byte, theirs *fetched, round, conflicts int) (*Result[T], error) {
	merged, mergedBody, unchanged, err := r.merge(ctx, w, sent, theirs.snap, round)
	if err != nil {
		return nil, err
	}
	if unchanged {
		res, err := r.result(theirs, conflicts)
		if err != nil {
			return nil, err
		}
		r.c.versions.put(w.url, theirs.snap)
		res.Unchanged = true
		return res, nil
	}
	w.base, w.mine, w.mineBody = theirs.snap, merged, mergedBody
	return nil, nil
}

// awaitVersion reads the item until the server serves a version the
// versioner can send, backing off between reads, at most limit reads. It
// fails with ErrNoVersion when none comes, or at once when the server
// serves no version at all, which waiting will not change.
func (r *Resource[T]) awaitVersion(ctx context.Context, cl *call, u string, o *callOptions, limit int, backOff func() error) (*fetched, error) {
	for tries := 1; ; tries++ {
		if tries > 1 {
			if err := backOff(); err != nil {
				return nil, fmt.Errorf("%w: waiting for a usable version: %w", ErrNoVersion, err)
			}
		}
		f, err := r.fetch(ctx, cl, u, o, false)
		if err != nil {
			return nil, err
		}
		switch {
		case usable(o.versioner, f.snap.version):
			return &f, nil
		case f.snap.version == "":
			return nil, fmt.Errorf("%w: the server sends none", ErrNoVersion)
		case tries >= limit:
			return nil, fmt.Errorf("%w: still %s after %d reads", ErrNoVersion, f.snap.version, tries)
		}
	}
}

// usable reports whether the versioner can make a write conditional on
// version: a strong ETag (or any, when Opaque), or any body version.
func usable(v Versioner, version string) bool {
	if ev, ok := v.(ETagVersion); ok {
		tag, err := ParseETag(version)
		return err == nil && (!tag.IsWeak() || ev.Opaque)
	}
	return version != ""
}

// sameVersion reports whether two versions name the same state: ETags
// under weak comparison (Apache's W/"x" and "x" are one file state), other
// versions byte for byte.
func sameVersion(a, b string) bool {
	ta, errA := ParseETag(a)
	tb, errB := ParseETag(b)
	if errA == nil && errB == nil {
		return ta.WeakEqual(tb)
	}
	return a == b
}

// appliedAlready reads the item after a write that went out more than once
// was rejected as stale, and returns the result of a successful write when
// the server holds exactly what was sent; nil otherwise. For a Replace,
// whose value is absolute, that state is the write's outcome whoever made
// it.
func (r *Resource[T]) appliedAlready(ctx context.Context, w *write[T], sent []byte, conflicts int) *Result[T] {
	f, err := r.fetch(ctx, w.call, w.url, w.opts, false)
	if err != nil || !sameJSON(roundTrip[T](f.snap.body), sent, versionPath(w.opts.versioner)) {
		return nil
	}
	res, err := r.result(&f, conflicts)
	if err != nil {
		return nil
	}
	r.c.versions.put(w.url, f.snap)
	return res
}

// buildWrite encodes the write of one round: the body (or merge patch),
// its version precondition and, unless WithoutIdempotencyKey, its
// idempotency key, fresh whenever the bytes or the version change.
func (r *Resource[T]) buildWrite(w *write[T], key *idempotencyKey) (outgoing, []byte, error) {
	o := w.opts
	full := w.mineBody
	if full == nil {
		var err error
		if full, err = json.Marshal(w.mine); err != nil {
			return outgoing{}, nil, fmt.Errorf("concord: encoding %T: %w", w.mine, err)
		}
		w.mineBody = full
	}
	var err error
	out := *r.outgoing(o.at.writeMethod, o.at.write, o)
	body := full
	if o.patch && w.base.body != nil {
		if body, err = MergePatch(roundTrip[T](w.base.body), full); err != nil {
			return outgoing{}, nil, err
		}
		out.method, out.contentType = http.MethodPatch, "application/merge-patch+json"
	}
	q := o.query
	if _, plain := o.versioner.(ETagVersion); !plain {
		q = cloneValues(o.query) // a versioner may add to the query
	}
	switch {
	case w.base.version != "":
		if body, err = o.versioner.Apply(w.base.version, out.ensureHeader(), q, body); err != nil {
			return outgoing{}, nil, err
		}
		out.conditional = true
	case !o.unconditional:
		return outgoing{}, nil, fmt.Errorf("%w (no version known for %s)", ErrNoVersion, r.c.redact.url(w.url))
	}
	out.setQuery(q)
	out.body = body
	if !o.noKey {
		// The key stands for these bytes against this version: a round
		// that changes either gets a fresh key, or the server would replay
		// the previous round's answer.
		if out.key, err = r.c.keyFor(key, o.key, w.base.version, body); err != nil {
			return outgoing{}, nil, err
		}
	}
	return out, full, nil
}

// carried returns the state a conflict response carried, when it carried
// a representation with a version other than the one just rejected (a
// response echoing that version is not the current state), or nil.
func (r *Resource[T]) carried(w *write[T], resp *Response) *fetched {
	if resp == nil || !carriesState(resp) {
		return nil
	}
	v := w.opts.versioner.Version(resp.Header, resp.Body)
	if v == "" || v == w.base.version {
		return nil
	}
	var probe T
	if json.Unmarshal(resp.Body, &probe) != nil {
		return nil
	}
	snap := snapshot{version: v, etag: resp.ETag, body: resp.Body}
	return &fetched{snap: snap, resp: *resp, url: w.url}
}

// carriesState reports whether a conflict response may hold the resource's
// current representation rather than an error document: it is
// application/json (not problem+json) and not a Kubernetes Status or an
// {"error": ...} body. The caller also requires a version other than the
// one the rejected write carried.
func carriesState(resp *Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" || len(resp.Body) == 0 {
		return false
	}
	dialect, _ := errorCode(resp.Header, resp.Body, nil)
	return dialect == dialectNone
}

// merge runs the merge function on private copies, decoded from the bytes
// (mineBody is what the rejected write encoded), and returns the result
// with its encoding and whether it leaves nothing to write.
func (r *Resource[T]) merge(ctx context.Context, w *write[T], mineBody []byte, theirs snapshot, round int) (merged T, mergedBody []byte, unchanged bool, err error) {
	baseBody := w.base.body
	if baseBody == nil {
		baseBody = theirs.body
	}
	var base, mine, their T
	for _, d := range []struct {
		body []byte
		dst  *T
	}{{baseBody, &base}, {mineBody, &mine}, {theirs.body, &their}} {
		if err := json.Unmarshal(d.body, d.dst); err != nil {
			return merged, nil, false, &DecodeError{Method: http.MethodGet, URL: r.c.redact.url(w.url), Type: fmt.Sprintf("%T", *d.dst), Err: err}
		}
	}
	theirBody, err := json.Marshal(their) // before the merge function can touch it
	if err != nil {
		return merged, nil, false, fmt.Errorf("concord: encoding %T: %w", their, err)
	}
	event := MergeEvent{InvocationID: w.call.id, URL: r.c.redact.url(w.url), Attempt: round}
	w.turn.callback(func() { merged, err = safeMerge(w.merge, base, mine, their) })
	if err != nil {
		event.Outcome, event.Err = MergeAborted, err
		r.c.observeMerge(ctx, event)
		return merged, nil, false, fmt.Errorf("concord: merge for %s: %w", r.c.redact.url(w.url), err)
	}
	if mergedBody, err = json.Marshal(merged); err != nil {
		return merged, nil, false, fmt.Errorf("concord: encoding the merge result: %w", err)
	}
	unchanged = bytes.Equal(mergedBody, theirBody)
	event.Outcome = MergeMerged
	if unchanged {
		event.Outcome = MergeUnchanged
	}
	r.c.observeMerge(ctx, event)
	return merged, mergedBody, unchanged, nil
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

// etagOf returns version as an ETag when it is one.
func etagOf(version string) ETag {
	tag, err := ParseETag(version)
	if err != nil {
		return ""
	}
	return tag
}

// conflictsOf is how many conflicts a call met: from its result, or from
// the *ConflictError it ended with.
func conflictsOf[T any](res *Result[T], err error) int {
	if res != nil {
		return res.Conflicts
	}
	var ce *ConflictError // escapes: declared after the success return
	if errors.As(err, &ce) {
		return ce.Attempts
	}
	return 0
}
