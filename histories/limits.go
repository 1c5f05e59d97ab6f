package histories

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/concord-go/concord"
)

// VerifyLimits shows that each of s.Limits is where the server breaks a
// promise, and that the model gives up that promise alone: for each limit
// it runs a short history made to reach it (concurrent updates of one
// version, a delete from a stale base, a read just after another client's
// write of the same size), with no fault proxy, which the model without
// that limit must find broken and the model with s.Limits must not. (Verify
// shows the rest: with s.Limits, random histories under faults are
// linearizable.) A limit that no history breaks without would give up a
// promise the server keeps, and fails t. Reapplied is not probed here: it
// needs answers lost after the write, which Verify's faults make.
func VerifyLimits(t *testing.T, s Server) {
	t.Helper()
	type probe struct {
		name  string
		on    bool
		drop  func(*Limits)
		race  func(context.Context, *testing.T, Server, int) []Record
		tries int
	}
	probes := []probe{
		{"RacyPreconditions", s.Limits.RacyPreconditions, func(l *Limits) { l.RacyPreconditions = false }, racedUpdates, limitTries},
		{"BlindDeletes", s.Limits.BlindDeletes, func(l *Limits) { l.BlindDeletes = false }, staleDelete, 1},
		{"StaleReads", s.Limits.StaleReads, func(l *Limits) { l.StaleReads = false }, sameSizeReread, limitTries},
	}
	for _, p := range probes {
		if !p.on {
			continue
		}
		without := s.Limits
		p.drop(&without)
		ctx, cancel := context.WithTimeout(context.Background(), limitRaceTime)
		var recs []Record
		broke := false
		for try := 0; try < p.tries && ctx.Err() == nil && !broke; try++ {
			recs = append(recs, p.race(ctx, t, s, try)...)
			broke = checked(recs, without, "") == porcupine.Illegal
		}
		cancel()
		if !broke {
			t.Errorf("%s: no history broke without %s (%d tries within %v): the server may keep the promise the limit gives up", s.Name, p.name, p.tries, limitRaceTime)
			continue
		}
		viz := filepath.Join(os.TempDir(), fmt.Sprintf("concord-limit-%s-%s.html", p.name, filepath.Base(t.Name())))
		if checked(recs, s.Limits, viz) == porcupine.Illegal {
			t.Errorf("%s: the history made to reach %s breaks even with the server's limits (visualization: %s):\n%s", s.Name, p.name, viz, describe(recs, s.Limits))
			continue
		}
		t.Logf("%s: %d operations broke the model without %s, and are linearizable with it", s.Name, len(recs), p.name)
	}
}

// limitTries bounds the tries of a race, limitTryTime the calls of one
// (a call it cuts short has an unknown outcome, which the model allows at
// any time), and limitRaceTime all of them: Apache's race was seen within
// 12 rounds of 12 writers in 10 of 10 runs of the probe, and the first
// wave of a round is where it shows; the conflict rounds after it cost a
// second each there (its tag is weak for a second after a write).
const (
	limitTries    = 12
	limitTryTime  = 4 * time.Second
	limitRaceTime = time.Minute
)

// weakWindow is how long after a write a server may serve a weak tag
// (Apache: about a second).
const weakWindow = 1100 * time.Millisecond

// limitWriters is how many clients race on one version.
const limitWriters = 12

// checked is Check's verdict on recs under limits.
func checked(recs []Record, limits Limits, viz string) porcupine.CheckResult {
	if viz == "" {
		viz = os.DevNull
	}
	res, _ := Check(recs, limits, viz, 10*time.Second)
	return res
}

// describe is the smallest item history of recs that breaks the model
// with limits.
func describe(recs []Record, limits Limits) string {
	_, why := Check(recs, limits, os.DevNull, 10*time.Second)
	return why
}

// clients opens n clients of s, straight to its URL, each with its
// collection of items.
func clients(t *testing.T, s Server, n int) []*concord.Resource[Doc] {
	t.Helper()
	out := make([]*concord.Resource[Doc], n)
	for i := range out {
		c, err := newClient(s.URL, s.Target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.CloseIdleConnections)
		out[i] = itemsOf[Doc](c, s.Target)
	}
	return out
}

// do runs op as worker's operation in, and records it.
func do(worker int, in Input, op func() (*concord.Result[Doc], error)) Record {
	call := time.Now().UnixNano()
	res, err := op()
	return record(worker, in, call, res, err)
}

// racedUpdates has limitWriters clients read one item, then update it at
// once: each writes from the version all of them read.
func racedUpdates(ctx context.Context, t *testing.T, s Server, try int) []Record {
	item := fmt.Sprintf("limit-race-%d", try)
	cs := clients(t, s, limitWriters)
	recs := []Record{do(0, Input{Kind: KindCreateAt, Item: item, Token: item}, func() (*concord.Result[Doc], error) {
		return cs[0].CreateAt(ctx, item, Doc{W: item})
	})}
	// A tag weak for a second after a write (Apache's) would have each
	// client wait for the strong one on its own, which spreads the writes
	// out: read after it, so that every Update writes from the same strong
	// tag, at once.
	time.Sleep(weakWindow)
	for w, c := range cs {
		recs = append(recs, do(w, Input{Kind: KindGet, Item: item}, func() (*concord.Result[Doc], error) { return c.Get(ctx, item) }))
	}
	ctx, cancel := context.WithTimeout(ctx, limitTryTime)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := fmt.Sprintf("%s-w%d", item, w)
			<-start
			r := do(w, Input{Kind: KindUpdate, Item: item, Token: token}, func() (*concord.Result[Doc], error) {
				return c.Update(ctx, item, func(d *Doc) error { d.N++; d.W = token; return nil })
			})
			mu.Lock()
			recs = append(recs, r)
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return recs
}

// staleDelete has one client read an item, another update it, and the
// first delete it from the version it read.
func staleDelete(ctx context.Context, t *testing.T, s Server, try int) []Record {
	item := fmt.Sprintf("limit-delete-%d", try)
	cs := clients(t, s, 2)
	old, newer := item+"-0", item+"-1"
	return []Record{
		do(0, Input{Kind: KindCreateAt, Item: item, Token: old}, func() (*concord.Result[Doc], error) {
			return cs[0].CreateAt(ctx, item, Doc{W: old})
		}),
		do(1, Input{Kind: KindUpdate, Item: item, Token: newer}, func() (*concord.Result[Doc], error) {
			return cs[1].Update(ctx, item, func(d *Doc) error { d.N++; d.W = newer; return nil })
		}),
		do(0, Input{Kind: KindDelete, Item: item, Base: old}, func() (*concord.Result[Doc], error) {
			return nil, cs[0].Delete(ctx, item)
		}),
	}
}

// sameSizeReread has one client read an item, another replace it with a
// document of the same size, and the first read it again at once: a
// server whose tag is the size and the second of the write answers the
// second read 304.
func sameSizeReread(ctx context.Context, t *testing.T, s Server, try int) []Record {
	item := fmt.Sprintf("limit-read-%d", try)
	cs := clients(t, s, 2)
	old, newer := item+"-0", item+"-1"
	get := func() Record {
		return do(0, Input{Kind: KindGet, Item: item}, func() (*concord.Result[Doc], error) { return cs[0].Get(ctx, item) })
	}
	return []Record{
		do(0, Input{Kind: KindCreateAt, Item: item, Token: old}, func() (*concord.Result[Doc], error) {
			return cs[0].CreateAt(ctx, item, Doc{W: old})
		}),
		get(),
		do(1, Input{Kind: KindReplace, Item: item, Token: newer}, func() (*concord.Result[Doc], error) {
			return cs[1].Replace(ctx, item, Doc{W: newer})
		}),
		get(),
	}
}
