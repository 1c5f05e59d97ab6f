package concord

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 120 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"-5", 0, false},
		{"+5", 0, false},
		{"5.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999999", maxHintSeconds * time.Second, true},
		{"3000000000", maxHintSeconds * time.Second, true},
		{"Sun, 22 Nov 2026 12:00:30 GMT", 30 * time.Second, true}, // IMF-fixdate
		{"Sunday, 22-Nov-26 12:01:00 GMT", time.Minute, true},     // RFC 850
		{"Sun Nov 22 12:00:05 2026", 5 * time.Second, true},       // asctime
		{"Sat, 21 Nov 2026 12:00:00 GMT", 0, true},                // in the past: now
		{"Sun, 22 Nov 2026 25:00:00 GMT", 0, false},               // no such hour
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestFullJitterBackoff(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	tests := []struct {
		retry int
		rnd   float64
		want  time.Duration
	}{
		{0, 0.5, 50 * time.Millisecond},
		{1, 0.5, 100 * time.Millisecond},
		{2, 0.5, 200 * time.Millisecond},
		{3, 0.999, 799200 * time.Microsecond},
		{4, 0.5, 500 * time.Millisecond}, // capped at MaxDelay
		{62, 0.5, 500 * time.Millisecond},
		{1000, 0.5, 500 * time.Millisecond},
		{5, 0, 0},
	}
	for _, tt := range tests {
		if got := fullJitter(p.BaseDelay, p.MaxDelay, tt.retry, func() float64 { return tt.rnd }); got != tt.want {
			t.Errorf("fullJitter(%d, rnd %v) = %v; want %v", tt.retry, tt.rnd, got, tt.want)
		}
	}
	negative := &call{retry: RetryPolicy{NewBackoff: func() Backoff {
		return BackoffFunc(func(n int) (time.Duration, bool) { return time.Duration(n-5) * time.Second, n < 2 })
	}}}
	if got, more := negative.retryDelay(); got != 0 || !more {
		t.Errorf("a Backoff returning a negative wait gives %v, %v; want 0, true", got, more)
	}
	negative.retries = 2
	if _, more := negative.retryDelay(); more {
		t.Error("a Backoff that stopped gives another retry; want none")
	}
}

func TestRetryDecision(t *testing.T) {
	methods := []string{"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"}
	statuses := []int{200, 304, 400, 404, 408, 409, 412, 422, 428, 429, 500, 501, 502, 503, 504}
	for _, m := range methods {
		for _, st := range statuses {
			for _, guard := range []string{"none", "key", "if-match"} {
				resp := &http.Response{StatusCode: st, Header: http.Header{}}
				got := transientStatus(resp) && safeToRepeat(m, guard == "key", guard == "if-match")
				idempotent := m != "POST" && m != "PATCH"
				transient := st == 408 || st == 429 || st == 500 || st == 502 || st == 503 || st == 504
				want := transient && (idempotent || guard != "none")
				if got != want {
					t.Errorf("retry %s %d with %s = %v; want %v", m, st, guard, got, want)
				}
			}
		}
	}
	override := &http.Response{StatusCode: 503, Header: http.Header{"Stripe-Should-Retry": {"false"}}}
	if transientStatus(override) {
		t.Error("Stripe-Should-Retry: false did not stop a retry of 503")
	}
	override = &http.Response{StatusCode: 400, Header: http.Header{"Stripe-Should-Retry": {"true"}}}
	if !transientStatus(override) {
		t.Error("Stripe-Should-Retry: true did not allow a retry of 400")
	}
}

func TestRetryBudget(t *testing.T) {
	b, err := NewRetryBudget(10, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		if !b.failure() {
			t.Fatalf("failure %d refused a retry with %v tokens left; want allowed above 5", i, b.Tokens())
		}
	}
	if b.failure() {
		t.Fatalf("failure 5 allowed a retry with %v tokens; want refused at 5", b.Tokens())
	}
	for range 100 {
		b.failure()
	}
	if got := b.Tokens(); got != 0 {
		t.Errorf("tokens after a long outage = %v; want 0", got)
	}
	for range 11 {
		b.success()
	}
	if got := b.Tokens(); got != 5.5 {
		t.Errorf("tokens after 11 successes = %v; want 5.5", got)
	}
	if b.failure() {
		t.Errorf("failure at 5.5 tokens allowed a retry; want refused (4.5 left)")
	}
	if got := b.Tokens(); got != 4.5 {
		t.Errorf("tokens = %v; want 4.5", got)
	}
	for range 1000 {
		b.success()
	}
	if got := b.Tokens(); got != 10 {
		t.Errorf("tokens after many successes = %v; want the max, 10", got)
	}
	for _, bad := range [][2]float64{{0, 1}, {10, 0}, {10, 11}, {-1, 0.1}} {
		if _, err := NewRetryBudget(bad[0], bad[1]); err == nil {
			t.Errorf("NewRetryBudget(%v, %v) = nil error; want one", bad[0], bad[1])
		}
	}
}

// TestRetryPolicyDefaults: a zero policy takes the documented defaults,
// and the backoff ceiling is MaxDelay even where BaseDelay<<retry would
// overflow.
func TestRetryPolicyDefaults(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	if p.MaxAttempts != 4 || p.BaseDelay != 100*time.Millisecond || p.MaxDelay != 5*time.Second || p.MaxRetryAfter != 30*time.Second || p.AttemptTimeout != 30*time.Second {
		t.Errorf("defaults = %+v", p)
	}
	one := func() float64 { return 0.999999 }
	for retry, want := range map[int]time.Duration{0: 100 * time.Millisecond, 3: 800 * time.Millisecond, 10: 5 * time.Second, 40: 5 * time.Second} {
		if got := fullJitter(p.BaseDelay, p.MaxDelay, retry, one); got < want*99/100 || got > want {
			t.Errorf("backoff(%d) ceiling = %v; want %v", retry, got, want)
		}
	}
	huge := RetryPolicy{BaseDelay: 1 << 40, MaxDelay: time.Hour}.withDefaults()
	if got := fullJitter(huge.BaseDelay, huge.MaxDelay, 24, one); got < 59*time.Minute { // 1<<64 overflows to 0
		t.Errorf("backoff where the shift overflows = %v; want the MaxDelay ceiling", got)
	}
}

// TestReadAllGrowth: an announced body is read into a buffer of exactly
// its size once a quarter of it has arrived, after doublings; an unknown
// length doubles; nothing is ever allocated for bytes that did not come.
func TestReadAllGrowth(t *testing.T) {
	const size = 16 << 20
	body := strings.Repeat("x", size)
	tests := []struct {
		name       string
		announced  int64
		sent       int
		wantCap    int
		wantAllocs float64 // 0: not checked
	}{
		{"announced and sent", size, size, size + 1, 0},
		{"small, announced", 100, 100, 101, 1},
		{"empty, announced", 0, 0, 1, 1},
		{"the largest allocated at once", initialBodyBuffer - 1, initialBodyBuffer - 1, initialBodyBuffer, 1},
		{"unknown length", -1, size, 2 * size, 0},
		{"announced, a little sent", size, 1000, 1024, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := strings.NewReader(body[:tt.sent])
			b, err := readAll(r, tt.announced, 64<<20)
			if err != nil || len(b) != tt.sent || cap(b) != tt.wantCap {
				t.Errorf("readAll(%d bytes, announced %d) = %d bytes in a buffer of %d, %v; want %d in %d", tt.sent, tt.announced, len(b), cap(b), err, tt.sent, tt.wantCap)
			}
			if tt.wantAllocs == 0 {
				return
			}
			allocs := testing.AllocsPerRun(10, func() {
				r.Reset(body[:tt.sent])
				readAll(r, tt.announced, 64<<20)
			})
			if allocs != tt.wantAllocs {
				t.Errorf("readAll(%d bytes, announced %d) allocated %v times; want %v", tt.sent, tt.announced, allocs, tt.wantAllocs)
			}
		})
	}
	// The jump comes as soon as a quarter has arrived: the doublings before
	// it add up to half the body, so reading it costs 1.5 times its size.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := readAll(strings.NewReader(body), size, 64<<20); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > size*3/2+size/16 {
		t.Errorf("reading an announced %d MiB allocated %.2f times its size; want 1.5", size>>20, float64(got)/size)
	}
}

// TestCallRetryPolicyFieldByField: a call's own retry policy replaces the
// fields it sets and keeps the client's for those it leaves zero.
func TestCallRetryPolicyFieldByField(t *testing.T) {
	backoffFn := func() Backoff {
		return BackoffFunc(func(int) (time.Duration, bool) { return time.Minute, true })
	}
	retryable := func(*http.Response, error) bool { return true }
	client := RetryPolicy{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: 2 * time.Second, MaxRetryAfter: 3 * time.Second, AttemptTimeout: 4 * time.Second}
	tests := []struct {
		name string
		call RetryPolicy
		want func(p RetryPolicy) bool
	}{
		{"nothing set", RetryPolicy{}, func(p RetryPolicy) bool {
			return p.MaxAttempts == 4 && p.BaseDelay == time.Second && p.MaxDelay == 2*time.Second && p.MaxRetryAfter == 3*time.Second && p.AttemptTimeout == 4*time.Second && p.NewBackoff == nil && p.Retryable == nil
		}},
		{"attempts", RetryPolicy{MaxAttempts: 7}, func(p RetryPolicy) bool { return p.MaxAttempts == 7 && p.BaseDelay == time.Second }},
		{"base delay", RetryPolicy{BaseDelay: 5 * time.Second}, func(p RetryPolicy) bool { return p.BaseDelay == 5*time.Second && p.MaxDelay == 2*time.Second }},
		{"max delay", RetryPolicy{MaxDelay: 6 * time.Second}, func(p RetryPolicy) bool { return p.MaxDelay == 6*time.Second && p.BaseDelay == time.Second }},
		{"Retry-After cap", RetryPolicy{MaxRetryAfter: 7 * time.Second}, func(p RetryPolicy) bool { return p.MaxRetryAfter == 7*time.Second && p.MaxDelay == 2*time.Second }},
		{"attempt timeout", RetryPolicy{AttemptTimeout: 8 * time.Second}, func(p RetryPolicy) bool { return p.AttemptTimeout == 8*time.Second && p.MaxRetryAfter == 3*time.Second }},
		{"backoff", RetryPolicy{NewBackoff: backoffFn}, func(p RetryPolicy) bool {
			d, ok := p.NewBackoff().Next(1)
			return d == time.Minute && ok && p.Retryable == nil
		}},
		{"predicate", RetryPolicy{Retryable: retryable}, func(p RetryPolicy) bool { return p.Retryable != nil && p.NewBackoff == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := &call{retry: client}
			cl.override(&tt.call)
			if !tt.want(cl.retry) || cl.retriesLeft() != cl.retry.MaxAttempts-1 {
				t.Errorf("override(%+v) = %+v with %d retries left", tt.call, cl.retry, cl.retriesLeft())
			}
		})
	}
}
