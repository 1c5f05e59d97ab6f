package concord_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/concord-go/concord"
)

// TestWebDAVLease: what a LOCK's answer says is what the lease holds:
// whether it created the item (201, not 200), the timeout granted (its
// lockdiscovery body first, then its Timeout header, else the TTL asked,
// as for a zero or unreadable one), and after a refresh the timeout that
// granted.
func TestWebDAVLease(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		timeout     string // the Timeout header
		body        string
		wantCreated bool
		wantTimeout time.Duration
	}{
		{"201 with a Timeout header", http.StatusCreated, "Second-30", "", true, 30 * time.Second},
		{"200 without a timeout", http.StatusOK, "", "", false, 10 * time.Second},
		{"a lockdiscovery body over the header", http.StatusOK, "Second-30",
			`<?xml version="1.0"?><d:prop xmlns:d="DAV:"><d:lockdiscovery><d:activelock><d:timeout>Second-7</d:timeout></d:activelock></d:lockdiscovery></d:prop>`, false, 7 * time.Second},
		{"Second-0", http.StatusOK, "Second-0", "", false, 10 * time.Second},
		{"Infinite", http.StatusOK, "Infinite", "", false, 10 * time.Second},
		{"garbage", http.StatusOK, "Second-x", "", false, 10 * time.Second},
	}
	for _, tt := range tests {
		c, mux := setup(t)
		mux.HandleFunc("/widgets/w1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Lock-Token", "<opaquelocktoken:1>")
			if tt.timeout != "" {
				w.Header().Set("Timeout", tt.timeout)
			}
			w.WriteHeader(tt.status)
			w.Write([]byte(tt.body))
		})
		l, err := concord.WebDAVLocker{}.Lock(bounded(t), c, "widgets/w1", 10*time.Second)
		if err != nil {
			t.Fatalf("%s: Lock = %v", tt.name, err)
		}
		if l.Created() != tt.wantCreated || l.Timeout() != tt.wantTimeout {
			t.Errorf("%s: the lease says created %v, timeout %v; want %v, %v", tt.name, l.Created(), l.Timeout(), tt.wantCreated, tt.wantTimeout)
		}
	}
}

// TestRefreshGrantedANewLockReleasesBoth: a server that lost the lock and
// answers its refresh with a new one (nginx's dav-ext) has that one
// released too, so that no writer waits for it to expire; the refresh's
// granted timeout is the lease's from then on (issue #31).
func TestRefreshGrantedANewLockReleasesBoth(t *testing.T) {
	c, mux := setup(t)
	var mu sync.Mutex
	var unlocked []string
	mux.HandleFunc("/widgets/w1", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "LOCK" && r.Header.Get("If") == "":
			w.Header().Set("Lock-Token", "<opaquelocktoken:1>")
		case r.Method == "LOCK": // the refresh
			w.Header().Set("Lock-Token", "<opaquelocktoken:2>")
			w.Header().Set("Timeout", "Second-4")
		case r.Method == "UNLOCK":
			mu.Lock()
			unlocked = append(unlocked, r.Header.Get("Lock-Token"))
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	})
	l, err := concord.WebDAVLocker{}.Lock(bounded(t), c, "widgets/w1", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(bounded(t)); err != nil {
		t.Fatalf("Refresh = %v", err)
	}
	if l.Timeout() != 4*time.Second {
		t.Errorf("after a refresh granted 4 s the lease's timeout is %v", l.Timeout())
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatalf("Release = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"<opaquelocktoken:1>", "<opaquelocktoken:2>"}; !slices.Equal(unlocked, want) {
		t.Errorf("UNLOCK sent for %q; want %q", unlocked, want)
	}
}

// TestRefreshRefused: a refresh the server refuses (the lock was lost) is
// an error, and changes nothing the lease holds.
func TestRefreshRefused(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	mux.HandleFunc("/widgets/w1", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If") != "" {
			w.Header().Set("Timeout", "Second-1")
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		w.Header().Set("Lock-Token", "<opaquelocktoken:1>")
	})
	l, err := concord.WebDAVLocker{}.Lock(bounded(t), c, "widgets/w1", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(bounded(t)); err == nil || l.Timeout() != 10*time.Second {
		t.Errorf("Refresh answered 412 = %v, timeout now %v; want an error and the timeout unchanged", err, l.Timeout())
	}
}
