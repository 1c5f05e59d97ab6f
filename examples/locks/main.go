// Command locks shows the lock mode on a server whose preconditions
// cannot be trusted: the embedded API ignores If-Match, as nginx's WebDAV
// and json-server do, but enforces WebDAV locks. Eight writers, each with
// a client of its own, increment one counter five times: optimistically,
// the server lets stale writes through and increments are lost; with
// concord.WithLocks every increment lands. It exits non-zero if the locked
// counter does not end at exactly 40.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// Counter is the one document every writer increments.
type Counter struct {
	N int `json:"n"`
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "locks:", err)
		os.Exit(1)
	}
}

const writers, increments = 8, 5

func run(ctx context.Context, w io.Writer) error {
	api := concordtest.NewAPI(concordtest.IgnoreIfMatch(), concordtest.Locks())
	srv := httptest.NewServer(api)
	defer srv.Close()
	fmt.Fprintf(w, "embedded API at %s: ignores If-Match, enforces WebDAV locks\n", srv.URL)

	for _, mode := range []struct {
		name string
		opts []concord.ResourceOption
	}{
		{"optimistic (If-Match, ignored here)", nil},
		{"WithLocks(WebDAVLocker{}, 0)", []concord.ResourceOption{concord.WithLocks(concord.WebDAVLocker{}, 0)}},
	} {
		if _, err := api.Seed("counters", "c", Counter{}); err != nil {
			return err
		}
		failed, err := race(ctx, srv.URL, mode.opts)
		if err != nil {
			return err
		}
		doc, _, _ := api.Doc("counters", "c")
		fmt.Fprintf(w, "%-38s %d x %d increments: the counter holds %s, %d calls failed\n", mode.name, writers, increments, doc, failed)
		if mode.opts != nil && string(doc) != fmt.Sprintf(`{"n":%d}`, writers*increments) {
			return fmt.Errorf("under the lock the counter holds %s; want %d", doc, writers*increments)
		}
	}
	fmt.Fprintln(w, "under the lock, no increment was lost")
	return nil
}

// race runs the writers, each with a client of its own, as separate
// processes would, and counts the calls that failed.
func race(ctx context.Context, url string, opts []concord.ResourceOption) (int, error) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	for range writers {
		c, err := concord.New(url)
		if err != nil {
			return 0, err
		}
		counters := concord.NewResource[Counter](c, "counters", opts...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range increments {
				if _, err := counters.Update(ctx, "c", func(v *Counter) error { v.N++; return nil }); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return failed, nil
}
