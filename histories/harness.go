package histories

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/concord-go/concord"
)

// Server is a server a history runs against: this package's tests run
// concordtest's dialects, the interop module's run real servers.
type Server struct {
	// Name names the Target for a worker in another process (see
	// ServeWorker).
	Name   string
	URL    string // the base URL; clients reach it through the fault proxy
	Target Target
	// Limits are what the server cannot give any client (docs/servers.md),
	// which the model then allows, there alone.
	Limits Limits
}

// workers is how many workers a history has: three in this process, each
// with a client of its own, and one in a separate OS process.
const workers = 4

// Verify runs a history of ops operations per worker against s, through a
// fault proxy with the faults of seed, and fails t when the history is not
// linearizable, a write answered 2xx was sent again, a keyed create made
// two orders, or too few operations succeeded to prove anything.
func Verify(t *testing.T, s Server, seed uint64, ops int) {
	t.Helper()
	faults := PickFaults(seed)
	t.Logf("seed %d (HISTORIES_SEED=%d reruns it): %s", seed, seed, faults)
	base, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := StartProxy(base.Host, faults)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	via := *base
	via.Host = proxy.Addr()
	cfg := Config{URL: via.String(), Target: s.Name, Seed: seed, Ops: ops, Items: []string{"a", "b", "c"}, OpTimeout: 2 * time.Second}
	records := runWorkers(t, cfg, s.Target)
	viz := filepath.Join(os.TempDir(), fmt.Sprintf("concord-history-%d-%s.html", seed, filepath.Base(t.Name())))
	for _, r := range records {
		if r.Output.Resent != "" {
			t.Fatalf("seed %d: worker %d's %s of %s sent a write again after the client read a 2xx answer to it: %s", seed, r.Worker, r.Input.Kind, r.Input.Item, r.Output.Resent)
		}
	}
	result, violation := Check(records, s.Limits, viz, 30*time.Second)
	switch result {
	case porcupine.Illegal:
		t.Fatalf("the history of %d operations is not linearizable (seed %d; HISTORIES_SEED=%d reruns it; visualization: %s); the smallest item history that breaks it:\n%s",
			len(records), seed, seed, viz, violation)
	case porcupine.Unknown:
		t.Logf("the checker ran out of time on %d operations: nothing found", len(records))
	}
	if s.Target.Orders != "" {
		if err := CheckCreates(records, storedOrders(t, s)); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
	if s.Target.Locker != nil {
		leftLocked(t, s, cfg.Items)
	}
	tally := map[Outcome]int{}
	for _, r := range records {
		tally[r.Output.Outcome]++
	}
	t.Logf("%d operations, linearizable: %v", len(records), tally)
	if tally[OK] < len(records)/4 {
		// A history of failures proves nothing about writes.
		t.Fatalf("only %d of %d operations succeeded: the faults left too little to check", tally[OK], len(records))
	}
}

// lockLeftWait bounds how long leftLocked waits for an item's lock: a
// lock that a lost answer left (its token never reached the client)
// expires within its TTL (lockTTL, or Azure's 15 seconds); one that a
// call left held, and refreshes, never does.
const lockLeftWait = 35 * time.Second

// leftLocked fails t when, after every call ended, an item's lock cannot
// be taken within lockLeftWait: a call left it held (a lock not released
// on a panic, say).
func leftLocked(t *testing.T, s Server, items []string) {
	t.Helper()
	c, err := concord.New(s.URL, s.Target.Client...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), lockLeftWait)
	defer cancel()
	for _, item := range items {
		u := c.BaseURL() + "/" + s.Target.Items + "/" + item
		for {
			lease, err := s.Target.Locker.Lock(ctx, c, u, lockTTL(s.Target.Locker))
			if err == nil {
				_ = lease.Release(ctx)
				break
			}
			if errors.Is(err, concord.ErrNotFound) {
				break // nothing to lease (Azure): nothing left locked
			}
			if !errors.Is(err, concord.ErrLocked) || ctx.Err() != nil {
				t.Fatalf("after every call ended, the lock of %s could not be taken within %v: %v (a call left it held)", item, lockLeftWait, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// workerEnv carries a worker's Config to a test binary run as a separate
// OS process.
const workerEnv = "HISTORIES_WORKER"

// ServeWorker, called first by a TestMain, runs the test binary as one
// worker when workerEnv says so (see runProcess), with the Target that
// target finds by name, prints its records as JSON and exits. Otherwise it
// returns at once.
func ServeWorker(target func(name string) (Target, bool)) {
	v := os.Getenv(workerEnv)
	if v == "" {
		return
	}
	var cfg Config
	if err := json.Unmarshal([]byte(v), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	tg, ok := target(cfg.Target)
	if !ok {
		fmt.Fprintf(os.Stderr, "histories: no target %q in this binary\n", cfg.Target)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	recs, err := Run(ctx, cfg, tg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_ = json.NewEncoder(os.Stdout).Encode(recs)
	os.Exit(0)
}

// runWorkers runs the workers on cfg: all but the last in this process,
// each with a client of its own, and the last as a separate OS process
// (the test binary, run by ServeWorker).
func runWorkers(t *testing.T, cfg Config, tg Target) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		mu   sync.Mutex
		all  []Record
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := range workers {
		wc := cfg
		wc.Worker = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			var recs []Record
			var err error
			if w == workers-1 {
				recs, err = runProcess(ctx, wc)
			} else {
				recs, err = Run(ctx, wc, tg)
			}
			if err != nil {
				errs <- fmt.Errorf("worker %d: %w", w, err)
				return
			}
			mu.Lock()
			all = append(all, recs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return all
}

// runProcess runs one worker as a separate OS process.
func runProcess(ctx context.Context, cfg Config) ([]Record, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), workerEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("the worker process: %w", err)
	}
	var recs []Record
	return recs, json.Unmarshal(out, &recs)
}

// storedOrders counts the orders the server holds by W, read without the
// proxy.
func storedOrders(t *testing.T, s Server) map[string]int {
	t.Helper()
	c, err := concord.New(s.URL, s.Target.Client...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	n := map[string]int{}
	for o, err := range concord.NewResource[Doc](c, s.Target.Orders).All(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n[o.W]++
	}
	return n
}
