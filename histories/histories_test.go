package histories

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// TestMain runs the test binary as one worker when a history asks it to.
func TestMain(m *testing.M) {
	ServeWorker(func(name string) (Target, bool) {
		for _, d := range dialects {
			if d.name == name {
				return d.target, true
			}
		}
		return Target{}, false
	})
	os.Exit(m.Run())
}

// items and orders are concordtest's collections: every dialect lists
// its items and creates orders by POST.
var items = Target{Items: "items", Orders: "orders", List: true}

// with returns items with resource options.
func with(opts ...concord.ResourceOption) Target {
	t := items
	t.Resource = opts
	return t
}

// locked returns items with the lock mode on l.
func locked(l concord.Locker) Target {
	t := items
	t.Locker = l
	return t
}

// dialects are the servers a history runs against: concordtest as
// concord's own dialect, its fault modes, and the dialects of real
// servers that the lock mode is for (the interop module runs the real
// servers themselves).
var dialects = []struct {
	name   string
	opts   []concordtest.Option
	api    func(*concordtest.API) // fault modes set on the API
	target Target
	// limits: what the server cannot give any client (docs/servers.md),
	// which the model then allows, there alone.
	limits Limits
}{
	{name: "concordtest", target: items},
	{name: "409 for conflicts", opts: []concordtest.Option{concordtest.ConflictStatus(http.StatusConflict)}, target: items},
	{name: "version in the body", opts: []concordtest.Option{concordtest.VersionInBody("_rev", "")}, target: with(concord.WithVersioner(concord.BodyVersion{Path: "_rev"}))},
	{name: "CouchDB receipts", opts: []concordtest.Option{concordtest.VersionInBody("_rev", "rev"), concordtest.Receipts()},
		target: with(concord.WithVersioner(concord.BodyVersion{Path: "_rev", Query: "rev", Receipt: "rev"}))},
	{name: "keys on POST only, answers cut after commit", opts: []concordtest.Option{concordtest.KeysOnPOSTOnly()}, api: func(a *concordtest.API) { a.CutFraction(0.1) },
		target: items, limits: Limits{Reapplied: true}},
	{name: "writes answered bare (Apache)", opts: []concordtest.Option{concordtest.BareWriteAnswers(), concordtest.KeysOnPOSTOnly()},
		target: items, limits: Limits{Reapplied: true}},
	{name: "If-Match not atomic (Apache)", opts: []concordtest.Option{concordtest.RacyIfMatch()}, target: items, limits: Limits{RacyPreconditions: true}},
	{name: "deletes ignore preconditions (fake-gcs-server)", opts: []concordtest.Option{concordtest.IgnoreIfMatch(http.MethodDelete)}, target: items, limits: Limits{BlindDeletes: true}},
	{name: "server drops after commit, 503s", api: func(a *concordtest.API) { a.DropFraction(0.1); a.FailFraction(0.05, http.StatusServiceUnavailable) }, target: items},
	{name: "nginx dav-ext under locks", opts: []concordtest.Option{concordtest.Locks(), concordtest.FileTimeETags(), concordtest.IgnoreIfMatch(), concordtest.IgnoreIfNoneMatch()},
		target: locked(concord.WebDAVLocker{}), limits: Limits{StaleReads: true}},
	{name: "Azure leases, If-Match ignored", opts: []concordtest.Option{concordtest.Leases(), concordtest.IgnoreIfMatch()},
		target: locked(concord.AzureLeaseLocker{})},
	{name: "torn reads under locks", opts: []concordtest.Option{concordtest.Locks(), concordtest.TornReads()}, target: locked(concord.WebDAVLocker{})},
	{name: "no ETags under locks", opts: []concordtest.Option{concordtest.Locks(), concordtest.NoETags()}, target: locked(concord.WebDAVLocker{})},
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
				api := concordtest.NewAPI(append([]concordtest.Option{concordtest.FaultSeed(s)}, d.opts...)...)
				if d.api != nil {
					d.api(api)
				}
				srv := httptest.NewServer(api)
				defer srv.Close()
				Verify(t, Server{Name: d.name, URL: srv.URL, Target: d.target, Limits: d.limits}, s, ops)
			})
		}
	}
}

// TestLimitsAreWhereHistoriesBreak: on each dialect that cannot keep a
// promise, a history made to reach it breaks the model without the
// dialect's limit and not with it (VerifyLimits).
func TestLimitsAreWhereHistoriesBreak(t *testing.T) {
	for _, d := range dialects {
		if d.limits == (Limits{}) || d.limits == (Limits{Reapplied: true}) {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			srv := httptest.NewServer(concordtest.NewAPI(d.opts...))
			defer srv.Close()
			VerifyLimits(t, Server{Name: d.name, URL: srv.URL, Target: d.target, Limits: d.limits})
		})
	}
}
