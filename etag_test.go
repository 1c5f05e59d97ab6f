package concord_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/concord-go/concord"
)

func TestParseETag(t *testing.T) {
	tests := []struct {
		in   string
		want concord.ETag
		weak bool
		ok   bool
	}{
		{`"abc"`, `"abc"`, false, true},
		{`W/"abc"`, `W/"abc"`, true, true},
		{`""`, `""`, false, true},
		{`  "x"  `, `"x"`, false, true},
		{`"a!#~"`, `"a!#~"`, false, true},
		{"\"caf\xc3\xa9\"", "\"caf\xc3\xa9\"", false, true}, // obs-text
		{`abc`, "", false, false},
		{`"abc`, "", false, false},
		{`abc"`, "", false, false},
		{`"`, "", false, false},
		{`w/"abc"`, "", false, false},
		{`W/abc`, "", false, false},
		{`"a"b"`, "", false, false},
		{`"a b"`, "", false, false},
		{"\"a\x00\"", "", false, false},
		{"\"a\x7f\"", "", false, false},
		{`"a", "b"`, "", false, false},
		{``, "", false, false},
		{`*`, "", false, false},
	}
	for _, tt := range tests {
		got, err := concord.ParseETag(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseETag(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			continue
		}
		if err != nil && !errors.Is(err, concord.ErrInvalidETag) {
			t.Errorf("ParseETag(%q) error %v does not match ErrInvalidETag", tt.in, err)
		}
		if got.IsWeak() != tt.weak {
			t.Errorf("ParseETag(%q).IsWeak() = %v; want %v", tt.in, got.IsWeak(), tt.weak)
		}
	}
}

// TestETagComparison follows the table in RFC 9110 section 8.8.3.2.
func TestETagComparison(t *testing.T) {
	tests := []struct {
		a, b         concord.ETag
		strong, weak bool
	}{
		{`W/"1"`, `W/"1"`, false, true},
		{`W/"1"`, `W/"2"`, false, false},
		{`W/"1"`, `"1"`, false, true},
		{`"1"`, `"1"`, true, true},
		{`"1"`, `"2"`, false, false},
		{``, ``, false, false},
	}
	for _, tt := range tests {
		if got := tt.a.StrongEqual(tt.b); got != tt.strong {
			t.Errorf("%s.StrongEqual(%s) = %v; want %v", tt.a, tt.b, got, tt.strong)
		}
		if got := tt.a.WeakEqual(tt.b); got != tt.weak {
			t.Errorf("%s.WeakEqual(%s) = %v; want %v", tt.a, tt.b, got, tt.weak)
		}
	}
}

// TestFakeComparesIfMatchStrongly: concordtest, which users test against,
// never lets a weak tag satisfy If-Match.
func TestFakeComparesIfMatchStrongly(t *testing.T) {
	c, srv := setupFake(t, nil)
	etag := seedWidget(t, srv, "w1", Widget{Name: "gear"})
	_, err := c.Do(bounded(t), &concord.Request{Method: http.MethodPut, Path: "/widgets/w1", Header: http.Header{"If-Match": {"W/" + etag}}, Body: Widget{Name: "cog"}}, nil)
	if !errors.Is(err, concord.ErrConflict) {
		t.Errorf("PUT If-Match: W/%s = %v; want 412", etag, err)
	}
}

func TestWeakETagIsNeverSentInIfMatch(t *testing.T) {
	clock := newFakeClock()
	c, mux := setup(t, concord.WithClock(clock))
	var ifMatch []string
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" {
			ifMatch = append(ifMatch, r.Header.Get("If-Match"))
		}
		w.Header().Set("ETag", `W/"weak"`)
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	start := clock.Now()
	_, err := concord.NewResource[Widget](c, "widgets").Replace(context.Background(), "1", Widget{Name: "cog"})
	if !errors.Is(err, concord.ErrNoVersion) {
		t.Errorf("Replace with only weak ETags = %v; want ErrNoVersion", err)
	}
	if len(ifMatch) != 0 {
		t.Errorf("PUTs sent with If-Match %q; want none", ifMatch)
	}
	// It waited for a strong tag within the conflict policy: reads with
	// backoffs between them until the next wait would pass the budget.
	if waited := clock.Now().Sub(start); waited < concord.DefaultConflictMaxElapsed-2*concord.DefaultWaitMaxInterval || waited > concord.DefaultConflictMaxElapsed {
		t.Errorf("waited %v for a strong ETag over %d waits; want the default budget, %v", waited, len(clock.Sleeps()), concord.DefaultConflictMaxElapsed)
	}
}

func TestGarbageETagIsNotEchoed(t *testing.T) {
	c, mux := setup(t)
	var puts int
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" {
			puts++
		}
		w.Header().Set("ETag", `unquoted, "two", W/"x`)
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	res, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	if err != nil || res.ETag != "" || res.Version != "" {
		t.Fatalf("Get = %v, etag %q; want success without an ETag", err, res.ETag)
	}
	_, err = concord.NewResource[Widget](c, "widgets").Replace(context.Background(), "1", Widget{Name: "cog"})
	if !errors.Is(err, concord.ErrNoVersion) || puts != 0 {
		t.Errorf("Replace = %v after %d PUTs; want ErrNoVersion before any PUT", err, puts)
	}
}

// TestWeakTagsWaitForAStrongOne: a server that serves a weak tag for a
// while after each write gets the write once a strong tag is served.
func TestWeakTagsWaitForAStrongOne(t *testing.T) {
	d, srv := newDocServer(t, `{"name":"gear","stock":1}`)
	d.weak = true
	var reads atomic.Int32
	clock := newFakeClock()
	c := newClient(t, srv.URL, concord.WithClock(clock), concord.WithHooks(concord.Hooks{OnAttempt: func(_ context.Context, e concord.AttemptEvent) {
		if e.Method == http.MethodGet && reads.Add(1) == 3 {
			d.mu.Lock()
			d.weak = false // the second has passed: tags are strong again
			d.mu.Unlock()
		}
	}}))
	res, err := concord.NewResource[Widget](c, "widgets").Update(bounded(t), "1", func(w *Widget) error { w.Stock++; return nil })
	doc, _, reqs := d.state()
	if err != nil || res.Value.Stock != 2 || len(clock.Sleeps()) == 0 {
		t.Errorf("Update against weak-for-a-while tags = %v (server %s, requests %q, waits %v); want stock 2 after waiting", err, doc, reqs, clock.Sleeps())
	}
}

// TestOpaqueETagsAreEchoedAsReceived: ETagVersion{Opaque: true} sends a weak
// tag byte for byte, as Azure Table storage requires.
func TestOpaqueETagsAreEchoedAsReceived(t *testing.T) {
	c, mux := setup(t)
	var ifMatch atomic.Value
	mux.HandleFunc("/tables/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `W/"datetime'2026-11-22T07%3A00%3A00Z'"`)
		if r.Method == http.MethodPut {
			ifMatch.Store(r.Header.Get("If-Match"))
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	tables := concord.NewResource[Widget](c, "tables", concord.WithVersioner(concord.ETagVersion{Opaque: true}))
	if _, err := tables.Update(bounded(t), "1", func(w *Widget) error { w.Stock = 3; return nil }); err != nil {
		t.Fatalf("Update with opaque ETags = %v", err)
	}
	if got := ifMatch.Load(); got != `W/"datetime'2026-11-22T07%3A00%3A00Z'"` {
		t.Errorf("If-Match = %v; want the weak tag as received", got)
	}
}
