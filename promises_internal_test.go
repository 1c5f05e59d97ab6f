package concord

import (
	"context"
	"fmt"
	"github.com/google/uuid"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Boundaries and bookkeeping that the package's public behavior rests on,
// each found by mutation testing to have no test (see TESTING.md).

func TestRetryBudgetBounds(t *testing.T) {
	tests := []struct {
		max, ratio float64
		ok         bool
	}{
		{1, 0.5, true}, {1, 1, true}, {2, 2, true}, {0.99, 0.5, false}, {2, 2.01, false}, {2, 0, false},
	}
	for _, tt := range tests {
		if _, err := NewRetryBudget(tt.max, tt.ratio); (err == nil) != tt.ok {
			t.Errorf("NewRetryBudget(%v, %v) = %v; want ok=%v", tt.max, tt.ratio, err, tt.ok)
		}
	}
}

func TestConflictKindNames(t *testing.T) {
	for k, want := range map[ConflictKind]string{-1: "unknown", KindNone: "none", KindBusinessRule: "business rule", KindLocked: "locked", KindLocked + 1: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("ConflictKind(%d).String() = %q; want %q", int(k), got, want)
		}
	}
}

func TestErrorCodeParsing(t *testing.T) {
	long := strings.Repeat("A", 128)
	tests := []struct {
		body          string
		dialect, code string
	}{
		{`<Code>PreconditionFailed</Code>`, dialectS3, "PreconditionFailed"},
		{`<Error><Code>` + long + `</Code></Error>`, dialectS3, long},
		{`<Error><Code>` + long + `A</Code></Error>`, dialectNone, ""},
		{`{"error":{"type":"invalid_request_error","code":"resource_missing"}}`, dialectStripe, "resource_missing"},
		{`{"error":{"code":"BlobNotFound"}}`, dialectAzure, "BlobNotFound"},
	}
	for _, tt := range tests {
		if d, c := errorCode(nil, []byte(tt.body), nil); d != tt.dialect || c != tt.code {
			t.Errorf("errorCode(%.40s) = %q, %q; want %q, %q", tt.body, d, c, tt.dialect, tt.code)
		}
	}
	if got := lastSegment("#request-in-progress"); got != "request-in-progress" {
		t.Errorf("lastSegment(#request-in-progress) = %q", got)
	}
}

func TestTruncateKeepsWhatFits(t *testing.T) {
	if got := truncate("abc", 3); got != "abc" {
		t.Errorf("truncate(abc, 3) = %q; want abc", got)
	}
	if got := truncate("abcd", 3); got != "abc..." {
		t.Errorf("truncate(abcd, 3) = %q; want abc...", got)
	}
}

func TestIdempotencyKeyValidation(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{strings.Repeat("k", MaxIdempotencyKeyLen), true},
		{strings.Repeat("k", MaxIdempotencyKeyLen+1), false},
		{"", false}, {"a b", false}, {" a", false}, {"a\x7f", false}, {"a\"b", false}, {"a\\b", false}, {"!~", true},
	}
	for _, tt := range tests {
		if err := validateKey(tt.key); (err == nil) != tt.ok {
			t.Errorf("validateKey(%.20q) = %v; want ok=%v", tt.key, err, tt.ok)
		}
	}
}

func TestHeaderNames(t *testing.T) {
	for name, ok := range map[string]bool{`a"b`: false, "X-Api-Key": true, "!#$%&'*+-.^_`|~": true, "a b": false, "a\x7f": false, "a:b": false, "": false, "a\x1f": false} {
		if validHeaderName(name) != ok {
			t.Errorf("validHeaderName(%q) = %v; want %v", name, !ok, ok)
		}
	}
}

func TestNumbersCompareByValue(t *testing.T) {
	if !sameJSON([]byte(`{"n":1.0,"m":[2e0]}`), []byte(`{"n":1,"m":[2]}`)) {
		t.Error(`{"n":1.0} and {"n":1} compare unequal`)
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
		if got := p.backoff(retry, one); got < want*99/100 || got > want {
			t.Errorf("backoff(%d) ceiling = %v; want %v", retry, got, want)
		}
	}
	huge := RetryPolicy{BaseDelay: 1 << 40, MaxDelay: time.Hour}.withDefaults()
	if got := huge.backoff(24, one); got < 59*time.Minute { // 1<<64 overflows to 0
		t.Errorf("backoff where the shift overflows = %v; want the MaxDelay ceiling", got)
	}
}

func TestWriteLocksForgetAndReuse(t *testing.T) {
	l := &writeLocks{byURL: make(map[string]*writeLock)}
	for i := range maxFreeLocks + 10 { // all held at once, then all freed
		if wl, err := l.lock(context.Background(), fmt.Sprint("u", i)); err != nil || wl == nil {
			t.Fatal(err)
		}
	}
	for i := range maxFreeLocks + 10 {
		l.unlock(fmt.Sprint("u", i))
	}
	if len(l.byURL) != 0 || len(l.free) != maxFreeLocks {
		t.Errorf("after %d locks: %d held, %d kept for reuse; want 0 and %d", maxFreeLocks+10, len(l.byURL), len(l.free), maxFreeLocks)
	}
	wl, _ := l.lock(context.Background(), "a")
	if wl.refs != 1 {
		t.Errorf("a fresh lock has %d references; want 1", wl.refs)
	}
	l.unlock("a")
}

// TestVersionCacheAccountsExactly: an entry costs its URL, version, ETag
// and body plus a fixed overhead; a budget filled exactly keeps every
// entry, and a body of exactly its share is kept.
func TestVersionCacheAccountsExactly(t *testing.T) {
	c := newVersionCache(2 * (entryOverhead + 1 + 3 + 3 + 10))
	c.put("a", snapshot{version: `"1"`, etag: `"1"`, body: make([]byte, 10)})
	if want := int64(entryOverhead + 1 + 3 + 3 + 10); c.bytes != want {
		t.Errorf("one entry costs %d; want %d", c.bytes, want)
	}
	c.put("b", snapshot{version: `"2"`, etag: `"2"`, body: make([]byte, 10)})
	if _, ok := c.get("a"); !ok || c.order.Len() != 2 {
		t.Errorf("a budget filled exactly kept %d entries; want 2", c.order.Len())
	}
	share := newVersionCache(8 * 1024)
	share.put("s", snapshot{version: `"1"`, body: make([]byte, 1024)})
	if s, _ := share.get("s"); len(s.body) != 1024 {
		t.Errorf("a body of exactly its share was dropped")
	}
}

// TestDefaultKeysAreVersion4UUIDs: the default key generator makes what
// uuid.NewRandom makes, random version 4 UUIDs, never the same twice.
func TestDefaultKeysAreVersion4UUIDs(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		key, err := newUUIDKey()
		if err != nil {
			t.Fatal(err)
		}
		id, err := uuid.Parse(key)
		if err != nil || id.Version() != 4 || id.Variant() != uuid.RFC4122 || id.String() != key {
			t.Fatalf("newUUIDKey() = %q (%v); want a canonical version 4 UUID", key, err)
		}
		if seen[key] {
			t.Fatalf("newUUIDKey() = %q twice", key)
		}
		seen[key] = true
	}
}

// TestDecorrelatedJitter: each wait lies in [base, 3 × the previous], at
// most the limit, and Reset starts again from base.
func TestDecorrelatedJitter(t *testing.T) {
	const base, limit = 10 * time.Millisecond, 500 * time.Millisecond
	tests := []struct {
		name string
		rand float64
		want []time.Duration
	}{
		{"lowest draws", 0, []time.Duration{base, base, base}},
		{"highest draws", 1, []time.Duration{30 * time.Millisecond, 90 * time.Millisecond, 270 * time.Millisecond, limit, limit}},
		{"middle draws", 0.5, []time.Duration{20 * time.Millisecond, 35 * time.Millisecond, 57500 * time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &decorrelatedJitter{base: base, limit: limit, rand: func() float64 { return tt.rand }}
			for round := range 2 {
				for i, want := range tt.want {
					if got := d.NextBackOff(); got != want {
						t.Fatalf("round %d: wait %d = %v; want %v", round, i, got, want)
					}
				}
				d.Reset()
			}
		})
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
	backoffFn := func(int) time.Duration { return time.Minute }
	retryable := func(*http.Response, error) bool { return true }
	client := RetryPolicy{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: 2 * time.Second, MaxRetryAfter: 3 * time.Second, AttemptTimeout: 4 * time.Second}
	tests := []struct {
		name string
		call RetryPolicy
		want func(p RetryPolicy) bool
	}{
		{"nothing set", RetryPolicy{}, func(p RetryPolicy) bool {
			return p.MaxAttempts == 4 && p.BaseDelay == time.Second && p.MaxDelay == 2*time.Second && p.MaxRetryAfter == 3*time.Second && p.AttemptTimeout == 4*time.Second && p.Backoff == nil && p.Retryable == nil
		}},
		{"attempts", RetryPolicy{MaxAttempts: 7}, func(p RetryPolicy) bool { return p.MaxAttempts == 7 && p.BaseDelay == time.Second }},
		{"base delay", RetryPolicy{BaseDelay: 5 * time.Second}, func(p RetryPolicy) bool { return p.BaseDelay == 5*time.Second && p.MaxDelay == 2*time.Second }},
		{"max delay", RetryPolicy{MaxDelay: 6 * time.Second}, func(p RetryPolicy) bool { return p.MaxDelay == 6*time.Second && p.BaseDelay == time.Second }},
		{"Retry-After cap", RetryPolicy{MaxRetryAfter: 7 * time.Second}, func(p RetryPolicy) bool { return p.MaxRetryAfter == 7*time.Second && p.MaxDelay == 2*time.Second }},
		{"attempt timeout", RetryPolicy{AttemptTimeout: 8 * time.Second}, func(p RetryPolicy) bool { return p.AttemptTimeout == 8*time.Second && p.MaxRetryAfter == 3*time.Second }},
		{"backoff", RetryPolicy{Backoff: backoffFn}, func(p RetryPolicy) bool { return p.Backoff != nil && p.Backoff(1) == time.Minute && p.Retryable == nil }},
		{"predicate", RetryPolicy{Retryable: retryable}, func(p RetryPolicy) bool { return p.Retryable != nil && p.Backoff == nil }},
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
