package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"net/http"
	"strings"
	"time"
)

// Fault is a scripted failure. The API checks faults in the order they were
// injected; the first that matches a request and has uses left applies.
type Fault struct {
	// Method matches the request method; empty matches any.
	Method string
	// Path matches the request path exactly, or as a prefix when it ends
	// in "*"; empty matches any.
	Path string
	// Times is how many matching requests the fault applies to; 0 means
	// every one until ClearFaults.
	Times int
	// Status, when set, answers the request with this status (and a
	// problem document) without processing it.
	Status int
	// RetryAfter, when set, is sent as the Retry-After header with Status.
	RetryAfter string
	// DropAfterCommit processes the request, then closes the connection
	// without answering: the lost-response case.
	DropAfterCommit bool
	// CutAfterCommit processes the request and sends the status, the
	// headers and half of a 2xx answer's body, then closes the
	// connection: the write took effect, and its answer is cut short.
	CutAfterCommit bool

	used int
}

// Inject adds a fault.
func (a *API) Inject(f Fault) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults = append(a.faults, &f)
}

// FailNext answers the next n requests matching method and path with
// status, sending retryAfter as Retry-After when it is not empty.
func (a *API) FailNext(n int, method, path string, status int, retryAfter string) {
	a.Inject(Fault{Method: method, Path: path, Times: n, Status: status, RetryAfter: retryAfter})
}

// DropNext processes the next n writes matching method and path, then drops
// their connections without a response.
func (a *API) DropNext(n int, method, path string) {
	a.Inject(Fault{Method: method, Path: path, Times: n, DropAfterCommit: true})
}

// ClearFaults removes every fault, the failure and drop fractions and the
// latency.
func (a *API) ClearFaults() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults, a.failRate, a.dropRate, a.cutRate, a.latency = nil, 0, 0, 0, 0
}

// SetLatency delays every request by d before it is processed.
func (a *API) SetLatency(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.latency = d
}

// FailFraction answers a fraction p (0 to 1) of requests, chosen by the
// seeded random source, with status.
func (a *API) FailFraction(p float64, status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failRate, a.failStatus = p, status
}

// DropFraction drops the connection of a fraction p (0 to 1) of writes,
// chosen by the seeded random source, after they committed.
func (a *API) DropFraction(p float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dropRate = p
}

// CutFraction cuts the answer of a fraction p (0 to 1) of writes, chosen
// by the seeded random source, in the middle of its body, after they
// committed (see Fault.CutAfterCommit).
func (a *API) CutFraction(p float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cutRate = p
}

// matchFault consumes and returns the fault that applies to r, if any.
// Callers hold a.mu.
func (a *API) matchFault(r *http.Request) *Fault {
	for _, f := range a.faults {
		if f.Times > 0 && f.used >= f.Times {
			continue
		}
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.Path != "" && f.Path != r.URL.Path && !(strings.HasSuffix(f.Path, "*") && strings.HasPrefix(r.URL.Path, strings.TrimSuffix(f.Path, "*"))) {
			continue
		}
		f.used++
		if f.Status != 0 {
			a.stats.Faults++
		}
		return f
	}
	if a.failRate > 0 && a.rng.Float64() < a.failRate {
		a.stats.Faults++
		return &Fault{Status: a.failStatus}
	}
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if a.dropRate > 0 && write && a.rng.Float64() < a.dropRate {
		return &Fault{DropAfterCommit: true}
	}
	if a.cutRate > 0 && write && a.rng.Float64() < a.cutRate {
		return &Fault{CutAfterCommit: true}
	}
	return nil
}
