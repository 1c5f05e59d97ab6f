// Command scenarios measures concord against the alternatives in three
// scenarios that ns/op cannot show, on loopback servers in one run, and
// prints Markdown tables (the ones in BENCHMARKS.md):
//
//   - contention: writers incrementing one counter through Update, against
//     the fake API in its 412, 409 and conflict-carries-state modes, beside
//     the loop client-go's retry.RetryOnConflict(retry.DefaultRetry, ...)
//     users write (GET, mutate, PUT If-Match, retry on conflict);
//   - outage: callers against a server answering 503 for a fixed period;
//   - lost responses: creates through a server that drops 20% of write
//     responses after committing and answers 10% of requests with 503.
//
// Run it from the bench module: go run ./cmd/scenarios [-quick].
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
	"github.com/google/uuid"
	"github.com/hashicorp/go-retryablehttp"
)

// Counter is the resource the contention scenario increments.
type Counter struct {
	N int `json:"n"`
}

func main() {
	quick := flag.Bool("quick", false, "smaller runs, for a smoke test")
	study := flag.Int("backoff-study", 0, "only compare conflict backoffs, with this many runs of each")
	locks := flag.Int("locks", 0, "only compare the lock mode with optimistic writes, with this many runs of each")
	crowd := flag.Int("crowd", 0, "only run this many writers x 5 increments, -runs times, idle and with a CPU hog")
	runs := flag.Int("runs", 5, "runs of -crowd in each condition")
	flag.Parse()
	fmt.Printf("Go %s, %s/%s, %d CPUs, %s\n\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	if *study > 0 {
		backoffStudy(*study)
		return
	}
	if *locks > 0 {
		lockCost([]int{1, 8, 32}, 5, *locks)
		return
	}
	if *crowd > 0 {
		crowdRuns(*crowd, 5, *runs)
		return
	}
	writers := []int{1, 8, 32, 128}
	if *quick {
		writers = []int{1, 8}
	}
	contention(writers, 5)
	outage(16, 5*time.Second)
	lostResponses(200, 8)
}

// transport keeps enough idle connections for 128 writers.
func transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	t.MaxIdleConns = 1024
	return t
}

// ---- contention ------------------------------------------------------

type updateFunc func(ctx context.Context) (bool, error)

func contention(writerCounts []int, increments int) {
	fmt.Println("## Contention: N writers, each making", increments, "increments of one counter")
	fmt.Println()
	fmt.Println("| server mode | client | writers | final = increments made | failed calls | requests per update | p50 per update | p99 per update |")
	fmt.Println("|---|---|---:|---|---:|---:|---:|---:|")
	modes := []struct {
		name string
		opts []concordtest.Option
	}{
		{"412", nil},
		{"409", []concordtest.Option{concordtest.ConflictStatus(409)}},
		{"conflict carries state", []concordtest.Option{concordtest.ConflictWithState()}},
	}
	for _, mode := range modes {
		for _, n := range writerCounts {
			for _, client := range []string{"concord, client per writer", "concord, one shared client", "plain RetryOnConflict loop"} {
				r := runContention(mode.opts, client, n, increments, concord.ConflictPolicy{})
				verdict := "yes"
				if r.final != r.succeeded {
					verdict = fmt.Sprintf("**no: %d vs %d**", r.final, r.succeeded)
				}
				fmt.Printf("| %s | %s | %d | %s (%d) | %d | %.2f | %s | %s |\n", mode.name, client, n, verdict, r.final, r.failed,
					r.perUpdate, pct(r.latencies, 50), pct(r.latencies, 99))
			}
		}
	}
	fmt.Println()
}

// contended is what one contention run measured.
type contended struct {
	final, succeeded, failed int64
	perUpdate                float64         // requests per successful update
	latencies                []time.Duration // of successful updates, sorted
}

// runContention runs writers goroutines, each making increments updates of
// one counter, and measures them. policy is the concord clients' conflict
// policy.
func runContention(opts []concordtest.Option, client string, writers, increments int, policy concord.ConflictPolicy) contended {
	api := concordtest.NewAPI(opts...)
	srv := httptest.NewServer(api)
	defer srv.Close()
	if _, err := api.Seed("counters", "c", Counter{}); err != nil {
		panic(err)
	}
	before := api.Stats().Requests

	var shared *concord.Client
	newConcord := func() *concord.Client {
		c, err := concord.New(srv.URL, concord.WithHTTPClient(&http.Client{Transport: transport()}), concord.WithConflictPolicy(policy))
		if err != nil {
			panic(err)
		}
		return c
	}
	if client == "concord, one shared client" {
		shared = newConcord()
	}
	makeUpdate := func() (updateFunc, func()) {
		switch client {
		case "plain RetryOnConflict loop":
			hc := &http.Client{Transport: transport()}
			return plainUpdate(hc, srv.URL+"/counters/c"), hc.CloseIdleConnections
		default:
			c := shared
			if c == nil {
				c = newConcord()
			}
			var opts []concord.ResourceOption
			if client == lockingClient {
				opts = append(opts, concord.WithLocks(concord.WebDAVLocker{}, 0))
			}
			counters := concord.NewResource[Counter](c, "counters", opts...)
			return func(ctx context.Context) (bool, error) {
				_, err := counters.Update(ctx, "c", func(v *Counter) error { v.N++; return nil })
				return err == nil, err
			}, c.CloseIdleConnections
		}
	}

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		succeeded atomic.Int64
		failed    atomic.Int64
	)
	for range writers {
		update, done := makeUpdate()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done()
			for range increments {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				start := time.Now()
				ok, _ := update(ctx)
				took := time.Since(start)
				cancel()
				if !ok {
					failed.Add(1)
					continue
				}
				succeeded.Add(1)
				mu.Lock()
				latencies = append(latencies, took)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	doc, _, _ := api.Doc("counters", "c")
	var final Counter
	_ = json.Unmarshal(doc, &final)
	requests := api.Stats().Requests - before
	slices.Sort(latencies)
	return contended{
		final: int64(final.N), succeeded: succeeded.Load(), failed: failed.Load(),
		perUpdate: float64(requests) / float64(max(succeeded.Load(), 1)),
		latencies: latencies,
	}
}

// plainUpdate is the read-modify-write users write around client-go's
// retry.RetryOnConflict(retry.DefaultRetry, ...): up to 5 tries, 10ms apart
// with 10% jitter; each try GETs, mutates and PUTs with If-Match.
func plainUpdate(hc *http.Client, url string) updateFunc {
	return func(ctx context.Context) (bool, error) {
		for step := range 5 {
			if step > 0 {
				wait := 10*time.Millisecond + time.Duration(rand.Float64()*0.1*float64(10*time.Millisecond))
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return false, ctx.Err()
				}
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := hc.Do(req)
			if err != nil {
				return false, err
			}
			var v Counter
			err = json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if err != nil {
				return false, err
			}
			etag := resp.Header.Get("ETag")
			v.N++
			body, _ := json.Marshal(v)
			req, _ = http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("If-Match", etag)
			resp, err = hc.Do(req)
			if err != nil {
				return false, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode < 300:
				return true, nil
			case resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusPreconditionFailed:
				continue
			default:
				return false, fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		return false, errors.New("conflict after 5 tries")
	}
}

func pct(sorted []time.Duration, p int) string {
	if len(sorted) == 0 {
		return "-"
	}
	d := sorted[min(len(sorted)-1, len(sorted)*p/100)]
	return d.Round(10 * time.Microsecond).String()
}

// ---- outage ----------------------------------------------------------

func outage(callers int, period time.Duration) {
	fmt.Printf("## Outage: %d callers sharing one client, server answering 503 for %v\n\n", callers, period)
	fmt.Println("Each caller makes calls back to back (10ms apart) until the outage ends; counts are of calls started and requests received during the outage.")
	fmt.Println()
	fmt.Println("| client | calls made | requests received | requests per call | requests per call after the first 100 calls | calls failed fast by the budget |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	runOutage("concord (default retry policy and budget)", callers, period, func(url string) (func(context.Context) error, func()) {
		c, err := concord.New(url, concord.WithHTTPClient(&http.Client{Transport: transport()}))
		if err != nil {
			panic(err)
		}
		things := concord.NewResource[Counter](c, "things")
		return func(ctx context.Context) error { _, err := things.Get(ctx, "1"); return err }, c.CloseIdleConnections
	})
	runOutage("go-retryablehttp defaults (4 retries, 1s to 30s waits)", callers, period, func(url string) (func(context.Context) error, func()) {
		rc := retryablehttp.NewClient()
		rc.HTTPClient = &http.Client{Transport: transport()}
		rc.Logger = nil
		return func(ctx context.Context) error {
			req, _ := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, url+"/things/1", nil)
			resp, err := rc.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}, rc.HTTPClient.CloseIdleConnections
	})
	fmt.Println()
}

func runOutage(name string, callers int, period time.Duration, newClient func(url string) (func(context.Context) error, func())) {
	var (
		requests atomic.Int64
		end      = time.Now().Add(period)
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(end) {
			requests.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"n":1}`)
	}))
	defer srv.Close()
	call, done := newClient(srv.URL)
	defer done()
	var (
		wg        sync.WaitGroup
		calls     atomic.Int64
		warmCalls atomic.Int64
		warmReqs  atomic.Int64
		budgeted  atomic.Int64
	)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if n := calls.Add(1); n == 100 {
					warmCalls.Store(n)
					warmReqs.Store(requests.Load())
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := call(ctx); errors.Is(err, concord.ErrRetryBudgetExhausted) {
					budgeted.Add(1)
				}
				cancel()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	total := requests.Load()
	after := "-"
	if n := calls.Load() - warmCalls.Load(); warmCalls.Load() > 0 && n > 0 {
		after = fmt.Sprintf("%.2f", float64(total-warmReqs.Load())/float64(n))
	}
	fmt.Printf("| %s | %d | %d | %.2f | %s | %d |\n", name, calls.Load(), total, float64(total)/float64(calls.Load()), after, budgeted.Load())
}

// ---- lost responses --------------------------------------------------

func lostResponses(creates, workers int) {
	fmt.Printf("## Lost responses: %d creates by %d workers; the server drops 20%% of write responses after committing and answers 10%% of requests with 503\n\n", creates, workers)
	fmt.Println("| client | reported created | reported failed | stored | stored per reported create | duplicates | failed but stored |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	type creator func(ctx context.Context, n int) error
	clients := []struct {
		name string
		make func(url string) (creator, func())
	}{
		{"concord Create (its retries, then the caller retries with the same key)", func(url string) (creator, func()) {
			c, err := concord.New(url, concord.WithHTTPClient(&http.Client{Transport: transport()}), concord.WithRetryPolicy(concord.RetryPolicy{BaseDelay: 5 * time.Millisecond}))
			if err != nil {
				panic(err)
			}
			items := concord.NewResource[map[string]any](c, "items")
			return func(ctx context.Context, n int) error {
				key := uuid.NewString() // stored with the intent, as a real caller would
				var err error
				for range 5 {
					if _, err = items.Create(ctx, map[string]any{"n": n}, concord.WithIdempotencyKey(key)); err == nil {
						return nil
					}
				}
				return err
			}, c.CloseIdleConnections
		}},
		{"go-retryablehttp (4 retries, waits shortened to 5-50ms)", func(url string) (creator, func()) {
			rc := retryablehttp.NewClient()
			rc.HTTPClient = &http.Client{Transport: transport()}
			rc.Logger = nil
			rc.RetryWaitMin, rc.RetryWaitMax = 5*time.Millisecond, 50*time.Millisecond
			return func(ctx context.Context, n int) error {
				req, _ := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, url+"/items", []byte(`{"n":`+strconv.Itoa(n)+`}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := rc.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return nil
			}, rc.HTTPClient.CloseIdleConnections
		}},
		{"net/http (no retries)", func(url string) (creator, func()) {
			hc := &http.Client{Transport: transport()}
			return func(ctx context.Context, n int) error {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/items", bytes.NewReader([]byte(`{"n":`+strconv.Itoa(n)+`}`)))
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return nil
			}, hc.CloseIdleConnections
		}},
	}
	for _, client := range clients {
		api := concordtest.NewAPI(concordtest.FaultSeed(2026))
		api.DropFraction(0.2)
		api.FailFraction(0.1, http.StatusServiceUnavailable)
		srv := httptest.NewServer(api)
		create, done := client.make(srv.URL)
		reported := make([]bool, creates)
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n := int(next.Add(1)) - 1
					if n >= creates {
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					reported[n] = create(ctx, n) == nil
					cancel()
				}
			}()
		}
		wg.Wait()
		done()
		stored := make([]int, creates)
		total := 0
		list, _ := http.Get(srv.URL + "/items")
		var docs []struct{ N int }
		_ = json.NewDecoder(list.Body).Decode(&docs)
		list.Body.Close()
		for _, d := range docs {
			stored[d.N]++
			total++
		}
		srv.Close()
		var ok, failed, dupes, ghosts int
		for n := range creates {
			if reported[n] {
				ok++
			} else {
				failed++
			}
			if stored[n] > 1 {
				dupes += stored[n] - 1
			}
			if !reported[n] && stored[n] > 0 {
				ghosts++
			}
		}
		fmt.Printf("| %s | %d | %d | %d | %.2f | %d | %d |\n", client.name, ok, failed, total, float64(total)/float64(max(ok, 1)), dupes, ghosts)
	}
	fmt.Println()
	os.Stdout.Sync()
}
