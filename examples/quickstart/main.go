// Command quickstart shows concord's main job against an in-process API
// (or a real one with -url): a create whose response is lost and whose
// retry returns the original, two writers editing one resource, the
// conflict, the merge and the retry, and many writers incrementing one
// counter without losing an update. It exits non-zero if any of it did not
// happen.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// Widget is the resource the example manages.
type Widget struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name"`
	Price int    `json:"price"`
	Stock int    `json:"stock"`
	Color string `json:"color,omitempty"`
}

func main() {
	url := flag.String("url", "", "base URL of a real API serving /widgets (default: an embedded in-process API)")
	writers := flag.Int("writers", 16, "concurrent writers in the counter demo")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, *url, *writers); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, baseURL string, writers int) error {
	var api *concordtest.API
	if baseURL == "" {
		api = concordtest.NewAPI()
		srv := httptest.NewServer(api)
		defer srv.Close()
		baseURL = srv.URL
		fmt.Fprintf(w, "embedded API at %s (ETags, If-Match, Idempotency-Key)\n\n", baseURL)
	}
	newClient := func() (*concord.Client, error) {
		return concord.New(baseURL, concord.WithRetryPolicy(concord.RetryPolicy{BaseDelay: 20 * time.Millisecond}))
	}
	alice, err := newClient()
	if err != nil {
		return err
	}
	defer alice.CloseIdleConnections()
	bob, err := newClient()
	if err != nil {
		return err
	}
	defer bob.CloseIdleConnections()
	aliceWidgets := concord.NewResource[Widget](alice, "widgets")
	bobWidgets := concord.NewResource[Widget](bob, "widgets")

	// 1. A create whose response is lost.
	fmt.Fprintln(w, "1. Create a widget; the server commits it but the connection drops before the response.")
	if api != nil {
		api.DropNext(1, "POST", "/widgets")
	}
	created, err := aliceWidgets.Create(ctx, Widget{Name: "gear", Price: 100, Stock: 10})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	fmt.Fprintf(w, "   concord retried with the same Idempotency-Key after %d request(s); replayed=%v\n", created.Requests, created.Replayed)
	fmt.Fprintf(w, "   created %s %+v, version %s\n", created.Value.ID, created.Value, created.Version)
	if api != nil {
		n := api.Len("widgets")
		fmt.Fprintf(w, "   widgets stored on the server: %d\n", n)
		if n != 1 || !created.Replayed {
			return fmt.Errorf("want exactly 1 stored widget from a replayed create, got %d (replayed=%v)", n, created.Replayed)
		}
	}
	id := created.Value.ID

	// 2. Two writers edit the same widget.
	fmt.Fprintln(w, "\n2. Alice and Bob both read the widget.")
	if _, err := bobWidgets.Get(ctx, id); err != nil {
		return err
	}
	fmt.Fprintln(w, "   Alice raises the price to 120 and writes first (If-Match: her version).")
	a, err := aliceWidgets.Update(ctx, id, func(w *Widget) error { w.Price = 120; return nil })
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   Alice's write succeeded: version %s\n", a.Version)

	fmt.Fprintln(w, "   Bob, still holding the old version, paints it blue with Replace and a three-way merge.")
	mine := Widget{ID: id, Name: "gear", Price: 100, Stock: 10, Color: "blue"}
	merges := 0
	res, err := bobWidgets.WithMerge(func(base, mine, theirs Widget) (Widget, error) {
		merges++
		fmt.Fprintf(w, "   conflict! merge(base price=%d, mine color=%q, theirs price=%d)\n", base.Price, mine.Color, theirs.Price)
		return concord.ThreeWay[Widget]()(base, mine, theirs)
	}).Replace(ctx, id, mine)
	if err != nil {
		return fmt.Errorf("bob's replace: %w", err)
	}
	fmt.Fprintf(w, "   Bob's merged write succeeded after %d conflict(s): %+v\n", res.Conflicts, res.Value)
	if merges != 1 || res.Value.Price != 120 || res.Value.Color != "blue" {
		return fmt.Errorf("want one merge keeping Alice's price and Bob's color, got %d merges and %+v", merges, res.Value)
	}

	// 3. Many writers, one counter.
	fmt.Fprintf(w, "\n3. %d writers each add one item to stock concurrently with Update.\n", writers)
	start, err := aliceWidgets.Get(ctx, id)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	conflicts := make([]int, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := newClient()
			if err != nil {
				errs[i] = err
				return
			}
			defer c.CloseIdleConnections()
			r, err := concord.NewResource[Widget](c, "widgets").Update(ctx, id, func(w *Widget) error {
				w.Stock++
				return nil
			}, concord.WithMaxConflicts(100))
			if err == nil {
				conflicts[i] = r.Conflicts
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	total := 0
	for _, n := range conflicts {
		total += n
	}
	end, err := aliceWidgets.Get(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   stock went from %d to %d, %d conflicts resolved on the way, no update lost\n", start.Value.Stock, end.Value.Stock, total)
	if end.Value.Stock != start.Value.Stock+writers {
		return fmt.Errorf("lost updates: stock %d, want %d", end.Value.Stock, start.Value.Stock+writers)
	}
	fmt.Fprintf(w, "\nfinal state: %+v (version %s)\n", end.Value, end.Version)
	return nil
}
