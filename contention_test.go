package concord_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// tortureRetries: enough attempts that a 30% failure rate practically never
// exhausts them, no budget (it would rightly refuse retries at this failure
// rate), and tiny waits.
var tortureRetries = []concord.Option{
	concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 12, BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond}),
	concord.WithRetryBudget(nil),
}

// TestTortureLostResponses: creates through a server that drops 20% of write
// responses after committing and answers 10% of requests with 503. Each
// create must be reported exactly once and stored exactly once. Sequential,
// so the seeded faults hit the same requests on every run.
func TestTortureLostResponses(t *testing.T) {
	const creates = 150
	c, srv := setupFake(t, []concordtest.Option{concordtest.FaultSeed(42)}, tortureRetries...)
	srv.DropFraction(0.2)
	srv.FailFraction(0.1, 503)
	items := concord.NewResource[Widget](c, "widgets")
	ids := make(map[string]bool)
	replays := 0
	for i := range creates {
		res, err := items.Create(context.Background(), Widget{Name: "w", Stock: i})
		if err != nil {
			t.Fatalf("create %d = %v", i, err)
		}
		if ids[res.Value.ID] || res.Value.Stock != i {
			t.Fatalf("create %d returned %+v: a duplicate or another create's result", i, res.Value)
		}
		ids[res.Value.ID] = true
		if res.Replayed {
			replays++
		}
	}
	st := srv.Stats()
	if n := srv.Len("widgets"); n != creates {
		t.Errorf("stored = %d; want %d (resources per create exactly 1.0)", n, creates)
	}
	// A replay can be dropped too, so a create may be dropped more than once.
	if st.Dropped == 0 || st.Faults == 0 || replays == 0 || replays > st.Dropped {
		t.Errorf("dropped %d, faults %d, replays %d; want faults, and a replay for each create that was dropped", st.Dropped, st.Faults, replays)
	}
	assertConnectionsClose(t, srv, c)
}

// TestTortureContention: writers increment one counter under each conflict
// style of the fake API, with faults, and the counter ends exact.
func TestTortureContention(t *testing.T) {
	const writers, increments = 16, 5
	modes := []struct {
		name string
		opts []concordtest.Option
	}{
		{"412", nil},
		{"409", []concordtest.Option{concordtest.ConflictStatus(409)}},
		{"conflict carries state", []concordtest.Option{concordtest.ConflictWithState()}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			srv := concordtest.NewServer(t, append(mode.opts, concordtest.FaultSeed(7))...)
			seedWidget(t, srv, "n", Widget{Name: "counter"})
			srv.FailFraction(0.05, 503)
			srv.DropFraction(0.05)
			var wg sync.WaitGroup
			errs := make(chan error, writers*increments)
			clients := make([]*concord.Client, writers)
			for i := range writers {
				// A client per writer, as separate processes: their writes
				// conflict on the server rather than take turns.
				clients[i] = newClient(t, srv.URL, tortureRetries...)
				items := concord.NewResource[Widget](clients[i], "widgets")
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range increments {
						if _, err := items.Update(context.Background(), "n", func(w *Widget) error { w.Stock++; return nil }, concord.WithMaxConflicts(500)); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("Update = %v", err)
			}
			doc, _, _ := srv.Doc("widgets", "n")
			var w Widget
			if err := json.Unmarshal(doc, &w); err != nil || w.Stock != writers*increments {
				t.Errorf("counter = %s; want %d: an update was lost or applied twice", doc, writers*increments)
			}
			// Not asserted: how much the writers overlap is up to the
			// scheduler. The counter above is what must hold.
			t.Logf("%d conflicts, %d dropped, %d faults", srv.Stats().Conflicts, srv.Stats().Dropped, srv.Stats().Faults)
			assertConnectionsClose(t, srv, clients...)
		})
	}
}

// assertConnectionsClose checks that every response body was closed: once
// the client drops its idle connections, the server has none open.
func assertConnectionsClose(t *testing.T, srv *concordtest.Server, clients ...*concord.Client) {
	t.Helper()
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.OpenConnections() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.OpenConnections(); n != 0 {
		t.Errorf("server has %d connections open after the client closed its idle ones; want 0 (a body left open?)", n)
	}
}

func TestUpdateManyWritersLoseNothing(t *testing.T) {
	const writers, increments = 64, 10
	tests := []struct {
		name   string
		client func(t *testing.T, url string) func() *concord.Client
	}{
		// The usual shape: one client shared by the goroutines, whose
		// writes to one resource take turns.
		{"shared client", func(t *testing.T, url string) func() *concord.Client {
			c := newClient(t, url)
			return func() *concord.Client { return c }
		}},
		// A shared client that lets its writes race, resolved by conflicts.
		{"concurrent writes", func(t *testing.T, url string) func() *concord.Client {
			c := newClient(t, url, concord.WithConcurrentWrites())
			return func() *concord.Client { return c }
		}},
		// A client per goroutine, as separate processes would have.
		{"client per writer", func(t *testing.T, url string) func() *concord.Client {
			return func() *concord.Client { return newClient(t, url) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := concordtest.NewServer(t)
			seedWidget(t, srv, "counter", Widget{Name: "counter"})
			client := tt.client(t, srv.URL)
			var wg sync.WaitGroup
			errs := make(chan error, writers*increments)
			for range writers {
				widgets := concord.NewResource[Widget](client(), "widgets")
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range increments {
						_, err := widgets.Update(context.Background(), "counter", func(w *Widget) error {
							w.Stock++
							return nil
						}, concord.WithMaxConflicts(1000))
						if err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("Update = %v", err)
			}
			doc, _, _ := srv.Doc("widgets", "counter")
			var w Widget
			if err := json.Unmarshal(doc, &w); err != nil || w.Stock != writers*increments {
				t.Errorf("counter = %s; want stock %d", doc, writers*increments)
			}
			t.Logf("%d conflicts for %d updates", srv.Stats().Conflicts, writers*increments)
		})
	}
}
