// Command paging reads a collection served in pages: with All, every item
// page after page in one loop, and with Page, one page at a time, keeping
// where it stopped (Page.Next) to resume later, as a batch job that is
// interrupted does. The embedded API serves 23 items, 5 a page, with a
// Link: rel="next" header, as GitHub does. It exits non-zero unless both
// ways read all 23 items, each once.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// Item is one member of the collection.
type Item struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "paging:", err)
		os.Exit(1)
	}
}

const items = 23

func run(ctx context.Context, w io.Writer) error {
	api := concordtest.NewAPI(concordtest.PageSize(5))
	srv := httptest.NewServer(api)
	defer srv.Close()
	for i := range items {
		id := fmt.Sprintf("item-%02d", i)
		if _, err := api.Seed("items", id, Item{ID: id, Name: fmt.Sprint("number ", i)}); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "embedded API at %s: %d items, 5 a page\n", srv.URL, items)
	c, err := concord.New(srv.URL)
	if err != nil {
		return err
	}
	list := concord.NewResource[Item](c, "items")

	// All: one loop, the pages followed for you.
	seen := map[string]int{}
	for item, err := range list.All(ctx) {
		if err != nil {
			return err
		}
		seen[item.ID]++
	}
	fmt.Fprintf(w, "All read %d items\n", len(seen))
	if err := once(seen); err != nil {
		return fmt.Errorf("reading with All: %w", err)
	}

	// Page: two pages now, the rest later from where it stopped.
	seen = map[string]int{}
	next, pages, err := readPages(ctx, list, "", 2, seen)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "stopped after %d pages (%d items); resuming at %s\n", pages, len(seen), next)
	_, more, err := readPages(ctx, list, next, -1, seen)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Page read %d items in %d pages\n", len(seen), pages+more)
	return once(seen)
}

// readPages reads up to limit pages (all of them when limit < 0) from next,
// counting the items it sees, and returns where it stopped ("" at the
// end) and how many pages it read.
func readPages(ctx context.Context, list *concord.Resource[Item], next string, limit int, seen map[string]int) (string, int, error) {
	pages := 0
	for ; limit < 0 || pages < limit; pages++ {
		page, err := list.Page(ctx, next)
		if err != nil {
			return next, pages, err
		}
		for _, item := range page.Items {
			seen[item.ID]++
		}
		if next = page.Next; next == "" {
			return "", pages + 1, nil
		}
	}
	return next, pages, nil
}

// once checks that every item was read exactly once.
func once(seen map[string]int) error {
	if len(seen) != items {
		return fmt.Errorf("read %d items; want %d", len(seen), items)
	}
	for id, n := range seen {
		if n != 1 {
			return fmt.Errorf("read %s %d times; want once", id, n)
		}
	}
	return nil
}
