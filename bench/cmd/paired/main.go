// Command paired compares each client with hand-written net/http in
// paired, interleaved blocks, because on a shared two-core machine timings
// drift by more than the differences to measure: in each block every
// client makes the same number of calls, in an order that alternates from
// one block to the next, and the block's time divided by net/http's time
// in the same block is one sample. It prints, per case and client, the
// geometric mean of those ratios with a 95% bootstrap confidence interval,
// allocations and bytes allocated per call (exact: counted, not timed;
// they include the in-process server's, the same for every client), and
// for large documents the peak resident memory of a process making only
// that client's calls. It also measures the live heap that concord's
// version cache keeps after reading many large documents.
//
// Run it from the bench module: go run ./cmd/paired [-blocks 40] [-quick].
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/bench"
)

// A scenario is one operation, made by each of its clients under one
// kind of context.
type scenario struct {
	name    string
	clients []string
	calls   int // per client per block
	server  func() *httptest.Server
	call    func(client, url string) (bench.Call, func())
	// background: the calls are made under context.Background(), not
	// under a server handler's context (bench.HandlerContext).
	background bool
}

func scenarios(quick bool) []scenario {
	calls := func(n int) int {
		if quick {
			return max(1, n/20)
		}
		return n
	}
	happy := func() *httptest.Server { return bench.NewHappyServer() }
	large := func(size int, echo bool) func() *httptest.Server {
		return func() *httptest.Server { return bench.NewLargeServer(size, echo) }
	}
	var out []scenario
	for _, background := range []bool{false, true} {
		out = append(out,
			scenario{"GET", bench.HappyClients, calls(200), happy, bench.Get, background},
			scenario{"conditional PUT", append(slices.Clone(bench.HappyClients), "concord-nokey"), calls(200), happy, bench.Put, background},
		)
	}
	for _, size := range []int{1 << 20, 16 << 20} {
		label := fmt.Sprintf("%d MiB", size>>20)
		n := calls(8 >> (size >> 23)) // 8 calls of 1 MiB, 2 of 16 MiB
		put := func(client, url string) (bench.Call, func()) {
			return bench.LargePut(client, url, bench.LargeDoc(size))
		}
		out = append(out,
			scenario{"GET " + label, bench.LargeClients, n, large(size, false), bench.LargeGet, false},
			scenario{"PUT " + label, bench.LargeClients, n, large(size, false), put, false},
			scenario{"Update " + label, bench.LargeClients, n, large(size, false), bench.LargeUpdate, false},
		)
		if size > 1<<20 {
			continue
		}
		change := func(client, url string) (bench.Call, func()) {
			return bench.LargeChange(client, url, bench.LargeDoc(size))
		}
		out = append(out,
			scenario{"change " + label + ", 204", bench.LargeClients, n, large(size, false), change, false},
			scenario{"change " + label + ", echo", bench.LargeClients, n, large(size, true), change, false},
		)
	}
	return out
}

func main() {
	blocks := flag.Int("blocks", 40, "paired blocks per case")
	quick := flag.Bool("quick", false, "few blocks and calls, for a smoke test")
	child := flag.String("child", "", "internal: make only this case's calls for this client (case/client), for its peak memory")
	flag.Parse()
	if *quick {
		*blocks = 3
	}
	if *child != "" {
		runChild(*child, *quick)
		return
	}
	fmt.Printf("Go %s, %s/%s, %d CPUs, %s; %d blocks per case\n\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"), *blocks)
	fmt.Println("| case | context | client | time / net/http [95% CI] | allocs/call | bytes/call | peak RSS |")
	fmt.Println("|---|---|---|---|---:|---:|---:|")
	for _, sc := range scenarios(*quick) {
		measure(sc, *blocks, *quick)
	}
	fmt.Println()
	versionCacheHeap(*quick)
}

// newContext returns the context of a scenario's calls, made anew for each
// client's warm-up, allocation count and share of a block, so that a
// handler's deadline (10 s) bounds one client's few calls, never a whole
// scenario: on a busy machine a scenario can take longer than that.
func (sc scenario) newContext() (context.Context, context.CancelFunc) {
	if sc.background {
		return context.Background(), func() {}
	}
	return bench.HandlerContext()
}

// within runs f under a fresh context of the scenario (see newContext).
func (sc scenario) within(f func(ctx context.Context)) {
	ctx, cancel := sc.newContext()
	defer cancel()
	f(ctx)
}

// measure runs one scenario's blocks and prints its rows.
func measure(sc scenario, blocks int, quick bool) {
	calls := make([]bench.Call, len(sc.clients))
	for i, client := range sc.clients {
		// A server each: a write by one client must not make another's
		// version stale.
		srv := sc.server()
		defer srv.Close()
		call, done := sc.call(client, srv.URL)
		defer done()
		calls[i] = call
		sc.within(func(ctx context.Context) {
			for range max(2, sc.calls/10) { // warm: connections, caches
				must(call(ctx))
			}
		})
	}
	allocs := make([]float64, len(sc.clients))
	bytes := make([]float64, len(sc.clients))
	for i, call := range calls {
		sc.within(func(ctx context.Context) { allocs[i], bytes[i] = perCall(ctx, call, sc.calls) })
	}
	ratios := make([][]float64, len(sc.clients)) // [client][block]
	took := make([]time.Duration, len(sc.clients))
	order := make([]int, len(sc.clients))
	for b := range blocks {
		for i := range order {
			order[i] = i
		}
		if b%2 == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			sc.within(func(ctx context.Context) {
				start := time.Now()
				for range sc.calls {
					must(calls[i](ctx))
				}
				took[i] = time.Since(start)
			})
		}
		for i := range sc.clients {
			ratios[i] = append(ratios[i], float64(took[i])/float64(took[0]))
		}
	}
	large := strings.Contains(sc.name, "MiB")
	for i, client := range sc.clients {
		ratio := "1 (baseline)"
		if i > 0 {
			mean, lo, hi := geomeanCI(ratios[i], 10000)
			ratio = fmt.Sprintf("%.3f [%.3f-%.3f]", mean, lo, hi)
		}
		rss := ""
		if large {
			rss = peakRSS(sc.name+"/"+client, quick)
		}
		context := "handler"
		if sc.background {
			context = "Background"
		}
		fmt.Printf("| %s | %s | %s | %s | %.0f | %s | %s |\n", sc.name, context, client, ratio, allocs[i], size(bytes[i]), rss)
	}
}

// perCall counts the allocations and bytes of n calls, over the whole
// process (the server's included). A collection empties the sync.Pools
// that encoding/json and net/http keep, so a few calls refill them first.
func perCall(ctx context.Context, call bench.Call, n int) (allocs, bytes float64) {
	var before, after runtime.MemStats
	runtime.GC()
	for range 5 {
		must(call(ctx))
	}
	runtime.ReadMemStats(&before)
	for range n {
		must(call(ctx))
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

// geomeanCI returns the geometric mean of ratios and a 95% percentile
// bootstrap interval for it, from resamples of the blocks.
func geomeanCI(ratios []float64, resamples int) (mean, lo, hi float64) {
	logs := make([]float64, len(ratios))
	for i, r := range ratios {
		logs[i] = math.Log(r)
	}
	avg := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	rnd := rand.New(rand.NewPCG(1, 2)) // fixed: the same data give the same interval
	means := make([]float64, resamples)
	sample := make([]float64, len(logs))
	for k := range means {
		for i := range sample {
			sample[i] = logs[rnd.IntN(len(logs))]
		}
		means[k] = avg(sample)
	}
	slices.Sort(means)
	return math.Exp(avg(logs)), math.Exp(means[resamples*25/1000]), math.Exp(means[resamples*975/1000])
}

// peakRSS runs this program again making only one client's calls of one
// case, and returns that process's peak resident memory, which it reports
// itself: the rusage of a child started by a Go program counts the
// parent's memory too (the child begins as a vfork of the parent, and
// Linux carries the high-water mark across exec).
func peakRSS(which string, quick bool) string {
	args := []string{"-child", which}
	if quick {
		args = append(args, "-quick")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	must(err)
	var kib float64
	_, err = fmt.Sscan(string(out), &kib)
	must(err)
	return size(kib * 1024)
}

func runChild(which string, quick bool) {
	name, client, _ := strings.Cut(which, "/")
	for _, sc := range scenarios(quick) {
		if sc.name != name {
			continue
		}
		srv := sc.server()
		call, done := sc.call(client, srv.URL)
		ctx, cancel := sc.newContext()
		for range 2 * sc.calls {
			must(call(ctx))
		}
		cancel()
		done()
		srv.Close()
		status, err := os.ReadFile("/proc/self/status")
		must(err)
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fmt.Println(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				return
			}
		}
		panic("paired: no VmHWM in /proc/self/status")
	}
	panic("paired: no case " + which)
}

// versionCacheHeap reads many distinct large documents with concord's
// default settings and prints the live heap left after a collection: the
// version cache's bound at work. net/http keeps nothing and is the floor.
func versionCacheHeap(quick bool) {
	docs, size := 1024, 1<<20
	if quick {
		docs = 64
	}
	body := []byte(fmt.Sprintf(`{"id":"x","name":"gear","tags":["%s"]}`, strings.Repeat("t", size)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"`+strings.TrimPrefix(r.URL.Path, "/docs/")+`"`)
		w.Write(body)
	}))
	defer srv.Close()
	fmt.Printf("## Live heap after reading %d distinct %d MiB documents\n\n", docs, size>>20)
	fmt.Println("| client | live heap after, MiB | bound |")
	fmt.Println("|---|---:|---|")
	ctx := context.Background()
	for _, client := range []string{"nethttp", "concord"} {
		base := liveHeap()
		var keep any
		switch client {
		case "nethttp":
			hc := &http.Client{Transport: bench.Transport()}
			for i := range docs {
				resp, err := hc.Get(fmt.Sprintf("%s/docs/%d", srv.URL, i))
				must(err)
				var d bench.Doc
				must(jsonDecode(resp, &d))
			}
			hc.CloseIdleConnections()
			keep = hc
		case "concord":
			c, err := concord.New(srv.URL, concord.WithHTTPClient(&http.Client{Transport: bench.Transport()}))
			must(err)
			r := concord.NewResource[bench.Doc](c, "docs")
			for i := range docs {
				_, err := r.Get(ctx, fmt.Sprint(i))
				must(err)
			}
			c.CloseIdleConnections()
			keep = c
		}
		live := liveHeap() - base
		runtime.KeepAlive(keep)
		bound := "none: nothing kept"
		if client == "concord" {
			bound = fmt.Sprintf("DefaultVersionCacheBytes = %d MiB", concord.DefaultVersionCacheBytes>>20)
		}
		fmt.Printf("| %s | %.1f | %s |\n", client, float64(live)/(1<<20), bound)
	}
	fmt.Println()
}

func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func size(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
