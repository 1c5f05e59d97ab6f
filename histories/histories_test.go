package histories

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// workerEnv carries a worker's Config to the test binary run as a
// separate OS process.
const workerEnv = "HISTORIES_WORKER"

// TestMain runs the test binary as one worker when workerEnv says so,
// printing its records as JSON.
func TestMain(m *testing.M) {
	if v := os.Getenv(workerEnv); v != "" {
		var cfg Config
		if err := json.Unmarshal([]byte(v), &cfg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		recs, err := Run(ctx, cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_ = json.NewEncoder(os.Stdout).Encode(recs)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// dialects are the servers a history runs against: concordtest as
// concord's own dialect, its fault modes, and the dialects of real
// servers that the lock mode is for.
var dialects = []struct {
	name string
	opts []concordtest.Option
	api  func(*concordtest.API) // fault modes set on the API
	cfg  func(*Config)
	// limits: what the server cannot give any client (docs/servers.md),
	// which the model then allows, there alone.
	limits Limits
}{
	{name: "concordtest"},
	{name: "409 for conflicts", opts: []concordtest.Option{concordtest.ConflictStatus(http.StatusConflict)}},
	{name: "version in the body", opts: []concordtest.Option{concordtest.VersionInBody("_rev", "")}, cfg: func(c *Config) { c.Versioner = "body" }},
	{name: "keys on POST only, answers cut after commit", opts: []concordtest.Option{concordtest.KeysOnPOSTOnly()}, api: func(a *concordtest.API) { a.CutFraction(0.1) },
		limits: Limits{Reapplied: true}},
	{name: "writes answered bare (Apache)", opts: []concordtest.Option{concordtest.BareWriteAnswers(), concordtest.KeysOnPOSTOnly()},
		limits: Limits{Reapplied: true}},
	{name: "server drops after commit, 503s", api: func(a *concordtest.API) { a.DropFraction(0.1); a.FailFraction(0.05, http.StatusServiceUnavailable) }},
	{name: "nginx dav-ext under locks", opts: []concordtest.Option{concordtest.Locks(), concordtest.FileTimeETags(), concordtest.IgnoreIfMatch(), concordtest.IgnoreIfNoneMatch()},
		cfg: func(c *Config) { c.Locks = "webdav" }, limits: Limits{StaleReads: true}},
	{name: "Azure leases, If-Match ignored", opts: []concordtest.Option{concordtest.Leases(), concordtest.IgnoreIfMatch()}, cfg: func(c *Config) { c.Locks = "azure" }},
	{name: "no ETags under locks", opts: []concordtest.Option{concordtest.Locks(), concordtest.NoETags()}, cfg: func(c *Config) { c.Locks = "webdav" }},
}

// envInt reads a whole number from the environment, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// TestHistoriesAreLinearizable runs, against each dialect and through the
// fault proxy, workers of their own clients (one of them a separate OS
// process) and checks the history. The seed is printed; HISTORIES_SEED
// reruns a schedule, HISTORIES_RUNS runs more seeds, HISTORIES_OPS makes
// each worker's schedule longer (scripts/histories.sh soaks with them).
func TestHistoriesAreLinearizable(t *testing.T) {
	seed := uint64(envInt("HISTORIES_SEED", int(rand.Uint32())))
	runs, ops := envInt("HISTORIES_RUNS", 1), envInt("HISTORIES_OPS", 25)
	for run := range runs {
		s := seed + uint64(run)
		for _, d := range dialects {
			t.Run(fmt.Sprintf("%s/seed=%d", d.name, s), func(t *testing.T) {
				faults := PickFaults(s)
				t.Logf("seed %d (HISTORIES_SEED=%d reruns it): %s", s, s, faults)
				api := concordtest.NewAPI(append([]concordtest.Option{concordtest.FaultSeed(s)}, d.opts...)...)
				if d.api != nil {
					d.api(api)
				}
				srv := httptest.NewServer(api)
				defer srv.Close()
				u, _ := url.Parse(srv.URL)
				proxy, err := StartProxy(u.Host, faults)
				if err != nil {
					t.Fatal(err)
				}
				defer proxy.Close()
				cfg := Config{URL: proxy.URL(), Seed: s, Ops: ops, Items: []string{"a", "b", "c"}, OpTimeout: 2 * time.Second}
				if d.cfg != nil {
					d.cfg(&cfg)
				}
				records := runWorkers(t, cfg, 4)
				viz := filepath.Join(os.TempDir(), fmt.Sprintf("concord-history-%d-%s.html", s, filepath.Base(t.Name())))
				result, violation := Check(records, d.limits, viz, 30*time.Second)
				switch result {
				case porcupine.Illegal:
					t.Fatalf("the history of %d operations is not linearizable (seed %d; HISTORIES_SEED=%d reruns it; visualization: %s); the smallest item history that breaks it:\n%s",
						len(records), s, s, viz, violation)
				case porcupine.Unknown:
					t.Logf("the checker ran out of time on %d operations: nothing found", len(records))
				}
				if err := CheckCreates(records, storedOrders(t, srv.URL)); err != nil {
					t.Fatalf("seed %d: %v", s, err)
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
			})
		}
	}
}

// runWorkers runs n workers on cfg: n-1 in this process, each with a
// client of its own, and the last as a separate OS process (this test
// binary, run by TestMain).
func runWorkers(t *testing.T, cfg Config, n int) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		mu   sync.Mutex
		all  []Record
		wg   sync.WaitGroup
		errs = make(chan error, n)
	)
	for w := range n {
		wc := cfg
		wc.Worker = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			var recs []Record
			var err error
			if w == n-1 {
				recs, err = runProcess(ctx, wc)
			} else {
				recs, err = Run(ctx, wc)
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
func storedOrders(t *testing.T, base string) map[string]int {
	t.Helper()
	c, err := concord.New(base)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	n := map[string]int{}
	for o, err := range concord.NewResource[Doc](c, "orders").All(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n[o.W]++
	}
	return n
}
