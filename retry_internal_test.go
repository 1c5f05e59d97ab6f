package concord

import (
	"net/http"
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
		if got := p.backoff(tt.retry, func() float64 { return tt.rnd }); got != tt.want {
			t.Errorf("backoff(%d, rnd %v) = %v; want %v", tt.retry, tt.rnd, got, tt.want)
		}
	}
	custom := RetryPolicy{Backoff: func(n int) time.Duration { return time.Duration(n-5) * time.Second }}
	if got := custom.backoff(1, nil); got != 0 {
		t.Errorf("custom backoff returning a negative wait = %v; want 0", got)
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
