package main

// Layer: Commands (ARCHITECTURE.md).

// The checks that write, on the probe's own scratch items. Every verdict
// rests on what changed on the server, read back after the request, never
// on a status alone: a write "went through" when a read shows its nonce, a
// tag is "stale" only once the probe has seen it replaced, a key "replayed"
// only when a resend did not undo another write.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-go/concord"
)

// versionMembers are body members that commonly hold a version.
var versionMembers = []string{"_rev", "metadata.resourceVersion", "resourceVersion", "version", "etag", "generation", "odata.etag"}

// nonceMember is the member the probe's writes set to a fresh value, so
// that each write changes the content and a read shows whether it took
// effect.
const nonceMember = "concord_probe_nonce"

// bogusTag is an entity-tag no server has served.
const bogusTag = `"concord-probe-bogus"`

// withNonce returns body with a fresh nonce, and the nonce.
func withNonce(body []byte) ([]byte, string) {
	n := scratchID()
	return withMember(body, nonceMember, json.RawMessage(strconv.Quote(n))), n
}

// shows reports whether a read found the item holding nonce.
func shows(a answer, nonce string) bool { return a.ok() && bytes.Contains(a.body, []byte(nonce)) }

// tagOf returns a response's entity-tag, "" when absent or malformed.
func tagOf(a answer) concord.ETag {
	tag, _ := concord.ParseETag(a.header.Get("ETag"))
	return tag
}

// findings is what the write checks established, for the recommendation.
type findings struct {
	tagsMove      bool           // a change of content changed the ETag
	staleTag      string         // a tag the probe saw replaced, "" when none
	ifMatch       bool           // stale and bogus If-Match refused on the write method
	opaque        bool           // weak tags are compared as opaque strings
	member        string         // the version member of the body, if any
	bodyVersion   bool           // a stale body version refused
	createOnly    bool           // If-None-Match: * on an existing item refused
	postCreate    bool           // a POST to the collection creates
	postReplayed  bool           // a keyed POST resent was replayed
	postRefused   bool           // a POST resent was refused as a duplicate (409)
	deleteIfMatch bool           // a stale or bogus If-Match on DELETE refused
	deleteRev     bool           // a stale ?rev= on DELETE refused
	receipt       string         // the member of a write's answer naming the new body version, where the answer is a receipt
	deleteSafe    bool           // the precondition concord's Delete sends is honored
	patch         bool           // a merge patch changes what it names
	locker        concord.Locker // the Locker of a lock the server enforces; nil when none
	racy          bool           // two concurrent writes with one tag both went through
	torn          bool           // a read during a write was answered with a body no write wrote
}

// writes runs the checks on scratch items.
func (p *prober) writes(ctx context.Context) {
	t, how := p.create(ctx)
	if t.read == "" {
		return
	}
	p.add(finding{Property: "create", Verdict: how, Evidence: how, Concord: "the probe's scratch item; deleted at the end"})
	if p.cfg.versionParam != "" {
		p.queryVersions(ctx, t)
		return
	}
	var f findings
	cur := p.send(ctx, http.MethodGet, t.read, nil, nil)
	if !cur.ok() {
		p.add(finding{Property: "read back", Verdict: "failed", Evidence: "GET " + t.read + " -> " + status(cur), Breaks: true})
		return
	}
	tag, cur := p.etagKind(ctx, t, cur)
	var memberValue string
	f.member, memberValue = bodyVersion(cur.body)
	if f.member != "" {
		p.add(finding{Property: "version in the body", Verdict: f.member, Evidence: fmt.Sprintf("GET -> %s: %s", f.member, memberValue), Concord: "BodyVersion{Path: " + strconv.Quote(f.member) + "} if If-Match is not honored"})
	}
	if g := cur.header.Get("X-Goog-Generation"); g != "" {
		p.add(finding{Property: "version in a header", Verdict: "X-Goog-Generation", Evidence: "GET -> X-Goog-Generation: " + g, Concord: "QueryVersion{Header: \"X-Goog-Generation\", Param: \"ifGenerationMatch\"}"})
	}
	if tag != "" {
		cur = p.tagsMove(ctx, t, cur, tag, &f)
	}
	cur = p.staleIfMatch(ctx, t, cur, &f)
	if f.ifMatch && f.tagsMove {
		cur = p.atomicity(ctx, t, &f)
	}
	cur = p.staleBodyVersion(ctx, t, cur, &f)
	switch {
	case f.ifMatch && !f.tagsMove && !f.bodyVersion:
		// Refused, but with nothing a client could send: the evidence says
		// what was measured (issue #31: it said "each stale write took
		// effect" where the only one sent was refused with 412).
		p.add(finding{Property: "preconditions", Verdict: "NO VERSION TO SEND", Evidence: "If-Match with a tag the server never served was refused, but it serves no ETag that moves with the content, and no version in the body",
			Concord: "cannot prevent lost updates by preconditions here: no client has a version to send", Breaks: true})
	case !(f.ifMatch && f.tagsMove) && !f.bodyVersion:
		p.add(finding{Property: "preconditions", Verdict: "NONE HONORED", Evidence: "no stale version (If-Match or in the body) was refused: each stale write took effect",
			Concord: "cannot prevent lost updates here: no client can", Breaks: true})
	}
	// A write without any precondition, read back.
	uncond, _, took := p.write(ctx, t, t.method, jsonHeader(), stripMember(cur.body, f.member))
	verdict := "refused (" + status(uncond) + ")"
	switch {
	case took:
		verdict = "accepted"
	case uncond.status == http.StatusPreconditionRequired:
		verdict = "refused with 428"
	}
	p.add(finding{Property: "unconditional write", Verdict: verdict, Evidence: t.method + " without If-Match -> " + status(uncond) + ", " + yesNo(took, "took effect", "no change"),
		Concord: "never sends one unless WithUnconditional; answers 428 by fetching the version"})
	p.ifNoneMatch(ctx, t, &f)
	p.keys(ctx, t, &f)
	p.mergePatch(ctx, t, &f)
	p.deletes(ctx, &f)
	p.tornReads(ctx, t, &f)
	p.locks(ctx, t, &f)
	p.recommend(ctx, &f)
}

// etagKind reports the item's ETag: absent, strong, weak for a while after
// writes (it waits for the strong one), or always weak. It returns the tag
// and the read it came with.
func (p *prober) etagKind(ctx context.Context, t target, cur answer) (concord.ETag, answer) {
	tag := tagOf(cur)
	switch {
	case tag == "":
		p.add(finding{Property: "ETag", Verdict: "absent", Evidence: "GET -> no ETag", Concord: "needs a body version (BodyVersion) or another Versioner"})
	case tag.IsWeak():
		if !sleep(ctx, 1500*time.Millisecond) {
			return tag, cur
		}
		later := p.send(ctx, http.MethodGet, t.read, nil, nil)
		t2 := tagOf(later)
		if t2 != "" && !t2.IsWeak() {
			p.add(finding{Property: "ETag", Verdict: "weak for a while after writes", Evidence: fmt.Sprintf("GET -> %s, 1.5s later %s", tag, t2),
				Concord: "waits for the strong tag before a conditional write (each contended write costs up to the window)"})
			return t2, later
		}
		p.add(finding{Property: "ETag", Verdict: "always weak", Evidence: fmt.Sprintf("GET -> %s, 1.5s later %s", tag, t2),
			Concord: "never sends a weak tag unless ETagVersion{Opaque: true}"})
	default:
		p.add(finding{Property: "ETag", Verdict: "strong", Evidence: "GET -> " + string(tag), Concord: "If-Match on every write"})
	}
	return tag, cur
}

// write sends the item's content with a fresh nonce (keeping any body
// version as read) under header, and reads the item back: it returns the
// write's answer, the read, and whether the write took effect.
func (p *prober) write(ctx context.Context, t target, method string, header http.Header, base []byte) (answer, answer, bool) {
	body, nonce := withNonce(base)
	p.nonces[nonce] = true
	w := p.send(ctx, method, t.write, header, body)
	after := p.send(ctx, http.MethodGet, t.read, nil, nil)
	return w, after, shows(after, nonce)
}

// change writes new content as another writer would: with If-Match on the
// tag cur was read with where there is one (a server may require it), else
// or if that is refused, without. It returns the read after it and whether
// the write took effect.
func (p *prober) change(ctx context.Context, t target, cur answer) (answer, bool) {
	if tag := tagOf(cur); tag != "" {
		if _, after, took := p.write(ctx, t, t.method, jsonHeader("If-Match", string(tag)), cur.body); took {
			return after, true
		}
	}
	_, after, took := p.write(ctx, t, t.method, jsonHeader(), cur.body)
	return after, took
}

// tagsMove writes new content with the current tag, then new content of
// the same size (a nonce of a fixed length), and checks that the tag moved
// each time, waiting past one second when it did not (file times have
// one-second resolution). Right after a change that kept the tag, it asks
// a conditional GET with that tag. The first tag it sees replaced is the
// stale tag of the checks that follow.
func (p *prober) tagsMove(ctx context.Context, t target, cur answer, tag concord.ETag, f *findings) answer {
	w, after, took := p.write(ctx, t, t.method, jsonHeader("If-Match", string(tag)), cur.body)
	f.opaque = took && tag.IsWeak() // a weak tag satisfied If-Match, or If-Match is ignored
	if !took {                      // the tag as served is refused (always weak, say): write without it
		w, after, took = p.write(ctx, t, t.method, jsonHeader(), cur.body)
	}
	if !took {
		p.add(finding{Property: "write", Verdict: "refused (" + status(w) + ")", Evidence: t.method + " of the item as read -> " + status(w) + "; the read after it does not show it",
			Concord: "give a -d the API accepts", Breaks: true})
		return after
	}
	tag1 := tagOf(after)
	after, _ = p.change(ctx, t, after)
	tag2 := tagOf(after)
	ev := fmt.Sprintf("GET -> %s; new content -> %s; new content of the same size -> %s", tag, tag1, tag2)
	weakAfter := tag1.IsWeak() && tag2.IsWeak() && !tag.IsWeak() && tag1 != tag
	if tag2 != tag1 && tag2 != "" || weakAfter {
		// Weak tags right after writes (Apache's) may repeat for two
		// contents, as RFC 9110 lets a weak tag do: concord never sends
		// them in If-Match, so only the strong tag is held to moving.
		f.tagsMove, f.staleTag = true, string(tag1)
		if tag1 != tag {
			f.staleTag = string(tag) // the strong tag, where it was weak for a while
		}
		p.add(finding{Property: "ETag moves with content", Verdict: "yes", Evidence: ev, Concord: "a tag it holds is stale once the content changed"})
		cond := p.send(ctx, http.MethodGet, t.read, http.Header{"If-None-Match": {string(tag2)}}, nil)
		p.add(finding{Property: "conditional GET", Verdict: yesNo(cond.status == http.StatusNotModified, "honored (304)", "ignored ("+status(cond)+")"),
			Evidence: "GET If-None-Match: " + string(tag2) + " (current) -> " + status(cond), Concord: "Get revalidates and reuses the body it has"})
		return after
	}
	inm := p.send(ctx, http.MethodGet, t.read, http.Header{"If-None-Match": {string(tag1)}}, nil)
	if inm.status == http.StatusNotModified {
		p.add(finding{Property: "conditional GET", Verdict: "UNSAFE: 304 for changed content", Evidence: "GET If-None-Match: " + string(tag1) + " (its content replaced) -> 304",
			Concord: "a revalidated Get would return old content: concord stops revalidating once it sees a tag that does not move", Breaks: true})
	}
	verdict := "NEVER: one tag for every content"
	if sleep(ctx, 1100*time.Millisecond) {
		after, _ = p.change(ctx, t, after)
		later := tagOf(after)
		ev += fmt.Sprintf("; over a second later, new content -> %s", later)
		if later != tag1 && later != "" {
			f.staleTag, verdict = string(tag1), "NOT WITHIN A SECOND: one tag for two contents"
		}
	}
	p.add(finding{Property: "ETag moves with content", Verdict: verdict, Evidence: ev,
		Concord: "the tag does not identify content, so neither If-Match nor revalidation can be trusted; concord refuses ETag writes once it sees this (ErrETagUnreliable)", Breaks: true})
	return after
}

// staleIfMatch sends new content with a stale tag and with a tag never
// served, and reads back whether either went through.
func (p *prober) staleIfMatch(ctx context.Context, t target, cur answer, f *findings) answer {
	var ev []string
	through, first := false, ""
	for _, tag := range staleTags(f.staleTag) {
		w, after, took := p.write(ctx, t, t.method, jsonHeader("If-Match", tag), cur.body)
		kind := yesNo(tag == bogusTag, "never served", "stale")
		ev = append(ev, fmt.Sprintf("%s If-Match: %s (%s) -> %s, %s", t.method, tag, kind, status(w), yesNo(took, "took effect", "no change")))
		through = through || took
		if first == "" {
			first = status(w)
		}
		cur = after
	}
	f.ifMatch = !through
	fd := finding{Property: "stale If-Match", Evidence: strings.Join(ev, "; ")}
	if through {
		fd.Verdict, fd.Concord = "IGNORED: the stale write overwrote", "cannot use If-Match here"
	} else {
		fd.Verdict, fd.Concord = "rejected ("+first+")", "refetches, merges and writes again"
	}
	p.add(fd)
	if f.ifMatch && f.opaque {
		p.add(finding{Property: "weak tag in If-Match", Verdict: "accepted (compared as an opaque string)", Evidence: "a write with If-Match: the weak tag as served took effect",
			Concord: "ETagVersion{Opaque: true}"})
	}
	return cur
}

// atomicRounds, atomicWriters and atomicFor bound the race check: up to
// atomicRounds rounds of atomicWriters concurrent writes, each carrying
// the same current tag, for at most atomicFor (at least 3 rounds). With 5
// rounds of 6 writers the probe missed Apache's race in 2 of 8 runs; each
// round there costs over a second (its tag is weak for a second after a
// write), so the check trades rounds for time.
const (
	atomicRounds, atomicWriters = 12, 12
	atomicFor                   = 15 * time.Second
)

// atomicity sends concurrent writes carrying one current tag, new content
// each: where If-Match is checked and applied atomically, at most one goes
// through. A server that checks and writes without a lock between them
// (Apache mod_dav) lets two through now and then, and concurrent writers
// can then lose an update whatever the client does. A race is a matter of
// chance: "atomic" means none was seen in the rounds tried.
func (p *prober) atomicity(ctx context.Context, t target, f *findings) answer {
	var cur answer
	start, rounds := time.Now(), 0
	for round := 1; round <= atomicRounds && (round <= 3 || time.Since(start) < atomicFor); round++ {
		rounds = round
		cur = p.send(ctx, http.MethodGet, t.read, nil, nil)
		if tagOf(cur).IsWeak() && sleep(ctx, 1100*time.Millisecond) { // weak for a while: wait for the strong tag
			cur = p.send(ctx, http.MethodGet, t.read, nil, nil)
		}
		tag := tagOf(cur)
		if tag == "" || tag.IsWeak() {
			return cur
		}
		var (
			wg  sync.WaitGroup
			won atomic.Int32
		)
		for range atomicWriters {
			body := p.withNonce(cur.body)
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := &concord.Request{Method: t.method, Path: t.write, Header: jsonHeader("If-Match", string(tag)), Body: body, NoIdempotencyKey: true}
				if resp, err := p.c.Do(ctx, req, nil); err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := won.Load(); n > 1 {
			f.racy = true
			p.add(finding{Property: "If-Match atomic", Verdict: "NO: concurrent writes with one tag went through",
				Evidence: fmt.Sprintf("round %d (%.1fs into the race): %d of %d concurrent %ss, each with If-Match: %s, went through", round, time.Since(start).Seconds(), n, atomicWriters, t.method, tag),
				Concord:  "concurrent writers can lose an update whatever the client does", Breaks: true})
			return p.send(ctx, http.MethodGet, t.read, nil, nil)
		}
	}
	p.add(finding{Property: "If-Match atomic", Verdict: fmt.Sprintf("no race seen in %d rounds", rounds),
		Evidence: fmt.Sprintf("%d rounds of %d concurrent %ss with one tag, %.1fs of racing: at most one went through each time", rounds, atomicWriters, t.method, time.Since(start).Seconds()),
		Concord:  "a race is a matter of chance: none seen is no proof"})
	return p.send(ctx, http.MethodGet, t.read, nil, nil)
}

// staleBodyVersion sends new content carrying a stale version member, with
// no If-Match, and reads back whether it went through.
func (p *prober) staleBodyVersion(ctx context.Context, t target, cur answer, f *findings) answer {
	member, value := bodyVersion(cur.body)
	if member == "" || strings.Contains(member, ".") {
		return cur
	}
	w, after, took := p.write(ctx, t, t.method, jsonHeader(), withMember(cur.body, member, staleValue(value)))
	f.bodyVersion = !took
	fd := finding{Property: "stale body version", Evidence: fmt.Sprintf("%s with %s set to a stale value -> %s, %s", t.method, member, status(w), yesNo(took, "took effect", "no change"))}
	if took {
		fd.Verdict, fd.Concord = "IGNORED: the stale write overwrote", "cannot use it as a version"
	} else {
		fd.Verdict, fd.Concord = "rejected ("+status(w)+")", "BodyVersion makes writes conditional on it"
	}
	p.add(fd)
	if took {
		return after
	}
	// A write with the current version: is its answer the document, or a
	// receipt (CouchDB's {"ok":true,"id":…,"rev":…}) that names the new
	// version elsewhere?
	_, current := bodyVersion(after.body)
	w, after, took = p.write(ctx, t, t.method, jsonHeader(), withMember(after.body, member, json.RawMessage(current)))
	if f.receipt = receiptMember(w.body, member); took && f.receipt != "" {
		p.add(finding{Property: "write answer", Verdict: "a receipt naming the new version in " + strconv.Quote(f.receipt),
			Evidence: fmt.Sprintf("%s with the current %s -> %s, answered without %s, with %q", t.method, member, status(w), member, f.receipt),
			Concord:  "BodyVersion{..., Receipt: " + strconv.Quote(f.receipt) + "} learns the version from it"})
	}
	return after
}

// receiptMember returns the member of a write's answer that names the new
// version where the answer is a receipt, not the document: it lacks the
// document's version member, and has one of the names a receipt gives it
// ("rev" for "_rev").
func receiptMember(answer []byte, member string) string {
	var doc map[string]json.RawMessage
	if json.Unmarshal(answer, &doc) != nil || doc[member] != nil {
		return ""
	}
	for _, m := range []string{strings.TrimPrefix(member, "_"), "rev", "version"} {
		if v := doc[m]; len(v) > 0 && (v[0] == '"' || v[0] >= '0' && v[0] <= '9') {
			return m
		}
	}
	return ""
}

// ifNoneMatch writes with If-None-Match: * to the existing item and reads
// back whether it replaced it.
func (p *prober) ifNoneMatch(ctx context.Context, t target, f *findings) {
	w, _, took := p.write(ctx, t, t.method, jsonHeader("If-None-Match", "*"), p.cfg.doc)
	f.createOnly = !took
	fd := finding{Property: "If-None-Match: *", Evidence: fmt.Sprintf("%s If-None-Match: * on an existing item -> %s, %s", t.method, status(w), yesNo(took, "replaced it", "no change"))}
	if took {
		fd.Verdict, fd.Concord = "IGNORED: an upsert", "CreateAt is not create-only here"
	} else {
		fd.Verdict, fd.Concord = "honored ("+status(w)+")", "CreateAt is create-only"
	}
	p.add(fd)
}

// keys checks idempotency keys: a keyed POST create resent is replayed, not
// made twice; a key reused with another body is refused; a keyed PUT
// resent after another writer's write does not undo that write.
func (p *prober) keys(ctx context.Context, t target, f *findings) {
	key := scratchID()
	h := jsonHeader(concord.DefaultIdempotencyKeyHeader, key)
	doc := p.withNonce(p.cfg.doc) // one body, sent twice with one key
	first := p.send(ctx, http.MethodPost, p.cfg.collection, h, doc)
	firstURL := p.createdURL(first)
	f.postCreate = first.ok() && firstURL != ""
	if !f.postCreate {
		if first.ok() { // created somewhere the probe cannot find: say so, as create does
			p.add(finding{Property: "idempotency key on POST", Verdict: "POST created, but where is unknown", Evidence: "POST -> " + status(first) + " without Location or id", Breaks: true})
		} else {
			p.add(finding{Property: "idempotency key on POST", Verdict: "POST create not available (" + status(first) + ")", Evidence: "POST with Idempotency-Key -> " + status(first), Concord: "Create (POST) is not an option here"})
		}
	} else {
		p.created = append(p.created, p.target("", firstURL))
		again := p.send(ctx, http.MethodPost, p.cfg.collection, h, doc)
		againURL := p.createdURL(again)
		if againURL != "" && againURL != firstURL {
			p.created = append(p.created, p.target("", againURL))
		}
		f.postReplayed = again.ok() && againURL == firstURL
		f.postRefused = again.status == http.StatusConflict && againURL == ""
		fd := finding{Property: "idempotency key on POST", Evidence: fmt.Sprintf("the same POST and key twice -> %s, %s (%s)", status(first), status(again), yesNo(f.postReplayed || f.postRefused, "one item", "two items"))}
		switch {
		case f.postReplayed:
			fd.Verdict, fd.Concord = "replayed", "retries a create after a lost response without duplicating it"
		case f.postRefused:
			fd.Verdict, fd.Concord = "not replayed: the repeat was refused ("+status(again)+")", "Create is create-only, but a create whose response was lost ends in ErrAlreadyExists"
		default:
			fd.Verdict, fd.Concord = "IGNORED: a second item was created", "cannot retry a POST create safely (WithoutIdempotencyKeys sends it once)"
			fd.Breaks = !f.createOnly // then no create here can be retried without risking a duplicate
		}
		p.add(fd)
		if f.postReplayed {
			other := p.send(ctx, http.MethodPost, p.cfg.collection, h, p.withNonce([]byte(`{"name":"concord-probe-other"}`)))
			if u := p.createdURL(other); other.ok() && u != "" && u != firstURL {
				p.created = append(p.created, p.target("", u))
			}
			p.add(finding{Property: "key reused with another body", Verdict: yesNo(!other.ok(), "rejected ("+status(other)+")", "ACCEPTED"),
				Evidence: "the same key with another body -> " + status(other), Concord: "never sends one key with two bodies"})
		}
	}
	if !f.createOnly && !f.postReplayed && !f.postRefused {
		p.add(finding{Property: "create-only operation", Verdict: "NONE", Evidence: "If-None-Match: * replaced an existing item, and no keyed POST create was replayed",
			Concord: "a create can overwrite an existing item or, retried, make two: no client can create safely here", Breaks: true})
	}
	p.keyedPUT(ctx, t)
}

// keyedPUT sends a keyed PUT, lets another write change the item, and
// resends the PUT with its key: replayed leaves the other write in place,
// executed again overwrites it.
func (p *prober) keyedPUT(ctx context.Context, t target) {
	cur := p.send(ctx, http.MethodGet, t.read, nil, nil)
	h := jsonHeader(concord.DefaultIdempotencyKeyHeader, scratchID())
	if tag := tagOf(cur); tag != "" {
		h.Set("If-Match", string(tag))
	}
	body, mine := withNonce(cur.body)
	p.nonces[mine] = true
	put1 := p.send(ctx, t.method, t.write, h, body)
	if !put1.ok() {
		return
	}
	after, other := p.change(ctx, t, p.send(ctx, http.MethodGet, t.read, nil, nil))
	if !other {
		return
	}
	put2 := p.send(ctx, t.method, t.write, h, body)
	final := p.send(ctx, http.MethodGet, t.read, nil, nil)
	fd := finding{Property: "idempotency key on PUT", Evidence: fmt.Sprintf("a keyed %s -> %s; another write; the same %s and key again -> %s", t.method, status(put1), t.method, status(put2)),
		Concord: "checks the server before reporting a 412 after a resend"}
	switch {
	case shows(final, mine):
		fd.Verdict = "IGNORED: executed again, undoing another write"
	case put2.ok() && bytes.Equal(final.body, after.body):
		fd.Verdict = "replayed"
	default:
		fd.Verdict = "not replayed (" + status(put2) + " on the repeat)"
	}
	p.add(fd)
}

// mergePatch sends a JSON merge patch that sets a member and reads back
// whether it changed the item; where it did, a stale If-Match on PATCH.
func (p *prober) mergePatch(ctx context.Context, t target, f *findings) {
	cur := p.send(ctx, http.MethodGet, t.read, nil, nil)
	patchWith := func(tag string) (answer, bool) {
		h := http.Header{"Content-Type": {"application/merge-patch+json"}}
		if tag != "" {
			h.Set("If-Match", tag)
		}
		nonce := scratchID()
		p.nonces[nonce] = true
		a := p.send(ctx, http.MethodPatch, t.write, h, []byte(`{"`+nonceMember+`":"`+nonce+`"}`))
		return a, shows(p.send(ctx, http.MethodGet, t.read, nil, nil), nonce)
	}
	tag := ""
	if f.ifMatch && f.tagsMove {
		tag = string(tagOf(cur))
	}
	a, took := patchWith(tag)
	f.patch = took
	fd := finding{Property: "PATCH merge patch", Evidence: "PATCH application/merge-patch+json setting a member -> " + status(a) + ", " + yesNo(took, "changed", "no change")}
	switch {
	case took:
		fd.Verdict, fd.Concord = "accepted", "WithPatch sends merge patches"
	case a.ok():
		fd.Verdict, fd.Concord = "IGNORED: answered "+status(a)+", changed nothing", "never use WithPatch here"
	default:
		fd.Verdict, fd.Concord = "not accepted ("+status(a)+")", "writes whole documents"
	}
	p.add(fd)
	if took && f.staleTag != "" {
		stale, through := patchWith(f.staleTag)
		p.add(finding{Property: "stale If-Match on PATCH", Verdict: yesNo(through, "IGNORED: the stale patch applied", "rejected ("+status(stale)+")"),
			Evidence: "PATCH If-Match: " + f.staleTag + " (stale) -> " + status(stale), Concord: yesNo(through, "never use WithPatch here", "WithPatch stays conditional"),
			Breaks: through && f.ifMatch})
	}
}

// deletes checks conditional DELETE on a second scratch item, whatever the
// writes showed: a DELETE with a stale (or never served) If-Match, and a
// stale ?rev= where the body carries _rev, each read back.
func (p *prober) deletes(ctx context.Context, f *findings) {
	t, _ := p.create(ctx)
	if t.read == "" {
		return
	}
	cur := p.send(ctx, http.MethodGet, t.read, nil, nil)
	staleTag := "" // B's first tag, once seen replaced
	if old := tagOf(cur); old != "" {
		if after, took := p.change(ctx, t, cur); took && tagOf(after) != old {
			staleTag = string(old)
		}
	}
	gone := func(a answer) bool { return a.status == http.StatusNotFound || a.status == http.StatusGone }
	try := func(u string, h http.Header) (answer, bool) {
		del := p.send(ctx, http.MethodDelete, u, h, nil)
		return del, gone(p.send(ctx, http.MethodGet, t.read, nil, nil))
	}
	var ev []string
	deleted, first := false, ""
	note := func(how string, del answer, g bool) {
		ev = append(ev, how+" -> "+status(del)+", "+yesNo(g, "deleted", "still there"))
		if first == "" {
			first = status(del)
		}
	}
	if f.member == "_rev" { // CouchDB's delete carries the version as ?rev=
		del, g := try(appendParam(t.del, "rev", "0-concord-probe-stale"), nil)
		note("DELETE ?rev=<stale>", del, g)
		deleted, f.deleteRev = g, !g
	}
	if !deleted {
		for _, tag := range staleTags(staleTag) {
			del, g := try(t.del, http.Header{"If-Match": {tag}})
			note("DELETE If-Match: "+tag, del, g)
			if deleted = g; deleted {
				break
			}
		}
		f.deleteIfMatch = !deleted
	}
	// The precondition concord's Delete would send: ?rev= with a _rev
	// body version, If-Match otherwise.
	usesRev := !(f.ifMatch && f.tagsMove) && f.bodyVersion && f.member == "_rev"
	f.deleteSafe = f.deleteIfMatch && !usesRev || f.deleteRev && usesRev
	fd := finding{Property: "stale conditional DELETE", Evidence: strings.Join(ev, "; ")}
	switch {
	case !f.deleteSafe:
		fd.Verdict, fd.Concord, fd.Breaks = "IGNORED: the item was deleted", "cannot make a delete conditional here: a Delete can remove another writer's newer version", true
	case deleted:
		fd.Verdict, fd.Concord = "refused ("+first+") with ?rev=; If-Match IGNORED", "deletes with ?rev=, which is honored"
	default:
		fd.Verdict, fd.Concord = "refused ("+first+")", "never deletes a version its caller did not see"
	}
	p.add(fd)
}

// locks checks whether the server offers a lock it enforces: a WebDAV
// LOCK (OPTIONS says DAV class 2, or a LOCK is granted) or an Azure Blob
// lease, and whether a write without the lock's proof is refused while
// the lock is held (read back). The lock is released at once.
func (p *prober) locks(ctx context.Context, t target, f *findings) {
	opts := p.send(ctx, http.MethodOptions, t.read, nil, nil)
	class2 := strings.Contains(opts.header.Get("DAV"), "2")
	lock := p.send(ctx, "LOCK", t.write, http.Header{"Timeout": {"Second-30"}, "Depth": {"0"}, "Content-Type": {"application/xml; charset=utf-8"}},
		[]byte(`<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>concord-probe</D:owner></D:lockinfo>`))
	token := strings.Trim(strings.TrimSpace(lock.header.Get("Lock-Token")), "<>")
	kind, release := "", func() {}
	var locker concord.Locker
	var proof []string // the header that carries the lock's proof, as concord sends it
	// A lock is released with a deadline of its own: a run cut short
	// must not leave the item locked, and cleanup's DELETE refused.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch {
	case lock.ok() && token != "":
		kind, locker = "WebDAV LOCK"+yesNo(class2, " (DAV class 2)", ""), concord.WebDAVLocker{}
		release = func() { p.send(rctx, "UNLOCK", t.write, http.Header{"Lock-Token": {"<" + token + ">"}}, nil) }
		proof = []string{"If", "<" + t.write + "> (<" + token + ">)"} // tagged, as WebDAVLocker sends it
	case !azure(p.send(ctx, http.MethodHead, t.read, nil, nil)):
		// Not Azure Storage: a bodyless PUT ?comp=lease would be taken
		// for a write of nothing (nginx, Azure Table's upsert), emptying
		// the item. No lease is asked for there.
	default:
		lease := p.send(ctx, http.MethodPut, appendParam(t.write, "comp", "lease"), http.Header{"X-Ms-Lease-Action": {"acquire"}, "X-Ms-Lease-Duration": {"15"}}, nil)
		if id := lease.header.Get("X-Ms-Lease-Id"); lease.ok() && id != "" {
			kind, locker = "Azure Blob lease", concord.AzureLeaseLocker{}
			proof = []string{"X-Ms-Lease-Id", id}
			release = func() {
				p.send(rctx, http.MethodPut, appendParam(t.write, "comp", "lease"), http.Header{"X-Ms-Lease-Action": {"release"}, "X-Ms-Lease-Id": {id}}, nil)
			}
		}
	}
	if kind == "" {
		p.add(finding{Property: "locks", Verdict: "none", Evidence: "OPTIONS -> DAV: " + opts.header.Get("DAV") + "; LOCK -> " + status(lock) + "; no lease",
			Concord: "optimistic concurrency only"})
		return
	}
	cur := p.send(ctx, http.MethodGet, t.read, nil, nil)
	w, _, took := p.write(ctx, t, t.method, jsonHeader(), cur.body)
	fd := finding{Property: "locks", Evidence: fmt.Sprintf("%s granted; a %s without the lock's proof while it was held -> %s, %s", kind, t.method, status(w), yesNo(took, "took effect", "no change"))}
	// A lock concord cannot write under is no lock for it: the holder's
	// own write, with the proof in the form concord sends, must take
	// effect (read back). One WebDAV server closes the connection on the
	// untagged form.
	var tookWith bool
	if !took {
		var wp answer
		wp, _, tookWith = p.write(ctx, t, t.method, jsonHeader(proof...), cur.body)
		fd.Evidence += fmt.Sprintf("; the holder's %s with %s -> %s, %s (read back)", t.method, proof[0], status(wp), yesNo(tookWith, "took effect", "no change"))
	}
	release()
	switch {
	case took:
		fd.Verdict, fd.Concord = kind+", NOT ENFORCED: a write without the lock went through", "cannot use the lock mode here"
	case !tookWith:
		fd.Verdict, fd.Concord = kind+", UNUSABLE: the holder's own write with the lock's proof took no effect", "cannot use the lock mode here"
	default:
		f.locker = locker
		fd.Verdict, fd.Concord = kind+", enforced ("+status(w)+")", "WithLocks("+goValue(locker)+", 0) takes the lock around every write"
		p.lockKeeps(locker)
	}
	p.add(fd)
}

// lockKeeps marks the promises that the server's preconditions break but
// its lock keeps as no longer beyond every client: writers under the lock
// take turns, a delete under it deletes what was read, and (WebDAV) a LOCK
// of a missing item creates it for the holder alone.
func (p *prober) lockKeeps(locker concord.Locker) {
	kept := map[string]bool{"preconditions": true, "stale conditional DELETE": true, "ETag moves with content": true, "If-Match atomic": true, "torn reads": true}
	if _, ok := locker.(concord.WebDAVLocker); ok {
		kept["create-only operation"] = true
	}
	for i, f := range p.rep.Findings {
		if kept[f.Property] && f.Breaks {
			p.rep.Findings[i].Breaks = false
			p.rep.Findings[i].Concord += "; WithLocks keeps this promise here"
		}
	}
}

// staleTags are the tags a precondition check sends: the stale one seen
// replaced, if any, then one never served.
func staleTags(stale string) []string {
	if stale == "" {
		return []string{bogusTag}
	}
	return []string{stale, bogusTag}
}

// recommend writes the configuration the findings call for, using only
// what this run proved, and says first, in plain words, every promise that
// no configuration keeps here.
func (p *prober) recommend(ctx context.Context, f *findings) {
	var broken []string
	var opts []option
	optimistic := f.ifMatch && f.tagsMove && !f.racy || f.bodyVersion
	if f.locker != nil && (!optimistic || !f.deleteSafe || !f.createOnly && !f.postReplayed && !f.postRefused || f.torn) {
		// The server's lock keeps what its preconditions do not: writers
		// take turns, a delete under the lock deletes what was read, a
		// WebDAV LOCK of a missing item creates it for the holder alone,
		// and a read torn by a write is read again under the lock.
		opts = append(opts, option{"concord.WithLocks(" + goValue(f.locker) + ", 0)", concord.WithLocks(f.locker, 0)})
		optimistic, f.deleteSafe, f.torn = true, true, false
		_, webdav := f.locker.(concord.WebDAVLocker)
		f.createOnly = f.createOnly || webdav
	}
	switch {
	case f.ifMatch && f.tagsMove && !f.racy && f.opaque:
		opts = append(opts, versioner(concord.ETagVersion{Opaque: true}))
	case f.ifMatch && f.tagsMove && !f.racy:
	case f.bodyVersion:
		v := concord.BodyVersion{Path: f.member, Receipt: f.receipt}
		if f.member == "_rev" && f.deleteRev {
			v.Query = "rev"
		}
		opts = append(opts, versioner(v))
	case optimistic: // the lock keeps updates
	case f.racy:
		broken = append(broken, "Updates can be lost: the server checks If-Match without a lock, so two writes with one version can both go through.")
	default:
		broken = append(broken, "Updates can be lost: the server lets a stale write through, and no version it offers stops it.")
	}
	if f.torn {
		broken = append(broken, "Reads can be torn: a Get during a write may fail to decode (ErrDecode), and no lock is offered to read under.")
	}
	if !f.deleteSafe {
		broken = append(broken, "A Delete can remove a newer version another writer made: the server ignores the delete's precondition.")
	}
	create := ""
	switch {
	case f.createOnly:
	case f.postReplayed || f.postRefused:
		create = "// Create with r.Create (POST): If-None-Match: * is an upsert here, so CreateAt is not create-only."
	default:
		broken = append(broken, "Creates are not safe: CreateAt can overwrite an existing item, and no POST create with replayed keys exists.")
	}
	p.configure(broken, opts, create)
	p.prove(ctx, opts, promises{updates: optimistic, deletes: f.deleteSafe, creates: f.createOnly})
}

// azure reports whether a read of an item comes from Azure Blob storage,
// which names the blob's type: only there is PUT ?comp=lease a lease
// request rather than a write (Azure Table takes it for an upsert of an
// empty entity).
func azure(a answer) bool { return a.ok() && a.header.Get("X-Ms-Blob-Type") != "" }

// tornFor, tornWrites and tornPad bound the torn-read check: for at most
// tornFor, up to tornWrites writes of the item padded to tornPad bytes,
// large enough that writing it in place takes a while.
const (
	tornFor    = 2 * time.Second
	tornWrites = 20
	tornPad    = 256 << 10
)

// tornReads writes a larger version of the item again and again while two
// readers read it, and counts reads answered 200 with a body that no write
// wrote: not JSON, or holding no nonce of this run. A server that writes
// an item in place serves a read during the write the part written so far
// (two WebDAV servers were seen to: 5,780 of 5,989 reads on one).
func (p *prober) tornReads(ctx context.Context, t target, f *findings) {
	cur := p.send(ctx, http.MethodGet, t.read, nil, nil)
	if !cur.ok() {
		return
	}
	cur.body = withMember(cur.body, "concord_probe_padding", json.RawMessage(strconv.Quote(strings.Repeat("x", tornPad))))
	type read struct {
		whole bool // JSON with a nonce
		nonce string
		size  int
	}
	var (
		mu    sync.Mutex
		reads []read
		wg    sync.WaitGroup
	)
	rctx, stop := context.WithCancel(ctx)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rctx.Err() == nil {
				// p.c, not p.send: the prober's state is the main goroutine's.
				resp, err := p.c.Do(rctx, &concord.Request{Method: http.MethodGet, Path: t.read}, nil)
				if err != nil || resp.StatusCode != http.StatusOK || rctx.Err() != nil {
					continue
				}
				var doc map[string]json.RawMessage
				var n string
				whole := json.Unmarshal(resp.Body, &doc) == nil && json.Unmarshal(doc[nonceMember], &n) == nil
				mu.Lock()
				reads = append(reads, read{whole, n, len(resp.Body)})
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(tornFor)
	writes := 0
	for ; writes < tornWrites && time.Now().Before(deadline) && ctx.Err() == nil; writes++ {
		after, took := p.change(ctx, t, cur)
		if !took {
			break
		}
		cur = after
	}
	stop()
	wg.Wait()
	torn, first := 0, ""
	for _, r := range reads {
		if !r.whole || !p.nonces[r.nonce] {
			if torn++; torn == 1 {
				first = fmt.Sprintf("; the first: %d bytes, %s", r.size, yesNo(r.whole, "JSON holding no nonce written", "not whole JSON"))
			}
		}
	}
	ev := fmt.Sprintf("%d reads during %d writes of %d KiB in %v%s", len(reads), writes, tornPad>>10, tornFor, first)
	if writes == 0 {
		p.add(finding{Property: "torn reads", Verdict: "not checked: the larger document was not written", Evidence: ev, Concord: "give a -d the API accepts at that size to check"})
		return
	}
	if f.torn = torn > 0; f.torn {
		p.add(finding{Property: "torn reads", Verdict: fmt.Sprintf("SEEN: %d of %d reads answered 200 with a body no write wrote", torn, len(reads)), Evidence: ev,
			Concord: "a Get during a write can fail (ErrDecode); under WithLocks it reads again under the lock", Breaks: true})
		return
	}
	p.add(finding{Property: "torn reads", Verdict: fmt.Sprintf("none seen in %d reads", len(reads)), Evidence: ev, Concord: "a read is a version written"})
}
