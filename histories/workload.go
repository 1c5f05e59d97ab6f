package histories

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/concord-go/concord"
)

// Config is one worker's share of a run: its own client, its own random
// schedule.
type Config struct {
	URL    string   `json:"url"` // the server, through the fault proxy
	Worker int      `json:"worker"`
	Seed   uint64   `json:"seed"`
	Ops    int      `json:"ops"`
	Items  []string `json:"items"`
	// Target names the Target the worker's client is made for: a worker
	// in another process finds it by name (see ServeWorker).
	Target string `json:"target"`
	// OpTimeout bounds each operation: one that passes it ends with an
	// unknown outcome, as a caller's deadline does.
	OpTimeout time.Duration `json:"op_timeout"`
}

// Target is what a client needs to talk to one server: the options that
// docs/servers.md lists for it and where its items live.
type Target struct {
	Client   []concord.Option
	Resource []concord.ResourceOption
	// Items is the collection of the items; Orders is the collection that
	// Create POSTs keyed orders to, "" where the server has no such
	// create (WebDAV, blob stores): the schedule then creates with
	// CreateAt and Replace alone.
	Items, Orders string
	// List: the server lists Items as a JSON array, so the schedule runs
	// All, checked as a read of each item during the call.
	List bool
	// Locker, when set, is the lock every write takes (WithLocks, for
	// lockTTL); Verify then checks that no call left a lock held.
	Locker concord.Locker
}

// lockTTL is the lock time of the workers' calls with l: short, so that a
// lock a lost answer left (nobody holds its token) expires within a
// history; Azure grants no lease under 15 seconds.
func lockTTL(l concord.Locker) time.Duration {
	if _, ok := l.(concord.AzureLeaseLocker); ok {
		return 15 * time.Second
	}
	return 2 * time.Second
}

// Record is one operation of a history, timed in Unix nanoseconds of this
// machine's clock, which every worker shares, in-process or not.
type Record struct {
	Worker int    `json:"worker"`
	Input  Input  `json:"input"`
	Output Output `json:"output"`
	Call   int64  `json:"call"`
	Return int64  `json:"return"`
}

// seen is what a worker last saw of an item: what its client tracks.
type seen struct {
	known   bool   // the worker's last operation on the item ended definitely
	absent  bool   // it saw no item
	w       string // the W of the version it saw
	version string // that version, as concord names it
}

// Run runs a worker's schedule on tg and returns its records. Operations
// that fail are records too; Run fails only when it cannot start.
func Run(ctx context.Context, cfg Config, tg Target) ([]Record, error) {
	var watch resends
	c, err := newClient(cfg.URL, tg, concord.WithHooks(watch.hooks()))
	if err != nil {
		return nil, err
	}
	defer c.CloseIdleConnections()
	items := itemsOf[Doc](c, tg)
	booms := itemsOf[boom](c, tg)
	var orders *concord.Resource[Doc]
	if tg.Orders != "" {
		orders = concord.NewResource[Doc](c, tg.Orders)
	}
	rnd := rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Worker)))
	last := map[string]*seen{}
	for _, it := range cfg.Items {
		last[it] = &seen{}
	}
	var out []Record
	for i := range cfg.Ops {
		token := fmt.Sprintf("w%d-%d", cfg.Worker, i)
		item := cfg.Items[rnd.IntN(len(cfg.Items))]
		s := last[item]
		in := Input{Item: item, Token: token, N: rnd.IntN(1000)}
		opCtx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
		call := time.Now().UnixNano()
		var res *concord.Result[Doc]
		var listed []Doc
		var err error
		switch pick := rnd.IntN(11); {
		case !s.known:
			in.Kind = KindGet
			res, err = items.Get(opCtx, item)
		case pick < 2:
			in.Kind = KindGet
			res, err = items.Get(opCtx, item)
		case s.absent && pick < 6:
			in.Kind = KindCreateAt
			res, err = items.CreateAt(opCtx, item, Doc{N: in.N, W: token})
		case s.absent:
			in.Kind = KindReplace // a Replace that creates
			res, err = items.Replace(opCtx, item, Doc{N: in.N, W: token})
		case pick < 5 && rnd.IntN(8) == 0:
			// The caller's type panics in its UnmarshalJSON, which concord
			// runs before anything is written, and the caller recovers,
			// as net/http recovers a handler's panic: the call must leave
			// no lock behind.
			in.Kind = KindUpdate
			err = recovered(func() error {
				_, err := booms.Update(opCtx, item, func(*boom) error { return nil })
				return err
			})
		case pick < 5:
			in.Kind = KindUpdate
			res, err = items.Update(opCtx, item, func(d *Doc) error { d.N++; d.W = token; return nil })
		case pick < 7:
			in.Kind, in.Base = KindReplace, s.w
			var wopts []concord.CallOption
			if pick == 6 {
				wopts = append(wopts, concord.WithBaseVersion(s.version))
			}
			res, err = items.Replace(opCtx, item, Doc{N: in.N, W: token}, wopts...)
		case pick < 9:
			in.Kind, in.Base = KindDelete, s.w
			var wopts []concord.CallOption
			if pick == 8 {
				wopts = append(wopts, concord.WithBaseVersion(s.version))
			}
			err = items.Delete(opCtx, item, wopts...)
		case pick == 10 && tg.List:
			in.Kind = KindAll
			listed, err = all(opCtx, items)
		case pick == 9 && orders != nil:
			in.Kind = KindCreate
			var copts []concord.CallOption
			if rnd.IntN(2) == 0 {
				copts = append(copts, concord.WithIdempotencyKey(concord.KeyFor("histories", token)))
			}
			res, err = orders.Create(opCtx, Doc{N: in.N, W: token}, copts...)
		default:
			in.Kind = KindGet
			res, err = items.Get(opCtx, item)
		}
		cancel()
		rec := record(cfg.Worker, in, call, res, err)
		rec.Output.Listed = listed
		rec.Output.Resent = watch.take()
		out = append(out, rec)
		s.note(in, rec.Output, res)
	}
	return out, nil
}

// newClient is a worker's client of tg at url: quick transport retries,
// so that a history's faults cost little time, then tg's options.
func newClient(url string, tg Target, opts ...concord.Option) (*concord.Client, error) {
	opts = append([]concord.Option{concord.WithRetryPolicy(concord.RetryPolicy{BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})}, opts...)
	return concord.New(url, append(opts, tg.Client...)...)
}

// itemsOf is tg's collection of items, with its lock if it has one.
func itemsOf[T any](c *concord.Client, tg Target) *concord.Resource[T] {
	ropts := tg.Resource
	if tg.Locker != nil {
		ropts = append(ropts[:len(ropts):len(ropts)], concord.WithLocks(tg.Locker, lockTTL(tg.Locker)))
	}
	return concord.NewResource[T](c, tg.Items, ropts...)
}

// record is the record of an operation called at call (Unix nanoseconds)
// that returned now with res and err.
func record(worker int, in Input, call int64, res *concord.Result[Doc], err error) Record {
	rec := Record{Worker: worker, Input: in, Output: Output{Outcome: outcome(err)}, Call: call, Return: time.Now().UnixNano()}
	if err != nil {
		rec.Output.Err = err.Error()
	}
	if rec.Output.Outcome == OK && res != nil {
		rec.Output.Doc = Doc{N: res.Value.N, W: res.Value.W}
	}
	if rec.Output.Outcome == Unknown {
		// It may take effect at any time after its call, even after the
		// run ends (a request still on the server).
		rec.Return = math.MaxInt64
	}
	return rec
}

// note updates what the worker saw of an item after an operation on it: a
// definite outcome tells the version its client now tracks; any other
// forgets it, and the next operation on the item reads it first.
func (s *seen) note(in Input, out Output, res *concord.Result[Doc]) {
	if in.Kind == KindCreate || in.Kind == KindAll {
		return
	}
	*s = seen{}
	switch {
	case out.Outcome == NotFound, out.Outcome == OK && in.Kind == KindDelete:
		s.known, s.absent = true, true
	case out.Outcome == OK && res != nil:
		s.known, s.w, s.version = true, res.Value.W, res.Version
	}
}

// boom is a document type whose decoding panics, as a caller's type's
// UnmarshalJSON may on data it does not expect: concord does not recover
// it (it is the caller's panic, on the caller's goroutine).
type boom struct{}

// UnmarshalJSON panics.
func (*boom) UnmarshalJSON([]byte) error { panic(errDecodePanicked) }

// errDecodePanicked is what boom's UnmarshalJSON panics with.
var errDecodePanicked = errors.New("histories: UnmarshalJSON panicked before anything was written")

// recovered returns f's error, or what f panicked with.
func recovered(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("recovered: %v", p)
			if e, ok := p.(error); ok {
				err = fmt.Errorf("recovered: %w", e)
			}
		}
	}()
	return f()
}

// all lists the items, every page.
func all(ctx context.Context, items *concord.Resource[Doc]) ([]Doc, error) {
	var listed []Doc
	for d, err := range items.All(ctx) {
		if err != nil {
			return nil, err
		}
		listed = append(listed, Doc{N: d.N, W: d.W})
	}
	return listed, nil
}

// outcome is how an operation ended, as far as its error tells.
func outcome(err error) Outcome {
	var ce *concord.ConflictError
	switch {
	case err == nil:
		return OK
	case errors.Is(err, concord.ErrWriteApplied):
		return Applied
	case errors.Is(err, concord.ErrAlreadyExists):
		return Exists
	case errors.As(err, &ce) && (ce.Kind == concord.KindInProgress || ce.Resent):
		return Unknown // an earlier copy, or the first request with the key, may have applied
	case errors.Is(err, concord.ErrNoVersion), errors.Is(err, concord.ErrLocked), errors.Is(err, concord.ErrLockUnavailable),
		errors.Is(err, errDecodePanicked): // the read before any write panicked: nothing was sent to write
		return Refused
	case errors.As(err, &ce), errors.Is(err, concord.ErrConflict):
		return Conflict
	case errors.Is(err, concord.ErrNotFound):
		return NotFound
	}
	return Unknown
}
