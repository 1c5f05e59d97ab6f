package main

// Layer: Commands (ARCHITECTURE.md).

// The configuration check: before the probe recommends a configuration, it
// runs the promises that configuration names through concord itself,
// configured as printed, on scratch items of its own, and reads back what
// each call did. The rows before it test the server request by request;
// this one tests concord on the server, which is what the recommendation
// claims (issue #31: a lock mode recommended from the rows let a stale
// delete and a create over an existing item through).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/concord-go/concord"
)

// promises are what a recommended configuration says concord keeps here.
type promises struct {
	updates bool // a stale Replace is refused, and concurrent Updates all land
	deletes bool // a stale Delete is refused
	creates bool // CreateAt of an existing item is refused
}

// proofRacers and proofRounds size the configuration check's race: each
// of proofRacers clients increments a counter proofRounds times.
const proofRacers, proofRounds = 3, 2

// counterMember is the member the race increments.
const counterMember = "concord_probe_n"

// doc is a scratch item as the configuration check's clients see it.
type doc = map[string]any

// prove runs each promise of want through concord with opts and the
// probe's credentials (nothing else: what is printed is what runs), on a
// scratch item it creates, and adds its row: a promise the run saw broken
// is !!, whatever the rows before said.
func (p *prober) prove(ctx context.Context, opts []option, want promises) {
	if p.rep.CouldNotRun != "" || !(want.updates || want.deletes || want.creates) {
		return
	}
	values := make([]concord.ResourceOption, 0, len(opts)+1)
	for _, o := range opts {
		values = append(values, o.value)
	}
	if r, ok := p.routesOption(); ok {
		values = append(values, r.value)
	}
	rs := make([]*concord.Resource[doc], proofRacers)
	for i := range rs {
		c, err := p.proofClient()
		if err != nil {
			p.rep.CouldNotRun = "the configuration check could not make a client: " + err.Error()
			return
		}
		defer c.CloseIdleConnections()
		u, _ := url.Parse(p.cfg.collection)
		rs[i] = concord.NewResource[doc](c, strings.TrimPrefix(u.Path, "/"), values...)
	}
	mine, theirs := rs[0], rs[1]
	id, t, ok := p.proofItem(ctx, mine)
	if !ok {
		return
	}
	var ev, broken []string
	check := func(name string, kept bool, what string) {
		ev = append(ev, name+": "+what)
		if !kept {
			broken = append(broken, name)
		}
	}
	if want.updates {
		kept, what := p.proveStaleReplace(ctx, t, id, mine, theirs)
		check("stale Replace", kept, what)
		kept, what = p.proveRace(ctx, t, id, rs)
		check("concurrent Updates", kept, what)
	}
	if want.creates {
		kept, what := p.proveCreateAt(ctx, t, id, theirs)
		check("CreateAt of an existing item", kept, what)
	}
	if want.deletes {
		kept, what := p.proveStaleDelete(ctx, t, id, mine, theirs)
		check("stale Delete", kept, what)
	}
	f := finding{Property: "configuration, run", Evidence: strings.Join(ev, "; ")}
	if ctx.Err() != nil {
		return // runProbe reports the run cut short
	}
	if len(broken) > 0 {
		f.Verdict, f.Concord, f.Breaks = "BROKEN: "+strings.Join(broken, ", "), "the recommended configuration does not keep this promise here", true
	} else {
		f.Verdict, f.Concord = "kept", "concord, configured as recommended, kept each promise it names (read back)"
	}
	p.add(f)
}

// proofClient is a client of its own, configured as the report prints
// it (concord.New(base)), with the probe's headers.
func (p *prober) proofClient() (*concord.Client, error) {
	return concord.New(p.base, headerOptions(p.cfg.header)...)
}

// proofItem creates the check's scratch item with concord (CreateAt of a
// new ID, else Create), known to cleanup before it is sent, and returns
// its ID and URLs.
func (p *prober) proofItem(ctx context.Context, r *concord.Resource[doc]) (string, target, bool) {
	id := scratchID()
	t := p.target(id, p.itemURL(id))
	p.created = append(p.created, t)
	v, err := p.sample()
	if err == nil {
		if _, err = r.CreateAt(ctx, id, v); err == nil {
			return id, t, true
		}
	}
	res, perr := r.Create(ctx, v)
	if perr == nil {
		if loc := res.Response.Header.Get("Location"); loc != "" {
			id = path.Base(loc)
		} else if s, ok := res.Value["id"].(string); ok {
			id = s
		}
		t = p.target(id, p.itemURL(id))
		p.created = append(p.created, t)
		if p.owns(p.send(ctx, http.MethodGet, t.read, nil, nil)) {
			return id, t, true
		}
	}
	p.rep.CouldNotRun = fmt.Sprintf("the configuration check could not create its scratch item with concord (CreateAt: %v; Create: %v)", err, perr)
	return "", target{}, false
}

// sample is the sample document with a fresh nonce of this run.
func (p *prober) sample() (doc, error) {
	var v doc
	return v, json.Unmarshal(p.withNonce(p.cfg.doc), &v)
}

// stamp returns a mutate that sets a fresh nonce of this run, and the
// nonce.
func (p *prober) stamp() (func(*doc) error, string) {
	n := scratchID()
	p.nonces[n] = true
	return func(d *doc) error { (*d)[nonceMember] = n; return nil }, n
}

// holds reads the item back and reports whether it holds nonce.
func (p *prober) holds(ctx context.Context, t target, nonce string) bool {
	return shows(p.send(ctx, http.MethodGet, t.read, nil, nil), nonce)
}

// outcome is a call's error as the check's evidence shows it.
func outcome(err error) string {
	if err == nil {
		return "nil"
	}
	for _, e := range []error{concord.ErrConflict, concord.ErrAlreadyExists, concord.ErrNotFound, concord.ErrLocked, concord.ErrNoVersion} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

// proveStaleReplace: mine reads the item, theirs updates it, mine
// replaces it from what it read. Kept when the read back holds theirs.
func (p *prober) proveStaleReplace(ctx context.Context, t target, id string, mine, theirs *concord.Resource[doc]) (bool, string) {
	read, err := mine.Get(ctx, id)
	if err != nil {
		return false, "Get = " + outcome(err)
	}
	set, newer := p.stamp()
	if _, err := theirs.Update(ctx, id, set); err != nil {
		return false, "the other writer's Update = " + outcome(err)
	}
	stale := read.Value
	restamp, n := p.stamp()
	restamp(&stale)
	_, err = mine.Replace(ctx, id, stale)
	kept := p.holds(ctx, t, newer) && !p.holds(ctx, t, n)
	return kept, fmt.Sprintf("Replace = %s, the other writer's change %s", outcome(err), yesNo(kept, "kept (read back)", "LOST (read back)"))
}

// proveStaleDelete: mine reads the item, theirs updates it, mine deletes
// it. Kept when the item is still there, holding theirs.
func (p *prober) proveStaleDelete(ctx context.Context, t target, id string, mine, theirs *concord.Resource[doc]) (bool, string) {
	if _, err := mine.Get(ctx, id); err != nil {
		return false, "Get = " + outcome(err)
	}
	set, newer := p.stamp()
	if _, err := theirs.Update(ctx, id, set); err != nil {
		return false, "the other writer's Update = " + outcome(err)
	}
	err := mine.Delete(ctx, id)
	kept := p.holds(ctx, t, newer)
	return kept, fmt.Sprintf("Delete = %s, the other writer's version %s", outcome(err), yesNo(kept, "kept (read back)", "DELETED (read back)"))
}

// proveCreateAt: CreateAt of the existing item, by a writer that did not
// create it. Kept when the item is unchanged.
func (p *prober) proveCreateAt(ctx context.Context, t target, id string, r *concord.Resource[doc]) (bool, string) {
	v, err := p.sample()
	if err != nil {
		return false, err.Error()
	}
	n, _ := v[nonceMember].(string)
	_, err = r.CreateAt(ctx, id, v)
	kept := !p.holds(ctx, t, n)
	return kept, fmt.Sprintf("CreateAt = %s, the item %s", outcome(err), yesNo(kept, "unchanged (read back)", "OVERWRITTEN (read back)"))
}

// proveRace: each client increments the counter proofRounds times at
// once. Kept when the read back counts every increment.
func (p *prober) proveRace(ctx context.Context, t target, id string, rs []*concord.Resource[doc]) (bool, string) {
	if _, err := rs[0].Update(ctx, id, func(d *doc) error { (*d)[counterMember] = 0.0; return nil }); err != nil {
		return false, "setting the counter: Update = " + outcome(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, proofRacers*proofRounds)
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range proofRounds {
				_, err := r.Update(ctx, id, func(d *doc) error {
					n, _ := (*d)[counterMember].(float64)
					(*d)[counterMember] = n + 1
					return nil
				})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
		}
	}
	var got doc
	a := p.send(ctx, http.MethodGet, t.read, nil, nil)
	_ = json.Unmarshal(a.body, &got)
	n, _ := got[counterMember].(float64)
	// An Update that failed proves nothing either way: each must land.
	want := proofRacers * proofRounds
	return failed == 0 && int(n) == want, fmt.Sprintf("%d x %d Updates, %d failed, the counter reads %v (want %d)", proofRacers, proofRounds, failed, n, want)
}
